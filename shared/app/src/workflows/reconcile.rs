//! Reconciling a business day: the bill from WeChat Pay, the books from the shop
//! (reconciliation); a payment or refund WeChat has and the shop lacks is repaired by asking
//! WeChat and applying what it says, exactly as a notify would (payments, refunds); the rest is
//! reported. The repairs are idempotent, so a re-run changes nothing but the report.

use domain::clock;
use domain::ids::{OrderNo, OutRefundNo};
use wechat::pay::bill::Bill;
use wechat::pay::client::ErrorCode;

use crate::payments::{self, Outcome, PaymentOutcome};
use crate::reconciliation::{self, Books, Difference, DifferenceKind, Report, Totals, bill_due, bill_time, parse_day};
use crate::refunds::{self, RefundState};
use crate::{App, AppError, Code};

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
    let books = Books::of_day(&app.store, day).await?;
    let (mut pays, mut refs) = books.unmatched();
    let mut report = Report {
        day: day.to_owned(),
        wechat: Totals::default(),
        local: books.totals(),
        fee_milli_fen: bill.summary.fee_total_milli_fen,
        differences: Vec::new(),
        generated_at: clock::now(),
    };
    // The order number as the bill or the books give it: a bill row may name an order of
    // another system on the same merchant account.
    let diff = |kind, order_ref: &str, reference: &str, w: Option<i64>, l: Option<i64>, action: String| Difference {
        kind,
        order_no: order_ref.into(),
        reference: reference.into(),
        wechat_fen: w,
        local_fen: l,
        action,
    };
    for row in &bill.rows {
        if row.is_refund() {
            report.wechat.refunds += 1;
            report.wechat.refund_fen += row.refund.fen();
            match refs.remove(row.out_refund_no.as_str()) {
                Some(r) if r.amount() != row.refund => report.differences.push(diff(
                    DifferenceKind::RefundAmountMismatch,
                    &row.out_trade_no,
                    &row.out_refund_no,
                    Some(row.refund.fen()),
                    Some(r.amount().fen()),
                    "reported".into(),
                )),
                Some(_) => {}
                None => {
                    let at = bill_time(&row.trade_time);
                    let ours = match (OrderNo::parse(&row.out_trade_no), OutRefundNo::parse(&row.out_refund_no)) {
                        (Ok(no), Ok(refund_no)) => refunds::get(&app.store, &no, &refund_no).await.map(|r| (no, r)),
                        _ => Err(AppError::not_found("refund")),
                    };
                    let action = match ours {
                        // Done here too, but booked on another day: not a difference of money.
                        Ok((_, r)) if r.state() == RefundState::Success && r.amount() == row.refund => None,
                        Ok((no, r)) => Some(match refunds::complete(app, &no, r.out_refund_no(), at).await {
                            Ok(r) if r.state() == RefundState::Success => "repaired: refund completed".to_owned(),
                            Ok(r) => format!("reported: local refund is {:?}", r.state()),
                            Err(e) => format!("reported: {}", e.message),
                        }),
                        Err(_) => Some("reported: no such refund here".to_owned()),
                    };
                    if let Some(action) = action {
                        report.differences.push(diff(
                            DifferenceKind::RefundMissingLocally,
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
        match pays.remove(row.transaction_id.as_str()) {
            Some(p) if p.outcome == PaymentOutcome::Rejected => report.differences.push(diff(
                DifferenceKind::RejectedPayment,
                &row.out_trade_no,
                &row.transaction_id,
                Some(row.order_total.fen()),
                Some(p.amount.fen()),
                "reported: received but not applied; see the case".into(),
            )),
            Some(p) if p.amount != row.order_total => report.differences.push(diff(
                DifferenceKind::AmountMismatch,
                &row.out_trade_no,
                &row.transaction_id,
                Some(row.order_total.fen()),
                Some(p.amount.fen()),
                "reported".into(),
            )),
            Some(_) => {}
            None => {
                tracing::warn!(order_no = %row.out_trade_no, "reconciliation: a payment WeChat has and the shop lacks; repairing");
                let action = match OrderNo::parse(&row.out_trade_no) {
                    Ok(no) => match payments::sync_from_wechat(app, &no).await {
                        Ok(Outcome::Applied) => "repaired: payment applied".to_owned(),
                        Ok(Outcome::PaidAfterClose) => {
                            "repaired: order was closed, payment recorded and refunded".to_owned()
                        }
                        Ok(Outcome::Duplicate) => "repaired: already applied meanwhile".to_owned(),
                        Ok(o) => format!("reported: {o:?}"),
                        Err(e) => format!("reported: {}", e.message),
                    },
                    Err(_) => "reported: not an order number of this shop".to_owned(),
                };
                report.differences.push(diff(
                    DifferenceKind::MissingLocally,
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
            DifferenceKind::MissingAtWechat,
            &p.order_no,
            &p.transaction_id,
            None,
            Some(p.amount.fen()),
            "reported".into(),
        ));
    }
    for r in refs.values() {
        report.differences.push(diff(
            DifferenceKind::RefundMissingAtWechat,
            r.order_no(),
            r.out_refund_no(),
            None,
            Some(r.amount().fen()),
            "reported".into(),
        ));
    }
    // By kind's name, then reference: the order reports have always had.
    report.differences.sort_by(|a, b| (a.kind.as_str(), &a.reference).cmp(&(b.kind.as_str(), &b.reference)));
    reconciliation::save(&app.store, &report).await?;
    tracing::info!(day, differences = report.differences.len(), "reconciliation: report stored");
    // The audit trail's head into the log once a day: a record kept outside the table, so a
    // trail rewritten from some entry on no longer matches what the log said it was.
    if let Ok(Some((seq, hash))) = crate::audit::head(app).await {
        tracing::info!(day, audit_head_seq = seq, audit_head_hash = %hash, "audit trail head");
    }
    Ok(report)
}
