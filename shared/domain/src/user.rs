//! Shoppers, and the masking that keeps their identifiers out of logs and error messages.

use serde::{Deserialize, Serialize};

use crate::ids::OpenId;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct User {
    pub openid: OpenId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unionid: Option<String>,
    /// Stored in full for the merchant's service; only [`mask_phone`] output leaves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_verified_at: Option<i64>,
    /// Unix seconds of the first login: the new-customer window counts from here.
    pub created_at: i64,
    pub last_login_at: i64,
}

/// `13800138000` → `138****8000`; anything short is masked whole.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 7 {
        return "*".repeat(chars.len());
    }
    let n = chars.len();
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[n - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(n - 7))
}

/// A short, stable form of an openid for logs: enough to correlate, not enough to identify.
pub fn mask_openid(openid: &OpenId) -> String {
    let tail: String = openid.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    format!("…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(mask_phone("13800138000"), "138****8000");
        assert_eq!(mask_phone("123"), "***");
        let openid = OpenId::parse("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o").unwrap();
        assert_eq!(mask_openid(&openid), "…eS6o");
    }
}
