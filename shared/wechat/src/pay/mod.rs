//! WeChat Pay API v3: request signing, answer and notify verification (WeChat Pay public key
//! and platform certificates, looked up by serial), AEAD_AES_256_GCM, the calls the shop
//! makes, the trade bill, and the legacy v2 sign. Each wire format is written once, here.
//!
//! Cryptography comes from aws-lc-rs (already linked through rustls and the AWS SDK): its RSA
//! and AES-GCM are constant-time, whereas the pure-Rust `rsa` crate carries the timing
//! advisory RUSTSEC-2023-0071 on private-key operations, which signing every request is.

pub mod aead;
pub mod bill;
pub mod client;
pub mod keys;
pub mod notify;
pub mod sign;
pub mod types;
pub mod v2;
pub mod verify;

pub use aead::ApiV3Key;
pub use client::{PayClient, PayError};
pub use keys::{MerchantKey, PublicKey};
pub use verify::{SignedHeaders, Verifier, VerifyError};

/// The signature scheme name of every v3 signature.
pub const SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";
