//! Round trips and property tests of the v3 formats: whatever is signed verifies, and any
//! changed byte of body, timestamp, nonce or signature is refused.

use std::sync::OnceLock;

use domain::money::Fen;
use proptest::prelude::*;
use wechat::pay::bill::{self, BillRow};
use wechat::pay::keys::{MerchantKey, PublicKey};
use wechat::pay::sign::{self, parse_authorization, request_message, response_message};
use wechat::pay::{ApiV3Key, SignedHeaders, Verifier, VerifyError};

struct Fixture {
    key: MerchantKey,
    pem: String,
    verifier: Verifier,
}

const SERIAL: &str = "PUB_KEY_ID_0112860886012025062700111588000000";
const NOW: i64 = 1_764_000_000;

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let (key, pem) = MerchantKey::generate().unwrap();
        let verifier = Verifier::new();
        verifier.add(SERIAL, PublicKey::from_pem(&key.public_key_pem().unwrap()).unwrap());
        Fixture { key, pem, verifier }
    })
}

fn signed(body: &[u8], ts: i64, nonce: &str) -> SignedHeaders {
    let f = fixture();
    let signature = f.key.sign(&response_message(&ts.to_string(), nonce, body)).unwrap();
    SignedHeaders { timestamp: ts.to_string(), nonce: nonce.into(), signature, serial: SERIAL.into() }
}

#[test]
fn generated_keys_reload_from_pem() {
    let f = fixture();
    let again = MerchantKey::from_pem(&f.pem).unwrap();
    // PKCS#1 v1.5 signatures are deterministic: the reloaded key signs identically.
    assert_eq!(again.sign(b"x").unwrap(), f.key.sign(b"x").unwrap());
    assert!(!format!("{again:?}").contains("PRIVATE"), "keys never print");
}

#[test]
fn authorization_header_round_trip() {
    let f = fixture();
    let body = br#"{"mchid":"1900000001"}"#;
    let h = sign::authorization(
        &sign::Credentials { mchid: "1900000001", serial_no: "SERIAL01", key: &f.key },
        "POST",
        "/v3/pay/transactions/out-trade-no/A1/close",
        body,
        NOW,
        "NONCE1",
    )
    .unwrap();
    let parts = parse_authorization(&h).unwrap();
    assert_eq!(
        (parts.mchid.as_str(), parts.serial_no.as_str(), parts.nonce_str.as_str()),
        ("1900000001", "SERIAL01", "NONCE1")
    );
    let msg = request_message("POST", "/v3/pay/transactions/out-trade-no/A1/close", NOW, "NONCE1", body);
    assert_eq!(
        msg,
        format!("POST\n/v3/pay/transactions/out-trade-no/A1/close\n{NOW}\nNONCE1\n{{\"mchid\":\"1900000001\"}}\n")
            .into_bytes()
    );
    assert!(f.key.public_key().unwrap().verify(&msg, &parts.signature));
    // A GET signs an empty body, so the message ends "\n\n".
    assert!(request_message("GET", "/v3/certificates", NOW, "N", b"").ends_with(b"N\n\n"));
    assert!(parse_authorization("Bearer x").is_none());
    assert!(parse_authorization("WECHATPAY2-SHA256-RSA2048 mchid=\"1\"").is_none());
}

#[test]
fn pay_sign_is_over_the_four_lines() {
    let f = fixture();
    let msg = sign::pay_sign_message(
        "wxd678efh567hg6787",
        "1414561699",
        "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        "prepay_id=wx201410272009395522657a690389285100",
    );
    assert_eq!(
        msg,
        b"wxd678efh567hg6787\n1414561699\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\nprepay_id=wx201410272009395522657a690389285100\n".to_vec()
    );
    let sig = f.key.sign(&msg).unwrap();
    assert!(f.key.public_key().unwrap().verify(&msg, &sig));
}

#[test]
fn nonces_look_like_the_sdks() {
    let a = sign::nonce();
    assert_eq!(a.len(), 32);
    assert!(a.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
    assert_ne!(a, sign::nonce());
}

#[test]
fn another_key_is_refused() {
    let (other, _) = MerchantKey::generate().unwrap();
    let body = b"{}";
    let mut h = signed(body, NOW, "n");
    h.signature = other.sign(&response_message(&h.timestamp, &h.nonce, body)).unwrap();
    assert_eq!(fixture().verifier.verify(&h, body, NOW), Err(VerifyError::BadSignature));
}

fn sample_row(i: i64, refund: bool) -> BillRow {
    BillRow {
        trade_time: format!("2026-11-24 10:{:02}:00", i % 60),
        appid: "wx0000000000000001".into(),
        mchid: "1900000001".into(),
        sub_mchid: "0".into(),
        transaction_id: format!("42000{i:023}"),
        out_trade_no: format!("O{i:010}"),
        openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".into(),
        trade_type: "JSAPI".into(),
        trade_state: if refund { "REFUND".into() } else { "SUCCESS".into() },
        bank_type: "OTHERS".into(),
        currency: "CNY".into(),
        settlement_total: Fen::new(if refund { 0 } else { 100 * i + 1 }),
        refund_id: if refund { format!("503{i:026}") } else { "0".into() },
        out_refund_no: if refund { format!("R{i:010}") } else { "0".into() },
        refund: Fen::new(if refund { 50 * i } else { 0 }),
        refund_type: if refund { "ORIGINAL".into() } else { String::new() },
        refund_status: if refund { "SUCCESS".into() } else { String::new() },
        body: "阿克苏苹果, 5斤".into(),
        attach: r#"{"a":1,"b":[2,3]}"#.into(),
        fee_milli_fen: if refund { -300 * i } else { 600 * i + 6 },
        rate: "0.60%".into(),
        order_total: Fen::new(if refund { 0 } else { 100 * i + 1 }),
        refund_requested: Fen::new(if refund { 50 * i } else { 0 }),
        ..BillRow::default()
    }
}

#[test]
fn bill_round_trip_and_refusals() {
    let rows: Vec<BillRow> = (1..=5).map(|i| sample_row(i, i % 2 == 0)).collect();
    let text = bill::render(&rows);
    assert!(text.lines().nth(1).unwrap().starts_with("`2026-11-24 10:01:00,`wx0000000000000001,"));
    let parsed = bill::parse(&text).unwrap();
    assert_eq!(parsed.rows, rows);
    assert_eq!(parsed.summary.count, 5);
    assert_eq!(parsed.summary.refund_total, Fen::new(50 * 2 + 50 * 4));
    // A line lost in transit no longer adds up to the summary.
    let cut: String = text.lines().enumerate().filter(|(i, _)| *i != 2).map(|(_, l)| format!("{l}\n")).collect();
    assert!(bill::parse(&cut).is_err());
    let no_summary: String = text.lines().take(6).map(|l| format!("{l}\n")).collect();
    assert_eq!(bill::parse(&no_summary), Err(bill::BillError::NoSummary));
    assert_eq!(bill::parse("garbage"), Err(bill::BillError::NoHeader));
}

/// The real 2024 row shape from the reference (a payment and a refund of the same day).
#[test]
fn bill_parses_wechat_sample_rows() {
    let text = format!(
        "{}\r\n{}\r\n{}\r\n{}\r\n{}\r\n",
        bill::HEADER,
        "`2024-07-09 10:06:33,`wxe1696e7c7db8e7f4,`1579507281,`0,`,`4200002360202407091150650780,`5622334254839656448,`oVgfJ5TrnzDOSuaxbFc33mw-5LUY,`JSAPI,`SUCCESS,`OTHERS,`CNY,`60.00,`0.00,`0,`0,`0.00,`0.00,`,`,`2024-07-10 13:50 客户付款,`{\"statement_id\":\"5622334254839656448\"},`0.32000,`0.54%,`60.00,`0.00,`",
        "`2024-07-09 16:47:58,`wxe1696e7c7db8e7f4,`1579507281,`0,`,`4200002360202407091150650780,`5622334254839656448,`oVgfJ5TrnzDOSuaxbFc33mw-5LUY,`JSAPI,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`50302709992024070991956632208,`5622435300878286848,`50.00,`0.00,`ORIGINAL,`SUCCESS,`x,`,`-0.27000,`0.54%,`0.00,`50.00,`",
        bill::SUMMARY_HEADER,
        "`2,`60.00,`50.00,`0.00,`0.05000,`60.00,`50.00",
    );
    let b = bill::parse(&text).unwrap();
    assert_eq!(b.rows[0].settlement_total, Fen::new(6000));
    assert_eq!(b.rows[0].attach, r#"{"statement_id":"5622334254839656448"}"#);
    assert_eq!(b.rows[0].fee_milli_fen, 32_000);
    assert!(b.rows[1].is_refund());
    assert_eq!(b.rows[1].refund, Fen::new(5000));
    assert_eq!(b.rows[1].fee_milli_fen, -27_000);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_changed_byte_is_refused(
        body in proptest::collection::vec(any::<u8>(), 0..300),
        nonce in "[0-9A-Z]{32}",
        skew in -299i64..299,
        which in 0usize..4,
        pos in any::<usize>(),
        flip in 1u8..=255,
    ) {
        let f = fixture();
        let h = signed(&body, NOW + skew, &nonce);
        prop_assert_eq!(f.verifier.verify(&h, &body, NOW), Ok(()));
        let mut h2 = h.clone();
        let mut body2 = body.clone();
        match which {
            0 if !body2.is_empty() => { let i = pos % body2.len(); body2[i] ^= flip; }
            0 => body2.push(flip),
            1 => h2.timestamp = (NOW + skew + 1 + (pos % 100) as i64).to_string(),
            2 => { let mut n = h2.nonce.into_bytes(); let i = pos % n.len(); n[i] = if n[i] == b'A' { b'B' } else { b'A' }; h2.nonce = String::from_utf8(n).unwrap(); }
            _ => {
                let mut raw = base64_decode(&h2.signature);
                let i = pos % raw.len();
                raw[i] ^= flip;
                h2.signature = base64_encode(&raw);
            }
        }
        prop_assert!(f.verifier.verify(&h2, &body2, NOW).is_err());
    }

    #[test]
    fn aead_round_trip_and_tamper(
        plain in proptest::collection::vec(any::<u8>(), 0..500),
        aad in "[a-z]{0,15}",
        nonce in "[0-9a-zA-Z]{12}",
        pos in any::<usize>(),
        flip in 1u8..=255,
    ) {
        let key = ApiV3Key::new("0123456789abcdef0123456789abcdef").unwrap();
        let ct = key.encrypt(&nonce, &aad, &plain).unwrap();
        prop_assert_eq!(key.decrypt(&nonce, &aad, &ct).unwrap(), plain);
        let mut raw = base64_decode(&ct);
        let i = pos % raw.len();
        raw[i] ^= flip;
        prop_assert!(key.decrypt(&nonce, &aad, &base64_encode(&raw)).is_err());
    }

    #[test]
    fn bill_rows_round_trip(n in 0i64..40, refunds in any::<u64>()) {
        let rows: Vec<BillRow> = (1..=n).map(|i| sample_row(i, refunds >> (i % 64) & 1 == 1)).collect();
        let parsed = bill::parse(&bill::render(&rows)).unwrap();
        prop_assert_eq!(parsed.rows, rows);
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}
