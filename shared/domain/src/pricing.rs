//! The price of an order, all of it: what a line costs, which gifts come with it, what comes
//! off it and in which order (the member price, a full-reduction campaign, a coupon, points:
//! each an [`Adjustment`] kept per line), the 1-fen floor WeChat Pay needs and the
//! single-payment limit. Orders and refunds by line price through here.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::catalog::{Product, ProductStatus, Sku, SkuKind};
use crate::coupon::{CouponRule, discount};
use crate::ids::ProductId;
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
        components: sku.components.iter().map(|c| (c.sku_id.clone(), i64::from(c.quantity))).collect(),
    })
}

/// Unit price times quantity.
pub fn line_amount(unit_price: Fen, quantity: i64) -> Result<Fen, DomainError> {
    unit_price.checked_mul(quantity).ok_or(DomainError::Overflow)
}

/// The gift rule: each product ordered brings one of each of its gift SKUs (while gift stock
/// lasts, which allocation decides). `gifts_of` gives a product's gift SKUs.
pub fn gifts<'a>(lines: &[OrderLine], gifts_of: impl Fn(&ProductId) -> &'a [Sku]) -> Vec<OrderLine> {
    let products: BTreeSet<&ProductId> = lines.iter().map(|l| &l.product_id).collect();
    let mut out = Vec::new();
    for p in products {
        for g in gifts_of(p).iter().filter(|s| s.kind == SkuKind::Gift) {
            out.push(gift_line(g, g.name.clone()));
        }
    }
    out
}

/// One unit of the gift SKU `g`, free, under `name`.
pub fn gift_line(g: &Sku, name: String) -> OrderLine {
    OrderLine {
        sku_id: g.id.clone(),
        product_id: g.product_id.clone(),
        name,
        kind: SkuKind::Gift,
        unit_price: g.price,
        quantity: 1,
        amount: g.price,
        components: Vec::new(),
    }
}

/// Where something that came off an order's price came from. A new kind of price (a flash
/// sale's, a group's, a new customer's) is one variant here and its arm in [`price`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The member price of the shopper's level.
    MemberPrice,
    /// A full-reduction campaign (满减).
    Campaign,
    Coupon,
    /// Points paid with (100 points are 1 yuan).
    Points,
}

impl Source {
    /// The first reduction to apply.
    pub const FIRST: Source = Source::MemberPrice;

    /// The stacking rule: which reduction applies after this one (each takes off what the ones
    /// before it left), none after the last. A new source is placed in the chain here.
    pub const fn then(self) -> Option<Source> {
        match self {
            Source::MemberPrice => Some(Source::Campaign),
            Source::Campaign => Some(Source::Coupon),
            Source::Coupon => Some(Source::Points),
            Source::Points => None,
        }
    }

    /// Every source, in the order they apply.
    pub fn stacking() -> impl Iterator<Item = Source> {
        std::iter::successors(Some(Source::FIRST), |s| s.then())
    }
}

/// What one source took off each line (in line order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjustment {
    pub source: Source,
    pub per_line: Vec<Fen>,
}

impl Adjustment {
    pub fn total(&self) -> Fen {
        Fen::new(self.per_line.iter().map(|f| f.fen()).sum())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Priced {
    pub subtotal: Fen,
    /// The lines' amounts, in line order (what adjustments are taken from).
    pub line_amounts: Vec<i64>,
    /// What came off, by source in stacking order; a source that took nothing is absent.
    pub adjustments: Vec<Adjustment>,
    /// Delivery (zero until [`Priced::with_freight`]); never discounted.
    pub freight: Fen,
    pub payable: Fen,
}

/// Points per yuan at checkout.
pub const POINTS_PER_YUAN: i64 = 100;
/// The most of the goods points may pay, in percent.
pub const POINTS_CAP_PCT: i64 = 50;

impl Priced {
    /// What `source` took off.
    pub fn off(&self, source: Source) -> Fen {
        Fen::new(self.adjustments.iter().filter(|a| a.source == source).map(|a| a.total().fen()).sum())
    }

    /// Everything taken off each line, in line order.
    pub fn line_discounts(&self) -> Vec<Fen> {
        (0..self.line_amounts.len())
            .map(|i| Fen::new(self.adjustments.iter().filter_map(|a| a.per_line.get(i)).map(|f| f.fen()).sum()))
            .collect()
    }

    /// The most points these goods take: half their payable, in whole yuan.
    pub fn points_cap(&self) -> i64 {
        points_cap(self.payable.fen())
    }

    /// Adds delivery to what is payable, within the single-payment limit.
    pub fn with_freight(self, freight: Fen) -> Result<Priced, DomainError> {
        let payable = self.payable.checked_add(freight).ok_or(DomainError::Overflow)?;
        if payable > SINGLE_PAYMENT_LIMIT {
            return Err(DomainError::OrderLimitExceeded { limit: SINGLE_PAYMENT_LIMIT });
        }
        Ok(Priced { freight, payable, ..self })
    }

    /// The lines at their listed prices, nothing taken off (for tests of what comes after).
    #[cfg(test)]
    pub(crate) fn unadjusted(lines: &[OrderLine]) -> Priced {
        let line_amounts: Vec<i64> = lines.iter().map(|l| l.amount.fen()).collect();
        let subtotal = Fen::new(line_amounts.iter().sum());
        Priced { subtotal, line_amounts, adjustments: Vec::new(), freight: Fen::ZERO, payable: subtotal }
    }
}

/// Points goods of `payable` fen take at most: half, in whole yuan.
fn points_cap(payable: i64) -> i64 {
    (payable * POINTS_CAP_PCT / 100 / 100) * POINTS_PER_YUAN
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
    /// Points the shopper pays with (whole hundreds; 0: none).
    pub points: i64,
}

/// Server-side pricing of the goods. The sources apply in their stacking order
/// ([`Source::then`]), each on what
/// the ones before left, and each split over its lines in proportion ([`allocate`]): the
/// member price (the level's percent off each line, rounded down); the campaign's best tier
/// (unless the operator made campaigns and coupons exclusive and a coupon is used); the coupon
/// on the lines it covers; points, at most half of what is left in whole yuan. At least 1 fen
/// is paid, and the goods before points stay within the single-payment limit. Freight comes
/// after ([`Priced::with_freight`]).
pub fn price(
    lines: &[OrderLine],
    category_of: &dyn Fn(&ProductId) -> String,
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
    let mut left = amounts.clone();
    let mut taken = 0i64;
    let mut adjustments = Vec::new();
    for source in Source::stacking() {
        let shares: Vec<i64> = match source {
            Source::MemberPrice => {
                let pct = i64::from(offers.member_pct.min(100));
                let shares: Vec<i64> = amounts.iter().map(|a| a * pct / 100).collect();
                if shares.iter().sum::<i64>() > cap { allocate(cap, &amounts) } else { shares }
            }
            Source::Campaign => match offers.campaign {
                Some(c) if c.active_at(now) && !(offers.stacking == Stacking::Exclusive && offers.coupon.is_some()) => {
                    let off = c.off(Fen::new(subtotal.fen() - taken)).fen().min(cap - taken);
                    allocate(off, &left)
                }
                _ => vec![0; lines.len()],
            },
            Source::Coupon => match offers.coupon {
                None => vec![0; lines.len()],
                Some((rule, scope)) => {
                    let covered: Vec<i64> = lines
                        .iter()
                        .zip(&left)
                        .map(|(l, rest)| match scope {
                            Some(s) if !s.covers(&l.product_id, &category_of(&l.product_id)) => 0,
                            _ => *rest,
                        })
                        .collect();
                    let base: i64 = covered.iter().sum();
                    if base <= 0 {
                        return Err(DomainError::CouponNotApplicable);
                    }
                    let d = discount(rule, Fen::new(base)).ok_or(DomainError::CouponNotApplicable)?.fen();
                    allocate(d.min(cap - taken).max(0), &covered)
                }
            },
            Source::Points => {
                // The goods before points stay within what one payment may be.
                if subtotal.fen() - taken > SINGLE_PAYMENT_LIMIT.fen() {
                    return Err(DomainError::OrderLimitExceeded { limit: SINGLE_PAYMENT_LIMIT });
                }
                let points = offers.points;
                if points == 0 {
                    vec![0; lines.len()]
                } else {
                    if points < 0 || points % POINTS_PER_YUAN != 0 {
                        return Err(DomainError::invalid("points", "points go in hundreds: 100 points are 1 yuan"));
                    }
                    let most = points_cap(subtotal.fen() - taken);
                    if points > most {
                        return Err(DomainError::invalid(
                            "points",
                            format!("at most {most} points on this order (half its goods)"),
                        ));
                    }
                    let value = crate::order::points_value(points).fen();
                    if subtotal.fen() - taken - value < 1 {
                        return Err(DomainError::invalid("points", "at least 1 fen is paid in money"));
                    }
                    allocate(value, &left)
                }
            }
        };
        let total: i64 = shares.iter().sum();
        if total > 0 {
            for (l, s) in left.iter_mut().zip(&shares) {
                *l -= s;
            }
            taken += total;
            adjustments.push(Adjustment { source, per_line: shares.into_iter().map(Fen::new).collect() });
        }
    }
    let payable = subtotal.checked_sub(Fen::new(taken)).ok_or(DomainError::Overflow)?;
    Ok(Priced { subtotal, line_amounts: amounts, adjustments, freight: Fen::ZERO, payable })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::SkuKind;
    use crate::ids::id;
    use crate::order::fixtures;
    use crate::promotion::Tier;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn order_line(i: usize, product: &str, unit: i64, qty: i64) -> OrderLine {
        OrderLine {
            sku_id: id(&format!("S{i}")),
            product_id: id(product),
            name: format!("S{i}"),
            kind: SkuKind::Main,
            unit_price: Fen::new(unit),
            quantity: qty,
            amount: Fen::new(unit * qty),
            components: vec![],
        }
    }

    fn category(product: &ProductId) -> String {
        if product.as_str() == "P1" { "fruit".into() } else { "tea".into() }
    }

    /// Member price, campaign and coupon: what the API calls the discount.
    fn discount(p: &Priced) -> Fen {
        Fen::new(p.off(Source::MemberPrice).fen() + p.off(Source::Campaign).fen() + p.off(Source::Coupon).fen())
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
            points: 0,
        };
        let p = price(&lines, &category, offers, 50).unwrap();
        assert_eq!(
            (p.off(Source::Campaign), discount(&p), p.payable),
            (Fen::new(1_000), Fen::new(1_500), Fen::new(8_500))
        );
        // The campaign splits 600/400; the tea coupon lands on the tea line only.
        assert_eq!(p.line_discounts(), vec![Fen::new(600), Fen::new(900)]);
        assert_eq!(
            p.adjustments,
            vec![
                Adjustment { source: Source::Campaign, per_line: vec![Fen::new(600), Fen::new(400)] },
                Adjustment { source: Source::Coupon, per_line: vec![Fen::ZERO, Fen::new(500)] },
            ]
        );
        let exclusive = Offers { stacking: Stacking::Exclusive, ..offers };
        let e = price(&lines, &category, exclusive, 50).unwrap();
        assert_eq!(
            (e.off(Source::Campaign), discount(&e)),
            (Fen::ZERO, Fen::new(500)),
            "a coupon order gets no campaign"
        );
        let after = price(&lines, &category, offers, 101).unwrap();
        assert_eq!(after.off(Source::Campaign), Fen::ZERO, "the campaign ended");
        let fruit_only = Scope { products: vec!["P9".into()], categories: vec![] };
        let none = Offers { coupon: Some((&rule, Some(&fruit_only))), ..offers };
        assert_eq!(price(&lines, &category, none, 50).unwrap_err(), DomainError::CouponNotApplicable);
        // 5% member price first (500 off 10,000), then the campaign on 9,500 (short of 10,000:
        // nothing), then the tea coupon on the tea line's member price.
        let member = price(&lines, &category, Offers { member_pct: 5, ..offers }, 50).unwrap();
        assert_eq!(
            (member.off(Source::MemberPrice), member.off(Source::Campaign), discount(&member), member.payable),
            (Fen::new(500), Fen::ZERO, Fen::new(1_000), Fen::new(9_000))
        );
        assert_eq!(member.line_discounts(), vec![Fen::new(300), Fen::new(700)]);
        // Points last: 40 yuan of the 90 left, split over what each line has left.
        let points = price(&lines, &category, Offers { member_pct: 5, points: 4_000, ..offers }, 50).unwrap();
        assert_eq!((points.off(Source::Points), points.payable), (Fen::new(4_000), Fen::new(5_000)));
        let too_many = price(&lines, &category, Offers { points: 4_600, ..offers }, 50).unwrap_err();
        assert!(matches!(too_many, DomainError::Invalid { .. }), "at most half of what is left");
    }

    #[test]
    fn every_source_stacks_once() {
        let order: Vec<Source> = Source::stacking().take(10).collect();
        assert_eq!(order, vec![Source::MemberPrice, Source::Campaign, Source::Coupon, Source::Points]);
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
            let with = Offers { coupon: Some((&rule, scoped.then_some(&scope))), campaign: Some(&campaign), stacking, member_pct, points: 0 };
            let without = Offers { coupon: None, ..with };
            let Ok(p) = price(&lines, &category, with, 5) else { return Ok(()) };
            let goods_before_points = p.payable;
            let points = (hundreds * POINTS_PER_YUAN).min(p.points_cap());
            let p = price(&lines, &category, Offers { points, ..with }, 5).unwrap();
            prop_assert!(p.off(Source::Points).fen() * 2 <= goods_before_points.fen(), "points pay at most half the goods");
            prop_assert_eq!(p.off(Source::Points).fen(), points / POINTS_PER_YUAN * 100);
            let member_max: i64 = lines.iter().map(|l| l.amount.fen() * i64::from(member_pct) / 100).sum();
            prop_assert!(p.off(Source::MemberPrice).fen() <= member_max, "the member price takes its percent at most");
            let p = p.with_freight(Fen::new(freight)).unwrap();
            prop_assert!(p.freight >= Fen::ZERO);
            prop_assert!(p.payable <= p.subtotal.checked_add(p.freight).unwrap(), "never more than goods and freight");
            prop_assert!(p.payable.fen() - p.freight.fen() >= 1, "at least 1 fen of goods is paid");
            let line_discounts = p.line_discounts();
            prop_assert_eq!(line_discounts.iter().map(|d| d.fen()).sum::<i64>(), discount(&p).fen() + p.off(Source::Points).fen());
            for (l, d) in lines.iter().zip(&line_discounts) {
                prop_assert!(d.fen() >= 0 && *d <= l.amount);
            }
            for a in &p.adjustments {
                prop_assert!(a.per_line.iter().all(|f| f.fen() >= 0) && a.per_line.len() == lines.len());
            }
            if scoped && !exclusive && points == 0 {
                let base = price(&lines, &category, without, 5).unwrap();
                for ((l, d), b) in lines.iter().zip(&line_discounts).zip(&base.line_discounts()) {
                    if l.product_id.as_str() != "P2" && p.off(Source::Campaign) == base.off(Source::Campaign) {
                        prop_assert_eq!(d, b, "the coupon stays within its scope");
                    }
                }
            }
            // As an order: a full refund is exactly what was paid; refunds of every line are
            // never more than the goods paid, and short of it by rounding only.
            let mut o = fixtures::with_lines(fixtures::unpaid(1, 1), lines.clone());
            o = fixtures::adjusted(o, p.adjustments.clone());
            o = fixtures::with_freight(o, p.freight);
            let o = fixtures::with_points(o, points);
            prop_assert_eq!(o.payable(), p.payable);
            prop_assert_eq!(o.refundable(), p.payable);
            let all: BTreeMap<_, i64> = o.lines().iter().map(|l| (l.sku_id.clone(), l.quantity)).collect();
            let by_lines = crate::refund::amount_for_lines(&o, &all).unwrap();
            prop_assert!(by_lines <= o.goods_paid());
            prop_assert!(o.goods_paid().fen() - by_lines.fen() < o.lines().len() as i64 + 1);
            // Refunds in parts, up to the whole payment: never more points, growth or points
            // earned back than the payment brought.
            let weight: i64 = refund_parts.iter().sum();
            let paid = o.payable();
            let growth = crate::member::growth_for_payment(o.goods_paid());
            let earned = crate::member::points_for_payment(o.goods_paid(), 150);
            let (mut money, mut pts, mut gr, mut ea) = (0, 0, 0, 0);
            for part in &refund_parts {
                let amount = Fen::new(paid.fen() * part / weight);
                money += amount.fen();
                pts += crate::member::share(o.points_used(), paid, amount);
                gr += crate::member::share(growth, paid, amount);
                ea += crate::member::share(earned, paid, amount);
            }
            prop_assert!(money <= paid.fen());
            prop_assert!(pts <= o.points_used() && gr <= growth && ea <= earned);
        }
    }
}
