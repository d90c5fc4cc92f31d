//! Operator accounts and the append-only audit trail of what operators did.

use domain::operator::Account;
use serde::{Serialize, de::DeserializeOwned};

use crate::{Cond, Query, Result, Store, TxOp, from_item, keys, to_item};

fn item(a: &Account) -> Result<crate::Item> {
    let (key, gsi1) = keys::operator(&a.id);
    to_item(&key, Some(gsi1), a)
}

/// The writes that make the first account: refused (index 0) once any first account exists.
pub fn create_first(a: &Account) -> Result<Vec<TxOp>> {
    Ok(vec![
        TxOp::Put {
            item: to_item(&keys::operators_bootstrapped(), None, &serde_json::json!({ "first": a.id }))?,
            cond: Some(Cond::NotExists),
        },
        TxOp::Put { item: item(a)?, cond: Some(Cond::NotExists) },
    ])
}

/// The write that makes an account, refused if the id is taken.
pub fn create(a: &Account) -> Result<TxOp> {
    Ok(TxOp::Put { item: item(a)?, cond: Some(Cond::NotExists) })
}

/// The write that claims a WeChat identity for the account `id`: refused when another account
/// holds it.
pub fn claim_identity(identity: &str, id: &str) -> Result<TxOp> {
    Ok(TxOp::Put {
        item: to_item(&keys::operator_identity(identity), None, &serde_json::json!({ "operator_id": id }))?,
        cond: Some(Cond::NotExists),
    })
}

/// The write that replaces an account read at `read_version`.
pub fn rewrite(a: &Account, read_version: i64) -> Result<TxOp> {
    Ok(TxOp::Put { item: item(a)?, cond: Some(Cond::eq("version", read_version)) })
}

pub async fn get(store: &dyn Store, id: &str) -> Result<Option<Account>> {
    store.get(&keys::operator(id).0).await?.map(from_item).transpose()
}

pub async fn list(store: &dyn Store) -> Result<Vec<Account>> {
    crate::repo::all_of_index(store, keys::OPERATORS.to_owned()).await
}

/// The write that appends `entry` to the audit trail under (`at`, `id`); never overwrites.
pub fn audit(at: i64, id: &str, entry: &impl Serialize) -> Result<TxOp> {
    Ok(TxOp::Put { item: to_item(&keys::audit_entry(at, id), None, entry)?, cond: Some(Cond::NotExists) })
}

/// The audit trail, newest first.
pub async fn audit_trail<T: DeserializeOwned>(
    store: &dyn Store,
    limit: usize,
    after: Option<String>,
) -> Result<(Vec<T>, Option<String>)> {
    let page = store.query(Query::table(keys::AUDIT).limit(limit).after(after).reverse()).await?;
    Ok((page.items.into_iter().map(from_item).collect::<Result<_>>()?, page.next))
}
