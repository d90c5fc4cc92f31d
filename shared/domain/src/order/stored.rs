//! How an order is read back from storage. Orders are written in the shape [`Order`]
//! serialises to; orders written before holds and adjustments were data (one field per kind:
//! `reservations`, `coupon_id`, `points_used`, `member_discount`, …, and a `holds` flag) are
//! read into the same [`Order`], so no table needs a migration.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::{Adjustment, Fulfilment, Hold, Order, OrderLine, OrderState, ReceivedBy, Reservation, Source, SubOrder};
use crate::address::Address;
use crate::ids::{CouponId, OpenId, OrderNo, RequestId, SkuId, TemplateId, TransactionId};
use crate::money::Fen;
use crate::promotion::allocate;

#[derive(Deserialize)]
pub(super) struct Stored {
    order_no: OrderNo,
    openid: OpenId,
    state: OrderState,
    lines: Vec<StoredLine>,
    #[serde(default)]
    gifts: Vec<StoredLine>,
    sub_orders: Vec<SubOrder>,
    subtotal: Fen,
    #[serde(default)]
    adjustments: Option<Vec<Adjustment>>,
    #[serde(default)]
    freight: Fen,
    payable: Fen,
    #[serde(default)]
    holds: Option<StoredHolds>,
    #[serde(default)]
    address: Option<Address>,
    #[serde(default)]
    fulfilment: Fulfilment,
    #[serde(default)]
    shipped_at: Option<i64>,
    #[serde(default)]
    delivered_at: Option<i64>,
    #[serde(default)]
    received_at: Option<i64>,
    #[serde(default)]
    received_by: Option<ReceivedBy>,
    #[serde(default)]
    completed_at: Option<i64>,
    #[serde(default)]
    corrected: bool,
    #[serde(default)]
    upload_lease_until: Option<i64>,
    request_id: RequestId,
    created_at: i64,
    expires_at: i64,
    #[serde(default)]
    prepay_id: Option<String>,
    #[serde(default)]
    transaction_id: Option<TransactionId>,
    #[serde(default)]
    paid_at: Option<i64>,
    #[serde(default)]
    closed_at: Option<i64>,
    #[serde(default)]
    refund_reserved: Fen,
    #[serde(default)]
    refunded: Fen,
    #[serde(default)]
    returned_units: BTreeMap<SkuId, i64>,
    #[serde(default)]
    restocked: Vec<Reservation>,
    #[serde(default)]
    paid_after_close: bool,
    #[serde(default)]
    version: i64,
    // Before holds and adjustments were data.
    #[serde(default)]
    reservations: Vec<Reservation>,
    #[serde(default)]
    discount: Fen,
    #[serde(default)]
    member_discount: Fen,
    #[serde(default)]
    campaign_discount: Fen,
    #[serde(default)]
    points_used: i64,
    #[serde(default)]
    points_value: Fen,
    #[serde(default)]
    coupon_id: Option<CouponId>,
    #[serde(default)]
    coupon_template: Option<TemplateId>,
}

/// `holds` is the list of holds, or (before) whether the order counted against the shopper's
/// limits on unpaid orders.
#[derive(Deserialize)]
#[serde(untagged)]
enum StoredHolds {
    Held(Vec<Hold>),
    Counted(bool),
}

/// A line; before adjustments were data it carried its share of every discount.
#[derive(Deserialize)]
struct StoredLine {
    #[serde(flatten)]
    line: OrderLine,
    #[serde(default)]
    discount: Fen,
}

impl From<Stored> for Order {
    fn from(s: Stored) -> Order {
        let line_discounts: Vec<i64> = s.lines.iter().map(|l| l.discount.fen()).collect();
        let lines: Vec<OrderLine> = s.lines.into_iter().map(|l| l.line).collect();
        let gifts: Vec<OrderLine> = s.gifts.into_iter().map(|l| l.line).collect();
        let holds = match s.holds {
            Some(StoredHolds::Held(h)) => h,
            Some(StoredHolds::Counted(counted)) => {
                legacy_holds(&lines, &gifts, s.reservations, s.coupon_id.zip(s.coupon_template), s.points_used, counted)
            }
            None => {
                legacy_holds(&lines, &gifts, s.reservations, s.coupon_id.zip(s.coupon_template), s.points_used, false)
            }
        };
        let adjustments = s.adjustments.unwrap_or_else(|| {
            let coupon = s.discount.fen() - s.member_discount.fen() - s.campaign_discount.fen();
            let totals = [
                (Source::MemberPrice, s.member_discount.fen()),
                (Source::Campaign, s.campaign_discount.fen()),
                (Source::Coupon, coupon),
                (Source::Points, s.points_value.fen()),
            ];
            let amounts: Vec<i64> = lines.iter().map(|l| l.amount.fen()).collect();
            legacy_adjustments(&totals, &line_discounts, &amounts)
        });
        Order {
            order_no: s.order_no,
            openid: s.openid,
            state: s.state,
            lines,
            gifts,
            sub_orders: s.sub_orders,
            subtotal: s.subtotal,
            adjustments,
            freight: s.freight,
            payable: s.payable,
            holds,
            address: s.address,
            fulfilment: s.fulfilment,
            shipped_at: s.shipped_at,
            delivered_at: s.delivered_at,
            received_at: s.received_at,
            received_by: s.received_by,
            completed_at: s.completed_at,
            upload_lease_until: s.upload_lease_until,
            corrected: s.corrected,
            request_id: s.request_id,
            created_at: s.created_at,
            expires_at: s.expires_at,
            prepay_id: s.prepay_id,
            transaction_id: s.transaction_id,
            paid_at: s.paid_at,
            closed_at: s.closed_at,
            refund_reserved: s.refund_reserved,
            refunded: s.refunded,
            returned_units: s.returned_units,
            restocked: s.restocked,
            paid_after_close: s.paid_after_close,
            version: s.version,
        }
    }
}

/// The holds an order of the earlier shape held: its reservations (a gift's SKU is a gift),
/// its coupon, its points, and its places under the limits when it counted against them.
fn legacy_holds(
    lines: &[OrderLine],
    gifts: &[OrderLine],
    reservations: Vec<Reservation>,
    coupon: Option<(CouponId, TemplateId)>,
    points: i64,
    counted: bool,
) -> Vec<Hold> {
    let gift_skus: BTreeSet<&SkuId> = gifts.iter().map(|g| &g.sku_id).collect();
    let mut holds: Vec<Hold> = reservations
        .into_iter()
        .map(|r| if gift_skus.contains(&r.sku_id) { Hold::Gift(r) } else { Hold::Stock(r) })
        .collect();
    if let Some((coupon_id, template_id)) = coupon {
        holds.push(Hold::Coupon { coupon_id, template_id });
    }
    if points > 0 {
        holds.push(Hold::Points { points });
    }
    if counted {
        holds.push(Hold::OpenOrder);
        holds.extend(lines.iter().map(|l| Hold::HeldUnits { sku_id: l.sku_id.clone(), units: l.quantity }));
    }
    holds
}

/// Per-line adjustments from an earlier order's totals by source and each line's share of all
/// of them. Each source but the last takes its total in proportion to what the lines have left
/// to give (never more than a line has); the last takes exactly what is left, so every line's
/// shares add up to what it carried. Orders from before lines carried their share split every
/// total in proportion to the lines' amounts, as their refunds did.
fn legacy_adjustments(totals: &[(Source, i64)], line_discounts: &[i64], amounts: &[i64]) -> Vec<Adjustment> {
    let all: i64 = totals.iter().map(|(_, t)| t).sum();
    let mut left: Vec<i64> =
        if line_discounts.iter().sum::<i64>() == all { line_discounts.to_vec() } else { allocate(all, amounts) };
    let given: Vec<&(Source, i64)> = totals.iter().filter(|(_, t)| *t > 0).collect();
    let mut out = Vec::new();
    for (i, (source, total)) in given.iter().enumerate() {
        let shares = if i + 1 == given.len() { left.clone() } else { allocate(*total, &left) };
        for (l, s) in left.iter_mut().zip(&shares) {
            *l -= s;
        }
        out.push(Adjustment { source: *source, per_line: shares.into_iter().map(Fen::new).collect() });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An order stored before holds and adjustments were data, as the shop wrote it: a 10%
    /// member price, a campaign, a coupon and points on two lines, a gift, limits counted.
    const EARLIER: &str = r#"{
        "pk": "ORDER#20261201120000123456", "sk": "META",
        "gsi1pk": "ORDERS#paid", "gsi1sk": "001764561600#20261201120000123456",
        "order_no": "20261201120000123456", "openid": "oAlice000001", "state": "paid",
        "lines": [
            {"sku_id": "SA", "product_id": "PA", "name": "A", "kind": "main", "unit_price": 6000,
             "quantity": 1, "amount": 6000, "discount": 1510},
            {"sku_id": "SB", "product_id": "PB", "name": "B", "kind": "main", "unit_price": 2000,
             "quantity": 2, "amount": 4000, "discount": 890}
        ],
        "gifts": [{"sku_id": "SG", "product_id": "PA", "name": "G", "kind": "gift", "unit_price": 0,
                   "quantity": 1, "amount": 0, "discount": 0}],
        "sub_orders": [{"warehouse_id": "SH", "items": {"SA": 1, "SB": 2, "SG": 1}, "shipment": null}],
        "reservations": [
            {"sku_id": "SA", "warehouse_id": "SH", "shard": 0, "quantity": 1},
            {"sku_id": "SB", "warehouse_id": "SH", "shard": 0, "quantity": 2},
            {"sku_id": "SG", "warehouse_id": "SH", "shard": 0, "quantity": 1}
        ],
        "subtotal": 10000, "discount": 2000, "member_discount": 1000, "campaign_discount": 500,
        "points_used": 400, "points_value": 400, "freight": 800, "payable": 8400,
        "address": null, "fulfilment": "unshipped", "coupon_id": "U1", "coupon_template": "C1",
        "request_id": "req-00000001", "created_at": 1764561600, "expires_at": 1764563400,
        "transaction_id": "4200000001", "paid_at": 1764561700, "refund_reserved": 0, "refunded": 0,
        "returned_units": {}, "restocked": [], "paid_after_close": false, "holds": true, "version": 3
    }"#;

    #[test]
    fn an_order_of_the_earlier_shape_reads_whole() {
        let o: Order = serde_json::from_str(EARLIER).unwrap();
        assert_eq!((o.off(Source::MemberPrice), o.off(Source::Campaign)), (Fen::new(1000), Fen::new(500)));
        assert_eq!((o.off(Source::Coupon), o.off(Source::Points)), (Fen::new(500), Fen::new(400)));
        // Every line keeps exactly the share it carried.
        assert_eq!((o.line_off(0), o.line_off(1)), (Fen::new(1510), Fen::new(890)));
        assert_eq!(o.points_used(), 400);
        assert_eq!(o.coupon().map(|(c, t)| (c.as_str(), t.as_str())), Some(("U1", "C1")));
        let gifts: Vec<&Hold> = o.holds().iter().filter(|h| matches!(h, Hold::Gift(_))).collect();
        assert_eq!(gifts.len(), 1);
        assert_eq!(o.holds().iter().filter(|h| matches!(h, Hold::Stock(_))).count(), 2);
        assert!(o.holds().contains(&Hold::OpenOrder));
        assert_eq!(o.holds().iter().filter(|h| matches!(h, Hold::HeldUnits { .. })).count(), 2);
        // Written again in today's shape, it reads back the same.
        let again: Order = serde_json::from_value(serde_json::to_value(&o).unwrap()).unwrap();
        assert_eq!(again, o);
        // And shoppers read it as they did.
        let view = serde_json::to_value(o.view()).unwrap();
        assert_eq!(view["discount"], 2000);
        assert_eq!(view["member_discount"], 1000);
        assert_eq!(view["points_value"], 400);
        assert_eq!(view["lines"][0]["discount"], 1510);
        assert_eq!(view["reservations"].as_array().map(Vec::len), Some(3));
        assert_eq!(view["holds"], true);
        assert_eq!(view["coupon_template"], "C1");
    }

    #[test]
    fn shares_older_than_per_line_discounts_follow_the_amounts() {
        let adj = legacy_adjustments(&[(Source::Coupon, 300)], &[0, 0], &[1000, 2000]);
        assert_eq!(adj, vec![Adjustment { source: Source::Coupon, per_line: vec![Fen::new(100), Fen::new(200)] }]);
        assert!(legacy_adjustments(&[(Source::Coupon, 0)], &[0], &[1000]).is_empty());
    }
}
