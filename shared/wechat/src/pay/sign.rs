//! The signed messages of API v3, each format in one place:
//! - a merchant request: `METHOD\nCANONICAL_URL\nTIMESTAMP\nNONCE\nBODY\n`, sent as the
//!   `Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,timestamp=…,serial_no=…,signature=…`
//!   header;
//! - an answer or notify: `TIMESTAMP\nNONCE\nBODY\n` over the raw body bytes;
//! - `wx.requestPayment`'s paySign: `appId\ntimeStamp\nnonceStr\npackage\n`.

use std::collections::HashMap;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use super::SCHEME;
use super::keys::{KeyError, MerchantKey};

pub fn request_message(method: &str, canonical_url: &str, timestamp: i64, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut m = format!("{method}\n{canonical_url}\n{timestamp}\n{nonce}\n").into_bytes();
    m.extend_from_slice(body);
    m.push(b'\n');
    m
}

pub fn response_message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut m = format!("{timestamp}\n{nonce}\n").into_bytes();
    m.extend_from_slice(body);
    m.push(b'\n');
    m
}

pub fn pay_sign_message(appid: &str, timestamp: &str, nonce: &str, package: &str) -> Vec<u8> {
    format!("{appid}\n{timestamp}\n{nonce}\n{package}\n").into_bytes()
}

/// 32 random characters from [0-9A-Z], as the official SDKs make them.
pub fn nonce() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut bytes = [0u8; 32];
    // The system RNG does not fail on supported platforms; an all-zero nonce would still be
    // a valid (if poor) nonce, never a security hole, as the timestamp is signed too.
    let _ = SystemRandom::new().fill(&mut bytes);
    bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect()
}

/// Who signs a merchant request: the merchant id, its API certificate's serial and its key.
pub struct Credentials<'a> {
    pub mchid: &'a str,
    pub serial_no: &'a str,
    pub key: &'a MerchantKey,
}

/// The `Authorization` header of a merchant request.
pub fn authorization(
    who: &Credentials<'_>,
    method: &str,
    canonical_url: &str,
    body: &[u8],
    timestamp: i64,
    nonce: &str,
) -> Result<String, KeyError> {
    let signature = who.key.sign(&request_message(method, canonical_url, timestamp, nonce, body))?;
    let (mchid, serial_no) = (who.mchid, who.serial_no);
    Ok(format!(
        r#"{SCHEME} mchid="{mchid}",nonce_str="{nonce}",timestamp="{timestamp}",serial_no="{serial_no}",signature="{signature}""#
    ))
}

/// The parts of an `Authorization` header (attribute order is free).
#[derive(Debug, Clone, PartialEq)]
pub struct AuthParts {
    pub mchid: String,
    pub nonce_str: String,
    pub timestamp: String,
    pub serial_no: String,
    pub signature: String,
}

pub fn parse_authorization(header: &str) -> Option<AuthParts> {
    let rest = header.strip_prefix(SCHEME)?.trim_start();
    let mut attrs = HashMap::new();
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        let v = v.strip_prefix('"')?.strip_suffix('"')?;
        attrs.insert(k, v.to_owned());
    }
    let mut take = |k: &str| attrs.remove(k);
    Some(AuthParts {
        mchid: take("mchid")?,
        nonce_str: take("nonce_str")?,
        timestamp: take("timestamp")?,
        serial_no: take("serial_no")?,
        signature: take("signature")?,
    })
}
