//! Payment records (one per WeChat Pay transaction, indexed by business day for
//! reconciliation) and the per-day payment counter of the risk rule.

use domain::ids::{OpenId, TransactionId};
use domain::payment::PaymentRecord;

use crate::{Cond, Result, Store, TxOp, Update, from_item, keys, to_item};

/// Records a payment once: refused if the transaction was recorded already.
pub fn record(p: &PaymentRecord) -> Result<TxOp> {
    Ok(TxOp::Put {
        item: to_item(&keys::payment(&p.transaction_id), Some(keys::payment_gsi1(&p.day, &p.transaction_id)), p)?,
        cond: Some(Cond::NotExists),
    })
}

pub async fn get(store: &dyn Store, transaction_id: &TransactionId) -> Result<Option<PaymentRecord>> {
    store.get(&keys::payment(transaction_id)).await?.map(from_item).transpose()
}

/// Counts one more payment of the shopper on a Shanghai day.
pub fn count_payment(openid: &OpenId, day: &str) -> TxOp {
    TxOp::Update { key: keys::pay_count(openid, day), update: Update::new().add("count", 1), cond: None }
}

/// Payments the shopper made on a Shanghai day.
pub async fn paid_on(store: &dyn Store, openid: &OpenId, day: &str) -> Result<i64> {
    Ok(store
        .get(&keys::pay_count(openid, day))
        .await?
        .and_then(|i| i.get("count").and_then(|c| c.as_i64()))
        .unwrap_or(0))
}

/// Every payment recorded on a Shanghai business day (reconciliation's side of the books).
pub async fn on_day(store: &dyn Store, day: &str) -> Result<Vec<PaymentRecord>> {
    crate::repo::all_of_index(store, keys::payments_on(day)).await
}
