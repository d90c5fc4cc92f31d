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
pub mod reviews;
pub mod wechat_push;

use crate::config::Uses;

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

// One constant per function binary: each binary's `main` names its own, so it links only
// its own handlers (a table lookup by name would link every function's code into each).
pub const LOGIN: Function = function("login", &[login::handler], Uses::STORE_ONLY.wechat().sessions());
pub const CATALOG: Function = function("catalog", &[catalog::handler], Uses::STORE_ONLY);
// The admin function binds operators' WeChat identities (code2Session): it holds the app secret.
pub const ADMIN: Function = function("admin", &[admin::handler], Uses::STORE_ONLY.bootstrap().wechat());
pub const CART: Function = function("cart", &[cart::handler], Uses::STORE_ONLY.sessions());
pub const ORDERS: Function = function("orders", &[orders::handler], Uses::STORE_ONLY.sessions().pay());
pub const REFUND: Function = function("refund", &[refunds::handler], Uses::STORE_ONLY.sessions().pay());
// WeChat's webhooks: WeChat Pay's notify and the mini-program's message push.
pub const PAY_NOTIFY: Function =
    function("pay-notify", &[pay_notify::handler, wechat_push::handler], Uses::STORE_ONLY.pay().push());
pub const COUPON_CLAIM: Function = function("coupon-claim", &[coupons::handler], Uses::STORE_ONLY.sessions());
pub const MEMBERS: Function = function("members", &[members::handler], Uses::STORE_ONLY.sessions());
// Reviews pass WeChat's content checks under the shopper's openid: the app secret.
pub const REVIEWS: Function = function("reviews", &[reviews::handler], Uses::STORE_ONLY.sessions().wechat());
// The outbox consumers tell WeChat of shipments, so these two hold the app secret too.
pub const CLOSE_UNPAID: Function = function("close-unpaid", &[jobs::handler], Uses::STORE_ONLY.pay().wechat());
pub const RECONCILIATION: Function = function("reconciliation", &[jobs::handler], Uses::STORE_ONLY.pay());
pub const OUTBOX: Function = function("outbox", &[jobs::handler], Uses::STORE_ONLY.pay().wechat());
pub const MEMBERS_DAILY: Function = function("members-daily", &[jobs::handler], Uses::STORE_ONLY);

/// Every function binary; the route tests hold this table against `template.yaml` (routes,
/// secrets, table access), `deploy/tencent` and `docs/openapi.json`. The scheduled functions
/// serve their operator routes (`jobs::handler`) beside their schedule.
pub const FUNCTIONS: &[Function] = &[
    LOGIN,
    CATALOG,
    ADMIN,
    CART,
    ORDERS,
    REFUND,
    PAY_NOTIFY,
    COUPON_CLAIM,
    MEMBERS,
    REVIEWS,
    CLOSE_UNPAID,
    RECONCILIATION,
    OUTBOX,
    MEMBERS_DAILY,
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
    wechat_push::handler,
    coupons::handler,
    members::handler,
    reviews::handler,
    jobs::handler,
];
