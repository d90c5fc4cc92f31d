//! An order as shoppers and operators read it over HTTP: the fields the API has always
//! answered with, derived from the holds and adjustments the order keeps.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Fulfilment, Hold, Order, OrderLine, OrderState, ReceivedBy, Reservation, Source, SubOrder};
use crate::address::Address;
use crate::ids::{CouponId, OpenId, OrderNo, RequestId, SkuId, TemplateId, TransactionId};
use crate::money::Fen;

#[derive(Debug, Serialize)]
pub struct OrderView<'a> {
    order_no: &'a OrderNo,
    openid: &'a OpenId,
    state: OrderState,
    lines: Vec<LineView<'a>>,
    gifts: Vec<LineView<'a>>,
    sub_orders: &'a [SubOrder],
    reservations: Vec<&'a Reservation>,
    subtotal: Fen,
    /// Everything taken off the goods but points: member price, campaign and coupon.
    discount: Fen,
    member_discount: Fen,
    campaign_discount: Fen,
    points_used: i64,
    points_value: Fen,
    freight: Fen,
    payable: Fen,
    address: Option<Address>,
    fulfilment: Fulfilment,
    shipped_at: Option<i64>,
    delivered_at: Option<i64>,
    received_at: Option<i64>,
    received_by: Option<ReceivedBy>,
    completed_at: Option<i64>,
    coupon_id: Option<&'a CouponId>,
    coupon_template: Option<&'a TemplateId>,
    request_id: &'a RequestId,
    created_at: i64,
    expires_at: i64,
    prepay_id: Option<&'a str>,
    transaction_id: Option<&'a TransactionId>,
    paid_at: Option<i64>,
    closed_at: Option<i64>,
    refund_reserved: Fen,
    refunded: Fen,
    returned_units: &'a BTreeMap<SkuId, i64>,
    restocked: &'a [Reservation],
    paid_after_close: bool,
    /// Whether the order counts against its shopper's limits on unpaid orders.
    holds: bool,
    version: i64,
}

/// A line with its share of everything taken off the order's goods.
#[derive(Debug, Serialize)]
struct LineView<'a> {
    #[serde(flatten)]
    line: &'a OrderLine,
    discount: Fen,
}

impl<'a> OrderView<'a> {
    pub(super) fn of(o: &'a Order, masked: bool) -> OrderView<'a> {
        let discount =
            [Source::MemberPrice, Source::Campaign, Source::Coupon].into_iter().map(|s| o.off(s).fen()).sum();
        OrderView {
            order_no: &o.order_no,
            openid: &o.openid,
            state: o.state,
            lines: o.lines.iter().enumerate().map(|(i, line)| LineView { line, discount: o.line_off(i) }).collect(),
            gifts: o.gifts.iter().map(|line| LineView { line, discount: Fen::ZERO }).collect(),
            sub_orders: &o.sub_orders,
            reservations: o.reservations().collect(),
            subtotal: o.subtotal,
            discount: Fen::new(discount),
            member_discount: o.off(Source::MemberPrice),
            campaign_discount: o.off(Source::Campaign),
            points_used: o.points_used(),
            points_value: o.off(Source::Points),
            freight: o.freight,
            payable: o.payable,
            address: if masked { o.address.as_ref().map(Address::masked) } else { o.address.clone() },
            fulfilment: o.fulfilment,
            shipped_at: o.shipped_at,
            delivered_at: o.delivered_at,
            received_at: o.received_at,
            received_by: o.received_by,
            completed_at: o.completed_at,
            coupon_id: o.coupon().map(|(c, _)| c),
            coupon_template: o.coupon().map(|(_, t)| t),
            request_id: &o.request_id,
            created_at: o.created_at,
            expires_at: o.expires_at,
            prepay_id: o.prepay_id.as_deref(),
            transaction_id: o.transaction_id.as_ref(),
            paid_at: o.paid_at,
            closed_at: o.closed_at,
            refund_reserved: o.refund_reserved,
            refunded: o.refunded,
            returned_units: &o.returned_units,
            restocked: &o.restocked,
            paid_after_close: o.paid_after_close,
            holds: o.holds.iter().any(|h| matches!(h, Hold::OpenOrder)),
            version: o.version,
        }
    }
}

/// The order as its shopper reads it: what was bought, what it cost and where it is, without
/// what only the shop acts on (the reservations and holds behind it, the prepay and request
/// ids, the shopper's own openid, refund reservations, versions).
#[derive(Debug, Serialize)]
pub struct ShopperOrderView<'a> {
    order_no: &'a OrderNo,
    state: OrderState,
    lines: Vec<LineView<'a>>,
    gifts: Vec<LineView<'a>>,
    sub_orders: &'a [SubOrder],
    subtotal: Fen,
    discount: Fen,
    member_discount: Fen,
    campaign_discount: Fen,
    points_used: i64,
    points_value: Fen,
    freight: Fen,
    payable: Fen,
    address: Option<Address>,
    fulfilment: Fulfilment,
    shipped_at: Option<i64>,
    delivered_at: Option<i64>,
    received_at: Option<i64>,
    received_by: Option<ReceivedBy>,
    completed_at: Option<i64>,
    coupon_id: Option<&'a CouponId>,
    created_at: i64,
    expires_at: i64,
    /// WeChat Pay's number of the payment, as the shopper's WeChat bill shows it.
    transaction_id: Option<&'a TransactionId>,
    paid_at: Option<i64>,
    closed_at: Option<i64>,
    refunded: Fen,
}

impl<'a> ShopperOrderView<'a> {
    pub(super) fn of(o: &'a Order) -> ShopperOrderView<'a> {
        let full = OrderView::of(o, false);
        ShopperOrderView {
            order_no: full.order_no,
            state: full.state,
            lines: full.lines,
            gifts: full.gifts,
            sub_orders: full.sub_orders,
            subtotal: full.subtotal,
            discount: full.discount,
            member_discount: full.member_discount,
            campaign_discount: full.campaign_discount,
            points_used: full.points_used,
            points_value: full.points_value,
            freight: full.freight,
            payable: full.payable,
            address: full.address,
            fulfilment: full.fulfilment,
            shipped_at: full.shipped_at,
            delivered_at: full.delivered_at,
            received_at: full.received_at,
            received_by: full.received_by,
            completed_at: full.completed_at,
            coupon_id: full.coupon_id,
            created_at: full.created_at,
            expires_at: full.expires_at,
            transaction_id: full.transaction_id,
            paid_at: full.paid_at,
            closed_at: full.closed_at,
            refunded: full.refunded,
        }
    }
}
