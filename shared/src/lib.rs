//! The one library every shop function links: data model and rules (`domain`), storage
//! (`store`), WeChat's protocols (`wechat`), hosting glue (`http`, `hosting`), and the
//! handlers (`api`) with the services they call.

pub mod api;
pub mod cart;
pub mod cases;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod coupons;
pub mod domain;
pub mod error;
pub mod hosting;
pub mod http;
pub mod orders;
pub mod payments;
pub mod reconcile;
pub mod refunds;
pub mod sample;
pub mod session;
pub mod store;
pub mod users;
pub mod wechat;

pub use error::ApiError;
