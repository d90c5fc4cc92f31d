//! Every setting comes from the environment into one typed struct, validated at start: a
//! missing or malformed setting stops the start with a message naming it, never a request.
//! The README's configuration table lists the same names and defaults.

use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Embedded,
    Dynamodb,
}

#[derive(Debug, Clone)]
pub struct StoreSettings {
    pub kind: StoreKind,
    pub path: PathBuf,
    pub table: String,
    pub endpoint: Option<String>,
}

#[derive(Clone)]
pub struct WeChatSettings {
    pub api_base: String,
    pub appid: String,
    pub app_secret: String,
}

impl std::fmt::Debug for WeChatSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeChatSettings")
            .field("api_base", &self.api_base)
            .field("appid", &self.appid)
            .field("app_secret", &"<redacted>")
            .finish()
    }
}

#[derive(Clone)]
pub struct Settings {
    pub store: StoreSettings,
    pub port: u16,
    pub wechat: WeChatSettings,
    pub session_secret: Vec<u8>,
    pub session_ttl_secs: i64,
    pub admin_token: String,
    pub trust_wx_context: bool,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("store", &self.store)
            .field("port", &self.port)
            .field("wechat", &self.wechat)
            .field("trust_wx_context", &self.trust_wx_context)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("configuration: {}", .0.join("; "))]
pub struct ConfigError(pub Vec<String>);

/// The shortest secret accepted for signing session tokens.
const MIN_SECRET_BYTES: usize = 32;

impl Settings {
    /// `uses_wechat`: the function calls WeChat's server API, so the app secret is required;
    /// functions that do not are never given it.
    pub fn from_env(uses_wechat: bool) -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok(), uses_wechat)
    }

    /// Reads settings through `get`, so tests can pass a map instead of the process
    /// environment.
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
        uses_wechat: bool,
    ) -> Result<Self, ConfigError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let mut problems = Vec::new();
        let mut required = |k: &str| {
            get(k).unwrap_or_else(|| {
                problems.push(format!("{k} is required"));
                String::new()
            })
        };
        let appid = required("WECHAT_APPID");
        let app_secret = if uses_wechat {
            required("WECHAT_APP_SECRET")
        } else {
            get("WECHAT_APP_SECRET").unwrap_or_default()
        };
        let session_secret = required("SESSION_SECRET");
        let admin_token = required("ADMIN_TOKEN");
        if !session_secret.is_empty() && session_secret.len() < MIN_SECRET_BYTES {
            problems.push(format!(
                "SESSION_SECRET must be at least {MIN_SECRET_BYTES} bytes"
            ));
        }
        if !admin_token.is_empty() && admin_token.len() < 16 {
            problems.push("ADMIN_TOKEN must be at least 16 characters".into());
        }
        let kind = match get("STORE").as_deref() {
            None | Some("embedded") => StoreKind::Embedded,
            Some("dynamodb") => StoreKind::Dynamodb,
            Some(other) => {
                problems.push(format!("STORE must be embedded or dynamodb, not {other:?}"));
                StoreKind::Embedded
            }
        };
        let port = match get("PORT").map(|p| p.parse::<u16>()) {
            None => 9000,
            Some(Ok(p)) => p,
            Some(Err(_)) => {
                problems.push("PORT must be a port number".into());
                9000
            }
        };
        let session_ttl_secs = match get("SESSION_TTL_SECS").map(|p| p.parse::<i64>()) {
            None => 7 * 24 * 3600,
            Some(Ok(s)) if s > 0 => s,
            Some(_) => {
                problems.push("SESSION_TTL_SECS must be a positive number of seconds".into());
                0
            }
        };
        let trust_wx_context = match get("TRUST_WX_CONTEXT").as_deref() {
            None | Some("0") | Some("false") => false,
            Some("1") | Some("true") => true,
            Some(_) => {
                problems.push("TRUST_WX_CONTEXT must be 1 or 0".into());
                false
            }
        };
        let api_base = get("WECHAT_API_BASE").unwrap_or_else(|| "https://api.weixin.qq.com".into());
        if !(api_base.starts_with("https://") || api_base.starts_with("http://")) {
            problems.push("WECHAT_API_BASE must be an http(s) URL".into());
        }
        if !problems.is_empty() {
            return Err(ConfigError(problems));
        }
        Ok(Self {
            store: StoreSettings {
                kind,
                path: get("STORE_PATH")
                    .unwrap_or_else(|| "data/shop.db".into())
                    .into(),
                table: get("TABLE_NAME").unwrap_or_else(|| "shop".into()),
                endpoint: get("DYNAMODB_ENDPOINT"),
            },
            port,
            wechat: WeChatSettings {
                api_base: api_base.trim_end_matches('/').to_owned(),
                appid,
                app_secret,
            },
            session_secret: session_secret.into_bytes(),
            session_ttl_secs,
            admin_token,
            trust_wx_context,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    const GOOD: [(&str, &str); 4] = [
        ("WECHAT_APPID", "wx0000000000000001"),
        ("WECHAT_APP_SECRET", "app-secret"),
        ("SESSION_SECRET", "0123456789abcdef0123456789abcdef"),
        ("ADMIN_TOKEN", "admin-token-0123456789"),
    ];

    #[test]
    fn missing_settings_are_all_named() {
        let err = Settings::from_lookup(lookup(&[]), true).unwrap_err();
        let text = err.to_string();
        for k in [
            "WECHAT_APPID",
            "WECHAT_APP_SECRET",
            "SESSION_SECRET",
            "ADMIN_TOKEN",
        ] {
            assert!(text.contains(k), "{text} should name {k}");
        }
    }

    #[test]
    fn functions_without_wechat_need_no_secret() {
        let pairs: Vec<_> = GOOD
            .iter()
            .copied()
            .filter(|(k, _)| *k != "WECHAT_APP_SECRET")
            .collect();
        assert!(Settings::from_lookup(lookup(&pairs), false).is_ok());
        let err = Settings::from_lookup(lookup(&pairs), true).unwrap_err();
        assert_eq!(
            err,
            ConfigError(vec!["WECHAT_APP_SECRET is required".into()])
        );
    }

    #[test]
    fn defaults_apply() {
        let s = Settings::from_lookup(lookup(&GOOD), true).unwrap();
        assert_eq!(s.port, 9000);
        assert_eq!(s.store.kind, StoreKind::Embedded);
        assert_eq!(s.store.table, "shop");
        assert_eq!(s.wechat.api_base, "https://api.weixin.qq.com");
        assert!(!s.trust_wx_context);
    }

    #[test]
    fn bad_values_are_refused() {
        let mut pairs = GOOD.to_vec();
        pairs.extend([
            ("STORE", "redis"),
            ("PORT", "x"),
            ("TRUST_WX_CONTEXT", "yes"),
        ]);
        let text = Settings::from_lookup(lookup(&pairs), true)
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("STORE") && text.contains("PORT") && text.contains("TRUST_WX_CONTEXT")
        );
    }

    #[test]
    fn debug_hides_secrets() {
        let s = Settings::from_lookup(lookup(&GOOD), true).unwrap();
        let d = format!("{s:?}");
        assert!(
            !d.contains("app-secret")
                && !d.contains("0123456789abcdef")
                && !d.contains("admin-token")
        );
    }
}
