//! The routes of each function: a module per function binary, each parsing requests, calling
//! the application and shaping the answer.

pub mod admin;
pub mod cart;
pub mod catalog;
pub mod coupons;
pub mod jobs;
pub mod login;
pub mod members;
pub mod orders;
pub mod pay_notify;
pub mod refunds;

use app::config::Uses;

/// A function binary: its name, the handlers it serves over HTTP, and what it uses (so the
/// settings and secrets it needs, and no others).
pub struct Function {
    pub name: &'static str,
    pub handlers: &'static [crate::Handler],
    pub uses: Uses,
}

const fn function(name: &'static str, handlers: &'static [crate::Handler], uses: Uses) -> Function {
    Function { name, handlers, uses }
}

/// Every function binary. The binaries look themselves up here, so this table is what each
/// deploys; the route tests hold it against `template.yaml` (routes, secrets, table access)
/// and `docs/openapi.json`. The scheduled functions serve their operator routes
/// (`jobs::handler`) beside their schedule.
pub const FUNCTIONS: &[Function] = &[
    function("login", &[login::handler], Uses::STORE_ONLY.wechat().sessions()),
    function("catalog", &[catalog::handler], Uses::STORE_ONLY),
    function("admin", &[admin::handler], Uses::STORE_ONLY.bootstrap()),
    function("cart", &[cart::handler], Uses::STORE_ONLY.sessions()),
    function("orders", &[orders::handler], Uses::STORE_ONLY.sessions().pay()),
    function("refund", &[refunds::handler], Uses::STORE_ONLY.sessions().pay()),
    function("pay-notify", &[pay_notify::handler], Uses::STORE_ONLY.pay()),
    function("coupon-claim", &[coupons::handler], Uses::STORE_ONLY.sessions()),
    function("members", &[members::handler], Uses::STORE_ONLY.sessions()),
    // The outbox consumers tell WeChat of shipments, so these two hold the app secret too.
    function("close-unpaid", &[jobs::handler], Uses::STORE_ONLY.pay().wechat()),
    function("reconciliation", &[jobs::handler], Uses::STORE_ONLY.pay()),
    function("outbox", &[jobs::handler], Uses::STORE_ONLY.pay().wechat()),
    function("members-daily", &[jobs::handler], Uses::STORE_ONLY),
];

/// The function binary `name`.
pub fn of_function(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// Every function's handler, for the local all-in-one server and the route tests.
pub const ALL: &[crate::Handler] = &[
    login::handler,
    catalog::handler,
    admin::handler,
    cart::handler,
    orders::handler,
    refunds::handler,
    pay_notify::handler,
    coupons::handler,
    members::handler,
    jobs::handler,
];
