//! Message push (消息推送): what WeChat sends to the mini-program's server URL (content
//! security results, among others). WeChat signs each request with the token set in the
//! mini-program's console: `signature = sha1` of token, timestamp and nonce sorted and joined.
//! In safe mode (安全模式) the JSON body carries only `Encrypt`, and `msg_signature` covers
//! the ciphertext too: AES-256-CBC with the key decoded from the 43-character
//! EncodingAESKey, its first 16 bytes as IV, PKCS#7 padding to 32-byte blocks; the plaintext is
//! 16 random bytes, the message length (4 bytes, big-endian), the message and the appid.

use aws_lc_rs::cipher::{AES_256, DecryptingKey, DecryptionContext, UnboundCipherKey};
use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, digest};
use aws_lc_rs::iv::FixedLength;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The mini-program's message push settings: the token and, for safe mode, the key.
#[derive(Clone)]
pub struct PushSettings {
    pub token: String,
    /// The EncodingAESKey, decoded; `None` in plain mode.
    pub aes_key: Option<[u8; 32]>,
    pub appid: String,
}

impl std::fmt::Debug for PushSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushSettings").field("safe_mode", &self.aes_key.is_some()).finish_non_exhaustive()
    }
}

/// The 43-character EncodingAESKey as the 32 bytes it encodes. Its last character carries
/// two bits beyond the key, which WeChat's console does not zero: they are ignored, as
/// WeChat's own samples (Python's and PHP's base64) ignore them.
pub fn decode_aes_key(encoding_aes_key: &str) -> Option<[u8; 32]> {
    if encoding_aes_key.len() != 43 {
        return None;
    }
    let lenient = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
    );
    let bytes = lenient.decode(format!("{encoding_aes_key}=")).ok()?;
    bytes.try_into().ok()
}

/// Why a push was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PushError {
    #[error("signature, timestamp or nonce missing")]
    Unsigned,
    #[error("the signature does not match")]
    BadSignature,
    #[error("the timestamp is outside the accepted window")]
    Stale,
    #[error("the body is not a message this shop reads")]
    BadBody,
    #[error("the encrypted message could not be opened")]
    BadCiphertext,
    #[error("the message is for another mini-program")]
    WrongAppid,
}

/// Lower-case hex SHA-1 of the parts sorted and joined, as WeChat signs pushes.
pub fn signature(parts: &[&str]) -> String {
    let mut sorted = parts.to_vec();
    sorted.sort_unstable();
    let d = digest(&SHA1_FOR_LEGACY_USE_ONLY, sorted.concat().as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn same(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

/// The signed query of a push or URL check.
#[derive(Debug, Clone)]
pub struct Signed<'a> {
    pub signature: &'a str,
    pub timestamp: &'a str,
    pub nonce: &'a str,
    /// Present in safe mode: covers the ciphertext too.
    pub msg_signature: Option<&'a str>,
}

/// How far a push's timestamp may lie from the shop's clock. WeChat retries a push it got no
/// answer to within seconds, so a genuine one is never older than a few minutes.
pub const WINDOW_SECS: i64 = 300;

impl PushSettings {
    /// Checks the plain signature and the timestamp's window (`now` in Unix seconds).
    pub fn verify(&self, s: &Signed<'_>, now: i64) -> Result<(), PushError> {
        if s.signature.is_empty() || s.timestamp.is_empty() || s.nonce.is_empty() {
            return Err(PushError::Unsigned);
        }
        if !same(&signature(&[&self.token, s.timestamp, s.nonce]), s.signature) {
            return Err(PushError::BadSignature);
        }
        let ts = s.timestamp.parse::<i64>().map_err(|_| PushError::BadSignature)?;
        if (now - ts).abs() > WINDOW_SECS {
            return Err(PushError::Stale);
        }
        Ok(())
    }

    /// The message a verified POST carries: the JSON body itself in plain mode; in safe mode,
    /// the decrypted `Encrypt` after `msg_signature` is checked, whose appid must be ours.
    pub fn open(&self, s: &Signed<'_>, body: &[u8], now: i64) -> Result<serde_json::Value, PushError> {
        self.verify(s, now)?;
        let v: serde_json::Value = serde_json::from_slice(body).map_err(|_| PushError::BadBody)?;
        let Some(key) = &self.aes_key else {
            if v.get("Encrypt").is_some() {
                // Safe mode set in the console but not here: nothing to open it with.
                return Err(PushError::BadCiphertext);
            }
            return Ok(v);
        };
        let encrypted = v.get("Encrypt").and_then(|e| e.as_str()).ok_or(PushError::BadBody)?;
        let msg_signature = s.msg_signature.ok_or(PushError::Unsigned)?;
        if !same(&signature(&[&self.token, s.timestamp, s.nonce, encrypted]), msg_signature) {
            return Err(PushError::BadSignature);
        }
        let plain = decrypt(key, encrypted)?;
        let (message, appid) = unpack(&plain)?;
        if appid != self.appid.as_bytes() {
            return Err(PushError::WrongAppid);
        }
        // Decrypted bytes that are not JSON were not sealed by WeChat under our key.
        serde_json::from_slice(message).map_err(|_| PushError::BadCiphertext)
    }
}

fn decrypt(key: &[u8; 32], encrypted: &str) -> Result<Vec<u8>, PushError> {
    let mut data = STANDARD.decode(encrypted).map_err(|_| PushError::BadCiphertext)?;
    if data.is_empty() || data.len() % 32 != 0 {
        return Err(PushError::BadCiphertext);
    }
    let unbound = UnboundCipherKey::new(&AES_256, key).map_err(|_| PushError::BadCiphertext)?;
    let cbc = DecryptingKey::cbc(unbound).map_err(|_| PushError::BadCiphertext)?;
    let mut iv = [0u8; 16];
    iv.copy_from_slice(&key[..16]);
    let plain = cbc
        .decrypt(&mut data, DecryptionContext::Iv128(FixedLength::from(iv)))
        .map_err(|_| PushError::BadCiphertext)?;
    // PKCS#7 to 32-byte blocks: the last byte says how many bytes of padding, 1 to 32.
    let pad = usize::from(*plain.last().ok_or(PushError::BadCiphertext)?);
    if pad == 0 || pad > 32 || pad > plain.len() || !plain[plain.len() - pad..].iter().all(|&b| usize::from(b) == pad) {
        return Err(PushError::BadCiphertext);
    }
    let n = plain.len() - pad;
    Ok(plain[..n].to_vec())
}

/// Splits `random(16) ‖ length(4, big-endian) ‖ message ‖ appid`.
fn unpack(plain: &[u8]) -> Result<(&[u8], &[u8]), PushError> {
    let len_bytes: [u8; 4] =
        plain.get(16..20).ok_or(PushError::BadCiphertext)?.try_into().map_err(|_| PushError::BadCiphertext)?;
    let len = usize::try_from(u32::from_be_bytes(len_bytes)).map_err(|_| PushError::BadCiphertext)?;
    let message = plain.get(20..20 + len).ok_or(PushError::BadCiphertext)?;
    Ok((message, &plain[20 + len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_sorts_before_hashing() {
        // sha1("1409659813" + "1372623149" + "AAAAA") sorted: "1372623149", "1409659813", "AAAAA".
        let a = signature(&["AAAAA", "1409659813", "1372623149"]);
        let b = signature(&["1372623149", "1409659813", "AAAAA"]);
        assert_eq!(a, b);
        assert_eq!(a.len(), 40);
        assert_ne!(a, signature(&["AAAAB", "1409659813", "1372623149"]));
    }

    #[test]
    fn the_aes_key_has_43_characters() {
        assert!(decode_aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG").is_some());
        assert!(decode_aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEF").is_none());
        assert!(decode_aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEF!").is_none());
    }

    #[test]
    fn stale_and_forged_pushes_are_refused() {
        let s = PushSettings { token: "tok".into(), aes_key: None, appid: "wx1".into() };
        let sig = signature(&["tok", "1000", "n1"]);
        let ok = Signed { signature: &sig, timestamp: "1000", nonce: "n1", msg_signature: None };
        assert_eq!(s.verify(&ok, 1000 + WINDOW_SECS), Ok(()));
        assert_eq!(s.verify(&ok, 1001 + WINDOW_SECS), Err(PushError::Stale));
        let forged = Signed { nonce: "n2", ..ok.clone() };
        assert_eq!(s.verify(&forged, 1000), Err(PushError::BadSignature));
        let unsigned = Signed { signature: "", ..ok };
        assert_eq!(s.verify(&unsigned, 1000), Err(PushError::Unsigned));
    }

    #[test]
    fn torn_plaintexts_are_refused_not_panicked_on() {
        assert_eq!(unpack(&[0u8; 10]), Err(PushError::BadCiphertext));
        let mut p = vec![0u8; 16];
        p.extend_from_slice(&1000u32.to_be_bytes());
        p.extend_from_slice(b"short");
        assert_eq!(unpack(&p), Err(PushError::BadCiphertext));
    }
}
