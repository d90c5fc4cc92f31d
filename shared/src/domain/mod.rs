//! The shop's business rules as plain Rust: no I/O, reachable from unit tests.

pub mod adcopy;
pub mod catalog;
pub mod coupon;
pub mod money;
pub mod order;
pub mod user;
