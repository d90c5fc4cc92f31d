//! WeChat's protocols: the mini-program server API (login, access token, phone number).

pub mod mp;
pub mod pay;

pub use mp::{MiniProgram, WeChatError};
