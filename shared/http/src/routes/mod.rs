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

/// Each function binary by its name, and the handlers it serves over HTTP. The binaries look
/// themselves up here, so this table is what each deploys; the route test holds it against
/// `template.yaml` and `docs/openapi.json`. The scheduled functions serve their operator
/// routes (`jobs::handler`) beside their schedule.
pub const FUNCTIONS: &[(&str, &[crate::Handler])] = &[
    ("login", &[login::handler]),
    ("catalog", &[catalog::handler]),
    ("cart", &[cart::handler]),
    ("orders", &[orders::handler]),
    ("refund", &[refunds::handler]),
    ("pay-notify", &[pay_notify::handler]),
    ("coupon-claim", &[coupons::handler]),
    ("close-unpaid", &[jobs::handler]),
    ("reconciliation", &[jobs::handler]),
    ("outbox", &[jobs::handler]),
];

/// The handlers of the function binary `name`.
pub fn of_function(name: &str) -> Option<&'static [crate::Handler]> {
    FUNCTIONS.iter().find(|(n, _)| *n == name).map(|(_, h)| *h)
}

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
