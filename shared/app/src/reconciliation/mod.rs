//! Daily reconciliation against WeChat Pay's trade bill (Asia/Shanghai business day): the
//! comparison of the bill with the shop's books, and the stored reports. One report per day,
//! rewritten by a re-run. The run that repairs what the shop lacks through the payments and
//! refunds contexts is a workflow (`workflows::reconcile`).

use std::collections::HashMap;

use crate::error::AppError;
use domain::ids::{OutRefundNo, TransactionId};
use domain::payment::PaymentRecord;
pub use domain::reconciliation::{
    Difference, DifferenceKind, Report, Totals, bill_due, bill_time, parse_day, yesterday,
};
use domain::refund::RefundRecord;
use store::{SharedStore, repo};

/// The shop's books of one day: its payments (all recorded, and counted where they took
/// money) and its completed refunds.
pub struct Books {
    pub payments: Vec<PaymentRecord>,
    pub refunds: Vec<RefundRecord>,
}

impl Books {
    pub async fn of_day(store: &SharedStore, day: &str) -> Result<Books, AppError> {
        Ok(Books {
            payments: repo::payments::on_day(store.as_ref(), day).await?,
            refunds: repo::refunds::done_on(store.as_ref(), day).await?,
        })
    }

    /// The books' totals: payments that took money, and refunds.
    pub fn totals(&self) -> Totals {
        let counted: Vec<&PaymentRecord> = self.payments.iter().filter(|p| p.outcome.took_money()).collect();
        Totals {
            payments: counted.len() as i64,
            payment_fen: counted.iter().map(|p| p.amount.fen()).sum(),
            refunds: self.refunds.len() as i64,
            refund_fen: self.refunds.iter().map(|r| r.amount().fen()).sum(),
        }
    }

    /// Payments by WeChat transaction id, refunds by refund number: what the bill's rows are
    /// matched against (each match taken out, so what is left is missing at WeChat).
    pub fn unmatched(&self) -> (HashMap<TransactionId, &PaymentRecord>, HashMap<OutRefundNo, &RefundRecord>) {
        (
            self.payments.iter().map(|p| (p.transaction_id.clone(), p)).collect(),
            self.refunds.iter().map(|r| (r.out_refund_no().clone(), r)).collect(),
        )
    }
}

pub async fn save(store: &SharedStore, report: &Report) -> Result<(), AppError> {
    Ok(repo::reports::put(store.as_ref(), &report.day, report).await?)
}

pub async fn report(store: &SharedStore, day: &str) -> Result<Report, AppError> {
    repo::reports::get(store.as_ref(), day).await?.ok_or_else(|| AppError::not_found("reconciliation report"))
}
