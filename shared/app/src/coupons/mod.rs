//! Coupon templates, claims and the coupon's life on an order. Both limits of a claim (the
//! template's total and the user's share) are conditional writes in one transaction, so
//! parallel claims never exceed either.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{AppError, Code};
use crate::users;
use domain::clock;
use domain::coupon::{CouponRule, NEW_CUSTOMER_SECS};
use store::{Cond, Query, SharedStore, StoreError, TxOp, Update, from_item, keys, to_item};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CouponTemplate {
    pub id: String,
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponState {
    Available,
    Locked,
    Used,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserCoupon {
    pub coupon_id: String,
    pub template_id: String,
    pub openid: String,
    pub name: String,
    pub rule: CouponRule,
    pub state: CouponState,
    pub valid_from: i64,
    pub valid_to: i64,
    #[serde(default)]
    pub order_no: Option<String>,
    pub claimed_at: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    pub name: String,
    pub rule: CouponRule,
    pub total: i64,
    pub per_user: i64,
    pub valid_from: i64,
    pub valid_to: i64,
}

pub async fn create_template(store: &SharedStore, input: TemplateInput) -> Result<CouponTemplate, AppError> {
    input.rule.validate().map_err(|e| AppError::field("rule", e))?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 40 {
        return Err(AppError::field("name", "must be 1 to 40 characters"));
    }
    if input.total < 1 || input.total > 10_000_000 {
        return Err(AppError::field("total", "must be 1 to 10,000,000"));
    }
    if input.per_user < 1 || input.per_user > input.total {
        return Err(AppError::field("per_user", "must be at least 1 and at most total"));
    }
    if input.valid_to <= input.valid_from {
        return Err(AppError::field("valid_to", "must be after valid_from"));
    }
    let t = CouponTemplate {
        id: format!("C{}", uuid::Uuid::now_v7().simple()),
        name: name.to_owned(),
        rule: input.rule,
        total: input.total,
        per_user: input.per_user,
        valid_from: input.valid_from,
        valid_to: input.valid_to,
        claimed: 0,
        used: 0,
        active: true,
        created_at: clock::now(),
    };
    store
        .put(
            to_item(&keys::coupon_template(&t.id), Some(keys::coupon_template_gsi1(&t.id)), &t)?,
            Some(Cond::NotExists),
        )
        .await?;
    Ok(t)
}

pub async fn template(store: &SharedStore, id: &str) -> Result<CouponTemplate, AppError> {
    let item = store.get(&keys::coupon_template(id)).await?.ok_or_else(|| AppError::not_found("coupon"))?;
    Ok(from_item(item)?)
}

/// Claims one coupon of `template_id` for the user. Retries a lost race on the user's
/// counter; every refusal names the limit that was reached.
#[tracing::instrument(skip_all, fields(template_id = %template_id))]
pub async fn claim(store: &SharedStore, openid: &str, template_id: &str) -> Result<UserCoupon, AppError> {
    let now = clock::now();
    for _ in 0..5 {
        let t = template(store, template_id).await?;
        if !t.active || now < t.valid_from || now > t.valid_to {
            return Err(AppError::new(Code::CouponNotActive, "this coupon cannot be claimed now"));
        }
        let mut valid_to = t.valid_to;
        if matches!(t.rule, CouponRule::NewCustomer { .. }) {
            let user = users::get_store(store, openid).await?;
            if now - user.created_at > NEW_CUSTOMER_SECS {
                return Err(AppError::new(Code::NotNewCustomer, "this coupon is for the first 3 days after joining"));
            }
            valid_to = valid_to.min(user.created_at + NEW_CUSTOMER_SECS);
        }
        let counter = keys::coupon_claims(openid, template_id);
        let held = store.get(&counter).await?.and_then(|i| i.get("count").and_then(|c| c.as_i64()));
        let counter_op = match held {
            None => TxOp::Put { item: to_item(&counter, None, &json!({ "count": 1 }))?, cond: Some(Cond::NotExists) },
            Some(_) => TxOp::Update {
                key: counter,
                update: Update::new().add("count", 1),
                cond: Some(Cond::le("count", t.per_user - 1)),
            },
        };
        let coupon = UserCoupon {
            coupon_id: format!("U{}", uuid::Uuid::now_v7().simple()),
            template_id: t.id.clone(),
            openid: openid.to_owned(),
            name: t.name.clone(),
            rule: t.rule.clone(),
            state: CouponState::Available,
            valid_from: t.valid_from,
            valid_to,
            order_no: None,
            claimed_at: now,
        };
        let ops = vec![
            TxOp::Update {
                key: keys::coupon_template(&t.id),
                update: Update::new().add("claimed", 1),
                cond: Some(Cond::eq("active", true).and(Cond::le("claimed", t.total - 1))),
            },
            counter_op,
            TxOp::Put {
                item: to_item(&keys::user_coupon(openid, &coupon.coupon_id), None, &coupon)?,
                cond: Some(Cond::NotExists),
            },
        ];
        match store.transact(ops).await {
            Ok(()) => return Ok(coupon),
            Err(StoreError::Cancelled { failed }) if failed.contains(&0) => {
                return Err(AppError::new(Code::CouponExhausted, "all of these coupons have been claimed"));
            }
            Err(StoreError::Cancelled { failed }) if failed.contains(&1) => {
                // Either the limit was reached or another claim created the counter first.
                let now_held = store
                    .get(&keys::coupon_claims(openid, template_id))
                    .await?
                    .and_then(|i| i.get("count").and_then(|c| c.as_i64()));
                if now_held.is_some_and(|n| n >= t.per_user) {
                    return Err(AppError::new(Code::CouponLimitReached, format!("at most {} per person", t.per_user)));
                }
            }
            Err(StoreError::Conflict) | Err(StoreError::Cancelled { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::new(Code::Conflict, "too many claims at once, please retry"))
}

pub async fn mine(store: &SharedStore, openid: &str) -> Result<Vec<UserCoupon>, AppError> {
    let page =
        store.query(Query::table(keys::user_partition(openid)).prefix(keys::USER_COUPON_PREFIX).limit(1000)).await?;
    Ok(page.items.into_iter().map(from_item).collect::<Result<_, _>>()?)
}

pub async fn get_user_coupon(store: &SharedStore, openid: &str, coupon_id: &str) -> Result<UserCoupon, AppError> {
    let item = store.get(&keys::user_coupon(openid, coupon_id)).await?.ok_or_else(|| AppError::not_found("coupon"))?;
    Ok(from_item(item)?)
}

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

#[derive(Debug, Serialize)]
pub struct TemplateStats {
    #[serde(flatten)]
    pub template: CouponTemplate,
    /// used / claimed, in percent with one decimal (the seed's target is 65%).
    pub redemption_rate_pct: f64,
}

pub async fn stats(store: &SharedStore) -> Result<Vec<TemplateStats>, AppError> {
    let page = store.query(Query::gsi1(keys::COUPON_TEMPLATES).limit(1000)).await?;
    let mut out = Vec::new();
    for item in page.items {
        // The index may lag: read each template's counters from the table.
        let id = item.get("id").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let t = template(store, &id).await?;
        let rate = if t.claimed == 0 { 0.0 } else { (t.used * 1000 / t.claimed) as f64 / 10.0 };
        out.push(TemplateStats { template: t, redemption_rate_pct: rate });
    }
    Ok(out)
}
