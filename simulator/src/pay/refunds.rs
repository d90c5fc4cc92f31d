//! Refunds as WeChat Pay runs them: one per `out_refund_no`, bounded by what was paid, ended
//! by a REFUND.* notify after the configured delay.

use super::*;

pub(super) fn refund_json(r: &RefundRec) -> Value {
    let mut v = json!({
        "refund_id": r.refund_id, "out_refund_no": r.out_refund_no, "transaction_id": r.transaction_id,
        "out_trade_no": r.out_trade_no, "channel": "ORIGINAL", "user_received_account": "支付用户零钱",
        "create_time": rfc3339(r.create_time), "status": r.status, "funds_account": "AVAILABLE",
        "amount": { "total": r.total, "refund": r.refund, "payer_total": r.total, "payer_refund": r.refund,
                    "settlement_refund": r.refund, "settlement_total": r.total, "discount_refund": 0, "currency": "CNY" },
    });
    if let Some(t) = r.success_time {
        v["success_time"] = json!(rfc3339(t));
    }
    v
}

pub(super) fn create_refund(sim: &Sim, req: &RefundRequest) -> (u16, Option<Value>) {
    let pay = &sim.pay;
    let err = |s: u16, c: &str, msg: &str| (s, Some(json!({ "code": c, "message": msg })));
    let mut st = pay.state();
    st.refund_calls.push(req.out_refund_no.clone());
    if let Some(r) = st.refunds.get(&req.out_refund_no) {
        // Same out_refund_no: the same refund, whatever else the retry says.
        return (200, Some(refund_json(r)));
    }
    // By transaction id, the payment itself (a second payment of an order is its own entry).
    let key = match req.transaction_id.as_deref() {
        Some(tid) => st.orders.iter().find(|(_, o)| o.transaction_id.as_deref() == Some(tid)).map(|(k, _)| k.clone()),
        None => req.out_trade_no.clone(),
    };
    let Some(order) = key.and_then(|k| st.orders.get_mut(&k)) else {
        return err(404, "RESOURCE_NOT_EXISTS", "订单不存在");
    };
    if order.transaction_id.is_none() {
        return err(400, "INVALID_REQUEST", "订单未支付");
    }
    if req.amount.total != order.request.amount.total {
        return err(400, "PARAM_ERROR", "订单金额或退款金额与之前请求不一致");
    }
    if req.amount.refund <= 0 || order.refunded + req.amount.refund > order.request.amount.total {
        return err(403, "NOT_ENOUGH", "订单可退金额不足");
    }
    order.refunded += req.amount.refund;
    order.state = "REFUND";
    let (out_trade_no, transaction_id, total) = (
        order.request.out_trade_no.clone(),
        order.transaction_id.clone().unwrap_or_default(),
        order.request.amount.total,
    );
    let notify_url = req.notify_url.clone().unwrap_or_else(|| order.request.notify_url.clone());
    st.counter += 1;
    let rec = RefundRec {
        refund_id: format!("50300{:024}", st.counter),
        out_refund_no: req.out_refund_no.clone(),
        out_trade_no,
        transaction_id,
        refund: req.amount.refund,
        total,
        status: "PROCESSING".into(),
        create_time: clock::now(),
        success_time: None,
        notify_url,
    };
    st.refunds.insert(rec.out_refund_no.clone(), rec.clone());
    let (delay, result) = (st.faults.refund_delay_ms, st.faults.refund_result.clone());
    drop(st);
    let sim2 = sim.clone();
    let no = rec.out_refund_no.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(delay)).await;
        finish_refund(&sim2, &no, &result);
    });
    (200, Some(refund_json(&rec)))
}

pub(super) fn finish_refund(sim: &Sim, out_refund_no: &str, result: &str) {
    let pay = &sim.pay;
    let Some(m) = pay.merchant.clone() else { return };
    let mut st = pay.state();
    let shift = st.faults.refund_time_shift;
    let Some(r) = st.refunds.get_mut(out_refund_no) else { return };
    r.status = result.to_owned();
    if result == "SUCCESS" {
        r.success_time = Some(clock::now() + shift);
    }
    let r = r.clone();
    if result == "CLOSED"
        && let Some(o) = st.orders.get_mut(&r.out_trade_no)
    {
        o.refunded -= r.refund;
    }
    drop(st);
    let notice = json!({
        "mchid": m.mchid, "out_trade_no": r.out_trade_no, "transaction_id": r.transaction_id,
        "out_refund_no": r.out_refund_no, "refund_id": r.refund_id, "refund_status": r.status,
        "success_time": r.success_time.map(rfc3339), "user_received_account": "支付用户零钱",
        "amount": { "total": r.total, "refund": r.refund, "payer_total": r.total, "payer_refund": r.refund },
    });
    enqueue(
        sim,
        PendingNotify {
            url: r.notify_url.clone(),
            event_type: format!("REFUND.{result}"),
            key: r.out_refund_no.clone(),
            plaintext: notice.to_string(),
            original_type: "refund",
        },
    );
}
