//! The WeChat Pay calls the shop makes. Every request is signed; every answer is verified
//! before a byte of it is believed (except the bill file, which WeChat does not sign and
//! which is checked against the SHA1 from the signed bill answer instead). Timeouts are
//! bounded; calls WeChat documents as idempotent (a query, or a create repeated with the same
//! out_trade_no / out_refund_no) are retried with backoff on network errors, 5xx and 429.

use domain::ids::{OpenId, OrderNo};
use std::time::Duration;

use aws_lc_rs::digest;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::aead::{AeadError, ApiV3Key};
use super::bill::{self, Bill, BillError};
use super::keys::{KeyError, MerchantKey, PublicKey, from_certificate_pem};
use super::notify::{self, NotifyError, Verified};
use super::sign;
use super::types::*;
use super::verify::{SignedHeaders, Verifier, VerifyError};
use crate::settings::PaySettings;
use domain::clock;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PayError {
    /// WeChat Pay answered with its error body (`ORDERPAID`, `NOT_ENOUGH`, `SIGN_ERROR`, …).
    /// `verified` says whether the answer carried a valid WeChat Pay signature; one that did
    /// not (a gateway's 502, an unsigned 401) may be acted on only as a failure, never as a
    /// fact about an order.
    #[error("WeChat Pay answered {status} {code}: {message}")]
    Api { status: u16, code: String, message: String, verified: bool },
    #[error("WeChat Pay could not be reached: {0}")]
    Transport(String),
    #[error("WeChat Pay's answer failed verification: {0}")]
    Signature(VerifyError),
    #[error("WeChat Pay's answer was not understood: {0}")]
    BadAnswer(String),
    #[error("the bill file does not match its hash")]
    BillHash,
    #[error("the bill file: {0}")]
    Bill(BillError),
    #[error("merchant key: {0}")]
    Key(KeyError),
    #[error("decryption: {0}")]
    Decrypt(AeadError),
}

impl PayError {
    pub fn code(&self) -> Option<&str> {
        match self {
            PayError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The error code, only when the answer was signed by WeChat Pay.
    pub fn verified_code(&self) -> Option<&str> {
        match self {
            PayError::Api { code, verified: true, .. } => Some(code),
            _ => None,
        }
    }

    /// The typed code of a signed error answer: what the shop may act on.
    pub fn verified_kind(&self) -> Option<ErrorCode> {
        self.verified_code().map(ErrorCode::parse)
    }

    fn retryable(&self) -> bool {
        match self {
            PayError::Transport(_) => true,
            PayError::Api { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

/// WeChat Pay's error codes the shop acts on, typed; any other code is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    OrderPaid,
    OrderClosed,
    OrderNotExist,
    NotEnough,
    FrequencyLimited,
    SystemError,
    BankError,
    SignError,
    ParamError,
    InvalidRequest,
    NoStatementExist,
    StatementCreating,
    Other,
}

impl ErrorCode {
    pub fn parse(code: &str) -> ErrorCode {
        match code {
            "ORDERPAID" => Self::OrderPaid,
            "ORDER_CLOSED" => Self::OrderClosed,
            "ORDER_NOT_EXIST" | "RESOURCE_NOT_EXISTS" => Self::OrderNotExist,
            "NOT_ENOUGH" => Self::NotEnough,
            "FREQUENCY_LIMITED" => Self::FrequencyLimited,
            "SYSTEM_ERROR" => Self::SystemError,
            "BANK_ERROR" => Self::BankError,
            "SIGN_ERROR" => Self::SignError,
            "PARAM_ERROR" => Self::ParamError,
            "INVALID_REQUEST" => Self::InvalidRequest,
            "NO_STATEMENT_EXIST" => Self::NoStatementExist,
            "STATEMENT_CREATING" => Self::StatementCreating,
            _ => Self::Other,
        }
    }

    /// Worth retrying with the same parameters (WeChat's advice for these).
    pub fn transient(self) -> bool {
        matches!(self, Self::SystemError | Self::BankError | Self::FrequencyLimited)
    }
}

const ATTEMPTS: u32 = 3;

/// The least time worth starting an attempt with (a signed round trip to WeChat Pay).
const MIN_ATTEMPT: Duration = Duration::from_millis(300);

/// Least time between certificate downloads caused by notifies.
const NOTIFY_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

pub struct PayClient {
    http: reqwest::Client,
    base: String,
    mchid: String,
    appid: String,
    serial: String,
    key: MerchantKey,
    apiv3: ApiV3Key,
    notify_url: String,
    public_key_id: Option<String>,
    verifier: Verifier,
    /// Serialises certificate downloads and remembers when a notify last caused one.
    refresh: tokio::sync::Mutex<Option<tokio::time::Instant>>,
    backoff: Duration,
    timeout: Duration,
}

impl std::fmt::Debug for PayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayClient").field("base", &self.base).field("mchid", &self.mchid).finish_non_exhaustive()
    }
}

struct Answer {
    status: u16,
    body: Vec<u8>,
    headers: Option<SignedHeaders>,
}

impl PayClient {
    pub fn new(http: reqwest::Client, appid: &str, s: &PaySettings) -> Result<Self, PayError> {
        let verifier = Verifier::new();
        if let Some((id, pem)) = &s.public_key {
            verifier.add(id, PublicKey::from_pem(pem).map_err(PayError::Key)?);
        }
        Ok(Self {
            http,
            base: s.api_base.clone(),
            mchid: s.mchid.clone(),
            appid: appid.to_owned(),
            serial: s.mch_serial.clone(),
            key: MerchantKey::from_pem(&s.mch_key_pem).map_err(PayError::Key)?,
            apiv3: ApiV3Key::new(&s.apiv3_key).map_err(PayError::Decrypt)?,
            notify_url: s.notify_url.clone(),
            public_key_id: s.public_key.as_ref().map(|(id, _)| id.clone()),
            verifier,
            refresh: tokio::sync::Mutex::new(None),
            backoff: Duration::from_millis(200),
            timeout: Duration::from_secs(10),
        })
    }

    /// Sets the first retry's backoff (doubling after) and each attempt's timeout.
    pub fn with_timing(mut self, backoff: Duration, timeout: Duration) -> Self {
        self.backoff = backoff;
        self.timeout = timeout;
        self
    }

    pub fn mchid(&self) -> &str {
        &self.mchid
    }

    pub fn appid(&self) -> &str {
        &self.appid
    }

    /// Where WeChat Pay sends this merchant's payment and refund notifies.
    pub fn notify_url(&self) -> &str {
        &self.notify_url
    }

    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    async fn send_once(&self, method: &str, path: &str, body: &[u8]) -> Result<Answer, PayError> {
        let nonce = sign::nonce();
        let ts = clock::wall();
        let who = sign::Credentials { mchid: &self.mchid, serial_no: &self.serial, key: &self.key };
        let auth = sign::authorization(&who, method, path, body, ts, &nonce).map_err(PayError::Key)?;
        let m = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| PayError::Transport(e.to_string()))?;
        let mut req = self
            .http
            .request(m, format!("{}{path}", self.base))
            .header("Authorization", auth)
            .header("Accept", "application/json")
            .timeout(crate::deadline::attempt_timeout(self.timeout));
        if let Some(id) = &self.public_key_id {
            // Asks WeChat Pay to sign the answer with the public key the shop trusts.
            req = req.header("Wechatpay-Serial", id);
        }
        if !body.is_empty() {
            req = req.header("Content-Type", "application/json").body(body.to_vec());
        }
        let resp = req.send().await.map_err(|e| PayError::Transport(e.without_url().to_string()))?;
        let status = resp.status().as_u16();
        let headers = SignedHeaders::from_lookup(|n| resp.headers().get(n).and_then(|v| v.to_str().ok())).ok();
        let body = resp.bytes().await.map_err(|e| PayError::Transport(e.without_url().to_string()))?.to_vec();
        Ok(Answer { status, body, headers })
    }

    /// Turns an answer into its body, verifying it when `verify` asks (always for errors
    /// that carry a signature).
    async fn check(&self, a: Answer, verify: bool) -> Result<Answer, PayError> {
        let ok = (200..300).contains(&a.status);
        let verified = match &a.headers {
            Some(h) if verify || !ok => {
                self.verify_answer(h, &a.body).await?;
                true
            }
            None if ok && verify => return Err(PayError::Signature(VerifyError::MissingHeader("wechatpay-signature"))),
            _ => false,
        };
        if ok {
            return Ok(a);
        }
        let e: ErrorBody = serde_json::from_slice(&a.body).unwrap_or(ErrorBody {
            code: if a.status >= 500 { "SYSTEM_ERROR".into() } else { "UNKNOWN".into() },
            message: String::new(),
        });
        Err(PayError::Api { status: a.status, code: e.code, message: e.message, verified })
    }

    /// Sends a signed request, retrying when `retry` allows, and verifies the answer when
    /// `verify` asks.
    async fn send(&self, method: &str, path: &str, body: &[u8], retry: bool, verify: bool) -> Result<Answer, PayError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            if !crate::deadline::allows(Duration::ZERO, MIN_ATTEMPT) {
                return Err(PayError::Transport("no time left for the call before the request's deadline".into()));
            }
            let result = match self.send_once(method, path, body).await {
                Ok(a) => self.check(a, verify).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(answer) => return Ok(answer),
                Err(e)
                    if retry
                        && attempt < ATTEMPTS
                        && e.retryable()
                        && crate::deadline::allows(self.backoff * 2u32.pow(attempt - 1), MIN_ATTEMPT) =>
                {
                    tracing::warn!(error = %e, attempt, "WeChat Pay call failed, retrying");
                    tokio::time::sleep(self.backoff * 2u32.pow(attempt - 1)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Verifies with the known keys; an unknown serial triggers one certificate refresh.
    async fn verify_answer(&self, h: &SignedHeaders, body: &[u8]) -> Result<(), PayError> {
        match self.verifier.verify(h, body, clock::wall()) {
            Err(VerifyError::UnknownSerial(serial)) => {
                self.refresh_certificates_for(&serial, false).await?;
                self.verifier.verify(h, body, clock::wall()).map_err(PayError::Signature)
            }
            other => other.map_err(PayError::Signature),
        }
    }

    /// Downloads the platform certificates unless another task just fetched `serial`.
    /// `from_notify`: the serial came from the public webhook, where anyone can send one;
    /// such requests download at most once a minute, so forged serials cannot make the shop
    /// call WeChat Pay for every request. Answers to the shop's own calls are not throttled.
    async fn refresh_certificates_for(&self, serial: &str, from_notify: bool) -> Result<(), PayError> {
        let mut last = self.refresh.lock().await;
        if self.verifier.knows(serial) {
            return Ok(());
        }
        if from_notify {
            if last.is_some_and(|t| t.elapsed() < NOTIFY_REFRESH_INTERVAL) {
                return Ok(());
            }
            *last = Some(tokio::time::Instant::now());
        }
        self.refresh_certificates().await
    }

    /// `GET /v3/certificates`: decrypts each certificate with the APIv3 key (which is what
    /// makes them trustworthy), then verifies the answer itself with them or with any key
    /// already trusted: WeChat Pay signs it with the public key when the shop has one.
    pub async fn refresh_certificates(&self) -> Result<(), PayError> {
        let answer = self.send_once("GET", "/v3/certificates", b"").await?;
        if !(200..300).contains(&answer.status) {
            let e: ErrorBody = serde_json::from_slice(&answer.body)
                .unwrap_or(ErrorBody { code: "UNKNOWN".into(), message: String::new() });
            return Err(PayError::Api { status: answer.status, code: e.code, message: e.message, verified: false });
        }
        let headers = answer.headers.clone();
        let list: CertificateList = parse(&answer.body)?;
        let fresh = self.verifier.snapshot();
        let mut found = Vec::new();
        for entry in &list.data {
            let r = &entry.encrypt_certificate;
            let pem = self.apiv3.decrypt(&r.nonce, &r.associated_data, &r.ciphertext).map_err(PayError::Decrypt)?;
            let pem = String::from_utf8(pem).map_err(|_| PayError::BadAnswer("certificate is not text".into()))?;
            let (key, serial) = from_certificate_pem(&pem).map_err(PayError::Key)?;
            if !serial.eq_ignore_ascii_case(&entry.serial_no) {
                return Err(PayError::BadAnswer("certificate serial does not match its entry".into()));
            }
            fresh.add(&serial, key.clone());
            found.push((serial, key));
        }
        let h = headers.ok_or(PayError::Signature(VerifyError::MissingHeader("wechatpay-signature")))?;
        fresh.verify(&h, &answer.body, clock::wall()).map_err(PayError::Signature)?;
        for (serial, key) in found {
            self.verifier.add(&serial, key);
        }
        tracing::info!(count = list.data.len(), "platform certificates refreshed");
        Ok(())
    }

    async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, PayError> {
        let bytes = serde_json::to_vec(body).map_err(|e| PayError::BadAnswer(e.to_string()))?;
        parse(&self.send("POST", path, &bytes, true, true).await?.body)
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, PayError> {
        match self.send("GET", path, b"", true, true).await {
            Ok(a) => parse(&a.body).map(Some),
            // "No such order" is believed only when WeChat Pay signed it.
            Err(PayError::Api { status: 404, verified: true, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// JSAPI prepay. Repeating it with the same out_trade_no and parameters returns the same
    /// prepay_id, which is what makes the retry safe.
    pub async fn prepay(
        &self,
        out_trade_no: &OrderNo,
        description: &str,
        total_fen: i64,
        openid: &OpenId,
        expires_at: i64,
        attach: Option<&str>,
    ) -> Result<String, PayError> {
        let req = PrepayRequest {
            appid: self.appid.clone(),
            mchid: self.mchid.clone(),
            description: description.chars().take(127).collect(),
            out_trade_no: out_trade_no.to_string(),
            time_expire: Some(rfc3339(expires_at)),
            attach: attach.map(str::to_owned),
            notify_url: self.notify_url.clone(),
            amount: Amount { total: total_fen, currency: "CNY".into() },
            payer: Payer { openid: openid.to_string() },
        };
        let a: PrepayAnswer = self.post("/v3/pay/transactions/jsapi", &req).await?;
        Ok(a.prepay_id)
    }

    /// The parameters of `wx.requestPayment` for a prepay_id, with its RSA paySign.
    pub fn request_payment(&self, prepay_id: &str) -> Result<RequestPayment, PayError> {
        let time_stamp = clock::wall().to_string();
        let nonce_str = sign::nonce();
        let package = format!("prepay_id={prepay_id}");
        let pay_sign = self
            .key
            .sign(&sign::pay_sign_message(&self.appid, &time_stamp, &nonce_str, &package))
            .map_err(PayError::Key)?;
        Ok(RequestPayment { time_stamp, nonce_str, package, sign_type: "RSA".into(), pay_sign })
    }

    /// The payment of an order, or `None` when WeChat Pay has no such order.
    pub async fn query(&self, out_trade_no: &str) -> Result<Option<Transaction>, PayError> {
        self.get(&format!("/v3/pay/transactions/out-trade-no/{}?mchid={}", path_safe(out_trade_no)?, self.mchid)).await
    }

    /// Closes an unpaid order. A paid one answers `ORDERPAID`.
    pub async fn close(&self, out_trade_no: &str) -> Result<(), PayError> {
        let body = serde_json::to_vec(&serde_json::json!({ "mchid": self.mchid }))
            .map_err(|e| PayError::BadAnswer(e.to_string()))?;
        let path = format!("/v3/pay/transactions/out-trade-no/{}/close", path_safe(out_trade_no)?);
        self.send("POST", &path, &body, true, true).await.map(|_| ())
    }

    /// Creates (or, with the same out_refund_no, finds) a refund.
    pub async fn refund(&self, req: &RefundRequest) -> Result<Refund, PayError> {
        self.post("/v3/refund/domestic/refunds", req).await
    }

    pub async fn query_refund(&self, out_refund_no: &str) -> Result<Option<Refund>, PayError> {
        self.get(&format!("/v3/refund/domestic/refunds/{}", path_safe(out_refund_no)?)).await
    }

    /// Where the trade bill (all payments and refunds) of a `YYYY-MM-DD` day can be fetched.
    pub async fn trade_bill(&self, date: &str) -> Result<BillLocation, PayError> {
        let ok = date.len() == 10
            && date.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
        if !ok {
            return Err(PayError::BadAnswer(format!("bill date must be YYYY-MM-DD, not {date:?}")));
        }
        self.get(&format!("/v3/bill/tradebill?bill_date={date}&bill_type=ALL")).await?.ok_or_else(|| PayError::Api {
            status: 404,
            code: "NO_STATEMENT_EXIST".into(),
            message: String::new(),
            verified: true,
        })
    }

    /// Downloads and parses a bill. The file is not signed; its SHA1 from the signed
    /// [`BillLocation`] is checked instead.
    pub async fn download_bill(&self, loc: &BillLocation) -> Result<Bill, PayError> {
        let path = loc
            .download_url
            .find("/v3/")
            .map(|i| &loc.download_url[i..])
            .ok_or_else(|| PayError::BadAnswer("download_url has no /v3/ path".into()))?;
        let answer = self.send("GET", path, b"", true, false).await?;
        if !loc.hash_type.eq_ignore_ascii_case("SHA1") {
            return Err(PayError::BadAnswer(format!("unsupported bill hash {}", loc.hash_type)));
        }
        let hash = domain::hex(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &answer.body).as_ref());
        if !hash.eq_ignore_ascii_case(&loc.hash_value) {
            return Err(PayError::BillHash);
        }
        let text = String::from_utf8(answer.body).map_err(|_| PayError::BadAnswer("bill is not UTF-8".into()))?;
        bill::parse(&text).map_err(PayError::Bill)
    }

    /// Verifies and decrypts a notify; an unknown serial triggers one certificate refresh.
    pub async fn open_notify(&self, headers: &SignedHeaders, body: &[u8]) -> Result<Verified, NotifyError> {
        match self.verifier.verify(headers, body, clock::wall()) {
            Err(VerifyError::UnknownSerial(serial)) => {
                if let Err(e) = self.refresh_certificates_for(&serial, true).await {
                    tracing::warn!(error = %e, "certificate refresh for a notify failed");
                }
                notify::open(&self.verifier, &self.apiv3, headers, body, clock::wall())
            }
            Err(e) => Err(e.into()),
            Ok(()) => notify::decrypt(&self.apiv3, body),
        }
    }
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, PayError> {
    serde_json::from_slice(body).map_err(|e| PayError::BadAnswer(e.to_string()))
}

/// Order and refund numbers are [0-9A-Za-z_-|*], so they go into a path unescaped; anything
/// else is refused rather than sent.
fn path_safe(s: &str) -> Result<&str, PayError> {
    if !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-|*".contains(&b)) {
        Ok(s)
    } else {
        Err(PayError::BadAnswer(format!("not an order number: {s:?}")))
    }
}

/// Unix seconds as RFC 3339 in Shanghai time, the form WeChat Pay uses.
pub fn rfc3339(unix: i64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]+08:00");
    clock::shanghai(unix).format(&fmt).unwrap_or_default()
}

/// Unix milliseconds as RFC 3339 in Shanghai time with milliseconds, the form WeChat's
/// shipping information takes (`2022-12-15T13:29:35.120+08:00`).
pub fn rfc3339_millis(unix_ms: i64) -> String {
    let fmt =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+08:00");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(clock::SHANGHAI)
        .format(&fmt)
        .unwrap_or_default()
}

/// Parses WeChat Pay's RFC 3339 times into unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok().map(|t| t.unix_timestamp())
}
