//! Coupons: the templates operators issue, the coupons shoppers hold and their states, the
//! rules of the kinds the shop offers, and what each takes off a subtotal.

use serde::{Deserialize, Serialize};

use super::money::Fen;
use crate::ids::{CouponId, OpenId, OrderNo, TemplateId};

/// The new-customer window: a coupon of that kind is for the first 3 days after a user's
/// first login (the seed's cold-start "3+1").
pub const NEW_CUSTOMER_SECS: i64 = 3 * 24 * 3600;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CouponRule {
    /// 满减: `amount_off` when the subtotal reaches `min_spend`.
    Threshold { min_spend: Fen, amount_off: Fen },
    /// A percentage off, optionally capped.
    Percent {
        percent_off: u8,
        #[serde(default)]
        max_off: Option<Fen>,
    },
    /// A fixed amount off any order.
    NoThreshold { amount_off: Fen },
    /// A fixed amount off, for new customers only.
    NewCustomer { amount_off: Fen },
}

impl UserCoupon {
    /// Whether the coupon may go on an order now.
    pub fn usable_at(&self, now: i64) -> bool {
        self.state == CouponState::Available && self.valid_from <= now && now <= self.valid_to
    }
}

impl CouponRule {
    pub fn validate(&self) -> Result<(), String> {
        match self {
            CouponRule::Threshold { min_spend, amount_off }
                if amount_off.fen() <= 0 || min_spend.fen() < amount_off.fen() =>
            {
                Err("a threshold coupon takes off a positive amount no larger than its threshold".into())
            }
            CouponRule::Percent { percent_off, .. } if *percent_off == 0 || *percent_off >= 100 => {
                Err("percent_off must be 1 to 99".into())
            }
            CouponRule::Percent { max_off: Some(m), .. } if m.fen() <= 0 => Err("max_off must be positive".into()),
            CouponRule::NoThreshold { amount_off } | CouponRule::NewCustomer { amount_off }
                if amount_off.fen() <= 0 =>
            {
                Err("amount_off must be positive".into())
            }
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
/// A kind of coupon an operator issues: its rule, how many, how many each, when.
pub struct CouponTemplate {
    pub id: TemplateId,
    pub name: String,
    pub rule: CouponRule,
    pub total: i64,
    pub per_user: i64,
    pub valid_from: i64,
    pub valid_to: i64,
    #[serde(default)]
    pub claimed: i64,
    #[serde(default)]
    pub used: i64,
    pub active: bool,
    pub created_at: i64,
    /// The lines the coupon covers; none: every line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<crate::promotion::Scope>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponState {
    Available,
    Locked,
    Used,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
/// One coupon a shopper holds.
pub struct UserCoupon {
    pub coupon_id: CouponId,
    pub template_id: TemplateId,
    pub openid: OpenId,
    pub name: String,
    pub rule: CouponRule,
    pub state: CouponState,
    pub valid_from: i64,
    pub valid_to: i64,
    #[serde(default)]
    pub order_no: Option<OrderNo>,
    pub claimed_at: i64,
    /// Copied from the template at claim: the lines the coupon covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<crate::promotion::Scope>,
}

/// A coupon as its holder reads it (not their own openid).
#[derive(Debug, Serialize)]
pub struct HeldCouponView<'a> {
    coupon_id: &'a CouponId,
    template_id: &'a TemplateId,
    name: &'a str,
    rule: &'a CouponRule,
    state: CouponState,
    valid_from: i64,
    valid_to: i64,
    order_no: Option<&'a OrderNo>,
    claimed_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a crate::promotion::Scope>,
}

impl UserCoupon {
    /// The coupon as its holder reads it.
    pub fn holder_view(&self) -> HeldCouponView<'_> {
        HeldCouponView {
            coupon_id: &self.coupon_id,
            template_id: &self.template_id,
            name: &self.name,
            rule: &self.rule,
            state: self.state,
            valid_from: self.valid_from,
            valid_to: self.valid_to,
            order_no: self.order_no.as_ref(),
            claimed_at: self.claimed_at,
            scope: self.scope.as_ref(),
        }
    }
}

/// What the rule takes off `subtotal`, or `None` when it does not apply. Never more than the
/// subtotal; rounding favours the shopper by at most the fraction of a fen.
pub fn discount(rule: &CouponRule, subtotal: Fen) -> Option<Fen> {
    let d = match rule {
        CouponRule::Threshold { min_spend, amount_off } => {
            if subtotal < *min_spend {
                return None;
            }
            amount_off.fen()
        }
        CouponRule::Percent { percent_off, max_off } => {
            let d = subtotal.fen() * i64::from(*percent_off) / 100;
            max_off.map_or(d, |m| d.min(m.fen()))
        }
        CouponRule::NoThreshold { amount_off } | CouponRule::NewCustomer { amount_off } => amount_off.fen(),
    };
    Some(Fen::new(d.min(subtotal.fen()).max(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn kinds() {
        let t = CouponRule::Threshold { min_spend: Fen::new(10000), amount_off: Fen::new(2000) };
        assert_eq!(discount(&t, Fen::new(9999)), None);
        assert_eq!(discount(&t, Fen::new(10000)), Some(Fen::new(2000)));
        let p = CouponRule::Percent { percent_off: 15, max_off: Some(Fen::new(500)) };
        assert_eq!(discount(&p, Fen::new(1000)), Some(Fen::new(150)));
        assert_eq!(discount(&p, Fen::new(100000)), Some(Fen::new(500)));
        let n = CouponRule::NoThreshold { amount_off: Fen::new(500) };
        assert_eq!(discount(&n, Fen::new(300)), Some(Fen::new(300)), "never more than the subtotal");
        assert!(CouponRule::Percent { percent_off: 100, max_off: None }.validate().is_err());
        assert!(CouponRule::Threshold { min_spend: Fen::new(100), amount_off: Fen::new(200) }.validate().is_err());
    }

    proptest! {
        #[test]
        fn discount_is_between_zero_and_subtotal(sub in 0i64..10_000_000, pct in 1u8..100, off in 1i64..1_000_000, min in 0i64..1_000_000) {
            for rule in [
                CouponRule::Percent { percent_off: pct, max_off: None },
                CouponRule::NoThreshold { amount_off: Fen::new(off) },
                CouponRule::Threshold { min_spend: Fen::new(min.max(off)), amount_off: Fen::new(off) },
            ] {
                if let Some(d) = discount(&rule, Fen::new(sub)) {
                    prop_assert!(d.fen() >= 0 && d.fen() <= sub);
                }
            }
        }
    }
}
