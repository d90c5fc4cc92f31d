//! Personal data stays out of the logs at every level: with `RUST_LOG=trace` the AWS SDK and
//! the HTTP clients would print whole items (phone numbers) and requests; the shop's filter
//! keeps their wire logs at `warn`. Runs against DynamoDB Local, where the SDK really talks.

use std::io::Write;
use std::sync::{Arc, Mutex};

use e2e::Backend;
use serde_json::json;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Writes and reads a user item holding `phone` on DynamoDB Local, logging with `filter`;
/// returns what was logged.
async fn log_of_a_round_trip(filter: tracing_subscriber::filter::Targets, phone: &str) -> String {
    use tracing_subscriber::layer::SubscriberExt;
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_writer(move || writer.clone()).with_ansi(false));
    let _guard = tracing::subscriber::set_default(subscriber);
    let store = e2e::store(Backend::Dynamo).await;
    let key = store::keys::user(&e2e::id("oLogProbeUser0001"));
    let item = store::to_item(&key, None, &json!({ "openid": "oLogProbeUser0001", "phone": phone })).unwrap();
    store.put(item, None).await.unwrap();
    assert!(store.get(&key).await.unwrap().is_some());
    tracing::trace!(probe = "our own trace line", "probe");
    out.text()
}

#[tokio::test(flavor = "current_thread")]
async fn trace_logs_carry_no_phone_numbers() {
    // Without the shop's filter the SDK's wire log at trace does print the item: the check
    // below would see a leak.
    let raw = log_of_a_round_trip("trace".parse().unwrap(), "13912345671").await;
    assert!(raw.contains("13912345671"), "the SDK logs items at trace; this test could not see a leak otherwise");
    let logged = log_of_a_round_trip(hosting::run::log_filter("trace"), "13912345672").await;
    assert!(logged.contains("our own trace line"), "the shop's own trace lines still come through");
    assert!(!logged.contains("13912345672"), "a phone number reached the log");
    let logged = log_of_a_round_trip(hosting::run::log_filter("aws_smithy_runtime=trace,trace"), "13912345673").await;
    assert!(!logged.contains("13912345673"), "asking for the wire log by name does not bring it back");
}

/// An operator reading a member names the member's openid in the path: the request's log
/// lines show it shortened, never whole.
#[tokio::test(flavor = "current_thread")]
async fn request_logs_shorten_an_openid_in_the_path() {
    use tracing_subscriber::layer::SubscriberExt;
    let shop = e2e::Shop::start(Backend::Embedded).await;
    let openid = shop.sim.sim.openid_for("logged-member");
    shop.login("logged-member").await;
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::Targets::new().with_default(tracing::Level::TRACE))
        .with(tracing_subscriber::fmt::layer().with_writer(move || writer.clone()).with_ansi(false));
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut req = hosting::Request::new("GET", &format!("/admin/members/{openid}"));
    req.headers.insert("authorization".into(), format!("Bearer {}", shop.finance_token));
    let resp = hosting::request::dispatch(&shop.service, hosting::routes::ALL, &req).await;
    assert_eq!(resp.status, 200);
    let logged = out.text();
    assert!(logged.contains("/admin/members/…"), "the request was logged: {logged}");
    assert!(!logged.contains(&openid), "the whole openid reached the log: {logged}");
}
