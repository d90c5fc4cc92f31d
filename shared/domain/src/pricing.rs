//! The price of an order, all of it: what a line costs, which gifts come with it, what a
//! full-reduction campaign and a coupon take off (and from which lines), the 1-fen floor WeChat
//! Pay needs and the single-payment limit. Orders and refunds by line price through here.

use std::collections::BTreeSet;

use crate::DomainError;
use crate::catalog::{Product, ProductStatus, Sku, SkuKind};
use crate::coupon::{CouponRule, discount};
use crate::money::{Fen, SINGLE_PAYMENT_LIMIT};
use crate::order::OrderLine;
use crate::promotion::{FullReduction, Scope, Stacking, allocate};

/// A line as the shopper orders it: `quantity` of `sku`, sold as part of `product`. Refused
/// when the product is not on sale or the SKU is a gift.
pub fn line(sku: &Sku, product: &Product, quantity: i64) -> Result<OrderLine, DomainError> {
    if product.status != ProductStatus::OnSale {
        return Err(DomainError::SkuUnavailable {
            sku: sku.id.clone(),
            reason: format!("{} is not on sale", product.title),
        });
    }
    if sku.kind == SkuKind::Gift {
        return Err(DomainError::SkuUnavailable {
            sku: sku.id.clone(),
            reason: format!("{} is a gift and cannot be bought", sku.name),
        });
    }
    Ok(OrderLine {
        sku_id: sku.id.clone(),
        product_id: sku.product_id.clone(),
        name: format!("{} {}", product.title, sku.name),
        kind: sku.kind,
        unit_price: sku.price,
        quantity,
        amount: line_amount(sku.price, quantity)?,
        discount: Fen::ZERO,
        components: sku.components.iter().map(|c| (c.sku_id.clone(), i64::from(c.quantity))).collect(),
    })
}

/// Unit price times quantity.
pub fn line_amount(unit_price: Fen, quantity: i64) -> Result<Fen, DomainError> {
    unit_price.checked_mul(quantity).ok_or(DomainError::Overflow)
}

/// The gift rule: each product ordered brings one of each of its gift SKUs (while gift stock
/// lasts, which allocation decides). `gifts_of` gives a product's gift SKUs.
pub fn gifts<'a>(lines: &[OrderLine], gifts_of: impl Fn(&str) -> &'a [Sku]) -> Vec<OrderLine> {
    let products: BTreeSet<&str> = lines.iter().map(|l| l.product_id.as_str()).collect();
    let mut out = Vec::new();
    for p in products {
        for g in gifts_of(p).iter().filter(|s| s.kind == SkuKind::Gift) {
            out.push(OrderLine {
                sku_id: g.id.clone(),
                product_id: p.to_owned(),
                name: g.name.clone(),
                kind: SkuKind::Gift,
                unit_price: g.price,
                quantity: 1,
                amount: g.price,
                discount: Fen::ZERO,
                components: Vec::new(),
            });
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
pub struct Priced {
    pub subtotal: Fen,
    /// What the member price took off the listed prices (part of `discount`).
    pub member_discount: Fen,
    /// What the full-reduction campaign took off (part of `discount`).
    pub campaign_discount: Fen,
    /// Everything taken off the goods: member price, campaign and coupon.
    pub discount: Fen,
    /// Delivery (zero until [`Priced::with_freight`]); never discounted.
    pub freight: Fen,
    pub payable: Fen,
    /// Each line's share of `discount` and of the points' value, in line order: what a refund
    /// of that line gives back is its amount less this share.
    pub line_discounts: Vec<Fen>,
    /// The lines' amounts, in line order (what the shares are taken from).
    pub line_amounts: Vec<i64>,
    /// Points spent on the goods (100 points are 1 yuan), and what they were worth.
    pub points_used: i64,
    pub points_value: Fen,
}

/// Points per yuan at checkout.
pub const POINTS_PER_YUAN: i64 = 100;
/// The most of the goods points may pay, in percent.
pub const POINTS_CAP_PCT: i64 = 50;

impl Priced {
    /// The most points these goods take: half their payable, in whole yuan.
    pub fn points_cap(&self) -> i64 {
        (self.payable.fen() * POINTS_CAP_PCT / 100 / 100) * POINTS_PER_YUAN
    }

    /// Pays `points` of the goods with points (whole yuan, at most [`Priced::points_cap`]),
    /// their value split over the lines like a discount. At least 1 fen is still paid.
    pub fn with_points(self, points: i64) -> Result<Priced, DomainError> {
        if points == 0 {
            return Ok(self);
        }
        if points < 0 || points % POINTS_PER_YUAN != 0 {
            return Err(DomainError::invalid("points", "points go in hundreds: 100 points are 1 yuan"));
        }
        let cap = self.points_cap();
        if points > cap {
            return Err(DomainError::invalid("points", format!("at most {cap} points on this order (half its goods)")));
        }
        let value = points * 100 / POINTS_PER_YUAN;
        let weights: Vec<i64> = self.line_discounts.iter().zip(&self.line_amounts).map(|(d, a)| a - d.fen()).collect();
        let shares = allocate(value, &weights);
        let line_discounts = self.line_discounts.iter().zip(&shares).map(|(d, s)| Fen::new(d.fen() + s)).collect();
        let payable = Fen::new(self.payable.fen() - value);
        if payable.fen() < 1 {
            return Err(DomainError::invalid("points", "at least 1 fen is paid in money"));
        }
        Ok(Priced { payable, line_discounts, points_used: points, points_value: Fen::new(value), ..self })
    }

    /// Adds delivery to what is payable, within the single-payment limit.
    pub fn with_freight(self, freight: Fen) -> Result<Priced, DomainError> {
        let payable = self.payable.checked_add(freight).ok_or(DomainError::Overflow)?;
        if payable > SINGLE_PAYMENT_LIMIT {
            return Err(DomainError::OrderLimitExceeded { limit: SINGLE_PAYMENT_LIMIT });
        }
        Ok(Priced { freight, payable, ..self })
    }
}

/// What may take money off an order.
#[derive(Debug, Clone, Copy, Default)]
pub struct Offers<'a> {
    /// The coupon's rule and the lines it covers (all, without a scope).
    pub coupon: Option<(&'a CouponRule, Option<&'a Scope>)>,
    /// The full-reduction campaign, if one runs now.
    pub campaign: Option<&'a FullReduction>,
    pub stacking: Stacking,
    /// The member price of the shopper's level: percent off every line's listed price.
    pub member_pct: u8,
}

/// Server-side pricing of the goods: the lines' amounts; the member price (the level's percent
/// off each line, rounded down); the campaign's best tier on what is left of all of
/// them (unless the operator made campaigns and coupons exclusive and a coupon is used); the
/// coupon on what is left of the lines it covers; at least 1 fen paid; the single-payment
/// limit. Each discount is split over its lines in proportion (see
/// [`crate::promotion::allocate`]). Freight comes after ([`Priced::with_freight`]).
pub fn price(
    lines: &[OrderLine],
    category_of: &dyn Fn(&str) -> String,
    offers: Offers<'_>,
    now: i64,
) -> Result<Priced, DomainError> {
    let mut subtotal = Fen::ZERO;
    for l in lines {
        subtotal = subtotal.checked_add(l.amount).ok_or(DomainError::Overflow)?;
    }
    let amounts: Vec<i64> = lines.iter().map(|l| l.amount.fen()).collect();
    // WeChat Pay takes no zero-fen payment: at least 1 fen is always paid.
    let cap = (subtotal.fen() - 1).max(0);
    let pct = i64::from(offers.member_pct.min(100));
    let mut member_shares: Vec<i64> = amounts.iter().map(|a| a * pct / 100).collect();
    let mut member: i64 = member_shares.iter().sum();
    if member > cap {
        member = cap;
        member_shares = allocate(cap, &amounts);
    }
    let after_member: Vec<i64> = amounts.iter().zip(&member_shares).map(|(a, m)| a - m).collect();
    let campaign_raw = match offers.campaign {
        Some(c) if c.active_at(now) && !(offers.stacking == Stacking::Exclusive && offers.coupon.is_some()) => {
            c.off(Fen::new(subtotal.fen() - member)).fen()
        }
        _ => 0,
    };
    let campaign = campaign_raw.min(cap - member);
    let campaign_shares = allocate(campaign, &after_member);
    let after_campaign: Vec<i64> = after_member.iter().zip(&campaign_shares).map(|(a, c)| a - c).collect();
    let (coupon, coupon_shares) = match offers.coupon {
        None => (0, vec![0; lines.len()]),
        Some((rule, scope)) => {
            let covered: Vec<i64> = lines
                .iter()
                .zip(&after_campaign)
                .map(|(l, left)| match scope {
                    Some(s) if !s.covers(&l.product_id, &category_of(&l.product_id)) => 0,
                    _ => *left,
                })
                .collect();
            let base: i64 = covered.iter().sum();
            if base <= 0 {
                return Err(DomainError::CouponNotApplicable);
            }
            let d = discount(rule, Fen::new(base)).ok_or(DomainError::CouponNotApplicable)?.fen();
            let d = d.min(cap - member - campaign).max(0);
            (d, allocate(d, &covered))
        }
    };
    let line_discounts: Vec<Fen> =
        member_shares.iter().zip(&campaign_shares).zip(&coupon_shares).map(|((m, c), d)| Fen::new(m + c + d)).collect();
    let discount = Fen::new(member + campaign + coupon);
    let payable = subtotal.checked_sub(discount).ok_or(DomainError::Overflow)?;
    if payable > SINGLE_PAYMENT_LIMIT {
        return Err(DomainError::OrderLimitExceeded { limit: SINGLE_PAYMENT_LIMIT });
    }
    Ok(Priced {
        subtotal,
        member_discount: Fen::new(member),
        campaign_discount: Fen::new(campaign),
        discount,
        freight: Fen::ZERO,
        payable,
        line_discounts,
        line_amounts: amounts,
        points_used: 0,
        points_value: Fen::ZERO,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::SkuKind;
    use crate::order::fixtures::unpaid;
    use crate::promotion::Tier;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn order_line(i: usize, product: &str, unit: i64, qty: i64) -> OrderLine {
        OrderLine {
            sku_id: format!("S{i}"),
            product_id: product.into(),
            name: format!("S{i}"),
            kind: SkuKind::Main,
            unit_price: Fen::new(unit),
            quantity: qty,
            amount: Fen::new(unit * qty),
            discount: Fen::ZERO,
            components: vec![],
        }
    }

    fn category(product: &str) -> String {
        if product == "P1" { "fruit".into() } else { "tea".into() }
    }

    #[test]
    fn campaign_then_scoped_coupon() {
        let lines = vec![order_line(0, "P1", 6_000, 1), order_line(1, "P2", 4_000, 1)];
        let campaign = FullReduction {
            name: "满100减10".into(),
            tiers: vec![Tier { min_fen: 10_000, off_fen: 1_000 }],
            valid_from: 0,
            valid_to: 100,
        };
        let rule = CouponRule::Threshold { min_spend: Fen::new(3_000), amount_off: Fen::new(500) };
        let scope = Scope { products: vec![], categories: vec!["tea".into()] };
        let offers = Offers {
            coupon: Some((&rule, Some(&scope))),
            campaign: Some(&campaign),
            stacking: Stacking::Both,
            member_pct: 0,
        };
        let p = price(&lines, &category, offers, 50).unwrap();
        assert_eq!((p.campaign_discount, p.discount, p.payable), (Fen::new(1_000), Fen::new(1_500), Fen::new(8_500)));
        // The campaign splits 600/400; the tea coupon lands on the tea line only.
        assert_eq!(p.line_discounts, vec![Fen::new(600), Fen::new(900)]);
        let exclusive = Offers { stacking: Stacking::Exclusive, ..offers };
        let e = price(&lines, &category, exclusive, 50).unwrap();
        assert_eq!((e.campaign_discount, e.discount), (Fen::ZERO, Fen::new(500)), "a coupon order gets no campaign");
        let after = price(&lines, &category, offers, 101).unwrap();
        assert_eq!(after.campaign_discount, Fen::ZERO, "the campaign ended");
        let fruit_only = Scope { products: vec!["P9".into()], categories: vec![] };
        let none = Offers { coupon: Some((&rule, Some(&fruit_only))), ..offers };
        assert_eq!(price(&lines, &category, none, 50).unwrap_err(), DomainError::CouponNotApplicable);
        // 5% member price first (500 off 10,000), then the campaign on 9,500 (short of 10,000:
        // nothing), then the tea coupon on the tea line's member price.
        let member = price(&lines, &category, Offers { member_pct: 5, ..offers }, 50).unwrap();
        assert_eq!(
            (member.member_discount, member.campaign_discount, member.discount, member.payable),
            (Fen::new(500), Fen::ZERO, Fen::new(1_000), Fen::new(9_000))
        );
        assert_eq!(member.line_discounts, vec![Fen::new(300), Fen::new(700)]);
    }

    proptest! {
        /// Whatever lines, campaign, coupon, scope and freight: at least 1 fen of goods is
        /// paid, discounts never exceed the lines they sit on, a coupon never touches lines
        /// outside its scope, freight is never negative, and a full refund returns exactly what
        /// was paid while refunds by line never exceed the goods paid.
        #[test]
        fn pricing_holds_its_promises(
            raw in proptest::collection::vec((0usize..3, 1i64..200_000, 1i64..6), 1..6),
            tiers in proptest::collection::vec((1i64..500_000, 1i64..100_000), 0..3),
            coupon_kind in 0u8..4, off in 1i64..500_000, pct in 1u8..100,
            scoped in any::<bool>(), exclusive in any::<bool>(), freight in 0i64..5_000, hundreds in 0i64..200,
            member_pct in 0u8..=30, refund_parts in proptest::collection::vec(1i64..1_000, 1..5),
        ) {
            let products = ["P1", "P2", "P3"];
            let lines: Vec<OrderLine> = raw.iter().enumerate().map(|(i, (p, u, q))| order_line(i, products[*p], *u, *q)).collect();
            let campaign = FullReduction {
                name: "c".into(),
                tiers: tiers.iter().map(|(m, o)| Tier { min_fen: *m.max(o), off_fen: *o }).collect(),
                valid_from: 0,
                valid_to: 10,
            };
            let rule = match coupon_kind {
                0 => CouponRule::NoThreshold { amount_off: Fen::new(off) },
                1 => CouponRule::Percent { percent_off: pct, max_off: None },
                2 => CouponRule::Threshold { min_spend: Fen::new(off), amount_off: Fen::new(off / 2 + 1) },
                _ => CouponRule::NewCustomer { amount_off: Fen::new(off) },
            };
            let scope = Scope { products: vec!["P2".into()], categories: vec![] };
            let stacking = if exclusive { Stacking::Exclusive } else { Stacking::Both };
            let with = Offers { coupon: Some((&rule, scoped.then_some(&scope))), campaign: Some(&campaign), stacking, member_pct };
            let without = Offers { coupon: None, campaign: Some(&campaign), stacking, member_pct };
            let Ok(p) = price(&lines, &category, with, 5) else { return Ok(()) };
            let goods_before_points = p.payable;
            let points = (hundreds * POINTS_PER_YUAN).min(p.points_cap());
            let p = p.with_points(points).unwrap();
            prop_assert!(p.points_value.fen() * 2 <= goods_before_points.fen(), "points pay at most half the goods");
            prop_assert_eq!(p.points_value.fen(), points / POINTS_PER_YUAN * 100);
            let member_max: i64 = lines.iter().map(|l| l.amount.fen() * i64::from(member_pct) / 100).sum();
            prop_assert!(p.member_discount.fen() <= member_max, "the member price takes its percent at most");
            let p = p.with_freight(Fen::new(freight)).unwrap();
            prop_assert!(p.freight >= Fen::ZERO);
            prop_assert!(p.payable <= p.subtotal.checked_add(p.freight).unwrap(), "never more than goods and freight");
            prop_assert!(p.discount.fen() >= p.member_discount.fen() + p.campaign_discount.fen());
            prop_assert!(p.payable.fen() - p.freight.fen() >= 1, "at least 1 fen of goods is paid");
            prop_assert_eq!(p.line_discounts.iter().map(|d| d.fen()).sum::<i64>(), p.discount.fen() + p.points_value.fen());
            for (l, d) in lines.iter().zip(&p.line_discounts) {
                prop_assert!(d.fen() >= 0 && *d <= l.amount);
            }
            if scoped && !exclusive && points == 0 {
                let base = price(&lines, &category, without, 5).unwrap();
                for ((l, d), b) in lines.iter().zip(&p.line_discounts).zip(&base.line_discounts) {
                    if l.product_id != "P2" && p.campaign_discount == base.campaign_discount {
                        prop_assert_eq!(d, b, "the coupon stays within its scope");
                    }
                }
            }
            // As an order: a full refund is exactly what was paid; refunds of every line are
            // never more than the goods paid, and short of it by rounding only.
            let mut o = unpaid(1, 1);
            o.lines = lines.iter().zip(&p.line_discounts).map(|(l, d)| OrderLine { discount: *d, ..l.clone() }).collect();
            o.subtotal = p.subtotal;
            o.discount = p.discount;
            o.points_used = p.points_used;
            o.points_value = p.points_value;
            o.freight = p.freight;
            o.payable = p.payable;
            prop_assert_eq!(o.refundable(), p.payable);
            let all: BTreeMap<String, i64> = o.lines.iter().map(|l| (l.sku_id.clone(), l.quantity)).collect();
            let by_lines = crate::refund::amount_for_lines(&o, &all).unwrap();
            prop_assert!(by_lines <= o.goods_paid());
            prop_assert!(o.goods_paid().fen() - by_lines.fen() < o.lines.len() as i64 + 1);
            // Refunds in parts, up to the whole payment: never more points, growth or points
            // earned back than the payment brought.
            let weight: i64 = refund_parts.iter().sum();
            let paid = o.payable;
            let growth = crate::member::growth_for_payment(o.goods_paid());
            let earned = crate::member::points_for_payment(o.goods_paid(), 150);
            let (mut money, mut pts, mut gr, mut ea) = (0, 0, 0, 0);
            for part in &refund_parts {
                let amount = Fen::new(paid.fen() * part / weight);
                money += amount.fen();
                pts += crate::member::share(o.points_used, paid, amount);
                gr += crate::member::share(growth, paid, amount);
                ea += crate::member::share(earned, paid, amount);
            }
            prop_assert!(money <= paid.fen());
            prop_assert!(pts <= o.points_used && gr <= growth && ea <= earned);
        }
    }
}
