//! Verification of WeChat Pay's answers and notifies: the `Wechatpay-*` headers over the raw
//! body, with the key the `Wechatpay-Serial` names. Both trust modes at once: the WeChat Pay
//! public key (serial `PUB_KEY_ID_…`) and platform certificates (40-hex serials), since
//! during a merchant's switch notifies come signed by either.

use std::collections::HashMap;
use std::sync::RwLock;

use super::keys::PublicKey;
use super::sign::response_message;

/// WeChat's clock window: an answer or notify more than 5 minutes off is refused.
pub const MAX_SKEW_SECS: i64 = 300;
/// Signatures WeChat sends to check that merchants verify; they never verify.
pub const PROBE_PREFIX: &str = "WECHATPAY/SIGNTEST/";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("timestamp outside the 5-minute window")]
    Stale,
    #[error("signature probe refused")]
    Probe,
    #[error("no key for serial {0}")]
    UnknownSerial(String),
    #[error("signature does not verify")]
    BadSignature,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SignedHeaders {
    pub timestamp: String,
    pub nonce: String,
    pub signature: String,
    pub serial: String,
}

impl SignedHeaders {
    /// Reads the four headers through `get` (which must match names case-insensitively).
    pub fn from_lookup<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, VerifyError> {
        let h = |name: &'static str| get(name).map(str::to_owned).ok_or(VerifyError::MissingHeader(name));
        Ok(Self {
            timestamp: h("wechatpay-timestamp")?,
            nonce: h("wechatpay-nonce")?,
            signature: h("wechatpay-signature")?,
            serial: h("wechatpay-serial")?,
        })
    }
}

#[derive(Debug, Default)]
pub struct Verifier {
    keys: RwLock<HashMap<String, PublicKey>>,
}

impl Verifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts `key` for answers carrying `serial` (a `PUB_KEY_ID_…` or a certificate serial).
    pub fn add(&self, serial: &str, key: PublicKey) {
        if let Ok(mut keys) = self.keys.write() {
            keys.insert(serial.to_ascii_uppercase(), key);
        }
    }

    /// A verifier trusting every key this one trusts (for checking a download of new keys
    /// with the keys already trusted as well as the new ones).
    pub fn snapshot(&self) -> Verifier {
        let keys = self.keys.read().map(|k| k.clone()).unwrap_or_default();
        Verifier { keys: RwLock::new(keys) }
    }

    pub fn knows(&self, serial: &str) -> bool {
        self.keys.read().map(|k| k.contains_key(&serial.to_ascii_uppercase())).unwrap_or(false)
    }

    pub fn serials(&self) -> Vec<String> {
        self.keys.read().map(|k| k.keys().cloned().collect()).unwrap_or_default()
    }

    /// Checks the headers over the raw `body` at time `now` (unix seconds).
    pub fn verify(&self, h: &SignedHeaders, body: &[u8], now: i64) -> Result<(), VerifyError> {
        if h.signature.starts_with(PROBE_PREFIX) {
            return Err(VerifyError::Probe);
        }
        let ts: i64 = h.timestamp.trim().parse().map_err(|_| VerifyError::Stale)?;
        if (now - ts).abs() >= MAX_SKEW_SECS {
            return Err(VerifyError::Stale);
        }
        let keys = self.keys.read().map_err(|_| VerifyError::BadSignature)?;
        let key =
            keys.get(&h.serial.to_ascii_uppercase()).ok_or_else(|| VerifyError::UnknownSerial(h.serial.clone()))?;
        if key.verify(&response_message(&h.timestamp, &h.nonce, body), &h.signature) {
            Ok(())
        } else {
            Err(VerifyError::BadSignature)
        }
    }
}
