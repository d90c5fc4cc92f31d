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

/// Each stage runs whatever the others did: one that fails (a SKU the alert sweep cannot
/// read, WeChat Pay down for the refund retry) is logged and named in the error, and the rest
/// of the run still closes orders, delivers events and retries refunds.
pub fn close_unpaid<'a>(app: &'a App, _event: &'a Value) -> BoxFuture<'a, Result<Value, AppError>> {
    async move {
        let now = clock::now();
        let mut run = Stages::default();
        run.stage("closer", close_order::close_expired(app, now, 5_000).await);
        // Shipped orders nobody confirmed are received; received ones past the window complete.
        run.stage("fulfilment", fulfilment::advance(app, now).await);
        // Receipts confirmed inside WeChat: each shipped order is asked about every 6 hours.
        if app.wechat.has_secret() {
            run.stage("receipts_read", fulfilment::read_receipts(app, now, 72).await);
        }
        run.stage("returns_lapsed", returns::lapse_overdue(app, now).await);
        run.stage("alerts_cleared", stock_alerts::sweep(app, now).await);
        // The outbox sweep: events a worker or the stream did not deliver.
        run.stage("outbox", outbox::drain(app, 1_000).await);
        // Refunds whose WeChat call failed, or whose notify never came, are retried here.
        if app.pay.is_some() {
            run.stage("refunds_retried", refunds::retry_pending(app, now - 60).await);
        } else {
            run.stage("refunds_retried", Ok(0));
        }
        run.finish()
    }
    .boxed()
}

/// What each stage of a run reported, and which failed.
#[derive(Default)]
struct Stages {
    report: serde_json::Map<String, Value>,
    failed: serde_json::Map<String, Value>,
}

impl Stages {
    fn stage<T: serde::Serialize>(&mut self, name: &str, result: Result<T, AppError>) {
        match result {
            Ok(v) => {
                self.report.insert(name.into(), serde_json::to_value(v).unwrap_or(Value::Null));
            }
            Err(e) => {
                tracing::error!(stage = name, code = e.code.as_str(), error = %e.message, "a stage of the run failed");
                self.failed.insert(name.into(), json!({ "code": e.code.as_str(), "message": e.message }));
            }
        }
    }

    /// The report; an error naming the failed stages (the schedule retries at its next tick),
    /// with what the others did in its details.
    fn finish(self) -> Result<Value, AppError> {
        if self.failed.is_empty() {
            return Ok(Value::Object(self.report));
        }
        let names: Vec<&str> = self.failed.keys().map(String::as_str).collect();
        Err(AppError::new(app::Code::Unavailable, format!("stages failed: {}; the others ran", names.join(", ")))
            .with_details(json!({ "failed": self.failed, "done": self.report })))
    }
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
