//! Delivering outbox events. A state change writes its event in its own transaction (see
//! `store::repo::outbox`); this module takes pending events, claims each, hands it to its
//! consumers ([`crate::consumers`]) and marks it delivered. It runs from a worker beside the
//! HTTP server (woken by [`crate::App::poke_outbox`]), from the scheduled sweep, and on AWS
//! from the DynamoDB Streams function; every consumer is idempotent, so a second delivery
//! changes nothing.

use serde::Serialize;
use store::repo::outbox;

use crate::{App, AppError, clock, consumers};

/// How long a claim keeps other consumers off an event; a consumer that dies holding one
/// delays that event by this much, no more.
pub const LEASE_SECS: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivered {
    /// This call delivered it.
    Now,
    /// Delivered before, or held by another consumer.
    Elsewhere,
    /// No such event.
    Missing,
}

/// Delivers the event `id` once: claims it, runs its consumers, marks it done. A consumer's
/// failure leaves it pending for the next delivery.
#[tracing::instrument(skip(app))]
pub async fn deliver(app: &App, id: &str) -> Result<Delivered, AppError> {
    let store = app.store.as_ref();
    let Some(env) = outbox::get(store, id).await? else {
        return Ok(Delivered::Missing);
    };
    if env.state == outbox::Delivery::Done {
        return Ok(Delivered::Elsewhere);
    }
    let now = clock::now();
    if !outbox::claim(store, id, now, LEASE_SECS).await? {
        return Ok(Delivered::Elsewhere);
    }
    match consumers::consume(app, &env.event).await {
        Ok(()) => {
            outbox::finish(store, id, clock::now()).await?;
            tracing::info!(subject = %env.event.subject(), "event delivered");
            Ok(Delivered::Now)
        }
        Err(e) => {
            let retry_at = clock::now() + retry_after(env.attempts + 1);
            tracing::warn!(error = %e, subject = %env.event.subject(), retry_at, "event delivery failed; will retry");
            outbox::failed(store, id, &e.to_string(), retry_at).await?;
            Err(e)
        }
    }
}

/// Seconds before the next attempt after `attempts` failed ones: 30 s doubling, at most an
/// hour, so a consumer that keeps failing (a refused robot key) is not hammered and is still
/// tried every hour until someone fixes it.
pub fn retry_after(attempts: i64) -> i64 {
    let doublings = u32::try_from(attempts.clamp(1, 8) - 1).unwrap_or(0);
    (30_i64 << doublings).min(3_600)
}

#[derive(Debug, Default, Serialize)]
pub struct DrainReport {
    pub delivered: usize,
    pub failed: usize,
    pub skipped: usize,
}

/// The sweep: delivers up to `max` pending events, oldest first.
pub async fn drain(app: &App, max: usize) -> Result<DrainReport, AppError> {
    let mut report = DrainReport::default();
    for id in outbox::pending(app.store.as_ref(), max).await? {
        match deliver(app, &id).await {
            Ok(Delivered::Now) => report.delivered += 1,
            Ok(_) => report.skipped += 1,
            Err(_) => report.failed += 1,
        }
    }
    Ok(report)
}
