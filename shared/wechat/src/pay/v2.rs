//! The legacy v2 sign, for merchants whose older interfaces still use it: parameters with
//! non-empty values, except `sign`, sorted by name, joined as `k=v&…`, then `&key=KEY`; MD5 or
//! HMAC-SHA256 (keyed with KEY) over that, in upper-case hex.

use std::collections::BTreeMap;

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignType {
    Md5,
    HmacSha256,
}

impl SignType {
    /// `sign_type` as v2 writes it; absent means MD5.
    pub fn parse(s: Option<&str>) -> Option<SignType> {
        match s {
            None | Some("MD5") => Some(SignType::Md5),
            Some("HMAC-SHA256") => Some(SignType::HmacSha256),
            Some(_) => None,
        }
    }
}

fn string_to_sign(params: &BTreeMap<String, String>, key: &str) -> String {
    let mut s: String = params
        .iter()
        .filter(|(k, v)| !v.is_empty() && k.as_str() != "sign")
        .map(|(k, v)| format!("{k}={v}&"))
        .collect();
    s.push_str("key=");
    s.push_str(key);
    s
}

fn upper_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

pub fn sign(params: &BTreeMap<String, String>, key: &str, sign_type: SignType) -> String {
    let s = string_to_sign(params, key);
    match sign_type {
        SignType::Md5 => upper_hex(&Md5::digest(s.as_bytes())),
        SignType::HmacSha256 => {
            // HMAC takes keys of any length.
            let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes()).unwrap_or_else(|_| unreachable!());
            m.update(s.as_bytes());
            upper_hex(&m.finalize().into_bytes())
        }
    }
}

/// Checks the `sign` parameter with the scheme `sign_type` names, in constant time.
pub fn verify(params: &BTreeMap<String, String>, key: &str) -> bool {
    let Some(given) = params.get("sign") else { return false };
    let Some(t) = SignType::parse(params.get("sign_type").map(String::as_str)) else { return false };
    let expected = sign(params, key, t);
    given.len() == expected.len() && given.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}
