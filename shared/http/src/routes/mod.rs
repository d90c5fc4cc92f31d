//! The routes of each function: a module per function binary, each parsing requests, calling
//! the application and shaping the answer.

pub mod cart;
pub mod catalog;
pub mod coupons;
pub mod jobs;
pub mod login;
pub mod orders;
pub mod pay_notify;
pub mod refunds;

/// Every function's handler, for the local all-in-one server and the route tests.
pub const ALL: &[crate::Handler] = &[
    login::handler,
    catalog::handler,
    cart::handler,
    orders::handler,
    refunds::handler,
    pay_notify::handler,
    coupons::handler,
    jobs::handler,
];
