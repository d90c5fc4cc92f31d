//! Secrets from AWS Secrets Manager (moto, started by scripts/test.sh, speaks its API): a
//! function reads the keys it uses at start through the real AWS SDK, and a bad secret stops
//! the start with a message that names it but never shows a value.

use std::collections::HashMap;

use aws_sdk_secretsmanager::Client;
use hosting::config::{Settings, Uses};

async fn client() -> Client {
    e2e::local_aws_credentials();
    let config =
        aws_config::defaults(aws_config::BehaviorVersion::latest()).endpoint_url(e2e::secrets_endpoint()).load().await;
    Client::new(&config)
}

/// A new secret holding `json`; its ARN.
async fn secret(c: &Client, json: &str) -> String {
    let name = format!("shop/{}", uuid::Uuid::new_v4().simple());
    let made = c.create_secret().name(&name).secret_string(json).send().await.expect("moto creates the secret");
    made.arn().expect("an ARN").to_owned()
}

fn env(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<String> + use<> {
    let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    move |k| m.get(k).cloned()
}

fn base(secrets: String) -> Vec<(&'static str, String)> {
    vec![
        ("WECHAT_APPID", e2e::pay::APPID.into()),
        ("SECRETS", secrets),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", e2e::secrets_endpoint()),
    ]
}

/// Each function reads only the secrets it is given, and they fill its settings; a value in a
/// secret wins over the environment.
#[tokio::test]
async fn settings_come_from_the_secrets_a_function_is_given() {
    let c = client().await;
    let sessions = secret(&c, r#"{"SESSION_SECRET": "from-the-secret-0123456789abcdef0123"}"#).await;
    let bootstrap = secret(&c, r#"{"ADMIN_TOKEN": "bootstrap-from-secrets-manager"}"#).await;
    let (key_pem, _) = e2e::pay::merchant_key();
    let pay = secret(
        &c,
        &serde_json::json!({"WECHATPAY_MCH_KEY": key_pem, "WECHATPAY_APIV3_KEY": e2e::pay::APIV3_KEY}).to_string(),
    )
    .await;
    let mut pairs = base(format!("{sessions}, {bootstrap},{pay}"));
    pairs.extend([
        ("SESSION_SECRET", "from-the-environment-0123456789abcdef".to_owned()),
        ("WECHATPAY_MCHID", e2e::pay::MCHID.to_owned()),
        ("WECHATPAY_MCH_SERIAL", e2e::pay::SERIAL.to_owned()),
        ("WECHATPAY_NOTIFY_URL", "https://shop.example/pay/notify".to_owned()),
    ]);
    let s = Settings::with_secrets(env(&pairs), Uses::STORE_ONLY.sessions().bootstrap().pay()).await.unwrap();
    assert_eq!(s.session_secret, b"from-the-secret-0123456789abcdef0123", "the secret wins");
    assert_eq!(s.admin_token, "bootstrap-from-secrets-manager");
    let p = s.pay.clone().expect("pay settings");
    assert_eq!((p.mch_key_pem.as_str(), p.apiv3_key.as_str()), (key_pem.as_str(), e2e::pay::APIV3_KEY));
    // The app built from them makes its first operator with the bootstrap token it read.
    let app = s.service(e2e::store(e2e::Backend::Embedded).await).unwrap();
    assert!(hosting::auth::is_bootstrap(&app, "bootstrap-from-secrets-manager"));
    // A function given only the session secret has no bootstrap token, and needs none.
    let only = Settings::with_secrets(env(&base(sessions.clone())), Uses::STORE_ONLY.sessions()).await.unwrap();
    assert!(only.admin_token.is_empty());
    let missing = Settings::with_secrets(env(&base(sessions)), Uses::STORE_ONLY.bootstrap()).await.unwrap_err();
    assert_eq!(missing.0, vec!["ADMIN_TOKEN is required".to_owned()]);
}

/// A secret that is missing, not JSON, or holds something other than a secret setting stops
/// the start, naming the secret and the setting, never the value.
#[tokio::test]
async fn a_bad_secret_stops_the_start_without_showing_a_value() {
    let c = client().await;
    let not_json = secret(&c, "hunter2-not-json").await;
    let stray = secret(&c, r#"{"WECHAT_APPID": "wx-stray-value-0001"}"#).await;
    let cases = [
        ("shop/no-such-secret".to_owned(), "shop/no-such-secret", "hunter2"),
        (not_json.clone(), "JSON object", "hunter2"),
        (stray.clone(), "WECHAT_APPID", "wx-stray-value-0001"),
    ];
    for (id, named, value) in cases {
        let e = Settings::with_secrets(env(&base(id.clone())), Uses::STORE_ONLY).await.unwrap_err().to_string();
        assert!(e.contains(named), "{id}: {e}");
        assert!(!e.contains(value), "{id}: the value leaked: {e}");
    }
}
