//! Session tokens: `v1.<payload>.<mac>`, both base64url; the payload is the openid and an
//! expiry, the mac HMAC-SHA256 over `v1.<payload>` with `SESSION_SECRET`. The token carries no
//! session_key: that stays server-side.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use domain::ids::OpenId;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub sub: String,
    pub exp: i64,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TokenError {
    #[error("malformed session token")]
    Malformed,
    #[error("session token signature does not verify")]
    BadSignature,
    #[error("session token expired")]
    Expired,
    /// This function holds no session secret (it serves no shopper routes).
    #[error("this service does not take session tokens")]
    NoSecret,
}

fn mac(secret: &[u8], signed: &str) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    m.update(signed.as_bytes());
    m
}

pub fn issue(secret: &[u8], openid: &OpenId, now: i64, ttl_secs: i64) -> (String, i64) {
    let exp = now + ttl_secs;
    let claims = Claims { sub: openid.to_string(), exp };
    let payload = B64.encode(serde_json::to_vec(&claims).unwrap_or_default());
    let signed = format!("v1.{payload}");
    let sig = B64.encode(mac(secret, &signed).finalize().into_bytes());
    (format!("{signed}.{sig}"), exp)
}

pub fn verify(secret: &[u8], token: &str, now: i64) -> Result<Claims, TokenError> {
    // An empty key would make every token anyone signs with it valid.
    if secret.is_empty() {
        return Err(TokenError::NoSecret);
    }
    let (signed, sig) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let payload = signed.strip_prefix("v1.").ok_or(TokenError::Malformed)?;
    let sig = B64.decode(sig).map_err(|_| TokenError::Malformed)?;
    mac(secret, signed).verify_slice(&sig).map_err(|_| TokenError::BadSignature)?;
    let claims: Claims =
        B64.decode(payload).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or(TokenError::Malformed)?;
    if claims.exp <= now {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn round_trip_and_expiry() {
        let openid = OpenId::parse("openid-1").unwrap();
        let (t, exp) = issue(SECRET, &openid, 1_000, 60);
        assert_eq!(exp, 1_060);
        assert_eq!(verify(SECRET, &t, 1_059).unwrap().sub, "openid-1");
        assert_eq!(verify(SECRET, &t, 1_060), Err(TokenError::Expired));
        assert_eq!(verify(b"another secret of enough length!!", &t, 1_000), Err(TokenError::BadSignature));
        assert_eq!(verify(SECRET, "garbage", 0), Err(TokenError::Malformed));
        // A token signed with an empty key, offered to a function that holds none.
        let (forged, _) = issue(b"", &openid, 1_000, 60);
        assert_eq!(verify(b"", &forged, 1_000), Err(TokenError::NoSecret));
    }

    proptest! {
        #[test]
        fn any_changed_byte_is_refused(pos in 0usize..200, byte in any::<u8>()) {
            let (t, _) = issue(SECRET, &OpenId::parse("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o").unwrap(), 1_000, 60);
            let mut b = t.clone().into_bytes();
            let i = pos % b.len();
            prop_assume!(b[i] != byte);
            b[i] = byte;
            let changed = String::from_utf8_lossy(&b).into_owned();
            // Base64 can decode two strings to the same bytes only through its padding
            // bits, which the strict decoder refuses; so every change must fail.
            prop_assert!(verify(SECRET, &changed, 1_000).is_err());
        }
    }
}
