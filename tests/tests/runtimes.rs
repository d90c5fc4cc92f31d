//! The real function binaries under the platforms' runtime APIs (local stand-ins in
//! `e2e::runtimes`): started as Lambda (the binary is `bootstrap`) and Tencent SCF (the
//! `scripts/scf/bootstrap` script execs it) start them, given real events: an API Gateway
//! request to `catalog`, a schedule or timer event to `close-unpaid`, which must close an
//! expired order and give its stock back. Both on DynamoDB Local, as those platforms run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use e2e::runtimes::{Outcome, Platform, Process, RuntimeApi, apigw_v2_event, function_binary, spawn};
use e2e::shop::*;
use e2e::{Backend, Shop};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

/// The settings a merchant gives the function: the shop's table on DynamoDB Local, its
/// WeChat and WeChat Pay (the simulator's), in environment variables.
fn function_env(shop: &Shop) -> Vec<(String, String)> {
    let s = &shop.settings;
    let pay = s.pay.as_ref().expect("the test shop has WeChat Pay");
    let (key_id, key_pem) = pay.public_key.clone().expect("the test shop trusts a public key");
    let pairs = [
        ("STORE", "dynamodb".to_owned()),
        ("TABLE_NAME", s.store.table.clone()),
        ("DYNAMODB_ENDPOINT", s.store.endpoint.clone().expect("DynamoDB Local")),
        ("AWS_ACCESS_KEY_ID", "local".into()),
        ("AWS_SECRET_ACCESS_KEY", "local".into()),
        ("AWS_REGION", "ap-east-1".into()),
        ("WECHAT_APPID", s.wechat.appid.clone()),
        ("WECHAT_APP_SECRET", s.wechat.app_secret.clone()),
        ("WECHAT_API_BASE", s.wechat.api_base.clone()),
        ("WECHATPAY_API_BASE", pay.api_base.clone()),
        ("WECHATPAY_MCHID", pay.mchid.clone()),
        ("WECHATPAY_MCH_SERIAL", pay.mch_serial.clone()),
        ("WECHATPAY_MCH_KEY", pay.mch_key_pem.clone()),
        ("WECHATPAY_APIV3_KEY", pay.apiv3_key.clone()),
        ("WECHATPAY_PUBLIC_KEY_ID", key_id),
        ("WECHATPAY_PUBLIC_KEY", key_pem),
        ("WECHATPAY_NOTIFY_URL", pay.notify_url.clone()),
        ("RUST_LOG", "info".into()),
    ];
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// A shop with one product of 5 units and an order of 2 that expires in 2 s.
async fn shop_with_an_expiring_order() -> (Shop, String, String, String) {
    let shop = Shop::start_tuned(Backend::Dynamo, |s| s.rules.order_ttl_secs = 2).await;
    let (pid, sku) = product_with_stock(&shop, 1500, &[("SH01", 5)]).await;
    // Search shows it once its document is written (the function binaries load them).
    until(&shop, "/products", |l| l["total"] == serde_json::json!(1)).await;
    let token = shop.login("runtime-buyer").await;
    let placed = place(&shop, &token, json!([{"sku_id": sku, "quantity": 2}])).await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    let no = placed.body["order_no"].as_str().expect("order_no").to_owned();
    assert_eq!(stock(&shop, &sku).await, 3);
    (shop, pid, sku, no)
}

async fn wait_expired(shop: &Shop, no: &str) {
    let o = order(shop, no).await;
    let expires = o["order"]["expires_at"].as_i64().unwrap_or(0);
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    tokio::time::sleep(Duration::from_secs((expires - now + 1).max(0) as u64)).await;
}

fn lambda_http_event(method: &str, path: &str, query: &str) -> Value {
    apigw_v2_event(method, path, query, &[], None)
}

fn scf_http_event(method: &str, path: &str, query: Value) -> Value {
    json!({
        "requestContext": {
            "serviceId": "service-f94sy04v",
            "path": path,
            "httpMethod": method,
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {},
            "sourceIp": "203.0.113.7",
            "stage": "release"
        },
        "headers": {"accept": "application/json", "host": "service-f94sy04v-1250000000.gz.apigw.tencentcs.com"},
        "body": "",
        "pathParameters": {},
        "queryStringParameters": {},
        "headerParameters": {},
        "stageVariables": {"stage": "release"},
        "path": path,
        "queryString": query,
        "httpMethod": method
    })
}

/// Lambda's answer body (API Gateway v2 shape) as JSON.
fn body_of(answer: &Value) -> Value {
    serde_json::from_str(answer["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null)
}

async fn wait_ready(api: &RuntimeApi, p: &mut Process) {
    for _ in 0..400 {
        if api.ready() {
            return;
        }
        if let Ok(Some(status)) = p.0.try_wait() {
            panic!("the function exited before asking for an event: {status} (init error: {:?})", api.init_error());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the function never asked for an event");
}

#[tokio::test(flavor = "multi_thread")]
async fn lambda_runs_the_real_functions() {
    let (shop, pid, sku, no) = shop_with_an_expiring_order().await;

    let api = RuntimeApi::start(Platform::Lambda).await;
    let mut env = function_env(&shop);
    env.extend(api.env("catalog"));
    let mut catalog = spawn(&function_binary("catalog"), &env);
    wait_ready(&api, &mut catalog).await;
    let answer = api.invoke(lambda_http_event("GET", &format!("/products/{pid}"), ""), WAIT).await.answer();
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let product = body_of(&answer);
    assert_eq!(product["skus"][0]["id"], json!(sku), "{product}");
    // A route the function does not serve is an answer (404), not a failed invocation.
    let none = api.invoke(lambda_http_event("POST", "/orders", ""), WAIT).await.answer();
    assert_eq!(none["statusCode"], 404, "{none}");
    // The same process answers invocation after invocation.
    let list = api.invoke(lambda_http_event("GET", "/products", "page_size=5"), WAIT).await.answer();
    assert_eq!(body_of(&list)["items"][0]["id"], json!(pid), "{list}");
    assert_eq!(api.served(), 3);
    drop(catalog);

    wait_expired(&shop, &no).await;
    let api = RuntimeApi::start(Platform::Lambda).await;
    let mut env = function_env(&shop);
    env.extend(api.env("close-unpaid"));
    let mut closer = spawn(&function_binary("close-unpaid"), &env);
    wait_ready(&api, &mut closer).await;
    let schedule = json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2026-12-01T08:05:00Z", "region": "ap-east-1",
        "resources": ["arn:aws:events:ap-east-1:123456789012:rule/close-unpaid"], "detail": {}
    });
    let report = api.invoke(schedule, WAIT).await.answer();
    assert_eq!(report["closer"]["closed"], 1, "{report}");
    assert_eq!(order(&shop, &no).await["order"]["state"], "closed");
    assert_eq!(stock(&shop, &sku).await, 5, "the closed order's units are back");
}

/// The directory of an SCF zip: `bootstrap` beside the binary it execs.
fn scf_package(function: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scf-{function}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("package dir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::copy(root.join("scripts/scf/bootstrap"), dir.join("bootstrap")).expect("bootstrap is copied");
    std::os::unix::fs::symlink(function_binary(function), dir.join(function)).expect("the binary is linked");
    dir
}

/// An SCF web function: `scf_bootstrap` beside the binary starts it as an HTTP server on
/// port 9000, where SCF sends the requests.
#[tokio::test(flavor = "multi_thread")]
async fn scf_web_functions_start_from_scf_bootstrap() {
    let (shop, pid, sku, _) = shop_with_an_expiring_order().await;
    let dir = std::env::temp_dir().join(format!("scf-web-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::copy(root.join("scripts/scf/scf_bootstrap"), dir.join("scf_bootstrap")).unwrap();
    std::os::unix::fs::symlink(function_binary("catalog"), dir.join("catalog")).unwrap();
    let mut env = function_env(&shop);
    env.push(("SHOP_FUNCTION".into(), "catalog".into()));
    let _web = spawn(&dir.join("scf_bootstrap"), &env);
    let http = reqwest::Client::new();
    let mut answer = None;
    for _ in 0..200 {
        if let Ok(r) = http.get(format!("http://127.0.0.1:9000/products/{pid}")).send().await {
            answer = Some((r.status().as_u16(), r.json::<Value>().await.unwrap_or_default()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = answer.expect("the web function answers on port 9000 (is another shop using it?)");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["skus"][0]["id"], json!(sku), "{body}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn scf_event_functions_run_the_real_functions() {
    let (shop, pid, sku, no) = shop_with_an_expiring_order().await;

    let api = RuntimeApi::start(Platform::Scf).await;
    let mut env = function_env(&shop);
    env.extend(api.env("catalog"));
    env.push(("SHOP_FUNCTION".into(), "catalog".into()));
    let mut catalog = spawn(&scf_package("catalog").join("bootstrap"), &env);
    wait_ready(&api, &mut catalog).await;
    let answer = api.invoke(scf_http_event("GET", &format!("/products/{pid}"), json!({})), WAIT).await.answer();
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(answer["isBase64Encoded"], false);
    assert_eq!(body_of(&answer)["skus"][0]["id"], json!(sku), "{answer}");
    let list = api.invoke(scf_http_event("GET", "/products", json!({"page_size": "5"})), WAIT).await.answer();
    assert_eq!(body_of(&list)["items"][0]["id"], json!(pid), "{list}");
    // A timer has nothing to run in an HTTP function: a failed invocation, which SCF records.
    let timer = json!({"Type": "Timer", "TriggerName": "every-5-min", "Time": "2026-12-01T08:05:00Z", "Message": ""});
    match api.invoke(timer.clone(), WAIT).await {
        Outcome::Error(e) => assert!(e.contains("API Gateway"), "{e}"),
        Outcome::Answer(a) => panic!("an HTTP function ran a timer: {a}"),
    }
    // The function goes on after a failed invocation.
    let again = api.invoke(scf_http_event("GET", &format!("/products/{pid}"), json!({})), WAIT).await.answer();
    assert_eq!(again["statusCode"], 200, "{again}");
    drop(catalog);

    wait_expired(&shop, &no).await;
    let api = RuntimeApi::start(Platform::Scf).await;
    let mut env = function_env(&shop);
    env.extend(api.env("close-unpaid"));
    env.push(("SHOP_FUNCTION".into(), "close-unpaid".into()));
    let mut closer = spawn(&scf_package("close-unpaid").join("bootstrap"), &env);
    wait_ready(&api, &mut closer).await;
    let report = api.invoke(timer, WAIT).await.answer();
    assert_eq!(report["closer"]["closed"], 1, "{report}");
    assert_eq!(order(&shop, &no).await["order"]["state"], "closed");
    assert_eq!(stock(&shop, &sku).await, 5, "the closed order's units are back");
    // Operators reach the job's routes through API Gateway too, and are refused without a token.
    let denied = api.invoke(scf_http_event("POST", "/admin/jobs/close-unpaid", json!({})), WAIT).await.answer();
    assert_eq!(denied["statusCode"], 401, "{denied}");
}

/// On Lambda, a start that cannot go on (a setting missing) is posted to
/// `/runtime/init/error` as AWS asks, and the process exits 2; the catalog function given no
/// table name on the embedded store is refused the same way.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_start_on_lambda_is_reported_to_the_runtime_api() {
    let api = RuntimeApi::start(Platform::Lambda).await;
    let mut env = api.env("login");
    env.push(("STORE".into(), "embedded".into()));
    let mut login = spawn(&function_binary("login"), &env);
    let mut exit = None;
    for _ in 0..200 {
        if let Ok(Some(status)) = login.0.try_wait() {
            exit = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let exit = exit.expect("the function stopped");
    assert_eq!(exit.code(), Some(2), "{exit}");
    let reported = api.init_error().expect("the start's failure reached /runtime/init/error");
    let reported: Value = serde_json::from_str(&reported).unwrap();
    assert_eq!(reported["errorType"], json!("Runtime.InvalidConfiguration"));
    let message = reported["errorMessage"].as_str().unwrap();
    assert!(message.contains("WECHAT_APPID") || message.contains("STORE=dynamodb"), "{message}");
}

/// A runtime API in trouble for a moment: a `/next` answered 500 (lambda_runtime 1.5 panics
/// on it) and an answer lost on the way. On Lambda the function starts its loop again and
/// serves the next invocation; on SCF it tries the call again and the lost answer arrives.
#[tokio::test(flavor = "multi_thread")]
async fn runtime_api_blips_end_no_function() {
    let (shop, pid, _, _) = shop_with_an_expiring_order().await;
    let api = RuntimeApi::start(Platform::Lambda).await;
    let mut env = function_env(&shop);
    env.extend(api.env("catalog"));
    let mut catalog = spawn(&function_binary("catalog"), &env);
    wait_ready(&api, &mut catalog).await;
    let first = api.invoke(lambda_http_event("GET", &format!("/products/{pid}"), ""), WAIT).await.answer();
    assert_eq!(first["statusCode"], 200);
    api.fail_next(1);
    let after = api.invoke(lambda_http_event("GET", &format!("/products/{pid}"), ""), WAIT).await.answer();
    assert_eq!(after["statusCode"], 200, "served after the loop started again: {after}");
    assert!(catalog.0.try_wait().unwrap().is_none(), "the process goes on");
    drop(catalog);

    let api = RuntimeApi::start(Platform::Scf).await;
    let mut env = function_env(&shop);
    env.extend(api.env("catalog"));
    env.push(("SHOP_FUNCTION".into(), "catalog".into()));
    let mut scf = spawn(&scf_package("catalog").join("bootstrap"), &env);
    wait_ready(&api, &mut scf).await;
    api.fail_next(1);
    api.lose_answers(1);
    let answer = api.invoke(scf_http_event("GET", &format!("/products/{pid}"), json!({})), WAIT).await.answer();
    assert_eq!(answer["statusCode"], 200, "the lost answer was posted again: {answer}");
    let again = api.invoke(scf_http_event("GET", &format!("/products/{pid}"), json!({})), WAIT).await.answer();
    assert_eq!(again["statusCode"], 200);
    assert!(scf.0.try_wait().unwrap().is_none(), "the process goes on");
}
