//! The scheduled functions: `close-unpaid` (every few minutes: closes expired orders, moves
//! fulfilment on, sweeps the outbox and refunds) and `reconciliation` (daily).
//! On Lambda they take EventBridge schedule events; over HTTP operators can run them.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use crate::auth::operator;
use crate::{Request, Response, Service};
use app::workflows::{close_order, reconcile};
use app::{App, AppError, clock, fulfilment, outbox, reconciliation, refunds, returns, stock_alerts};
use domain::operator::Permission;

/// A scheduled job: runs once for an event (a schedule's, or one naming what to do) and
/// reports what it did.
pub type Job = for<'a> fn(&'a App, &'a Value) -> BoxFuture<'a, Result<Value, AppError>>;

pub fn close_unpaid<'a>(app: &'a App, _event: &'a Value) -> BoxFuture<'a, Result<Value, AppError>> {
    async move {
        let now = clock::now();
        let report = close_order::close_expired(app, now, 5_000).await?;
        // Shipped orders nobody confirmed are received; received ones past the window complete.
        let fulfilment = fulfilment::advance(app, now).await?;
        let returns_lapsed = returns::lapse_overdue(app, now).await?;
        let alerts_cleared = stock_alerts::sweep(app, now).await?;
        // The outbox sweep: events a worker or the stream did not deliver.
        let events = outbox::drain(app, 1_000).await?;
        // Refunds whose WeChat call failed, or whose notify never came, are retried here.
        let retried = match &app.pay {
            Some(_) => refunds::retry_pending(app, now - 60).await?,
            None => 0,
        };
        Ok(json!({
            "closer": report, "fulfilment": fulfilment, "returns_lapsed": returns_lapsed, "alerts_cleared": alerts_cleared,
            "refunds_retried": retried, "outbox": events,
        }))
    }
    .boxed()
}

/// The members' daily job: RFM segments, the level keep rule, points expiry and reminders,
/// birthday coupons, the points report.
pub fn members_daily<'a>(app: &'a App, _event: &'a Value) -> BoxFuture<'a, Result<Value, AppError>> {
    async move { app::workflows::members_daily::run(app, clock::now()).await }.boxed()
}

/// Reconciles yesterday, or the day an event names (`{"day": "2026-11-24"}`).
pub fn reconcile_day<'a>(app: &'a App, event: &'a Value) -> BoxFuture<'a, Result<Value, AppError>> {
    async move {
        let day = match event.get("day").and_then(Value::as_str) {
            Some(d) => valid_day(d)?.to_owned(),
            None => reconciliation::yesterday(clock::now()),
        };
        let report = reconcile::run(app, &day).await?;
        Ok(serde_json::to_value(report).unwrap_or(Value::Null))
    }
    .boxed()
}

/// Delivers outbox events: on AWS the DynamoDB Streams records of new `OUTBOX#` items (a
/// failed delivery fails the batch, which the stream retries), otherwise every pending one.
pub fn deliver_outbox<'a>(app: &'a App, event: &'a Value) -> BoxFuture<'a, Result<Value, AppError>> {
    async move {
        let Some(records) = event.get("Records").and_then(Value::as_array) else {
            return Ok(serde_json::to_value(outbox::drain(app, 1_000).await?).unwrap_or(Value::Null));
        };
        let mut delivered = 0;
        for r in records {
            let pk = r.pointer("/dynamodb/Keys/pk/S").and_then(Value::as_str).unwrap_or("");
            if let Some(id) = store::repo::outbox::event_id_of(pk)
                && outbox::deliver(app, id).await? == outbox::Delivered::Now
            {
                delivered += 1;
            }
        }
        Ok(json!({ "records": records.len(), "delivered": delivered }))
    }
    .boxed()
}

pub fn handler<'a>(app: &'a Service, req: &'a Request) -> BoxFuture<'a, Result<Response, AppError>> {
    handle(app, req).boxed()
}

fn valid_day(d: &str) -> Result<&str, AppError> {
    Ok(reconciliation::parse_day(d).map(|_| d)?)
}

async fn handle(app: &Service, req: &Request) -> Result<Response, AppError> {
    match (req.method.as_str(), req.segments().as_slice()) {
        ("POST", ["admin", "jobs", "close-unpaid"]) => {
            operator(app, req, Permission::Manage).await?;
            Response::ok(&close_unpaid(app, &Value::Null).await?)
        }
        ("POST", ["admin", "jobs", "members-daily"]) => {
            operator(app, req, Permission::Manage).await?;
            Response::ok(&members_daily(app, &Value::Null).await?)
        }
        ("POST", ["admin", "jobs", "outbox"]) => {
            operator(app, req, Permission::Manage).await?;
            Response::ok(&deliver_outbox(app, &Value::Null).await?)
        }
        ("POST", ["admin", "reconciliation", day]) => {
            operator(app, req, Permission::Finance).await?;
            Response::ok(&reconcile::run(app, valid_day(day)?).await?)
        }
        ("GET", ["admin", "reconciliation", day]) => {
            operator(app, req, Permission::Read).await?;
            Response::ok(&reconciliation::report(&app.store, valid_day(day)?).await?)
        }
        _ => Err(AppError::no_route(&req.method, &req.path)),
    }
}
