//! Coupon templates, the coupons shoppers hold, and the per-user claim counters; the writes
//! that move a coupon with its order (locked, used, given back).

use domain::coupon::{CouponTemplate, UserCoupon};

use crate::{Cond, Item, Query, Result, Store, TxOp, Update, from_item, keys, to_item};

pub async fn template(store: &dyn Store, id: &str) -> Result<Option<CouponTemplate>> {
    store.get(&keys::coupon_template(id)).await?.map(from_item).transpose()
}

pub fn create_template(t: &CouponTemplate) -> Result<Item> {
    to_item(&keys::coupon_template(&t.id), Some(keys::coupon_template_gsi1(&t.id)), t)
}

/// Ids of every template (the index may lag: read each one from the table).
pub async fn template_ids(store: &dyn Store) -> Result<Vec<String>> {
    let page = store.query(Query::gsi1(keys::COUPON_TEMPLATES).limit(1000)).await?;
    Ok(page.items.iter().filter_map(|i| i.get("id").and_then(|v| v.as_str()).map(str::to_owned)).collect())
}

pub async fn held(store: &dyn Store, openid: &str, coupon_id: &str) -> Result<Option<UserCoupon>> {
    store.get(&keys::user_coupon(openid, coupon_id)).await?.map(from_item).transpose()
}

pub async fn held_by(store: &dyn Store, openid: &str) -> Result<Vec<UserCoupon>> {
    let page =
        store.query(Query::table(keys::user_partition(openid)).prefix(keys::USER_COUPON_PREFIX).limit(1000)).await?;
    page.items.into_iter().map(from_item).collect()
}

/// How many coupons of a template the shopper holds (`None` before the first).
pub async fn claims(store: &dyn Store, openid: &str, template_id: &str) -> Result<Option<i64>> {
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
pub fn lock_op(c: &UserCoupon, order_no: &str, now: i64) -> TxOp {
    TxOp::Update {
        key: keys::user_coupon(&c.openid, &c.coupon_id),
        update: Update::new().set("state", "locked").set("order_no", order_no),
        cond: Some(Cond::eq("state", "available").and(Cond::le("valid_from", now)).and(Cond::ge("valid_to", now))),
    }
}

/// Gives a locked coupon back when its order closes unpaid.
pub fn unlock_op(openid: &str, coupon_id: &str, order_no: &str) -> TxOp {
    TxOp::Update {
        key: keys::user_coupon(openid, coupon_id),
        update: Update::new().set("state", "available").remove("order_no"),
        cond: Some(Cond::eq("state", "locked").and(Cond::eq("order_no", order_no))),
    }
}

/// Marks a locked coupon used when its order is paid.
pub fn use_ops(openid: &str, coupon_id: &str, template_id: &str, order_no: &str) -> Vec<TxOp> {
    vec![
        TxOp::Update {
            key: keys::user_coupon(openid, coupon_id),
            update: Update::new().set("state", "used"),
            cond: Some(Cond::eq("state", "locked").and(Cond::eq("order_no", order_no))),
        },
        TxOp::Update {
            key: keys::coupon_template(template_id),
            update: Update::new().add("used", 1),
            cond: Some(Cond::Exists),
        },
    ]
}

/// Returns a used coupon after a full refund, while it is still valid.
pub fn return_ops(openid: &str, coupon_id: &str, template_id: &str, order_no: &str, now: i64) -> Vec<TxOp> {
    vec![
        TxOp::Update {
            key: keys::user_coupon(openid, coupon_id),
            update: Update::new().set("state", "available").remove("order_no"),
            cond: Some(Cond::eq("state", "used").and(Cond::eq("order_no", order_no)).and(Cond::ge("valid_to", now))),
        },
        TxOp::Update {
            key: keys::coupon_template(template_id),
            update: Update::new().add("used", -1),
            cond: Some(Cond::Exists),
        },
    ]
}
