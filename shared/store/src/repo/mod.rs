//! Repositories: per context, the items its records are stored as and the reads and
//! conditional writes over the port that speak domain types. Keys come from [`crate::keys`]
//! only; the application never builds an item or a key itself.

pub mod allowances;
pub mod cart;
pub mod cases;
pub mod catalog;
pub mod coupons;
pub mod holds;
pub mod jobs;
pub mod media;
pub mod members;
pub mod operators;
pub mod orders;
pub mod outbox;
pub mod payments;
pub mod rate;
pub mod refunds;
pub mod reports;
pub mod returns;
pub mod reviews;
pub mod search;
pub mod stock_alerts;
pub mod targets;
pub mod users;

/// Every item under one GSI1 partition, page by page.
pub(crate) async fn all_of_index<T: serde::de::DeserializeOwned>(
    store: &dyn crate::Store,
    gsi_pk: String,
) -> crate::Result<Vec<T>> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store.query(crate::Query::gsi1(gsi_pk.clone()).limit(500).after(after)).await?;
        for i in page.items {
            out.push(crate::from_item(i)?);
        }
        after = page.next;
        if after.is_none() {
            return Ok(out);
        }
    }
}
