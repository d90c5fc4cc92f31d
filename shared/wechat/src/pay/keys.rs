//! RSA keys: the merchant's private key (signs requests and `paySign`) and WeChat Pay's
//! public keys (verify answers and notifies). PEM in, PKCS#8 or PKCS#1 for private keys,
//! SubjectPublicKeyInfo or PKCS#1 for public keys, or a platform certificate.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, SubjectPublicKeyInfoDer};

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum KeyError {
    #[error("not a PEM RSA private key (PKCS#8 or PKCS#1 expected)")]
    BadPrivateKey,
    #[error("not a PEM RSA public key or certificate")]
    BadPublicKey,
    #[error("RSA signing failed")]
    Sign,
}

pub struct MerchantKey {
    pair: RsaKeyPair,
}

impl std::fmt::Debug for MerchantKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MerchantKey(<redacted>)")
    }
}

impl MerchantKey {
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let der = PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|_| KeyError::BadPrivateKey)?;
        let pair = match der {
            PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
            _ => return Err(KeyError::BadPrivateKey),
        }
        .map_err(|_| KeyError::BadPrivateKey)?;
        Ok(Self { pair })
    }

    /// Base64 of SHA256withRSA (PKCS#1 v1.5) over `message`.
    pub fn sign(&self, message: &[u8]) -> Result<String, KeyError> {
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(&signature::RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut sig)
            .map_err(|_| KeyError::Sign)?;
        Ok(B64.encode(sig))
    }

    /// The matching public key, e.g. to give a simulator.
    pub fn public_key(&self) -> Result<PublicKey, KeyError> {
        PublicKey::from_der(self.pair.public_key().as_ref().to_vec())
    }

    /// The matching public key as a `PUBLIC KEY` PEM, the form WeChat Pay hands out.
    pub fn public_key_pem(&self) -> Result<String, KeyError> {
        let der: PublicKeyX509Der = self.pair.public_key().as_der().map_err(|_| KeyError::BadPublicKey)?;
        Ok(pem("PUBLIC KEY", der.as_ref()))
    }

    /// A new 2048-bit key and its PKCS#8 PEM (for the simulator, local runs and tests).
    pub fn generate() -> Result<(MerchantKey, String), KeyError> {
        let pair = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(|_| KeyError::BadPrivateKey)?;
        let der: Pkcs8V1Der = pair.as_der().map_err(|_| KeyError::BadPrivateKey)?;
        let text = pem("PRIVATE KEY", der.as_ref());
        Ok((MerchantKey { pair }, text))
    }
}

/// PEM text of `der` under `label`, 64 base64 characters a line.
pub fn pem(label: &str, der: &[u8]) -> String {
    let b = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// An RSA public key, parsed once when it is loaded (a notify's check then costs the RSA
/// operation and little else).
#[derive(Clone)]
pub struct PublicKey {
    /// PKCS#1 RSAPublicKey or SubjectPublicKeyInfo DER; aws-lc-rs reads both.
    der: Vec<u8>,
    parsed: signature::ParsedPublicKey,
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for PublicKey {}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({} bytes)", self.der.len())
    }
}

impl PublicKey {
    /// A `PUBLIC KEY` (SubjectPublicKeyInfo, as WeChat Pay's public key file) or a
    /// `CERTIFICATE` PEM.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        if pem.contains("BEGIN CERTIFICATE") {
            let (key, _) = from_certificate_pem(pem)?;
            return Ok(key);
        }
        let spki = SubjectPublicKeyInfoDer::from_pem_slice(pem.as_bytes()).map_err(|_| KeyError::BadPublicKey)?;
        Self::from_der(spki.as_ref().to_vec())
    }

    /// A key of 2,048 to 8,192 bits, refused here rather than at every check.
    fn from_der(der: Vec<u8>) -> Result<Self, KeyError> {
        let parsed = signature::ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &der)
            .map_err(|_| KeyError::BadPublicKey)?;
        Ok(Self { der, parsed })
    }

    /// Whether `signature_b64` is SHA256withRSA over `message` by this key.
    pub fn verify(&self, message: &[u8], signature_b64: &str) -> bool {
        // 2,048 to 8,192 bits: at most 1,024 bytes, so the decoded signature fits the stack.
        let mut sig = [0u8; 1_024];
        let Ok(n) = B64.decode_slice(signature_b64.trim(), &mut sig) else { return false };
        self.parsed.verify_sig(message, &sig[..n]).is_ok()
    }
}

/// A platform certificate's public key and its serial number as WeChat writes it (upper-case
/// hex, as in `Wechatpay-Serial`).
pub fn from_certificate_pem(pem: &str) -> Result<(PublicKey, String), KeyError> {
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|_| KeyError::BadPublicKey)?;
    from_certificate_der(der.as_ref())
}

pub fn from_certificate_der(der: &[u8]) -> Result<(PublicKey, String), KeyError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|_| KeyError::BadPublicKey)?;
    let serial: String = cert.raw_serial().iter().map(|b| format!("{b:02X}")).collect();
    // DER may carry a leading zero byte to keep the serial positive; WeChat omits it.
    let serial = serial.strip_prefix("00").filter(|s| !s.is_empty()).unwrap_or(&serial).to_owned();
    Ok((PublicKey::from_der(cert.public_key().raw.to_vec())?, serial))
}
