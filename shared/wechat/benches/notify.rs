//! Notify handling cost: signature verification (RSA-2048) plus AES-256-GCM decryption and
//! JSON parsing of a TRANSACTION.SUCCESS notify, on one core. `scripts/bench.sh` runs it beside
//! `openssl speed rsa2048` and records the ratio in docs/benchmarks/.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use wechat::pay::keys::{MerchantKey, PublicKey};
use wechat::pay::notify;
use wechat::pay::sign::response_message;
use wechat::pay::{ApiV3Key, SignedHeaders, Verifier};

fn bench(c: &mut Criterion) {
    let (platform, _) = MerchantKey::generate().expect("key");
    let verifier = Verifier::new();
    verifier.add("PUB_KEY_ID_01", PublicKey::from_pem(&platform.public_key_pem().expect("pem")).expect("key"));
    let key = ApiV3Key::new("0123456789abcdef0123456789abcdef").expect("key");
    let tx = json!({
        "transaction_id": "4200002360202407091150650780", "amount": {"payer_total": 3990, "total": 3990, "currency": "CNY", "payer_currency": "CNY"},
        "mchid": "1900000001", "trade_state": "SUCCESS", "bank_type": "OTHERS", "success_time": "2026-11-25T10:34:56+08:00",
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}, "out_trade_no": "O2026112500000001", "appid": "wx0000000000000001",
        "trade_state_desc": "支付成功", "trade_type": "JSAPI", "attach": "",
    });
    let body = json!({
        "id": "EV-2018022511223320873", "create_time": "2026-11-25T10:34:56+08:00", "resource_type": "encrypt-resource",
        "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
        "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": key.encrypt("0123456789ab", "transaction", tx.to_string().as_bytes()).expect("encrypt"),
            "associated_data": "transaction", "nonce": "0123456789ab"},
    })
    .to_string();
    let now = 1_764_000_000;
    let headers = SignedHeaders {
        timestamp: now.to_string(),
        nonce: "NONCE".into(),
        signature: platform.sign(&response_message(&now.to_string(), "NONCE", body.as_bytes())).expect("sign"),
        serial: "PUB_KEY_ID_01".into(),
    };
    let mut g = c.benchmark_group("notify");
    g.throughput(Throughput::Elements(1));
    g.bench_function("verify_decrypt_parse", |b| {
        b.iter(|| notify::open(&verifier, &key, &headers, body.as_bytes(), now).expect("valid notify"))
    });
    g.bench_function("verify_only", |b| b.iter(|| verifier.verify(&headers, body.as_bytes(), now).expect("valid")));
    g.bench_function("decrypt_parse_only", |b| {
        b.iter(|| notify::decrypt(&key, body.as_bytes()).expect("valid notify"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
