//! WeChat Pay v3 end to end against the simulator: the shop's client signs, the simulator
//! checks; the simulator signs and encrypts, the client verifies and decrypts.

use domain::money::Fen;
use e2e::pay::{APPID, Rig, Trust};
use simulator::Faults;
use simulator::pay::SignWith;
use wechat::pay::keys::MerchantKey;
use wechat::pay::notify::Event;
use wechat::pay::sign::pay_sign_message;
use wechat::pay::types::{RefundAmountRequest, RefundRequest};
use wechat::pay::{PayError, VerifyError};

const OPENID: &str = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";

fn order_no() -> String {
    format!("T{}", &uuid::Uuid::new_v4().simple().to_string()[..20])
}

fn later() -> i64 {
    domain::clock::now() + 1800
}

fn refund_req(out_trade_no: &str, out_refund_no: &str, refund: i64, total: i64) -> RefundRequest {
    RefundRequest {
        transaction_id: None,
        out_trade_no: Some(out_trade_no.into()),
        out_refund_no: out_refund_no.into(),
        reason: Some("商品已售完".into()),
        notify_url: None,
        amount: RefundAmountRequest { refund, total, currency: "CNY".into() },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepay_pay_notify_query_close_refund_bill() {
    let rig = Rig::start(Trust::PublicKey).await;
    let c = &rig.client;
    let no = order_no();
    let prepay_id =
        c.prepay(&e2e::id(&no), "阿克苏苹果 5斤", 3990, &e2e::id(OPENID), later(), Some("shop-order")).await.unwrap();
    // A retry with the same parameters gets the same prepay_id.
    assert_eq!(
        c.prepay(&e2e::id(&no), "阿克苏苹果 5斤", 3990, &e2e::id(OPENID), later(), Some("shop-order")).await.unwrap(),
        prepay_id
    );
    let rp = c.request_payment(&prepay_id).unwrap();
    assert_eq!(rp.package, format!("prepay_id={prepay_id}"));
    assert_eq!(rp.sign_type, "RSA");
    let merchant = MerchantKey::from_pem(&rig.merchant_key_pem).unwrap().public_key().unwrap();
    assert!(merchant.verify(&pay_sign_message(APPID, &rp.time_stamp, &rp.nonce_str, &rp.package), &rp.pay_sign));

    let before = c.query(&no).await.unwrap().unwrap();
    assert_eq!(before.trade_state, "NOTPAY");
    assert!(before.transaction_id.is_none());

    assert_eq!(rig.pay(&no, None).await.status(), 200);
    assert!(rig.wait_for(1, false).await, "the payment notify arrives and verifies");
    let paid = {
        let r = rig.received.lock().unwrap();
        match &r.verified[0].event {
            Event::Paid(t) => t.clone(),
            other => panic!("expected a payment, got {other:?}"),
        }
    };
    assert_eq!(paid.out_trade_no, no);
    assert_eq!(paid.amount.as_ref().unwrap().total, 3990);
    assert_eq!(paid.mchid, e2e::pay::MCHID);
    assert_eq!(paid.attach.as_deref(), Some("shop-order"));
    let queried = c.query(&no).await.unwrap().unwrap();
    assert!(queried.is_paid());
    assert_eq!(queried.transaction_id, paid.transaction_id);

    let closed = c.close(&no).await.unwrap_err();
    assert_eq!(closed.code(), Some("ORDERPAID"), "a paid order cannot be closed");
    let other = order_no();
    c.prepay(&e2e::id(&other), "茶杯", 12800, &e2e::id(OPENID), later(), None).await.unwrap();
    c.close(&other).await.unwrap();
    assert_eq!(c.query(&other).await.unwrap().unwrap().trade_state, "CLOSED");
    assert_eq!(rig.pay(&other, None).await.status(), 409, "a closed order cannot be paid");
    assert!(c.query("T0000000000nonexistent").await.unwrap().is_none());

    let r = c.refund(&refund_req(&no, &format!("R{no}"), 1000, 3990)).await.unwrap();
    assert_eq!(r.status.as_str(), "PROCESSING");
    let again = c.refund(&refund_req(&no, &format!("R{no}"), 1000, 3990)).await.unwrap();
    assert_eq!(again.refund_id, r.refund_id, "same out_refund_no, same refund");
    let too_much = c.refund(&refund_req(&no, &format!("X{no}"), 2991, 3990)).await.unwrap_err();
    assert_eq!(too_much.code(), Some("NOT_ENOUGH"), "never more than paid minus refunded");
    assert!(rig.wait_for(2, false).await, "the refund notify arrives");
    {
        let rec = rig.received.lock().unwrap();
        match &rec.verified[1].event {
            Event::Refund(n) => {
                assert_eq!((n.refund_status.as_str(), n.amount.refund), ("SUCCESS", 1000));
                assert_eq!(n.out_refund_no, format!("R{no}"));
            }
            other => panic!("expected a refund, got {other:?}"),
        }
    }
    assert_eq!(c.query_refund(&format!("R{no}")).await.unwrap().unwrap().status.as_str(), "SUCCESS");

    // Yesterday's bill (Shanghai day) lists a payment made yesterday; today's is not out yet.
    let yesterday_noon = domain::clock::now() - 86_400;
    let y = order_no();
    c.prepay(&e2e::id(&y), "昨日订单", 500, &e2e::id(OPENID), later(), None).await.unwrap();
    assert_eq!(rig.pay(&y, Some(yesterday_noon)).await.status(), 200);
    let day = domain::clock::business_day(yesterday_noon).unwrap().to_string();
    let loc = c.trade_bill(&day).await.unwrap();
    let bill = c.download_bill(&loc).await.unwrap();
    let row = bill.rows.iter().find(|r| r.out_trade_no == y).expect("yesterday's payment is in the bill");
    assert_eq!(row.settlement_total, Fen::new(500));
    assert_eq!(row.fee_milli_fen, 3000, "0.6% of 5 yuan is 3 fen");
    assert!(bill.rows.iter().all(|r| r.out_trade_no != no), "today's payment is not");
    let today = domain::clock::business_day(domain::clock::now()).unwrap().to_string();
    assert_eq!(c.trade_bill(&today).await.unwrap_err().code(), Some("NO_STATEMENT_EXIST"));
    // A bill whose bytes do not match the signed hash is refused.
    let mut wrong = loc.clone();
    wrong.hash_value = "0".repeat(40);
    assert_eq!(c.download_bill(&wrong).await.unwrap_err(), PayError::BillHash);
}

#[tokio::test]
async fn a_wrong_merchant_signature_is_refused_with_sign_error() {
    let rig = Rig::start(Trust::PublicKey).await;
    let (_, other_pem) = MerchantKey::generate().unwrap();
    let impostor = Rig::client_for(&rig.sim, &other_pem, &rig.notify_url, Trust::PublicKey);
    let e = impostor.query("T1234567890").await.unwrap_err();
    assert!(matches!(&e, PayError::Api { status: 401, code, .. } if code == "SIGN_ERROR"), "{e:?}");
}

#[tokio::test]
async fn answers_signed_by_an_untrusted_key_are_refused() {
    let rig = Rig::start(Trust::PublicKey).await;
    let mut settings = Rig::settings(&rig.sim, &rig.merchant_key_pem, &rig.notify_url, Trust::PublicKey);
    let (stranger, _) = MerchantKey::generate().unwrap();
    settings.public_key = Some((simulator::pay::PUBLIC_KEY_ID.into(), stranger.public_key_pem().unwrap()));
    let c = wechat::pay::PayClient::new(reqwest::Client::new(), APPID, &settings).unwrap();
    let e = c.query("T1234567890").await.unwrap_err();
    assert_eq!(e, PayError::Signature(VerifyError::BadSignature));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_mode_downloads_and_rotates_certificates() {
    let rig = Rig::start(Trust::Certificates).await;
    rig.faults(Faults { sign_with: SignWith::Certificate, ..Default::default() });
    let c = &rig.client;
    assert!(c.verifier().serials().is_empty());
    assert!(c.query("T1234567890").await.unwrap().is_none());
    let first = c.verifier().serials();
    assert_eq!(first.len(), 1, "the unknown serial fetched the certificate once");
    let new_serial = simulator::pay::rotate_certificate(&rig.sim.sim).unwrap();
    assert!(c.query("T1234567890").await.unwrap().is_none());
    assert!(c.verifier().knows(&new_serial), "an unknown serial triggers one refresh");
    // Notifies signed by the rotated certificate verify too.
    let no = order_no();
    c.prepay(&e2e::id(&no), "证书模式", 100, &e2e::id(OPENID), later(), None).await.unwrap();
    rig.pay(&no, None).await;
    assert!(rig.wait_for(1, false).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_switch_notifies_signed_by_either_key_verify() {
    let rig = Rig::start(Trust::Both).await;
    rig.faults(Faults { sign_with: SignWith::Random, ..Default::default() });
    rig.client.refresh_certificates().await.unwrap();
    for _ in 0..8 {
        let no = order_no();
        rig.client.prepay(&e2e::id(&no), "切换期", 100, &e2e::id(OPENID), later(), None).await.unwrap();
        rig.pay(&no, None).await;
    }
    assert!(rig.wait_for(8, false).await);
    let mut signers: Vec<String> = Vec::new();
    for _ in 0..300 {
        signers = rig.sim.sim.deliveries().into_iter().map(|d| d.signed_by).collect();
        if signers.len() >= 8 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(signers.len(), 8);
    assert!(signers.iter().all(|s| s == "public_key" || s == "certificate"), "{signers:?}");
    assert!(rig.received.lock().unwrap().refused.is_empty());
}

/// Every trust configuration takes a notify signed by each key it can come to trust, with no
/// download beforehand: a certificate serial it has not seen makes it download the
/// certificates, and that download is checked with the public key WeChat Pay signs it with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifies_signed_either_way_verify_in_every_configuration() {
    for (trust, signers) in [
        (Trust::PublicKey, vec![SignWith::Certificate, SignWith::PublicKey]),
        (Trust::Both, vec![SignWith::Certificate, SignWith::PublicKey]),
        (Trust::Certificates, vec![SignWith::Certificate]),
    ] {
        for sign_with in signers {
            let rig = Rig::start(trust).await;
            rig.faults(Faults { sign_with, ..Default::default() });
            let no = order_no();
            rig.client.prepay(&e2e::id(&no), "双模", 100, &e2e::id(OPENID), later(), None).await.unwrap();
            rig.pay(&no, None).await;
            assert!(rig.wait_for(1, false).await, "{trust:?} refused a notify signed with {sign_with:?}");
            assert!(rig.received.lock().unwrap().refused.is_empty(), "{trust:?} / {sign_with:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notify_from_an_unseen_certificate_fetches_certificates_once() {
    // Configured with the public key only, the shop meets a certificate serial it has not
    // seen (a merchant mid-switch): one certificate download, decrypted with the APIv3 key,
    // makes it known, and the notify verifies.
    let rig = Rig::start(Trust::PublicKey).await;
    rig.faults(Faults { sign_with: SignWith::Certificate, ..Default::default() });
    let no = order_no();
    rig.client.prepay(&e2e::id(&no), "刷新", 100, &e2e::id(OPENID), later(), None).await.unwrap();
    rig.pay(&no, None).await;
    assert!(rig.wait_for(1, false).await);
    assert_eq!(rig.client.verifier().serials().len(), 2, "the public key and the fetched certificate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifies_cannot_make_the_shop_download_certificates_over_and_over() {
    let rig = Rig::start(Trust::PublicKey).await;
    rig.faults(Faults { sign_with: SignWith::Certificate, ..Default::default() });
    let first = order_no();
    rig.client.prepay(&e2e::id(&first), "节流", 100, &e2e::id(OPENID), later(), None).await.unwrap();
    rig.pay(&first, None).await;
    assert!(rig.wait_for(1, false).await, "the first unseen serial is fetched");
    simulator::pay::rotate_certificate(&rig.sim.sim).unwrap();
    let second = order_no();
    rig.client.prepay(&e2e::id(&second), "节流", 100, &e2e::id(OPENID), later(), None).await.unwrap();
    rig.pay(&second, None).await;
    assert!(rig.wait_for(2, true).await, "within a minute, another unseen serial is refused, not fetched");
    assert_eq!(rig.client.verifier().serials().len(), 2, "no second download");
}

async fn paid_order(rig: &Rig) -> String {
    let no = order_no();
    rig.client.prepay(&e2e::id(&no), "故障", 100, &e2e::id(OPENID), later(), None).await.unwrap();
    assert_eq!(rig.pay(&no, None).await.status(), 200);
    no
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_stale_and_probe_notifies_are_refused() {
    let rig = Rig::start(Trust::PublicKey).await;
    rig.faults(Faults { tamper: true, ..Default::default() });
    paid_order(&rig).await;
    assert!(rig.wait_for(3, true).await, "every tampered retry is refused");
    assert!(rig.received.lock().unwrap().verified.is_empty());
    assert!(rig.received.lock().unwrap().refused[0].contains("signature"));

    let rig = Rig::start(Trust::PublicKey).await;
    rig.faults(Faults { stale: true, ..Default::default() });
    paid_order(&rig).await;
    assert!(rig.wait_for(2, true).await);
    assert!(rig.received.lock().unwrap().refused[0].contains("5-minute"), "{:?}", rig.received.lock().unwrap().refused);

    let rig = Rig::start(Trust::PublicKey).await;
    rig.faults(Faults { probe: true, ..Default::default() });
    paid_order(&rig).await;
    assert!(rig.wait_for(1, false).await, "the retry after the probe carries a real signature");
    let r = rig.received.lock().unwrap();
    assert_eq!(r.refused.len(), 1);
    assert!(r.refused[0].contains("probe"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_lost_held_and_retried_notifies() {
    let rig = Rig::start(Trust::PublicKey).await;
    rig.faults(Faults { duplicate: 2, ..Default::default() });
    paid_order(&rig).await;
    assert!(rig.wait_for(3, false).await, "one notify, delivered three times");

    let rig = Rig::start(Trust::PublicKey).await;
    rig.faults(Faults { lose: true, ..Default::default() });
    let no = paid_order(&rig).await;
    let lost = rig.sim.sim.deliveries().into_iter().filter(|d| d.key == no && d.signed_by == "lost").count();
    assert_eq!(lost, 1, "the simulator dropped the notify instead of sending it");
    assert!(rig.received.lock().unwrap().verified.is_empty(), "lost: only a query can tell");
    assert!(rig.client.query(&no).await.unwrap().unwrap().is_paid());

    let rig = Rig::start(Trust::PublicKey).await;
    rig.faults(Faults { hold: true, ..Default::default() });
    let a = paid_order(&rig).await;
    let b = paid_order(&rig).await;
    let released = simulator::pay::release(&rig.sim.sim, true);
    assert_eq!(released, 2);
    assert!(rig.wait_for(2, false).await);
    let order: Vec<String> = rig
        .received
        .lock()
        .unwrap()
        .verified
        .iter()
        .map(|v| match &v.event {
            Event::Paid(t) => t.out_trade_no.clone(),
            _ => String::new(),
        })
        .collect();
    assert_eq!(order, vec![b, a], "released out of order");

    // The shop answers 500 twice: WeChat retries on its (scaled) schedule until 204.
    let rig = Rig::start(Trust::PublicKey).await;
    rig.received.lock().unwrap().fail_next = 2;
    paid_order(&rig).await;
    assert!(rig.wait_for(1, false).await);
    // The simulator logs an attempt once the answer reached it, just after the receiver.
    let mut attempts: Vec<(u32, Option<u16>)> = Vec::new();
    for _ in 0..500 {
        attempts = rig.sim.sim.deliveries().iter().map(|d| (d.attempt, d.status)).collect();
        if attempts.len() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(attempts, vec![(0, Some(500)), (1, Some(500)), (2, Some(204))]);
}

/// A call and its retries fit the time the request has left: on Lambda an answer after the
/// invocation's end is no answer. WeChat Pay hangs here for 5 s on each of three attempts; the
/// call, given 1.5 s, gives up within it instead of taking 15 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_fit_the_deadline_of_their_request() {
    let rig = Rig::start(Trust::PublicKey).await;
    let slow = Rig::client_for(&rig.sim, &rig.merchant_key_pem, &rig.notify_url, Trust::PublicKey)
        .with_timing(std::time::Duration::from_millis(50), std::time::Duration::from_secs(10));
    rig.faults(Faults { api_hang: 3, api_hang_ms: 5_000, ..Default::default() });
    let started = tokio::time::Instant::now();
    let deadline = started + std::time::Duration::from_millis(1_500);
    let e = wechat::deadline::within(deadline, slow.query("T1234567890")).await.unwrap_err();
    assert!(matches!(e, PayError::Transport(_)), "{e:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_retry_on_system_error_and_give_up_bounded() {
    let rig = Rig::start(Trust::PublicKey).await;
    rig.faults(Faults { api_fail: 2, ..Default::default() });
    assert!(rig.client.query("T1234567890").await.unwrap().is_none(), "two 500s, then an answer");
    rig.faults(Faults { api_fail: 5, ..Default::default() });
    let e = rig.client.query("T1234567890").await.unwrap_err();
    assert_eq!(e.code(), Some("SYSTEM_ERROR"), "three attempts, then the error");
    let quick = Rig::client_for(&rig.sim, &rig.merchant_key_pem, &rig.notify_url, Trust::PublicKey)
        .with_timing(std::time::Duration::from_millis(10), std::time::Duration::from_millis(300));
    rig.faults(Faults { api_hang: 3, api_hang_ms: 1500, ..Default::default() });
    let started = std::time::Instant::now();
    let e = quick.query("T1234567890").await.unwrap_err();
    assert!(matches!(e, PayError::Transport(_)), "{e:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "timeouts are bounded");
}
