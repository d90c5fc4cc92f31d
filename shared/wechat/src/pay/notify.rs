//! Notifies: verify the signature over the raw body first, then parse and decrypt.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::aead::{AeadError, ApiV3Key};
use super::types::{RefundNotice, Transaction};
use super::verify::{SignedHeaders, Verifier, VerifyError};

pub const ALGORITHM: &str = "AEAD_AES_256_GCM";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum NotifyError {
    #[error("notify signature: {0}")]
    Signature(#[from] VerifyError),
    #[error("notify body is not a WeChat Pay notification")]
    Malformed,
    #[error("unsupported resource algorithm")]
    Algorithm,
    #[error("notify resource: {0}")]
    Decrypt(#[from] AeadError),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `TRANSACTION.SUCCESS`.
    Paid(Transaction),
    /// `REFUND.SUCCESS`, `REFUND.CLOSED` or `REFUND.ABNORMAL`; the status is in the notice.
    Refund(RefundNotice),
    /// Any other event type: verified and decrypted, but not one the shop acts on.
    Other { event_type: String, plaintext: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub id: String,
    pub event_type: String,
    pub event: Event,
}

/// Verifies and opens a notify. Nothing of the body is trusted before the signature holds.
pub fn open(
    verifier: &Verifier,
    key: &ApiV3Key,
    headers: &SignedHeaders,
    body: &[u8],
    now: i64,
) -> Result<Verified, NotifyError> {
    verifier.verify(headers, body, now)?;
    decrypt(key, body)
}

/// The envelope as [`super::types::Notification`] describes it, read in place: the fields
/// the shop uses borrow from the body (copied only where JSON escapes them), the others must
/// be present but are skipped.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    event_type: Cow<'a, str>,
    #[serde(borrow)]
    resource: Resource<'a>,
    #[allow(dead_code)]
    create_time: IgnoredAny,
    #[allow(dead_code)]
    resource_type: IgnoredAny,
}

#[derive(Deserialize)]
struct Resource<'a> {
    #[serde(borrow)]
    algorithm: Cow<'a, str>,
    #[serde(borrow)]
    ciphertext: Cow<'a, str>,
    #[serde(borrow, default)]
    associated_data: Cow<'a, str>,
    #[serde(borrow)]
    nonce: Cow<'a, str>,
}

/// Parses and decrypts an already verified notify body.
pub fn decrypt(key: &ApiV3Key, body: &[u8]) -> Result<Verified, NotifyError> {
    let n: Envelope<'_> = serde_json::from_slice(body).map_err(|_| NotifyError::Malformed)?;
    if n.resource.algorithm != ALGORITHM {
        return Err(NotifyError::Algorithm);
    }
    let plain = key.decrypt(&n.resource.nonce, &n.resource.associated_data, &n.resource.ciphertext)?;
    let event = match n.event_type.as_ref() {
        "TRANSACTION.SUCCESS" => Event::Paid(serde_json::from_slice(&plain).map_err(|_| NotifyError::Malformed)?),
        t if t.starts_with("REFUND.") => {
            Event::Refund(serde_json::from_slice(&plain).map_err(|_| NotifyError::Malformed)?)
        }
        t => Event::Other { event_type: t.to_owned(), plaintext: String::from_utf8_lossy(&plain).into_owned() },
    };
    Ok(Verified { id: n.id.into_owned(), event_type: n.event_type.into_owned(), event })
}
