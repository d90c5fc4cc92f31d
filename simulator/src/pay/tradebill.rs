//! The trade bill (`/v3/bill/tradebill`): the day's rows as WeChat prints them, plain or
//! GZIP, with the SHA1 the shop checks.

use super::*;

pub(super) fn trade_bill(
    pay: &PaySim,
    m: &MerchantConfig,
    query: &HashMap<String, String>,
    host: &str,
) -> (u16, Option<Value>) {
    let err = |s: u16, c: &str, msg: &str| (s, Some(json!({ "code": c, "message": msg })));
    let Some(date) = query
        .get("bill_date")
        .and_then(|d| time::Date::parse(d, time::macros::format_description!("[year]-[month]-[day]")).ok())
    else {
        return err(400, "PARAM_ERROR", "bill_date 格式错误");
    };
    let today = clock::business_day(clock::now()).unwrap_or(date);
    if date >= today {
        return err(400, "NO_STATEMENT_EXIST", "账单尚未生成，次日10点后可下载");
    }
    let day = |t: i64| clock::business_day(t) == Some(date);
    let fmt_time = |t: i64| {
        let s = rfc3339(t);
        format!("{} {}", &s[..10], &s[11..19])
    };
    let mut st = pay.state();
    let mut rows = Vec::new();
    for o in st.orders.values() {
        let (Some(t), Some(tid)) = (o.success_time, &o.transaction_id) else { continue };
        if !day(t) {
            continue;
        }
        let total = o.request.amount.total;
        rows.push((
            t,
            BillRow {
                trade_time: fmt_time(t),
                appid: o.request.appid.clone(),
                mchid: m.mchid.clone(),
                sub_mchid: "0".into(),
                transaction_id: tid.clone(),
                out_trade_no: o.request.out_trade_no.clone(),
                openid: o.request.payer.openid.clone(),
                trade_type: "JSAPI".into(),
                trade_state: "SUCCESS".into(),
                bank_type: "OTHERS".into(),
                currency: "CNY".into(),
                settlement_total: Fen::new(total),
                refund_id: "0".into(),
                out_refund_no: "0".into(),
                body: o.request.description.clone(),
                attach: o.request.attach.clone().unwrap_or_default(),
                fee_milli_fen: total * 6, // 0.6%: a fen is 1,000 milli-fen
                rate: "0.60%".into(),
                order_total: Fen::new(total),
                ..BillRow::default()
            },
        ));
    }
    for r in st.refunds.values() {
        let Some(t) = r.success_time else { continue };
        if !day(t) {
            continue;
        }
        let Some(o) = st.orders.get(&r.out_trade_no) else { continue };
        rows.push((
            t,
            BillRow {
                trade_time: fmt_time(t),
                appid: o.request.appid.clone(),
                mchid: m.mchid.clone(),
                sub_mchid: "0".into(),
                transaction_id: r.transaction_id.clone(),
                out_trade_no: r.out_trade_no.clone(),
                openid: o.request.payer.openid.clone(),
                trade_type: "JSAPI".into(),
                trade_state: "REFUND".into(),
                bank_type: "OTHERS".into(),
                currency: "CNY".into(),
                refund_id: r.refund_id.clone(),
                out_refund_no: r.out_refund_no.clone(),
                refund: Fen::new(r.refund),
                refund_type: "ORIGINAL".into(),
                refund_status: "SUCCESS".into(),
                body: o.request.description.clone(),
                attach: o.request.attach.clone().unwrap_or_default(),
                fee_milli_fen: -(r.refund * 6),
                rate: "0.60%".into(),
                refund_requested: Fen::new(r.refund),
                ..BillRow::default()
            },
        ));
    }
    if rows.is_empty() {
        // A day without a successful trade has no bill at all.
        return err(400, "NO_STATEMENT_EXIST", "请求的账单文件不存在");
    }
    rows.sort_by(|a, b| (a.0, &a.1.out_trade_no).cmp(&(b.0, &b.1.out_trade_no)));
    let text = bill::render(&rows.into_iter().map(|(_, r)| r).collect::<Vec<_>>());
    let bytes = if query.get("tar_type").map(String::as_str) == Some("GZIP") {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let _ = gz.write_all(text.as_bytes());
        gz.finish().unwrap_or_default()
    } else {
        text.into_bytes()
    };
    let hash: String = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let token = uuid::Uuid::new_v4().simple().to_string();
    st.bills.insert(token.clone(), bytes);
    // The download URL names the host the request reached, as WeChat's names its own.
    let url = format!("http://{host}/v3/billdownload/file?token={token}");
    (200, Some(json!({ "hash_type": "SHA1", "hash_value": hash, "download_url": url })))
}
