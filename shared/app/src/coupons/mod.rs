//! Coupon templates, claims and the coupon's life on an order. Both limits of a claim (the
//! template's total and the user's share) are conditional writes in one transaction, so
//! parallel claims never exceed either.

use serde::{Deserialize, Serialize};

use crate::error::{AppError, Code};
use crate::lookup;
use domain::clock;
use domain::coupon::{CouponRule, NEW_CUSTOMER_SECS};
pub use domain::coupon::{CouponState, CouponTemplate, UserCoupon};
use domain::ids::{CouponId, OpenId, TemplateId};
use domain::operator::{Allowances, Caller, Role};
use store::repo;
use store::{SharedStore, StoreError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    pub name: String,
    pub rule: CouponRule,
    pub total: i64,
    pub per_user: i64,
    pub valid_from: i64,
    pub valid_to: i64,
    /// Limit the coupon to these products or categories; its discount then lands on those
    /// lines only (and is refunded with them).
    #[serde(default)]
    pub scope: Option<domain::promotion::Scope>,
}

/// A new template. A coupon is money off: a template whose largest discount times how many may
/// be claimed passes the operator's allowance (or whose discount has no ceiling) is finance's.
pub async fn create_template(
    store: &SharedStore,
    by: &Caller,
    allowed: &Allowances,
    input: TemplateInput,
) -> Result<CouponTemplate, AppError> {
    input.rule.validate().map_err(|e| AppError::field("rule", e))?;
    if by.role < Role::Finance {
        let most = match &input.rule {
            CouponRule::NoThreshold { amount_off }
            | CouponRule::Threshold { amount_off, .. }
            | CouponRule::NewCustomer { amount_off } => Some(*amount_off),
            CouponRule::Percent { max_off, .. } => *max_off,
        };
        let exposure = most.and_then(|m| m.checked_mul(input.total.max(0)));
        if exposure.is_none_or(|e| e > allowed.coupon_exposure) {
            return Err(AppError::forbidden(format!(
                "coupons that may take off more than {} in all (or have no ceiling) need a finance operator",
                allowed.coupon_exposure
            )));
        }
    }
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
        id: TemplateId::parse(&format!("C{}", uuid::Uuid::now_v7().simple()))?,
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
        scope: input.scope.map(|s| s.checked()).transpose()?,
    };
    if !repo::coupons::create_template(store.as_ref(), &t).await? {
        return Err(AppError::new(Code::Conflict, "a template with this id exists; retry"));
    }
    Ok(t)
}

pub async fn template(store: &SharedStore, id: &TemplateId) -> Result<CouponTemplate, AppError> {
    repo::coupons::template(store.as_ref(), id).await?.ok_or_else(|| AppError::not_found("coupon"))
}

/// Claims one coupon of `template_id` for the user. Retries a lost race on the user's
/// counter; every refusal names the limit that was reached.
#[tracing::instrument(skip_all, fields(template_id = %template_id))]
pub async fn claim(store: &SharedStore, openid: &OpenId, template_id: &TemplateId) -> Result<UserCoupon, AppError> {
    let now = clock::now();
    for _ in 0..5 {
        let t = template(store, template_id).await?;
        if !t.active || now < t.valid_from || now > t.valid_to {
            return Err(AppError::new(Code::CouponNotActive, "this coupon cannot be claimed now"));
        }
        let mut valid_to = t.valid_to;
        if matches!(t.rule, CouponRule::NewCustomer { .. }) {
            let user = lookup::user(store.as_ref(), openid).await?;
            if now - user.created_at > NEW_CUSTOMER_SECS {
                return Err(AppError::new(Code::NotNewCustomer, "this coupon is for the first 3 days after joining"));
            }
            valid_to = valid_to.min(user.created_at + NEW_CUSTOMER_SECS);
        }
        let held = repo::coupons::claims(store.as_ref(), openid, template_id).await?;
        let id = CouponId::parse(&format!("U{}", uuid::Uuid::now_v7().simple()))?;
        let coupon = held_coupon(&t, openid, id, valid_to, now);
        let ops = repo::coupons::claim(&t, &coupon, held)?;
        match store.transact(ops).await {
            Ok(()) => return Ok(coupon),
            Err(StoreError::Cancelled { failed }) if failed.contains(&repo::coupons::CLAIM_TEMPLATE_OP) => {
                return Err(AppError::new(Code::CouponExhausted, "all of these coupons have been claimed"));
            }
            Err(StoreError::Cancelled { failed }) if failed.contains(&repo::coupons::CLAIM_USER_OP) => {
                // Either the limit was reached or another claim created the counter first.
                let now_held = repo::coupons::claims(store.as_ref(), openid, template_id).await?;
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

/// A coupon of template `t` as the shopper holds it, available until `valid_to`.
fn held_coupon(t: &CouponTemplate, openid: &OpenId, coupon_id: CouponId, valid_to: i64, now: i64) -> UserCoupon {
    UserCoupon {
        coupon_id,
        template_id: t.id.clone(),
        openid: openid.clone(),
        name: t.name.clone(),
        rule: t.rule.clone(),
        state: CouponState::Available,
        valid_from: t.valid_from,
        valid_to,
        order_no: None,
        claimed_at: now,
        scope: t.scope.clone(),
    }
}

/// Whether a perk coupon was issued.
#[derive(Debug, Clone, PartialEq)]
pub enum Issued {
    /// Issued now, with this id.
    Now(CouponId),
    /// This occasion's coupon was issued before.
    Already,
    /// The template is inactive, outside its dates, or all claimed.
    Unavailable,
}

/// Issues one coupon of `template_id` to the shopper for an occasion (a level reached, a
/// birthday), once per `occasion`: the coupon's id is derived from it, so a replay finds the
/// coupon already there. Counts against the template's total, not the shopper's claim limit.
pub async fn issue(
    store: &SharedStore,
    openid: &OpenId,
    template_id: &TemplateId,
    occasion: &str,
) -> Result<Issued, AppError> {
    use sha2::Digest;
    let now = clock::now();
    let Some(t) = repo::coupons::template(store.as_ref(), template_id).await? else {
        return Ok(Issued::Unavailable);
    };
    if !t.active || now > t.valid_to {
        return Ok(Issued::Unavailable);
    }
    let digest = sha2::Sha256::digest(format!("{template_id}\n{occasion}").as_bytes());
    let hex = domain::hex(&digest[..12]);
    let coupon = held_coupon(&t, openid, CouponId::parse(&format!("perk-{hex}"))?, t.valid_to, now);
    match store.transact(repo::coupons::issue(&t, &coupon)?).await {
        Ok(()) => Ok(Issued::Now(coupon.coupon_id)),
        Err(StoreError::Cancelled { failed }) if failed.contains(&repo::coupons::ISSUE_COUPON_OP) => {
            Ok(Issued::Already)
        }
        Err(StoreError::Cancelled { .. }) => Ok(Issued::Unavailable),
        Err(e) => Err(e.into()),
    }
}

pub async fn mine(store: &SharedStore, openid: &OpenId) -> Result<Vec<UserCoupon>, AppError> {
    Ok(repo::coupons::held_by(store.as_ref(), openid).await?)
}

#[derive(Debug, Serialize)]
pub struct TemplateStats {
    #[serde(flatten)]
    pub template: CouponTemplate,
    /// used / claimed, in percent with one decimal (the seed's target is 65%).
    pub redemption_rate_pct: f64,
}

pub async fn stats(store: &SharedStore) -> Result<Vec<TemplateStats>, AppError> {
    let mut out = Vec::new();
    for id in repo::coupons::template_ids(store.as_ref()).await? {
        // The index may lag: read each template's counters from the table.
        let t = template(store, &id).await?;
        let rate = if t.claimed == 0 { 0.0 } else { (t.used * 1000 / t.claimed) as f64 / 10.0 };
        out.push(TemplateStats { template: t, redemption_rate_pct: rate });
    }
    Ok(out)
}
