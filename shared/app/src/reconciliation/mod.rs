//! Daily reconciliation against WeChat Pay's trade bill (Asia/Shanghai business day):
//! payments and refunds WeChat has and the shop lacks are repaired by asking WeChat and
//! applying what it says, exactly as a notify would; the rest is reported. One report per
//! day, rewritten by a re-run (the repairs themselves are idempotent).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::App;
use crate::error::{AppError, Code};
use crate::payments::{self, Outcome, PaymentOutcome, PaymentRecord};
use crate::refunds::{self, RefundRecord};
use domain::clock;
use store::{SharedStore, repo};
use wechat::pay::bill::Bill;
use wechat::pay::client::ErrorCode;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Difference {
    /// missing_locally, missing_at_wechat, amount_mismatch, rejected_payment,
    /// refund_missing_locally, refund_missing_at_wechat, refund_amount_mismatch.
    pub kind: String,
    pub order_no: String,
    pub reference: String,
    pub wechat_fen: Option<i64>,
    pub local_fen: Option<i64>,
    /// What was done: repaired, reported, or why nothing could be.
    pub action: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Totals {
    pub payments: i64,
    pub payment_fen: i64,
    pub refunds: i64,
    pub refund_fen: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub day: String,
    pub wechat: Totals,
    pub local: Totals,
    pub fee_milli_fen: i64,
    pub differences: Vec<Difference>,
    pub generated_at: i64,
}

/// A bill's `YYYY-MM-DD hh:mm:ss` (Beijing time) as unix seconds.
fn bill_time(s: &str) -> Option<i64> {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(s, &fmt).ok().map(|t| t.assume_offset(clock::SHANGHAI).unix_timestamp())
}

/// A `YYYY-MM-DD` business day.
pub fn parse_day(day: &str) -> Result<time::Date, AppError> {
    time::Date::parse(day, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| AppError::field("day", "must be a date YYYY-MM-DD"))
}

/// When WeChat Pay publishes a day's bill: 10:00 Beijing time the next day.
pub fn bill_due(day: time::Date) -> i64 {
    let next = day.next_day().unwrap_or(day);
    next.with_hms(10, 0, 0).map(|t| t.assume_offset(clock::SHANGHAI).unix_timestamp()).unwrap_or(i64::MAX)
}

/// The business day before `now` (what the daily schedule reconciles).
pub fn yesterday(now: i64) -> String {
    clock::business_day(now - 86_400).map(|d| d.to_string()).unwrap_or_default()
}

#[tracing::instrument(skip_all, fields(day = %day))]
pub async fn run(app: &App, day: &str) -> Result<Report, AppError> {
    let client = app.pay()?;
    let now = clock::now();
    let date = parse_day(day)?;
    if Some(date) > clock::business_day(now) {
        return Err(AppError::field("day", "is in the future; a day's bill exists from 10:00 the next day"));
    }
    tracing::info!(day, "reconciliation: fetching the trade bill");
    let not_ready = || AppError::new(Code::BillNotReady, format!("WeChat Pay has not published the bill of {day} yet"));
    let bill = match client.trade_bill(day).await {
        Ok(loc) => client
            .download_bill(&loc)
            .await
            .map_err(|e| AppError::new(Code::PayUnavailable, format!("the bill could not be read: {e}")))?,
        // No statement once the bill is due: WeChat Pay had no trade that day. The shop's own
        // payments and refunds of the day (if any) are then the differences.
        Err(e) if e.verified_kind() == Some(ErrorCode::NoStatementExist) && now >= bill_due(date) => Bill::default(),
        Err(e) if matches!(e.verified_kind(), Some(ErrorCode::NoStatementExist | ErrorCode::StatementCreating)) => {
            return Err(not_ready());
        }
        Err(e) => return Err(AppError::new(Code::PayUnavailable, format!("the trade bill could not be fetched: {e}"))),
    };
    tracing::info!(day, rows = bill.rows.len(), "reconciliation: bill downloaded");
    let store = &app.store;
    let local_pay: Vec<PaymentRecord> = repo::payments::on_day(store.as_ref(), day).await?;
    let local_ref: Vec<RefundRecord> = repo::refunds::done_on(store.as_ref(), day).await?;
    // Every recorded payment is matched against the bill; the books count those that took money.
    let mut pays: HashMap<String, &PaymentRecord> =
        local_pay.iter().map(|p| (p.transaction_id.to_string(), p)).collect();
    let counted: Vec<&PaymentRecord> = local_pay.iter().filter(|p| p.outcome.took_money()).collect();
    let mut refs: HashMap<String, &RefundRecord> = local_ref.iter().map(|r| (r.out_refund_no.to_string(), r)).collect();
    let mut report = Report {
        day: day.to_owned(),
        wechat: Totals::default(),
        local: Totals {
            payments: counted.len() as i64,
            payment_fen: counted.iter().map(|p| p.amount.fen()).sum(),
            refunds: refs.len() as i64,
            refund_fen: refs.values().map(|r| r.amount.fen()).sum(),
        },
        fee_milli_fen: bill.summary.fee_total_milli_fen,
        differences: Vec::new(),
        generated_at: clock::now(),
    };
    let diff =
        |kind: &str, order_no: &str, reference: &str, w: Option<i64>, l: Option<i64>, action: String| Difference {
            kind: kind.into(),
            order_no: order_no.into(),
            reference: reference.into(),
            wechat_fen: w,
            local_fen: l,
            action,
        };
    for row in &bill.rows {
        if row.is_refund() {
            report.wechat.refunds += 1;
            report.wechat.refund_fen += row.refund.fen();
            match refs.remove(&row.out_refund_no) {
                Some(r) if r.amount != row.refund => report.differences.push(diff(
                    "refund_amount_mismatch",
                    &row.out_trade_no,
                    &row.out_refund_no,
                    Some(row.refund.fen()),
                    Some(r.amount.fen()),
                    "reported".into(),
                )),
                Some(_) => {}
                None => {
                    let at = bill_time(&row.trade_time);
                    let action = match refunds::get(store, &row.out_trade_no, &row.out_refund_no).await {
                        // Done here too, but booked on another day: not a difference of money.
                        Ok(r) if r.state == refunds::RefundState::Success && r.amount == row.refund => None,
                        Ok(_) => Some(match refunds::complete(app, &row.out_trade_no, &row.out_refund_no, at).await {
                            Ok(r) if r.state == refunds::RefundState::Success => {
                                "repaired: refund completed".to_owned()
                            }
                            Ok(r) => format!("reported: local refund is {:?}", r.state),
                            Err(e) => format!("reported: {}", e.message),
                        }),
                        Err(_) => Some("reported: no such refund here".to_owned()),
                    };
                    if let Some(action) = action {
                        report.differences.push(diff(
                            "refund_missing_locally",
                            &row.out_trade_no,
                            &row.out_refund_no,
                            Some(row.refund.fen()),
                            None,
                            action,
                        ));
                    }
                }
            }
            continue;
        }
        report.wechat.payments += 1;
        report.wechat.payment_fen += row.settlement_total.fen();
        match pays.remove(&row.transaction_id) {
            Some(p) if p.outcome == PaymentOutcome::Rejected => report.differences.push(diff(
                "rejected_payment",
                &row.out_trade_no,
                &row.transaction_id,
                Some(row.order_total.fen()),
                Some(p.amount.fen()),
                "reported: received but not applied; see the case".into(),
            )),
            Some(p) if p.amount != row.order_total => report.differences.push(diff(
                "amount_mismatch",
                &row.out_trade_no,
                &row.transaction_id,
                Some(row.order_total.fen()),
                Some(p.amount.fen()),
                "reported".into(),
            )),
            Some(_) => {}
            None => {
                tracing::warn!(order_no = %row.out_trade_no, "reconciliation: a payment WeChat has and the shop lacks; repairing");
                let action = match payments::sync_from_wechat(app, &row.out_trade_no).await {
                    Ok(Outcome::Applied) => "repaired: payment applied".to_owned(),
                    Ok(Outcome::PaidAfterClose) => {
                        "repaired: order was closed, payment recorded and refunded".to_owned()
                    }
                    Ok(Outcome::Duplicate) => "repaired: already applied meanwhile".to_owned(),
                    Ok(o) => format!("reported: {o:?}"),
                    Err(e) => format!("reported: {}", e.message),
                };
                report.differences.push(diff(
                    "missing_locally",
                    &row.out_trade_no,
                    &row.transaction_id,
                    Some(row.order_total.fen()),
                    None,
                    action,
                ));
            }
        }
    }
    for p in pays.values() {
        report.differences.push(diff(
            "missing_at_wechat",
            &p.order_no,
            &p.transaction_id,
            None,
            Some(p.amount.fen()),
            "reported".into(),
        ));
    }
    for r in refs.values() {
        report.differences.push(diff(
            "refund_missing_at_wechat",
            &r.order_no,
            &r.out_refund_no,
            None,
            Some(r.amount.fen()),
            "reported".into(),
        ));
    }
    report.differences.sort_by(|a, b| (&a.kind, &a.reference).cmp(&(&b.kind, &b.reference)));
    repo::reports::put(store.as_ref(), day, &report).await?;
    tracing::info!(day, differences = report.differences.len(), "reconciliation: report stored");
    Ok(report)
}

pub async fn report(store: &SharedStore, day: &str) -> Result<Report, AppError> {
    repo::reports::get(store.as_ref(), day).await?.ok_or_else(|| AppError::not_found("reconciliation report"))
}
