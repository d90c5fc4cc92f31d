//! The shop's business settings the use cases follow (how long an unpaid order holds its
//! stock, who approves a refund, …). The host reads them from its configuration and checks
//! them at start; nothing here reads the environment.

use domain::operator::{Allowances, RefundPolicy};
use domain::placing::Limits;

#[derive(Debug, Clone)]
pub struct Rules {
    /// How long an unpaid order holds its stock (and WeChat Pay's time_expire).
    pub order_ttl_secs: i64,
    /// How recent a phone verification must be to pass the daily-payments risk rule.
    pub pay_verify_window_secs: i64,
    /// What one shopper may hold unpaid at once.
    pub limits: Limits,
    /// Who must approve a refund.
    pub refund_policy: RefundPolicy,
    /// How far an operator may use the other powers worth money alone.
    pub allowances: Allowances,
    /// Days after the last parcel ships before receipt is confirmed for the shopper.
    pub auto_confirm_days: i64,
    /// Days after receipt during which a "refund only" may be asked; then the order completes.
    pub refund_window_days: i64,
    /// Days a shopper has to send an approved return back before it lapses.
    pub return_send_days: i64,
    /// Days suppliers take to replenish, for SKUs whose own figure is not set (0).
    pub replenish_days: u32,
    /// The subscribe-message template of the level-up notice (thing1: level, date2: day).
    pub subscribe_level_up: Option<String>,
    /// The subscribe-message template of the points-expiry reminder (number1: points,
    /// date2: the day they expire).
    pub subscribe_points_expiry: Option<String>,
}

impl Default for Rules {
    /// The defaults the README's configuration table lists.
    fn default() -> Self {
        Rules {
            order_ttl_secs: 1800,
            pay_verify_window_secs: 600,
            limits: Limits::default(),
            refund_policy: RefundPolicy::default(),
            allowances: Allowances::default(),
            auto_confirm_days: 15,
            refund_window_days: 7,
            return_send_days: 7,
            replenish_days: 7,
            subscribe_level_up: None,
            subscribe_points_expiry: None,
        }
    }
}
