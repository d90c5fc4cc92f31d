//! Members: their standing and ledger, moved together in one transaction per change, the
//! ledger entry keyed by its source so a replayed change is refused.

use domain::ids::OpenId;
use domain::member::{Also, LedgerEntry, LedgerSource, Member, PointsFlow};

use crate::{Cond, Query, Result, Store, StoreError, TxOp, Update, from_item, keys, to_item};

pub async fn get(store: &dyn Store, openid: &OpenId) -> Result<Member> {
    Ok(store.get(&keys::member(openid)).await?.map(from_item).transpose()?.unwrap_or_default())
}

/// The change `entry` describes, with what else it moves on the member (`also`: a payment's
/// time, a points debt, the keep rule's drop, a check-in): `false` when this source was
/// recorded before. Growth never goes below zero: a take-back
/// larger than the growth held is refused as a condition. `flow` says why the available
/// points moved (its net is `entry.points`), recorded in the month of the entry.
pub async fn apply(
    store: &dyn Store,
    openid: &OpenId,
    entry: &LedgerEntry,
    flow: PointsFlow,
    also: Also,
    with: Vec<TxOp>,
) -> Result<bool> {
    debug_assert_eq!(flow.net(), entry.points, "a flow explains the entry's points");
    let mut update = Update::new().add("growth", entry.growth).add("points_available", entry.points);
    if let Some(at) = also.paid_at {
        update = update.set("last_paid_at", at).set("demoted", 0);
    }
    if also.debt != 0 {
        update = update.add("points_debt", also.debt);
    }
    if let Some((levels, at)) = also.demoted {
        update = update.set("demoted", i64::from(levels)).set("demoted_at", at);
    }
    if let Some((day, streak)) = also.checked_in {
        update = update.set("last_checkin_day", day).set("streak", i64::from(streak));
    }
    if entry.frozen != 0 {
        update = update.add("points_frozen", entry.frozen);
    }
    update = update.set("openid", openid.as_str());
    // Listed for the daily scoring from the first change on.
    update = update.set(crate::table::GSI1_PK, keys::MEMBERS).set(crate::table::GSI1_SK, openid.as_str());
    // Nothing goes below zero: a take-back larger than what is held is refused.
    let mut conds = Vec::new();
    for (attr, change) in
        [("growth", entry.growth), ("points_available", entry.points), ("points_frozen", entry.frozen)]
    {
        if change < 0 {
            conds.push(Cond::ge(attr, -change));
        }
    }
    if let Some(g) = also.growth_was {
        let read = Cond::eq("growth", g);
        conds.push(if g == 0 { read.or(Cond::Missing("growth".into())) } else { read });
    }
    let cond = conds.into_iter().reduce(Cond::and);
    let ops = vec![
        TxOp::Put {
            item: to_item(&keys::member_ledger(openid, &entry.source), None, entry)?,
            cond: Some(Cond::NotExists),
        },
        TxOp::Update { key: keys::member(openid), update, cond },
    ];
    let mut ops = ops;
    ops.extend(flow_op(openid, entry.at, flow));
    ops.extend(with);
    match store.transact(ops).await {
        Ok(()) => Ok(true),
        Err(StoreError::Cancelled { failed }) if failed.contains(&0) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The member's latest ledger entries.
pub async fn ledger(store: &dyn Store, openid: &OpenId, limit: usize) -> Result<Vec<LedgerEntry>> {
    let page =
        store.query(Query::table(keys::user_partition(openid)).prefix(keys::MEMBER_LEDGER_PREFIX).limit(1_000)).await?;
    let mut entries: Vec<LedgerEntry> = page.items.into_iter().map(from_item).collect::<Result<_>>()?;
    entries.sort_by_key(|e| std::cmp::Reverse(e.at));
    entries.truncate(limit);
    Ok(entries)
}

/// Adds `n` one-time permissions of `template_id` the shopper accepted.
pub async fn grant(store: &dyn Store, openid: &OpenId, template_id: &str, n: i64) -> Result<()> {
    store.update(&keys::subscription(openid, template_id), Update::new().add("count", n), None).await.map(|_| ())
}

/// Spends one permission, only if there is one: `false` when none is left.
pub async fn take_permission(store: &dyn Store, openid: &OpenId, template_id: &str) -> Result<bool> {
    let upd = Update::new().add("count", -1);
    match store.update(&keys::subscription(openid, template_id), upd, Some(Cond::ge("count", 1))).await {
        Ok(_) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e),
    }
}

/// WeChat says the shopper allows none: the count goes to zero.
pub async fn revoke(store: &dyn Store, openid: &OpenId, template_id: &str) -> Result<()> {
    store.update(&keys::subscription(openid, template_id), Update::new().set("count", 0), None).await.map(|_| ())
}

pub async fn permissions(store: &dyn Store, openid: &OpenId, template_id: &str) -> Result<i64> {
    Ok(store
        .get(&keys::subscription(openid, template_id))
        .await?
        .and_then(|i| i.get("count").and_then(serde_json::Value::as_i64))
        .unwrap_or(0))
}

/// The write that adds `flow` to the member's month of `at` (none for no movement).
pub fn flow_op(openid: &OpenId, at: i64, flow: PointsFlow) -> Option<TxOp> {
    if flow == PointsFlow::default() {
        return None;
    }
    let month = domain::clock::month_of(at);
    let update = Update::new()
        .add("earned", flow.earned)
        .add("spent", flow.spent)
        .add("taken_back", flow.taken_back)
        .add("expired", flow.expired)
        .set("month", month.as_str());
    Some(TxOp::Update { key: keys::member_points(openid, &month), update, cond: None })
}

/// The member's points by month, oldest first.
pub async fn points_months(store: &dyn Store, openid: &OpenId) -> Result<Vec<(String, PointsFlow)>> {
    let page =
        store.query(Query::table(keys::user_partition(openid)).prefix(keys::MEMBER_POINTS_PREFIX).limit(1_000)).await?;
    let mut out = Vec::new();
    for i in page.items {
        let Some(month) = i.get("month").and_then(|m| m.as_str()).map(str::to_owned) else { continue };
        out.push((month, from_item(i)?));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Records the birthday once: `false` when one was set before.
pub async fn set_birthday(store: &dyn Store, openid: &OpenId, birthday: &str) -> Result<bool> {
    let upd = Update::new()
        .set("birthday", birthday)
        .set("openid", openid.as_str())
        .set(crate::table::GSI1_PK, keys::MEMBERS)
        .set(crate::table::GSI1_SK, openid.as_str());
    match store.update(&keys::member(openid), upd, Some(Cond::Missing("birthday".into()))).await {
        Ok(_) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e),
    }
}

pub async fn put_points_report(store: &dyn Store, report: &serde_json::Value) -> Result<()> {
    store.put(to_item(&keys::points_report(), None, report)?, None).await
}

pub async fn points_report(store: &dyn Store) -> Result<Option<serde_json::Value>> {
    report(store, &keys::points_report()).await
}

/// A report item as JSON, without its key attributes.
async fn report(store: &dyn Store, key: &crate::Key) -> Result<Option<serde_json::Value>> {
    Ok(store.get(key).await?.map(|mut i| {
        for k in [crate::table::PK, crate::table::SK] {
            i.remove(k);
        }
        serde_json::Value::Object(i)
    }))
}

/// The writes that spend `points` of the shopper's balance for an order, in the transaction
/// that places it: refused (a condition) when the balance is short.
pub fn spend_ops(openid: &OpenId, entry: &LedgerEntry) -> Result<Vec<TxOp>> {
    let spent = PointsFlow { spent: -entry.points, ..Default::default() };
    Ok(flow_op(openid, entry.at, spent)
        .into_iter()
        .chain([
            TxOp::Update {
                key: keys::member(openid),
                update: Update::new().add("points_available", entry.points),
                cond: Some(Cond::ge("points_available", -entry.points)),
            },
            TxOp::Put {
                item: to_item(&keys::member_ledger(openid, &entry.source), None, entry)?,
                cond: Some(Cond::NotExists),
            },
        ])
        .collect())
}

/// The writes that give points back with a state change that happens once (an order closing
/// unpaid): the ledger entry is rewritten rather than conditioned, as the change guards it.
pub fn give_back_ops(openid: &OpenId, entry: &LedgerEntry) -> Result<Vec<TxOp>> {
    let back = PointsFlow { spent: -entry.points, ..Default::default() };
    Ok(flow_op(openid, entry.at, back)
        .into_iter()
        .chain([
            TxOp::Update {
                key: keys::member(openid),
                update: Update::new().add("points_available", entry.points),
                cond: None,
            },
            TxOp::Put { item: to_item(&keys::member_ledger(openid, &entry.source), None, entry)?, cond: None },
        ])
        .collect())
}

pub async fn entry(store: &dyn Store, openid: &OpenId, source: &LedgerSource) -> Result<Option<LedgerEntry>> {
    store.get(&keys::member_ledger(openid, source)).await?.map(from_item).transpose()
}

/// The write that adds a payment (or takes back a refund) to the member's month: count and
/// amount. (The time of the last payment goes on the member, with the ledger change.)
pub fn month_op(openid: &OpenId, month: &str, orders: i64, amount_fen: i64) -> TxOp {
    TxOp::Update {
        key: keys::member_month(openid, month),
        update: Update::new().add("orders", orders).add("amount", amount_fen).set("month", month),
        cond: None,
    }
}

/// (orders, amount) of the member's months from `first_month` on.
pub async fn months_since(store: &dyn Store, openid: &OpenId, first_month: &str) -> Result<(i64, i64)> {
    let page =
        store.query(Query::table(keys::user_partition(openid)).prefix(keys::MEMBER_MONTH_PREFIX).limit(100)).await?;
    let mut totals = (0, 0);
    for i in page.items {
        if i.get("month").and_then(|m| m.as_str()).is_some_and(|m| m >= first_month) {
            totals.0 += i.get("orders").and_then(serde_json::Value::as_i64).unwrap_or(0);
            totals.1 += i.get("amount").and_then(serde_json::Value::as_i64).unwrap_or(0);
        }
    }
    Ok(totals)
}

/// Members (openid and standing), a page at a time.
pub async fn page(
    store: &dyn Store,
    limit: usize,
    after: Option<String>,
) -> Result<(Vec<(OpenId, Member)>, Option<String>)> {
    let page = store.query(Query::gsi1(keys::MEMBERS).limit(limit).after(after)).await?;
    let mut out = Vec::new();
    for i in page.items {
        let Some(openid) = i.get("openid").and_then(|v| v.as_str()).and_then(|s| OpenId::parse(s).ok()) else {
            continue;
        };
        out.push((openid, from_item(i)?));
    }
    Ok((out, page.next))
}

/// Records the member's segment.
pub async fn set_segment(store: &dyn Store, openid: &OpenId, segment: &str, now: i64) -> Result<()> {
    let upd = Update::new().set("segment", segment).set("scored_at", now);
    store.update(&keys::member(openid), upd, Some(Cond::Exists)).await.map(|_| ())
}

pub async fn put_segment_report(store: &dyn Store, report: &serde_json::Value) -> Result<()> {
    store.put(to_item(&keys::segment_report(), None, report)?, None).await
}

pub async fn segment_report(store: &dyn Store) -> Result<Option<serde_json::Value>> {
    report(store, &keys::segment_report()).await
}
