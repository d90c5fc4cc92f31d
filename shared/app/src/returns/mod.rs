//! Returns of goods after shipping (退货退款). The shopper asks for lines back; an operator
//! approves with the return address (or refuses); the shopper sends the parcel within
//! `RETURN_SEND_DAYS` (else the request lapses); the operator confirms it arrived, which
//! starts the refund of those lines through the refund path (its approvals apply: the workflow
//! `workflows::return_goods`); the units return to stock only when an operator marks them
//! sellable. The record and its moves are `domain::returns`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{AppError, Code};
use crate::{App, lookup};
use domain::address::Address;
use domain::clock;
use domain::ids::{OpenId, OrderNo, OutRefundNo, Quantity, RequestId, SkuId};
use domain::order::{Package, Reservation};
use domain::returns::{ReturnRecord, ReturnState};
use store::{StoreError, TxOp, repo};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnInput {
    /// The client's id of this request: asking twice gets the first answer.
    pub request_id: RequestId,
    pub lines: BTreeMap<SkuId, Quantity>,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    pub return_address: Address,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parcel {
    pub express_company: String,
    pub tracking_no: String,
}

pub async fn get(app: &App, order_no: &OrderNo, id: &str) -> Result<ReturnRecord, AppError> {
    repo::returns::get(app.store.as_ref(), order_no, id).await?.ok_or_else(|| AppError::not_found("return"))
}

/// The shopper's own return; someone else's is "not found".
async fn get_own(app: &App, openid: &OpenId, order_no: &OrderNo, id: &str) -> Result<ReturnRecord, AppError> {
    let r = get(app, order_no, id).await?;
    if &r.openid != openid {
        return Err(AppError::not_found("return"));
    }
    Ok(r)
}

pub async fn of_order(app: &App, openid: &OpenId, order_no: &OrderNo) -> Result<Vec<ReturnRecord>, AppError> {
    lookup::own_order(app.store.as_ref(), openid, order_no).await?;
    Ok(repo::returns::of_order(app.store.as_ref(), order_no).await?)
}

pub async fn in_state(
    app: &App,
    state: ReturnState,
    limit: usize,
    after: Option<String>,
) -> Result<(Vec<ReturnRecord>, Option<String>), AppError> {
    let (listed, next) = repo::returns::in_state(app.store.as_ref(), state, limit, after).await?;
    let mut out = Vec::new();
    for r in listed {
        let fresh = get(app, &r.order_no, &r.id).await?;
        if fresh.state == state {
            out.push(fresh);
        }
    }
    Ok((out, next))
}

/// A shopper asks to send lines of a shipped order back.
pub async fn request(
    app: &App,
    openid: &OpenId,
    order_no: &OrderNo,
    input: ReturnInput,
) -> Result<ReturnRecord, AppError> {
    let order = lookup::own_order(app.store.as_ref(), openid, order_no).await?;
    let id = format!("T{}", input.request_id);
    if let Some(existing) = repo::returns::get(app.store.as_ref(), order_no, &id).await? {
        return Ok(existing);
    }
    let lines: BTreeMap<SkuId, i64> = input.lines.iter().map(|(s, q)| (s.clone(), q.get())).collect();
    for _ in 0..3 {
        let others = repo::returns::of_order(app.store.as_ref(), order_no).await?;
        let r = ReturnRecord::new(id.clone(), &order, &others, lines.clone(), input.reason.clone(), clock::now())?;
        match app.store.transact(repo::returns::create_counted(&r, others.len())?).await {
            Ok(()) => return Ok(r),
            Err(StoreError::Cancelled { failed }) if failed.contains(&0) => return get(app, order_no, &r.id).await,
            // Another return of this order was recorded meanwhile: check against it too.
            Err(StoreError::Cancelled { .. } | StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::new(Code::Conflict, "the order's returns changed meanwhile; retry"))
}

/// Applies `change` to the return read now, writing it (with `extra` writes) under its version.
async fn moved(
    app: &App,
    order_no: &OrderNo,
    id: &str,
    change: impl Fn(&ReturnRecord) -> Result<(ReturnRecord, Vec<TxOp>), AppError>,
) -> Result<ReturnRecord, AppError> {
    for _ in 0..3 {
        let r = get(app, order_no, id).await?;
        let (next, extra) = change(&r)?;
        let mut ops = vec![repo::returns::rewrite(&next, r.version)?];
        ops.extend(extra);
        match app.store.transact(ops).await {
            Ok(()) => return Ok(next),
            Err(StoreError::Cancelled { .. } | StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::new(Code::Conflict, "the return changed meanwhile; reload"))
}

pub async fn approve(app: &App, order_no: &OrderNo, id: &str, input: Approval) -> Result<ReturnRecord, AppError> {
    let now = clock::now();
    moved(app, order_no, id, |r| Ok((r.approved(input.return_address.clone(), now)?, vec![]))).await
}

pub async fn refuse(app: &App, order_no: &OrderNo, id: &str) -> Result<ReturnRecord, AppError> {
    let now = clock::now();
    moved(app, order_no, id, |r| Ok((r.refused(now)?, vec![]))).await
}

/// The shopper sends the parcel back (their own return only).
pub async fn send(
    app: &App,
    openid: &OpenId,
    order_no: &OrderNo,
    id: &str,
    parcel: Parcel,
) -> Result<ReturnRecord, AppError> {
    get_own(app, openid, order_no, id).await?;
    let p = Package::checked(&parcel.express_company, &parcel.tracking_no)?;
    let now = clock::now();
    moved(app, order_no, id, |r| Ok((r.sent(p.clone(), now)?, vec![]))).await
}

/// What the refund of a return that arrived asks for: its lines, under a request id of its
/// own (so asking again finds the same refund). Refused unless the parcel was sent.
pub struct RefundOfReturn {
    pub request_id: RequestId,
    pub lines: BTreeMap<SkuId, Quantity>,
    pub reason: String,
}

/// The goods of a sent return arrived: what its refund is (the workflow starts it).
pub async fn arrived(app: &App, order_no: &OrderNo, id: &str) -> Result<RefundOfReturn, AppError> {
    let r = get(app, order_no, id).await?;
    if r.state != ReturnState::Sent {
        return Err(AppError::new(
            Code::InvalidTransition,
            format!("a {} return cannot be received", r.state.as_str()),
        ));
    }
    let lines = r
        .lines
        .iter()
        .map(|(s, n)| Ok((s.clone(), Quantity::parse(*n)?)))
        .collect::<Result<BTreeMap<_, _>, domain::DomainError>>()?;
    Ok(RefundOfReturn {
        request_id: RequestId::parse(&format!("ret-{}", &r.id[1..].chars().take(28).collect::<String>()))?,
        lines,
        reason: format!("退货退款 {}", r.reason).chars().take(80).collect(),
    })
}

/// The return records the refund its arrival started.
pub async fn received(app: &App, order_no: &OrderNo, id: &str, refund: &OutRefundNo) -> Result<ReturnRecord, AppError> {
    let now = clock::now();
    moved(app, order_no, id, |r| Ok((r.received(refund.clone(), now)?, vec![]))).await
}

/// The returned units are fit to sell: they go back to the stock of the warehouse that
/// shipped them, in the same transaction that marks the return restocked (so once).
pub async fn sellable(app: &App, order_no: &OrderNo, id: &str) -> Result<ReturnRecord, AppError> {
    let order = lookup::order(app.store.as_ref(), order_no).await?;
    let now = clock::now();
    moved(app, order_no, id, |r| {
        let plan = r.restock_plan(&order);
        let ops = plan
            .iter()
            .map(|(sku, wh, n)| {
                repo::orders::return_stock(&Reservation {
                    sku_id: sku.clone(),
                    warehouse_id: wh.clone(),
                    shard: 0,
                    quantity: *n,
                })
            })
            .collect();
        Ok((r.restocked(plan, now)?, ops))
    })
    .await
}

/// The scheduled step: approved returns never sent within `RETURN_SEND_DAYS` lapse.
pub async fn lapse_overdue(app: &App, now: i64) -> Result<usize, AppError> {
    let due_before = now - app.rules.return_send_days * 86_400;
    let mut lapsed = 0;
    let (listed, _) = repo::returns::in_state(app.store.as_ref(), ReturnState::Approved, 500, None).await?;
    for r in listed.into_iter().take_while(|r| r.state_since <= due_before) {
        match moved(app, &r.order_no, &r.id, |fresh| {
            if fresh.state_since > due_before {
                return Err(AppError::new(Code::Conflict, "changed meanwhile"));
            }
            Ok((fresh.lapsed(now)?, vec![]))
        })
        .await
        {
            Ok(_) => lapsed += 1,
            Err(e) => tracing::warn!(error = %e, order_no = %r.order_no, "return not lapsed; next run retries"),
        }
    }
    Ok(lapsed)
}
