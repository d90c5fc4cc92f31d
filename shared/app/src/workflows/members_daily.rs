//! The members' daily job: the members context scores, demotes, expires and finds whose
//! birthday it is; the coupons context issues each birthday coupon, once a year; then the
//! day's readings of the points and coupon redemption rates go to the targets context, which
//! tells operators once per episode when one is off its target.

use serde_json::{Value, json};

use domain::targets::{Metric, coupon_permille};

use crate::coupons::{self, Issued};
use crate::{App, AppError, members, targets};

pub async fn run(app: &App, now: i64) -> Result<Value, AppError> {
    let mut daily = members::daily(app, now).await?;
    for (openid, template, occasion) in &daily.birthdays {
        if matches!(coupons::issue(&app.store, openid, template, occasion).await?, Issued::Now(_)) {
            daily.report.birthday_coupons += 1;
        }
    }
    let points = members::redemption_permille(app).await?;
    let (claimed, used) = coupons::stats(&app.store)
        .await?
        .iter()
        .fold((0, 0), |(c, u), s| (c + s.template.claimed, u + s.template.used));
    let coupon = coupon_permille(claimed, used);
    let points_move = targets::observe(app, Metric::PointsRedemption, points, now).await?;
    let coupon_move = targets::observe(app, Metric::CouponRedemption, coupon, now).await?;
    Ok(json!({
        "report": daily.report,
        "segments": daily.segments,
        "targets": {
            "points_redemption_permille": points, "points": format!("{points_move:?}"),
            "coupon_redemption_permille": coupon, "coupons": format!("{coupon_move:?}"),
        },
    }))
}
