//! Secrets from AWS Secrets Manager, read once at start. `SECRETS` names the secrets a
//! function may read (ids or ARNs, comma-separated); each holds a JSON object of setting
//! names to values, e.g. `{"WECHATPAY_MCH_KEY": "-----BEGIN PRIVATE KEY-----…",
//! "WECHATPAY_APIV3_KEY": "…"}`. A value from a secret wins over the environment, which
//! remains the way to configure local runs. On AWS each function's role may read only the
//! secrets it uses (`template.yaml`), so a function holds no key it has no use for.

use std::collections::HashMap;

use aws_sdk_secretsmanager::Client;

/// The settings a secret may carry: the secret ones. Anything else in a secret is refused by
/// name, so a typo stops the start instead of silently leaving a setting unset.
pub const SECRET_SETTINGS: &[&str] = &[
    "WECHAT_APP_SECRET",
    "SESSION_SECRET",
    "MYSQL_PASSWORD",
    "MYSQL_URL",
    "ADMIN_TOKEN",
    "WECHATPAY_MCH_KEY",
    "WECHATPAY_APIV3_KEY",
    "OPERATOR_WEBHOOK_URL",
    "WECHAT_PUSH_TOKEN",
    "WECHAT_PUSH_AES_KEY",
    "MEDIA_SECRET_ACCESS_KEY",
];

/// The secret ids in `SECRETS`.
pub fn ids(spec: &str) -> Vec<String> {
    spec.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// Reads every secret in `ids` and merges their settings. Messages name the secret and the
/// setting, never a value.
pub async fn load(client: &Client, ids: &[String]) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for id in ids {
        let answer = client
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| format!("secret {id}: {}", aws_sdk_secretsmanager::error::DisplayErrorContext(e)))?;
        let text = answer.secret_string().ok_or_else(|| format!("secret {id} holds no text"))?;
        let map: HashMap<String, String> = serde_json::from_str(text)
            .map_err(|_| format!("secret {id} must be a JSON object of setting names to strings"))?;
        for (k, v) in map {
            if !SECRET_SETTINGS.contains(&k.as_str()) {
                return Err(format!(
                    "secret {id} holds {k}, which is not a secret setting ({})",
                    SECRET_SETTINGS.join(", ")
                ));
            }
            out.insert(k, v);
        }
    }
    Ok(out)
}

/// The secrets `get("SECRETS")` names, through the SDK's usual configuration (region,
/// credentials), at `get("AWS_ENDPOINT_URL_SECRETS_MANAGER")` when given; none when
/// `SECRETS` is unset.
pub async fn of(get: impl Fn(&str) -> Option<String>) -> Result<HashMap<String, String>, String> {
    let ids = ids(&get("SECRETS").unwrap_or_default());
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut config = aws_config::defaults(aws_config::BehaviorVersion::latest());
    // (The SDK panics on an empty endpoint.)
    if let Some(endpoint) = get("AWS_ENDPOINT_URL_SECRETS_MANAGER").filter(|e| !e.trim().is_empty()) {
        config = config.endpoint_url(endpoint);
    }
    load(&Client::new(&config.load().await), &ids).await
}
