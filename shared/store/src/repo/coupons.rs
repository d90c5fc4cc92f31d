//! Coupon templates, the coupons shoppers hold, and the per-user claim counters; the writes
//! that move a coupon with its order (locked, used, given back).

use domain::coupon::{CouponTemplate, UserCoupon};
use domain::ids::{CouponId, OpenId, OrderNo, TemplateId};

use crate::{Cond, Query, Result, Store, StoreError, TxOp, Update, from_item, keys, to_item};

pub async fn template(store: &dyn Store, id: &TemplateId) -> Result<Option<CouponTemplate>> {
    store.get(&keys::coupon_template(id)).await?.map(from_item).transpose()
}

/// Writes a new template; `false` when its id is taken.
pub async fn create_template(store: &dyn Store, t: &CouponTemplate) -> Result<bool> {
    let item = to_item(&keys::coupon_template(&t.id), Some(keys::coupon_template_gsi1(&t.id)), t)?;
    match store.put(item, Some(Cond::NotExists)).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Ids of every template (the index may lag: read each one from the table).
pub async fn template_ids(store: &dyn Store) -> Result<Vec<TemplateId>> {
    let page = store.query(Query::gsi1(keys::COUPON_TEMPLATES).limit(1000)).await?;
    Ok(page
        .items
        .iter()
        .filter_map(|i| i.get("id").and_then(|v| v.as_str()).and_then(|s| TemplateId::parse(s).ok()))
        .collect())
}

pub async fn held(store: &dyn Store, openid: &OpenId, coupon_id: &CouponId) -> Result<Option<UserCoupon>> {
    store.get(&keys::user_coupon(openid, coupon_id)).await?.map(from_item).transpose()
}

pub async fn held_by(store: &dyn Store, openid: &OpenId) -> Result<Vec<UserCoupon>> {
    let page =
        store.query(Query::table(keys::user_partition(openid)).prefix(keys::USER_COUPON_PREFIX).limit(1000)).await?;
    page.items.into_iter().map(from_item).collect()
}

/// How many coupons of a template the shopper holds (`None` before the first).
pub async fn claims(store: &dyn Store, openid: &OpenId, template_id: &TemplateId) -> Result<Option<i64>> {
    Ok(store
        .get(&keys::coupon_claims(openid, template_id))
        .await?
        .and_then(|i| i.get("count").and_then(|c| c.as_i64())))
}

/// The writes of one claim, in this order: the template's counter (refused when all are
/// claimed), the shopper's counter (refused at the per-user limit, or when another claim
/// created it first), the coupon.
pub fn claim(t: &CouponTemplate, coupon: &UserCoupon, held: Option<i64>) -> Result<Vec<TxOp>> {
    let counter = keys::coupon_claims(&coupon.openid, &t.id);
    #[derive(serde::Serialize)]
    struct Count {
        count: i64,
    }
    let counter_op = match held {
        None => TxOp::Put { item: to_item(&counter, None, &Count { count: 1 })?, cond: Some(Cond::NotExists) },
        Some(_) => TxOp::Update {
            key: counter,
            update: Update::new().add("count", 1),
            cond: Some(Cond::le("count", t.per_user - 1)),
        },
    };
    Ok(vec![
        TxOp::Update {
            key: keys::coupon_template(&t.id),
            update: Update::new().add("claimed", 1),
            cond: Some(Cond::eq("active", true).and(Cond::le("claimed", t.total - 1))),
        },
        counter_op,
        TxOp::Put {
            item: to_item(&keys::user_coupon(&coupon.openid, &coupon.coupon_id), None, coupon)?,
            cond: Some(Cond::NotExists),
        },
    ])
}

/// The writes of a coupon issued for an occasion: the template's counter (refused when all
/// are claimed), the coupon (refused when this occasion's coupon exists).
pub fn issue(t: &CouponTemplate, coupon: &UserCoupon) -> Result<Vec<TxOp>> {
    Ok(vec![
        TxOp::Update {
            key: keys::coupon_template(&t.id),
            update: Update::new().add("claimed", 1),
            cond: Some(Cond::eq("active", true).and(Cond::le("claimed", t.total - 1))),
        },
        TxOp::Put {
            item: to_item(&keys::user_coupon(&coupon.openid, &coupon.coupon_id), None, coupon)?,
            cond: Some(Cond::NotExists),
        },
    ])
}

/// Index of the coupon in [`issue`]'s writes.
pub const ISSUE_COUPON_OP: usize = 1;

/// Index of the template's counter and of the shopper's in [`claim`]'s writes.
pub const CLAIM_TEMPLATE_OP: usize = 0;
pub const CLAIM_USER_OP: usize = 1;

/// Locks an available, valid coupon to an order (in the order's transaction).
pub fn lock_op(openid: &OpenId, coupon_id: &CouponId, order_no: &OrderNo, now: i64) -> TxOp {
    TxOp::Update {
        key: keys::user_coupon(openid, coupon_id),
        update: Update::new().set("state", "locked").set("order_no", order_no.as_str()),
        cond: Some(Cond::eq("state", "available").and(Cond::le("valid_from", now)).and(Cond::ge("valid_to", now))),
    }
}

/// Gives a locked coupon back when its order closes unpaid.
pub fn unlock_op(openid: &OpenId, coupon_id: &CouponId, order_no: &OrderNo) -> TxOp {
    TxOp::Update {
        key: keys::user_coupon(openid, coupon_id),
        update: Update::new().set("state", "available").remove("order_no"),
        cond: Some(Cond::eq("state", "locked").and(Cond::eq("order_no", order_no.as_str()))),
    }
}

/// Marks a locked coupon used when its order is paid.
pub fn use_ops(openid: &OpenId, coupon_id: &CouponId, template_id: &TemplateId, order_no: &OrderNo) -> Vec<TxOp> {
    vec![
        TxOp::Update {
            key: keys::user_coupon(openid, coupon_id),
            update: Update::new().set("state", "used"),
            cond: Some(Cond::eq("state", "locked").and(Cond::eq("order_no", order_no.as_str()))),
        },
        TxOp::Update {
            key: keys::coupon_template(template_id),
            update: Update::new().add("used", 1),
            cond: Some(Cond::Exists),
        },
    ]
}

/// Returns a used coupon after a full refund, while it is still valid.
pub fn return_ops(
    openid: &OpenId,
    coupon_id: &CouponId,
    template_id: &TemplateId,
    order_no: &OrderNo,
    now: i64,
) -> Vec<TxOp> {
    vec![
        TxOp::Update {
            key: keys::user_coupon(openid, coupon_id),
            update: Update::new().set("state", "available").remove("order_no"),
            cond: Some(
                Cond::eq("state", "used").and(Cond::eq("order_no", order_no.as_str())).and(Cond::ge("valid_to", now)),
            ),
        },
        TxOp::Update {
            key: keys::coupon_template(template_id),
            update: Update::new().add("used", -1),
            cond: Some(Cond::Exists),
        },
    ]
}
