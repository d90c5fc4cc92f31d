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

/// The head of the audit trail's chain: `(sequence number, hash)` of its last entry.
pub async fn audit_head(store: &dyn Store) -> Result<Option<(u64, String)>> {
    Ok(store.get(&keys::audit_head()).await?.and_then(|i| {
        let seq = i.get("seq")?.as_u64()?;
        let hash = i.get("hash")?.as_str()?.to_owned();
        Some((seq, hash))
    }))
}

/// The writes that append `entry` (at `at`, `id`) as the chain's entry `seq` with `hash`, the
/// head read being `read`: refused (index 0) when another entry was appended meanwhile, so the
/// chain has one entry per sequence number and each links to the one before.
pub fn audit_chained(
    read: Option<u64>,
    seq: u64,
    hash: &str,
    at: i64,
    id: &str,
    entry: &impl Serialize,
) -> Result<Vec<TxOp>> {
    let head = serde_json::json!({ "seq": seq, "hash": hash, "at": at });
    let cond = match read {
        None => Cond::NotExists,
        Some(n) => Cond::eq("seq", n),
    };
    Ok(vec![TxOp::Put { item: to_item(&keys::audit_head(), None, &head)?, cond: Some(cond) }, audit(at, id, entry)?])
}

/// Every entry of the audit trail, oldest first by time (for verifying the chain).
pub async fn audit_all<T: DeserializeOwned>(store: &dyn Store) -> Result<Vec<T>> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store.query(Query::table(keys::AUDIT).limit(1000).after(after)).await?;
        for i in page.items {
            out.push(from_item(i)?);
        }
        after = page.next;
        if after.is_none() {
            return Ok(out);
        }
    }
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
