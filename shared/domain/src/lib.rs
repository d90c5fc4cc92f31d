//! The shop's business rules as plain Rust: types, money, pricing, allocation, state
//! machines and checks. No I/O, no HTTP, no storage: this crate depends on none of them, so
//! the compiler refuses a rule that reaches for one.

pub mod adcopy;
pub mod address;
pub mod case;
pub mod catalog;
pub mod clock;
pub mod coupon;
pub mod error;
pub mod events;
pub mod freight;
pub mod hex;
pub mod ids;
pub mod member;
pub mod money;
pub mod notice;
pub mod operator;
pub mod order;
pub mod payment;
pub mod placing;
pub mod pricing;
pub mod promotion;
pub mod reconciliation;
pub mod refund;
pub mod returns;
pub mod review;
pub mod rfm;
pub mod stock_alert;
pub mod targets;
pub mod user;

pub use error::DomainError;
pub use hex::hex;
pub use money::Fen;
