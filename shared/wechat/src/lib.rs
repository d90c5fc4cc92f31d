//! WeChat's protocols: the mini-program server API (login, access token, phone number) and
//! WeChat Pay API v3. Each has its own error type; the application decides what they mean
//! to a shopper.

pub mod deadline;
pub mod mp;
pub mod pay;
pub mod push;
pub mod robot;
pub mod settings;
pub mod shipping;

pub use mp::{MiniProgram, WeChatError};
