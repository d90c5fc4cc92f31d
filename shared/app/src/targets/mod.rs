//! The seed's business targets operators are told about when missed (see
//! [`domain::targets`]): a reading opens an episode and writes its event in the same
//! transaction, so operators hear once per episode, through the robot's outbox delivery.

use domain::events::Event;
use domain::targets::{Metric, TargetAlert, TargetMove, target_move};
use store::{StoreError, repo};

use crate::{App, AppError, alerts};

/// Takes a reading of `metric` (per mille; `None` when there is nothing to read yet).
pub async fn observe(app: &App, metric: Metric, permille: Option<i64>, now: i64) -> Result<TargetMove, AppError> {
    let open = repo::targets::open(app.store.as_ref(), metric.as_str()).await?.is_some();
    let step = target_move(metric, permille, open);
    match (step, permille) {
        (TargetMove::Raise, Some(value)) => {
            let episode = uuid::Uuid::now_v7().simple().to_string();
            let alert = TargetAlert { metric, episode: episode.clone(), value_permille: value, raised_at: now };
            let event = Event::TargetMissed { metric, value_permille: value, episode };
            let ops = vec![repo::targets::raise(&alert)?, repo::outbox::append(&event, now)?];
            match app.store.transact(ops).await {
                Ok(()) => {
                    tracing::warn!(%metric, value, "a business target is missed");
                    app.poke_outbox();
                }
                Err(StoreError::Cancelled { failed }) if failed == [0] => {}
                Err(e) => return Err(e.into()),
            }
        }
        (TargetMove::Clear, _) => repo::targets::clear(app.store.as_ref(), metric.as_str()).await?,
        _ => {}
    }
    Ok(step)
}

/// The consumer of [`Event::TargetMissed`].
pub async fn tell_operators(app: &App, metric: Metric, value_permille: i64) -> Result<(), AppError> {
    let content = format!(
        "### 经营指标预警\n> {}：<font color=\"warning\">{}.{}%</font>\n> 目标：{}\n请查看会员与营销设置。",
        metric.label(),
        value_permille / 10,
        value_permille % 10,
        metric.target()
    );
    alerts::tell(app, &content).await
}

/// The open episodes.
pub async fn open(app: &App) -> Result<Vec<TargetAlert>, AppError> {
    let mut out = Vec::new();
    for m in [Metric::PointsRedemption, Metric::CouponRedemption] {
        out.extend(repo::targets::open(app.store.as_ref(), m.as_str()).await?);
    }
    Ok(out)
}
