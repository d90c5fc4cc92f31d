//! The key schema: every entity's partition and sort key, built in this one place.
//! `docs/storage.md` tells the same in a table, with the access pattern each key serves.

use domain::ids::{
    CouponId, OpenId, OrderNo, OutRefundNo, ProductId, RequestId, SkuId, TemplateId, TransactionId, WarehouseId,
};
use domain::member::LedgerSource;
use domain::order::Phase;

use super::Key;

pub const USER_PROFILE: &str = "PROFILE";
pub const META: &str = "META";
pub const STOCK_PREFIX: &str = "STOCK#";
pub const WAREHOUSES: &str = "WAREHOUSES";

/// The partition of everything one shopper owns (profile, orders, cart, coupons).
pub fn user_partition(openid: &OpenId) -> String {
    format!("USER#{openid}")
}

/// The partition of an order and its refunds.
pub fn order_partition(order_no: &OrderNo) -> String {
    format!("ORDER#{order_no}")
}

pub fn user(openid: &OpenId) -> Key {
    Key::new(user_partition(openid), USER_PROFILE)
}

/// The session_key of a user's last login: server-side only, apart from the profile so that
/// no profile read ever carries it.
pub fn user_session(openid: &OpenId) -> Key {
    Key::new(user_partition(openid), "SESSION")
}

/// A shopper's address book (one item, so its default moves with one conditional write).
pub fn user_addresses(openid: &OpenId) -> Key {
    Key::new(user_partition(openid), "ADDRESSES")
}

/// A shopper's member standing (growth, points, check-in streak).
pub fn member(openid: &OpenId) -> Key {
    Key::new(user_partition(openid), "MEMBER")
}

/// A member's payments of one month (`yyyy-mm`): count and amount, for RFM.
pub fn member_month(openid: &OpenId, month: &str) -> Key {
    Key::new(user_partition(openid), format!("{MEMBER_MONTH_PREFIX}{month}"))
}

pub const MEMBER_MONTH_PREFIX: &str = "RFM#";

/// A member's points of one month (`yyyy-mm`) by why they moved: the redemption rate and
/// first-in-first-out expiry read these.
pub fn member_points(openid: &OpenId, month: &str) -> Key {
    Key::new(user_partition(openid), format!("{MEMBER_POINTS_PREFIX}{month}"))
}

pub const MEMBER_POINTS_PREFIX: &str = "POINTS#";

/// The latest points report of the daily job (issued, spent and the redemption rate by month).
pub fn points_report() -> Key {
    Key::new(MEMBERS, "POINTS_REPORT")
}

/// Every member item, listed through GSI1 (for the daily scoring and segment exports).
pub const MEMBERS: &str = "MEMBERS";

/// The latest segment report of the daily scoring.
pub fn segment_report() -> Key {
    Key::new(MEMBERS, "SEGMENT_REPORT")
}

/// One ledger entry of a member, under the source that caused it (written once).
pub fn member_ledger(openid: &OpenId, source: &LedgerSource) -> Key {
    Key::new(user_partition(openid), format!("{MEMBER_LEDGER_PREFIX}{source}"))
}

pub const MEMBER_LEDGER_PREFIX: &str = "LEDGER#";

/// How many one-time subscription messages of a template a shopper has allowed.
pub fn subscription(openid: &OpenId, template_id: &str) -> Key {
    Key::new(user_partition(openid), format!("SUBSCRIBE#{template_id}"))
}

/// A shop-wide setting operators edit (the freight template, …).
pub fn shop_setting(name: &str) -> Key {
    Key::new(SHOP, name)
}

/// Whether `key` holds a shop setting.
pub fn is_shop_setting(key: &Key) -> bool {
    key.pk == SHOP
}

/// Whether `pk` is a product's partition (its record) or its SKUs' index partition.
pub fn is_product_partition(pk: &str) -> bool {
    pk.starts_with(PRODUCT_PREFIX)
}

/// Whether `key` is a SKU's own record (not one of its stock counters, which share its
/// partition under their own sort keys).
pub fn is_sku_record(key: &Key) -> bool {
    key.pk.starts_with(SKU_PREFIX) && key.sk == META
}

const SHOP: &str = "SHOP";
const PRODUCT_PREFIX: &str = "PRODUCT#";
const SKU_PREFIX: &str = "SKU#";

pub fn product(product_id: &ProductId) -> Key {
    Key::new(format!("{PRODUCT_PREFIX}{product_id}"), META)
}

/// GSI1 of a product: products by status, then category, for the shopper's list.
pub fn product_gsi1(status: &str, category: &str, product_id: &ProductId) -> (String, String) {
    (products_with_status(status), format!("{category}#{product_id}"))
}

pub fn products_with_status(status: &str) -> String {
    format!("PRODUCTS#{status}")
}

pub fn sku(sku_id: &SkuId) -> Key {
    Key::new(format!("{SKU_PREFIX}{sku_id}"), META)
}

/// GSI1 of a SKU: the SKUs of one product.
pub fn sku_gsi1(product_id: &ProductId, sku_id: &SkuId) -> (String, String) {
    (skus_of_product(product_id), format!("{SKU_PREFIX}{sku_id}"))
}

pub fn skus_of_product(product_id: &ProductId) -> String {
    format!("{PRODUCT_PREFIX}{product_id}")
}

/// One stock counter of a SKU in a warehouse. A hot SKU's stock may be split over several
/// shards, so concurrent orders update different items rather than conflict on one; they are
/// sort keys of the SKU's one partition, so they do not lift DynamoDB's write rate of a
/// partition (about 1,000 a second). Shard 0 always exists.
pub fn stock(sku_id: &SkuId, warehouse_id: &WarehouseId, shard: u8) -> Key {
    Key::new(format!("{SKU_PREFIX}{sku_id}"), format!("{STOCK_PREFIX}{warehouse_id}#{shard:02}"))
}

/// The partition holding a SKU's definition and all its stock counters.
pub fn sku_partition(sku_id: &SkuId) -> String {
    format!("{SKU_PREFIX}{sku_id}")
}

/// Parses a stock sort key back into (warehouse, shard).
pub fn parse_stock_sk(sk: &str) -> Option<(&str, u8)> {
    let rest = sk.strip_prefix(STOCK_PREFIX)?;
    let (wh, shard) = rest.rsplit_once('#')?;
    Some((wh, shard.parse().ok()?))
}

pub fn warehouse(warehouse_id: &WarehouseId) -> Key {
    Key::new(WAREHOUSES, warehouse_id.as_str())
}

// ---- orders, payments, refunds, coupons, reconciliation -----------------------------------

pub fn order(order_no: &OrderNo) -> Key {
    Key::new(order_partition(order_no), META)
}

/// GSI1 of an order: orders by state; unpaid ones sorted by expiry (the closer reads them
/// oldest first), others by creation.
pub fn order_gsi1(phase: Phase, sort_time: i64, order_no: &OrderNo) -> (String, String) {
    (orders_in(phase), format!("{sort_time:012}#{order_no}"))
}

/// `(order_no, sort time)` back from an order's GSI1 sort key (see [`order_gsi1`]).
pub fn parse_order_gsi1_sk(sk: &str) -> Option<(&str, i64)> {
    let (at, no) = sk.split_once('#')?;
    Some((no, at.parse().ok()?))
}

pub fn orders_in(phase: Phase) -> String {
    format!("ORDERS#{}", phase.as_str())
}

/// A shopper's pointer to one of their orders (their order list, newest first).
pub fn user_order(openid: &OpenId, order_no: &OrderNo) -> Key {
    Key::new(user_partition(openid), format!("ORDER#{order_no}"))
}

pub const USER_ORDER_PREFIX: &str = "ORDER#";

/// A shopper's request id, made unique so a retried place-order finds its first answer.
pub fn user_request(openid: &OpenId, request_id: &RequestId) -> Key {
    Key::new(user_partition(openid), format!("REQ#{request_id}"))
}

/// How many of a shopper's orders wait for payment.
pub fn open_orders(openid: &OpenId) -> Key {
    Key::new(user_partition(openid), "HOLD#ORDERS")
}

/// Units of one SKU a shopper holds across unpaid orders.
pub fn held_units(openid: &OpenId, sku_id: &SkuId) -> Key {
    Key::new(user_partition(openid), format!("HOLD#SKU#{sku_id}"))
}

/// The window and count of a shopper's recent place-order attempts.
pub fn place_rate(openid: &OpenId) -> Key {
    Key::new(user_partition(openid), "RATE#PLACE")
}

/// The shopper's pay attempts in the current minute.
pub fn pay_rate(openid: &OpenId) -> Key {
    Key::new(user_partition(openid), "RATE#PAY")
}

pub fn cart_item(openid: &OpenId, sku_id: &SkuId) -> Key {
    Key::new(user_partition(openid), format!("CART#{sku_id}"))
}

pub const CART_PREFIX: &str = "CART#";

/// Payments a user made on one Shanghai day (the risk rule counts them).
pub fn pay_count(openid: &OpenId, day: &str) -> Key {
    Key::new(user_partition(openid), format!("PAYCOUNT#{day}"))
}

/// A WeChat Pay transaction applied once: written with `attribute_not_exists`.
pub fn payment(transaction_id: &TransactionId) -> Key {
    Key::new(format!("PAYMENT#{transaction_id}"), META)
}

/// GSI1 of a payment: payments by Shanghai day, for reconciliation.
pub fn payment_gsi1(day: &str, transaction_id: &TransactionId) -> (String, String) {
    (payments_on(day), transaction_id.to_string())
}

pub fn payments_on(day: &str) -> String {
    format!("PAYDAY#{day}")
}

/// A refund lives in its order's partition, so an order's refunds are one query.
pub fn refund(order_no: &OrderNo, out_refund_no: &OutRefundNo) -> Key {
    Key::new(order_partition(order_no), format!("REFUND#{out_refund_no}"))
}

pub const REFUND_PREFIX: &str = "REFUND#";

/// What refunds started to a shopper on one Shanghai day add up to.
pub fn refunds_to_shopper(openid: &OpenId, day: &str) -> Key {
    Key::new(user_partition(openid), format!("REFUNDED#{day}"))
}

/// What refunds one operator started on their own approval on one Shanghai day add up to
/// (apart from the operator's account, which only the account function writes).
pub fn refunds_by_operator(operator_id: &str, day: &str) -> Key {
    Key::new(format!("OPREFUNDS#{operator_id}"), format!("DAY#{day}"))
}

/// A return of goods, in its order's partition; listed for operators by state through GSI1.
pub fn order_return(order_no: &OrderNo, id: &str) -> (Key, String) {
    (Key::new(order_partition(order_no), format!("{RETURN_PREFIX}{id}")), format!("{order_no}#{id}"))
}

pub const RETURN_PREFIX: &str = "RETURN#";

/// How many returns an order has: each new one moves it under a condition on the number read,
/// so two returns of the same units asked for at once cannot both pass the check.
pub fn order_returns_count(order_no: &OrderNo) -> Key {
    Key::new(order_partition(order_no), "RETURNCOUNT")
}

pub fn returns_with_state(state: &str) -> String {
    format!("RETURNS#{state}")
}

/// GSI1 of a refund: the operators' queue while open, the day of success once done.
pub fn refund_gsi1_open(state: &str, created_at: i64, out_refund_no: &OutRefundNo) -> (String, String) {
    (format!("REFUNDS#{state}"), format!("{created_at:012}#{out_refund_no}"))
}

pub fn refunds_with_state(state: &str) -> String {
    format!("REFUNDS#{state}")
}

pub fn refund_gsi1_done(day: &str, out_refund_no: &OutRefundNo) -> (String, String) {
    (refunds_on(day), out_refund_no.to_string())
}

pub fn refunds_on(day: &str) -> String {
    format!("REFUNDDAY#{day}")
}

pub fn coupon_template(id: &TemplateId) -> Key {
    Key::new(format!("COUPONTPL#{id}"), META)
}

pub const COUPON_TEMPLATES: &str = "COUPONTPLS";

pub fn coupon_template_gsi1(id: &TemplateId) -> (String, String) {
    (COUPON_TEMPLATES.to_owned(), id.to_string())
}

/// How many coupons of a template a user holds: the per-user limit's counter.
pub fn coupon_claims(openid: &OpenId, template_id: &TemplateId) -> Key {
    Key::new(user_partition(openid), format!("CLAIMS#{template_id}"))
}

pub fn user_coupon(openid: &OpenId, coupon_id: &CouponId) -> Key {
    Key::new(user_partition(openid), format!("COUPON#{coupon_id}"))
}

pub const USER_COUPON_PREFIX: &str = "COUPON#";

/// A case that needs a person (a payment for a closed order, an amount mismatch, …),
/// keyed by its cause so a repeat finds the first; listed by time through GSI1.
pub fn case(kind: &str, cause: &str, created_at: i64) -> (Key, (String, String)) {
    (Key::new("CASES", format!("{kind}#{cause}")), (CASE_LIST.to_owned(), format!("{created_at:012}#{kind}#{cause}")))
}

pub const CASE_LIST: &str = "CASELIST";

pub fn reconciliation(day: &str) -> Key {
    Key::new(format!("RECON#{day}"), "REPORT")
}

/// An outbox event, under the id that names the change it reports.
pub fn outbox(id: &str) -> Key {
    Key::new(format!("OUTBOX#{id}"), "EVENT")
}

pub const OUTBOX_PREFIX: &str = "OUTBOX#";

/// GSI1 of an outbox event while it waits for its consumers, oldest first; a delivered
/// event leaves the index.
pub fn outbox_pending_gsi1(created_at: i64, id: &str) -> (String, String) {
    (OUTBOX_PENDING.to_owned(), format!("{created_at:012}#{id}"))
}

pub const OUTBOX_PENDING: &str = "OUTBOX#pending";

// ---- sales and stock alerts ------------------------------------------------------------

/// Units of a stock-bearing SKU paid for on one Shanghai day (`yyyy-mm-dd`).
pub fn sales_day(sku_id: &SkuId, day: &str) -> Key {
    Key::new(format!("SALES#{sku_id}"), format!("DAY#{day}"))
}

pub fn sales_partition(sku_id: &SkuId) -> String {
    format!("SALES#{sku_id}")
}

/// Written with a payment's sales, so a payment is counted once.
pub fn sales_counted(transaction_id: &TransactionId) -> Key {
    Key::new("SALES#COUNTED", transaction_id.to_string())
}

/// The open stock alert of a SKU (present for the length of one episode).
pub fn stock_alert(sku_id: &SkuId) -> Key {
    Key::new(STOCK_ALERTS, sku_id.to_string())
}

pub const STOCK_ALERTS: &str = "STOCKALERTS";

/// The open episode of a business target out of its band (present while it lasts).
pub fn target_alert(metric: &str) -> Key {
    Key::new("TARGETALERTS", metric.to_owned())
}

/// Messages sent to the operators' group robot in the current minute (WeCom takes 20).
pub fn robot_rate() -> Key {
    Key::new("ROBOT", "RATE")
}

// ---- operators and their audit trail -----------------------------------------------------

/// The partition listing operator accounts (GSI1), and the marker the first account writes.
pub const OPERATORS: &str = "OPERATORS";

/// An operator account; listed through GSI1 under [`OPERATORS`].
pub fn operator(id: &str) -> (Key, (String, String)) {
    (Key::new(format!("OPERATOR#{id}"), "ACCOUNT"), (OPERATORS.to_owned(), id.to_owned()))
}

/// What an operator used of a daily allowance (`power`: points granted, stock written off).
pub fn operator_allowance(power: &str, operator_id: &str, day: &str) -> Key {
    Key::new(format!("ALLOWANCE#{power}#{operator_id}"), format!("DAY#{day}"))
}

/// One WeChat identity (a digest of an openid) bound to one operator account.
pub fn operator_identity(identity: &str) -> Key {
    Key::new(format!("OPIDENTITY#{identity}"), "ACCOUNT")
}

/// Written with the first account, once: the bootstrap token can make no second one.
pub fn operators_bootstrapped() -> Key {
    Key::new(OPERATORS, "BOOTSTRAPPED")
}

/// The audit trail: one partition (operators act a few times a minute, far below a
/// partition's write rate), sorted by time, appended with a condition and never rewritten.
pub const AUDIT: &str = "AUDIT";

pub fn audit_entry(at: i64, id: &str) -> Key {
    Key::new(AUDIT, format!("{at:012}#{id}"))
}

/// The head of the audit trail's hash chain: the last entry's sequence number and hash. Apart
/// from the trail's partition, so listing the trail never meets it.
pub const AUDIT_HEAD: &str = "AUDITHEAD";

pub fn audit_head() -> Key {
    Key::new(AUDIT_HEAD, "HEAD")
}

/// An upload the shop signed, under the object key it chose (attaching the key checks it).
pub fn upload(object_key: &str) -> Key {
    Key::new(format!("UPLOAD#{object_key}"), META)
}

/// A media check WeChat is running, under its trace id (its push names only that).
pub fn media_trace(trace_id: &str) -> Key {
    Key::new(format!("MEDIACHECK#{trace_id}"), META)
}

/// A verdict WeChat pushed before the shop had recorded the check it names (the push can
/// overtake the write that follows WeChat's answer).
pub fn early_verdict(trace_id: &str) -> Key {
    Key::new(format!("MEDIAVERDICT#{trace_id}"), META)
}

/// The one SKU of a product with a spec combination (values joined by U+001F, which no
/// value holds): written with the SKU, so two SKUs never share a combination.
pub fn spec_combination(product_id: &ProductId, values: &[String]) -> Key {
    Key::new(format!("{PRODUCT_PREFIX}{product_id}"), format!("SPEC#{}", values.join("\u{1f}")))
}

/// A product's search document: what the shop's search index is built from.
pub fn search_doc(product_id: &ProductId) -> Key {
    Key::new(SEARCH_DOCS, product_id.to_string())
}

/// Every search document, listed by product (an instance's first load).
pub const SEARCH_DOCS: &str = "SEARCH";

/// Search documents changed within one 10-minute window, through GSI1 (`<ms>#<product>`):
/// what instances catch up on.
pub fn search_log(window: i64) -> String {
    format!("SEARCHLOG#{window}")
}

// ---- reviews -------------------------------------------------------------------------------

pub const REVIEW_PREFIX: &str = "REVIEW#";

/// A shopper's review of one product of an order, in the order's partition: one per product
/// per order is this key's `NotExists`.
pub fn review(order_no: &OrderNo, product_id: &ProductId) -> Key {
    Key::new(order_partition(order_no), format!("{REVIEW_PREFIX}{product_id}"))
}

/// GSI1 of a review: published ones under their product, featured first then newest (read in
/// reverse); held and hidden ones in the operators' queue of their state, oldest first.
pub fn review_gsi1(
    state: &str,
    published: bool,
    featured: bool,
    created_at: i64,
    order_no: &OrderNo,
    product_id: &ProductId,
) -> (String, String) {
    if published {
        (product_reviews(product_id), format!("{}#{created_at:012}#{order_no}", u8::from(featured)))
    } else {
        (reviews_in(state), format!("{created_at:012}#{order_no}#{product_id}"))
    }
}

pub fn product_reviews(product_id: &ProductId) -> String {
    format!("REVIEWS#{product_id}")
}

pub fn reviews_in(state: &str) -> String {
    format!("REVIEWQ#{state}")
}

/// A product's rating summary: counters added to in the transaction that changes a review.
/// Apart from the product's partition, which the process caches and every write there clears.
pub fn rating(product_id: &ProductId) -> Key {
    Key::new(format!("{RATING_PREFIX}{product_id}"), "SUMMARY")
}

const RATING_PREFIX: &str = "RATING#";

pub fn is_rating(key: &Key) -> bool {
    key.pk.starts_with(RATING_PREFIX)
}

/// The shopper's review uploads in the current minute.
pub fn upload_rate(openid: &OpenId) -> Key {
    Key::new(user_partition(openid), "RATE#UPLOAD")
}

/// The last tick of a scheduled job that some replica took (`SCHEDULE_JOBS=1` on several).
pub fn job_tick(job: &str) -> Key {
    Key::new("JOBTICK", job)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_keys_round_trip() {
        let k = stock(&SkuId::parse("S1").unwrap(), &WarehouseId::parse("SH-01").unwrap(), 7);
        assert_eq!(k.sk, "STOCK#SH-01#07");
        assert_eq!(parse_stock_sk(&k.sk), Some(("SH-01", 7)));
        assert_eq!(parse_stock_sk("META"), None);
        let (_, sk) = order_gsi1(Phase::Unpaid, 1_800_000_000, &OrderNo::parse("N123456").unwrap());
        assert_eq!(parse_order_gsi1_sk(&sk), Some(("N123456", 1_800_000_000)));
    }
}
