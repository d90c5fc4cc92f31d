//! AEAD_AES_256_GCM with the APIv3 key: the key is the 32 ASCII bytes as configured, the
//! nonce the 12 UTF-8 bytes of `resource.nonce`, the associated data `resource.associated_data`,
//! and the ciphertext base64 of ciphertext ‖ 16-byte tag.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum AeadError {
    #[error("the APIv3 key must be 32 bytes")]
    BadKey,
    #[error("the nonce must be 12 bytes")]
    BadNonce,
    #[error("the ciphertext is not base64")]
    BadBase64,
    #[error("decryption failed: wrong key or altered ciphertext")]
    Open,
}

/// The key schedule is computed once, when the key is made: every notify reuses it.
#[derive(Clone)]
pub struct ApiV3Key(std::sync::Arc<LessSafeKey>);

impl std::fmt::Debug for ApiV3Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiV3Key(<redacted>)")
    }
}

impl ApiV3Key {
    pub fn new(key: &str) -> Result<Self, AeadError> {
        let bytes: [u8; 32] = key.as_bytes().try_into().map_err(|_| AeadError::BadKey)?;
        let unbound = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| AeadError::BadKey)?;
        Ok(Self(std::sync::Arc::new(LessSafeKey::new(unbound))))
    }

    pub fn decrypt(&self, nonce: &str, associated_data: &str, ciphertext_b64: &str) -> Result<Vec<u8>, AeadError> {
        let nonce = nonce_of(nonce)?;
        let mut buf = B64.decode(ciphertext_b64).map_err(|_| AeadError::BadBase64)?;
        let len = self
            .0
            .open_in_place(nonce, Aad::from(associated_data.as_bytes()), &mut buf)
            .map_err(|_| AeadError::Open)?
            .len();
        // The plaintext is the front of the buffer: drop the tag instead of copying.
        buf.truncate(len);
        Ok(buf)
    }

    /// The inverse, for the simulator and for tests.
    pub fn encrypt(&self, nonce: &str, associated_data: &str, plaintext: &[u8]) -> Result<String, AeadError> {
        let nonce = nonce_of(nonce)?;
        let mut buf = plaintext.to_vec();
        self.0
            .seal_in_place_append_tag(nonce, Aad::from(associated_data.as_bytes()), &mut buf)
            .map_err(|_| AeadError::Open)?;
        Ok(B64.encode(buf))
    }
}

fn nonce_of(s: &str) -> Result<Nonce, AeadError> {
    let bytes: [u8; NONCE_LEN] = s.as_bytes().try_into().map_err(|_| AeadError::BadNonce)?;
    Ok(Nonce::assume_unique_for_key(bytes))
}
