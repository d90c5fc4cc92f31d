//! Test-only controls under `/sim/`: the shopper pays, the certificate rotates, a notify of
//! the test's making is sent.

use super::*;

#[derive(Deserialize)]
pub struct PayBody {
    out_trade_no: String,
    /// When the payment happened (unix seconds); now by default. Lets a test make
    /// yesterday's payments for yesterday's bill.
    #[serde(default)]
    success_time: Option<i64>,
    /// The shopper pays an order already paid once more (WeChat's 重复支付: a second
    /// transaction for the same order number, which the merchant must refund).
    #[serde(default)]
    again: bool,
}

/// "The shopper pays": marks the order paid and sends TRANSACTION.SUCCESS.
pub fn pay(sim: &Sim, body: &PayBody) -> Result<Value, (u16, String)> {
    let m = sim.pay.merchant.clone().ok_or((400, "no merchant configured".to_owned()))?;
    let mut st = sim.pay.state();
    st.counter += 1;
    let tid = format!("4200{}{:018}", clock::now(), st.counter);
    if body.again {
        let first = st.orders.get(&body.out_trade_no).ok_or((404, "ORDER_NOT_EXIST".to_owned()))?;
        if first.transaction_id.is_none() {
            return Err((409, "order is not paid yet".into()));
        }
        let mut second = first.clone();
        second.state = "SUCCESS";
        second.transaction_id = Some(tid);
        second.success_time = Some(body.success_time.unwrap_or_else(clock::now));
        second.refunded = 0;
        let tx = transaction_json(&m, &second);
        let url = second.request.notify_url.clone();
        let key = format!("{}#again{}", body.out_trade_no, st.counter);
        st.orders.insert(key, second);
        drop(st);
        notify_paid(sim, url, &body.out_trade_no, &tx);
        return Ok(tx);
    }
    let o = st.orders.get_mut(&body.out_trade_no).ok_or((404, "ORDER_NOT_EXIST".to_owned()))?;
    if o.state != "NOTPAY" {
        return Err((409, format!("order is {}", o.state)));
    }
    if let Some(exp) = o.request.time_expire.as_deref().and_then(parse_rfc3339)
        && clock::now() > exp
    {
        return Err((409, "order expired".into()));
    }
    o.state = "SUCCESS";
    o.transaction_id = Some(tid);
    o.success_time = Some(body.success_time.unwrap_or_else(clock::now));
    let tx = transaction_json(&m, o);
    let url = o.request.notify_url.clone();
    drop(st);
    notify_paid(sim, url, &body.out_trade_no, &tx);
    Ok(tx)
}

/// Queues the TRANSACTION.SUCCESS notify of a payment of `out_trade_no`.
fn notify_paid(sim: &Sim, url: String, out_trade_no: &str, tx: &Value) {
    let n = PendingNotify {
        url,
        event_type: "TRANSACTION.SUCCESS".into(),
        key: out_trade_no.to_owned(),
        plaintext: tx.to_string(),
        original_type: "transaction",
    };
    enqueue(sim, n);
}

/// Replaces the platform certificate: answers and notifies carry a serial the shop has not
/// seen, so it must download certificates again.
pub fn rotate_certificate(sim: &Sim) -> Result<String, String> {
    let (signer, serial, pem) = new_certificate()?;
    let mut p = sim.pay.platform.write().unwrap_or_else(|e| e.into_inner());
    p.cert_signer = signer;
    p.cert_serial = serial.clone();
    p.cert_pem = pem;
    Ok(serial)
}

/// A new merchant key pair as (private PKCS#8 PEM, public PEM), for local runs and tests.
pub fn merchant_key_pem() -> Result<(String, String), String> {
    let (k, pem_text) = MerchantKey::generate().map_err(|e| e.to_string())?;
    Ok((pem_text, k.public_key_pem().map_err(|e| e.to_string())?))
}

#[derive(Deserialize)]
pub struct CustomNotify {
    pub url: String,
    pub event_type: String,
    /// The resource's plaintext, sent as given (signed and encrypted like any notify).
    pub resource: Value,
}

/// Sends a notify with a resource of the test's choosing (an amount that does not match,
/// another merchant's payment, an order the shop never had).
pub fn send_custom(sim: &Sim, n: CustomNotify) {
    let original_type = if n.event_type.starts_with("REFUND.") { "refund" } else { "transaction" };
    let key = n.resource.get("out_trade_no").and_then(Value::as_str).unwrap_or_default().to_owned();
    enqueue(
        sim,
        PendingNotify { url: n.url, event_type: n.event_type, key, plaintext: n.resource.to_string(), original_type },
    );
}

#[derive(Deserialize)]
pub struct Settle {
    pub out_refund_no: String,
    /// SUCCESS or CLOSED.
    pub status: String,
}

/// Ends a refund left ABNORMAL (or still processing) as WeChat Pay would once the shopper's
/// account is fixed or the merchant acts: its status changes and a REFUND.* notify goes out.
pub fn settle_refund(sim: &Sim, s: &Settle) -> Result<(), String> {
    if !matches!(s.status.as_str(), "SUCCESS" | "CLOSED") {
        return Err("status must be SUCCESS or CLOSED".into());
    }
    if !sim.pay.state().refunds.contains_key(&s.out_refund_no) {
        return Err("no such refund".into());
    }
    super::refunds::finish_refund(sim, &s.out_refund_no, &s.status);
    Ok(())
}

/// What `wx.requestPayment` is given (its documented parameters), with the appid of the
/// mini-program that calls it, which WeChat knows without being told.
#[derive(Deserialize)]
pub struct RequestPayment {
    #[serde(default, rename = "appId")]
    app_id: Option<String>,
    #[serde(default, rename = "timeStamp")]
    time_stamp: Option<String>,
    #[serde(default, rename = "nonceStr")]
    nonce_str: Option<String>,
    #[serde(default)]
    package: Option<String>,
    #[serde(default, rename = "signType")]
    sign_type: Option<String>,
    #[serde(default, rename = "paySign")]
    pay_sign: Option<String>,
}

/// The WeChat client's side of `wx.requestPayment` (JSAPI/mini-program, API v3): every
/// parameter present, `signType` RSA, `paySign` the merchant's SHA256-RSA signature of
/// "appId\ntimeStamp\nnonceStr\npackage\n", and `package` naming a prepay id of this
/// mini-program; then the shopper confirms and the order is paid as [`pay`] does. Errors
/// are `requestPayment:fail …`, as the mini-program sees them.
pub fn request_payment(sim: &Sim, r: &RequestPayment) -> Result<Value, (u16, String)> {
    let fail = |m: &str| (400, format!("requestPayment:fail {m}"));
    let m = sim.pay.merchant.clone().ok_or((400, "no merchant configured".to_owned()))?;
    let field = |v: &Option<String>, name: &str| {
        v.clone().filter(|s| !s.is_empty()).ok_or_else(|| fail(&format!("parameter error: {name} is required")))
    };
    let (appid, ts, nonce) =
        (field(&r.app_id, "appId")?, field(&r.time_stamp, "timeStamp")?, field(&r.nonce_str, "nonceStr")?);
    let (package, sign_type, pay_sign) =
        (field(&r.package, "package")?, field(&r.sign_type, "signType")?, field(&r.pay_sign, "paySign")?);
    if sign_type != "RSA" {
        return Err(fail("signType must be RSA for WeChat Pay API v3"));
    }
    if appid != m.appid {
        return Err(fail("the payment was not made for this mini-program"));
    }
    let key = PublicKey::from_pem(&m.public_key_pem).map_err(|_| fail("merchant key"))?;
    if !key.verify(format!("{appid}\n{ts}\n{nonce}\n{package}\n").as_bytes(), &pay_sign) {
        return Err(fail("paySign does not verify"));
    }
    let prepay_id = package.strip_prefix("prepay_id=").ok_or_else(|| fail("package must be prepay_id=…"))?;
    let out_trade_no = {
        let st = sim.pay.state();
        st.orders.values().find(|o| o.prepay_id == prepay_id).map(|o| o.request.out_trade_no.clone())
    }
    .ok_or_else(|| fail("no such prepay_id"))?;
    pay(sim, &PayBody { out_trade_no, success_time: None, again: false })?;
    Ok(json!({ "errMsg": "requestPayment:ok" }))
}
