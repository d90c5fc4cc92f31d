//! The members' daily job: the members context scores, demotes, expires and finds whose
//! birthday it is; the coupons context issues each birthday coupon, once a year.

use serde_json::{Value, json};

use crate::coupons::{self, Issued};
use crate::{App, AppError, members};

pub async fn run(app: &App, now: i64) -> Result<Value, AppError> {
    let mut daily = members::daily(app, now).await?;
    for (openid, template, occasion) in &daily.birthdays {
        if matches!(coupons::issue(&app.store, openid, template, occasion).await?, Issued::Now(_)) {
            daily.report.birthday_coupons += 1;
        }
    }
    Ok(json!({ "report": daily.report, "segments": daily.segments }))
}
