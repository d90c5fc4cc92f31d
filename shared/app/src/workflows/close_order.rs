//! Closing unpaid orders: at WeChat Pay first, so none can be paid there any more, then in the
//! shop (ordering); an order WeChat Pay reports paid gets its payment applied instead
//! (payments). The shopper's cancel and the scheduled closer both go through here.

use domain::ids::{OpenId, OrderNo};
use domain::order::{Order, OrderState};

use crate::ordering::{self, AtWechat, CloseOutcome, CloseReport};
use crate::{App, AppError, Code, lookup, payments};

/// Closes one unpaid order. Safe to run twice at once.
#[tracing::instrument(skip_all, fields(order_no = %order_no))]
pub async fn close_one(app: &App, order_no: &OrderNo) -> Result<CloseOutcome, AppError> {
    let order = lookup::order(app.store.as_ref(), order_no).await?;
    if order.state() != OrderState::Unpaid {
        return Ok(CloseOutcome::Unchanged);
    }
    match ordering::close_at_wechat(app, &order).await {
        AtWechat::Closed => ordering::close(app, &order).await,
        AtWechat::Paid => {
            payments::sync_from_wechat(app, order_no).await?;
            Ok(CloseOutcome::Paid)
        }
        AtWechat::Unreachable => Ok(CloseOutcome::Retry),
    }
}

/// The shopper cancels an unpaid order.
#[tracing::instrument(skip_all, fields(order_no = %order_no))]
pub async fn cancel(app: &App, openid: &OpenId, order_no: &OrderNo) -> Result<Order, AppError> {
    let order = lookup::own_order(app.store.as_ref(), openid, order_no).await?;
    if order.state() == OrderState::Paid {
        return Err(AppError::new(Code::AlreadyPaid, "a paid order is refunded, not cancelled"));
    }
    match close_one(app, order_no).await? {
        CloseOutcome::Paid => Err(AppError::new(Code::AlreadyPaid, "this order was paid meanwhile")),
        CloseOutcome::Retry => Err(AppError::unavailable("WeChat Pay could not be reached; please retry")),
        _ => lookup::order(app.store.as_ref(), order_no).await,
    }
}

/// Orders the closer handles at once.
const CLOSE_PARALLEL: usize = 8;

/// The scheduled closer: every unpaid order past its expiry, oldest first, at most `max`.
#[tracing::instrument(skip_all)]
pub async fn close_expired(app: &App, now: i64, max: usize) -> Result<CloseReport, AppError> {
    let mut report = CloseReport::default();
    let mut after = None;
    loop {
        let (due, next, reached_the_future) =
            ordering::expired(app, now, max.saturating_sub(report.examined), after).await?;
        report.examined += due.len();
        // Each order on its own, a few at a time: one that fails is counted and left for the
        // next run, and the others still close.
        let mut running = tokio::task::JoinSet::new();
        for chunk in due.chunks(CLOSE_PARALLEL) {
            for no in chunk {
                let (app, no) = (app.clone(), no.clone());
                running.spawn(async move { (close_one(&app, &no).await, no) });
            }
            while let Some(done) = running.join_next().await {
                match done {
                    Ok((Ok(CloseOutcome::Closed), _)) => report.closed += 1,
                    Ok((Ok(CloseOutcome::Paid), _)) => report.paid += 1,
                    Ok((Ok(CloseOutcome::Retry), _)) => report.retry += 1,
                    Ok((Ok(CloseOutcome::Unchanged), _)) => {}
                    Ok((Err(e), no)) => {
                        tracing::warn!(error = %e, order_no = %no, "closing failed; the next run tries again");
                        report.failed += 1;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "a close task panicked");
                        report.failed += 1;
                    }
                }
            }
        }
        after = next;
        if after.is_none() || reached_the_future || report.examined >= max {
            break;
        }
    }
    tracing::info!(
        examined = report.examined,
        closed = report.closed,
        paid = report.paid,
        retry = report.retry,
        failed = report.failed,
        "closer run"
    );
    Ok(report)
}
