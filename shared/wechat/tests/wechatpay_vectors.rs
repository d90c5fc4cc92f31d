//! Known-answer vectors published by WeChat Pay's official SDKs, plus the documented v2
//! example, each cited where it is used. They pin every format byte for byte.

use std::collections::BTreeMap;

use wechat::pay::keys::{MerchantKey, PublicKey, from_certificate_pem};
use wechat::pay::types::CertificateList;
use wechat::pay::v2::{self, SignType};
use wechat::pay::{ApiV3Key, SignedHeaders, Verifier, VerifyError};

/// The test RSA key of the official Go SDK: github.com/wechatpay-apiv3/wechatpay-go
/// @6dbd7ce, `utils/sign_test.go` (`testAlgorithmPrivateKeyStr`, PKCS#8; the SDK writes its
/// header as "TESTING KEY" to keep scanners quiet).
const GO_SDK_KEY_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDZUJN33V+dSfvd
fL0Mu+39XrZNXFFMQSy1V15FpncHeV47SmV0TzTqZc7hHB0ddqAdDi8Z5k3TKqb7
6sOwYr5TcAfuR6PIPaleyE0/0KrljBum2Isa2Nyq7Dgc3ElBQ6YN4l/a+DpvKaz1
FSKmKrhLNskqokWVSlu4g8OlKlbPXQ9ibII14MZRQrrkTmHYHzfi7GXXM0thAKuR
0HNvyhTHBh4/lrYM3GaMvmWwkwvsMavnOex6+eioZHBOb1/EIZ/LzC6zuHArPpyW
3daGaZ1rtQB1vVzTyERAVVFsXXgBHvfFud3w3ShsJYk8JvMwK2RpJ5/gV0QSARcm
LDRUAlPzAgMBAAECggEBAMc7rDeUaXiWv6bMGbZ3BTXpg1FhdddnWUnYE8HfX/km
OFI7XtBHXcgYFpcjYz4D5787pcsk7ezPidAj58zqenuclmjKnUmT3pfbI5eCA2v4
C9HnbYDrmUPK1ZcADtka4D6ScDccpNYNa1g2TFHzkIrEa6H+q7S3O2fqxY/DRVtN
0JIXalBb8daaqL5QVzSmM2BMVnHy+YITJWIkP2a3pKs9C0W65JGDsnG0wVrHinHF
+cnhFZIbaPEI//DAFMc9NkrWOKVRTEgcCUxCFaHOZVNxDWZD7A2ZfJB2rK6eg//y
gEiFDR2h6mTaDowMB4YF2n2dsIO4/dCG8vPHI20jn4ECgYEA/ZGu6lEMlO0XZnam
AZGtiNgLcCfM/C2ZERZE7QTRPZH1WdK92Al9ndldsswFw4baJrJLCmghjF/iG4zi
hhBvLnOLksnZUfjdumxoHDWXo2QBWbI5QsWIE7AuTiWgWj1I7X4fCXSQf6i+M/y2
6TogQ7d0ANpZFyOkTNMn/tiJvLECgYEA22XqlamG/yfAGWery5KNH2DGlTIyd6xJ
WtJ9j3jU99lZ0bCQ5xhiBbU9ImxCi3zgTsoqLWgA/p00HhNFNoUcTl9ofc0G3zwT
D1y0ZzcnVKxGJdZ6ohW52V0hJStAigtjYAsUgjm7//FH7PiQDBDP1Wa6xSRkDQU/
aSbQxvEE8+MCgYEA3bb8krW7opyM0XL9RHH0oqsFlVO30Oit5lrqebS0oHl3Zsr2
ZGgoBlWBsEzk3UqUhTFwm/DhJLTSJ/TQPRkxnhQ5/mewNhS9C7yua7wQkzVmWN+V
YeUGTvDGDF6qDz12/vJAgSwDDRym8x4NcXD5tTw7mmNRcwIfL22SkysThIECgYAV
BgccoEoXWS/HP2/u6fQr9ZIR6eV8Ij5FPbZacTG3LlS1Cz5XZra95UgebFFUHHtC
EY1JHJY7z8SWvTH8r3Su7eWNaIAoFBGffzqqSVazfm6aYZsOvRY6BfqPHT3p/H1h
Tq6AbBffxrcltgvXnCTORjHPglU0CjSxVs7awW3AEQKBgB5WtaC8VLROM7rkfVIq
+RXqE5vtJfa3e3N7W3RqxKp4zHFAPfr82FK5CX2bppEaxY7SEZVvVInKDc5gKdG/
jWNRBmvvftZhY59PILHO2X5vO4FXh7suEjy6VIh0gsnK36mmRboYIBGsNuDHjXLe
BDa+8mDLkWu5nHEhOxy2JJZl
-----END PRIVATE KEY-----";

/// The same key in PKCS#1 form (`openssl rsa -traditional` of the above), to show both
/// encodings load to the same signer.
const GO_SDK_KEY_PKCS1: &str = "-----BEGIN RSA PRIVATE KEY-----
MIIEpAIBAAKCAQEA2VCTd91fnUn73Xy9DLvt/V62TVxRTEEstVdeRaZ3B3leO0pl
dE806mXO4RwdHXagHQ4vGeZN0yqm++rDsGK+U3AH7kejyD2pXshNP9Cq5YwbptiL
Gtjcquw4HNxJQUOmDeJf2vg6byms9RUipiq4SzbJKqJFlUpbuIPDpSpWz10PYmyC
NeDGUUK65E5h2B834uxl1zNLYQCrkdBzb8oUxwYeP5a2DNxmjL5lsJML7DGr5zns
evnoqGRwTm9fxCGfy8wus7hwKz6clt3Whmmda7UAdb1c08hEQFVRbF14AR73xbnd
8N0obCWJPCbzMCtkaSef4FdEEgEXJiw0VAJT8wIDAQABAoIBAQDHO6w3lGl4lr+m
zBm2dwU16YNRYXXXZ1lJ2BPB31/5JjhSO17QR13IGBaXI2M+A+e/O6XLJO3sz4nQ
I+fM6np7nJZoyp1Jk96X2yOXggNr+AvR522A65lDytWXAA7ZGuA+knA3HKTWDWtY
NkxR85CKxGuh/qu0tztn6sWPw0VbTdCSF2pQW/HWmqi+UFc0pjNgTFZx8vmCEyVi
JD9mt6SrPQtFuuSRg7JxtMFax4pxxfnJ4RWSG2jxCP/wwBTHPTZK1jilUUxIHAlM
QhWhzmVTcQ1mQ+wNmXyQdqyunoP/8oBIhQ0doepk2g6MDAeGBdp9nbCDuP3QhvLz
xyNtI5+BAoGBAP2RrupRDJTtF2Z2pgGRrYjYC3AnzPwtmREWRO0E0T2R9VnSvdgJ
fZ3ZXbLMBcOG2iaySwpoIYxf4huM4oYQby5zi5LJ2VH43bpsaBw1l6NkAVmyOULF
iBOwLk4loFo9SO1+Hwl0kH+ovjP8tuk6IEO3dADaWRcjpEzTJ/7YibyxAoGBANtl
6pWphv8nwBlnq8uSjR9gxpUyMnesSVrSfY941PfZWdGwkOcYYgW1PSJsQot84E7K
Ki1oAP6dNB4TRTaFHE5faH3NBt88Ew9ctGc3J1SsRiXWeqIVudldISUrQIoLY2AL
FII5u//xR+z4kAwQz9VmusUkZA0FP2km0MbxBPPjAoGBAN22/JK1u6KcjNFy/URx
9KKrBZVTt9DoreZa6nm0tKB5d2bK9mRoKAZVgbBM5N1KlIUxcJvw4SS00if00D0Z
MZ4UOf5nsDYUvQu8rmu8EJM1ZljflWHlBk7wxgxeqg89dv7yQIEsAw0cpvMeDXFw
+bU8O5pjUXMCHy9tkpMrE4SBAoGAFQYHHKBKF1kvxz9v7un0K/WSEenlfCI+RT22
WnExty5UtQs+V2a2veVIHmxRVBx7QhGNSRyWO8/Elr0x/K90ru3ljWiAKBQRn386
qklWs35ummGbDr0WOgX6jx096fx9YU6ugGwX38a3JbYL15wkzkYxz4JVNAo0sVbO
2sFtwBECgYAeVrWgvFS0TjO65H1SKvkV6hOb7SX2t3tze1t0asSqeMxxQD36/NhS
uQl9m6aRGsWO0hGVb1SJyg3OYCnRv41jUQZr737WYWOfTyCxztl+bzuBV4e7LhI8
ulSIdILJyt+ppkW6GCARrDbgx41y3gQ2vvJgy5FruZxxITsctiSWZQ==
-----END RSA PRIVATE KEY-----";

/// wechatpay-go `core/auth/verifiers/sha256withrsa_pubkey_verifier_test.go` (`testPubKey`).
const GO_SDK_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA2VCTd91fnUn73Xy9DLvt
/V62TVxRTEEstVdeRaZ3B3leO0pldE806mXO4RwdHXagHQ4vGeZN0yqm++rDsGK+
U3AH7kejyD2pXshNP9Cq5YwbptiLGtjcquw4HNxJQUOmDeJf2vg6byms9RUipiq4
SzbJKqJFlUpbuIPDpSpWz10PYmyCNeDGUUK65E5h2B834uxl1zNLYQCrkdBzb8oU
xwYeP5a2DNxmjL5lsJML7DGr5znsevnoqGRwTm9fxCGfy8wus7hwKz6clt3Whmmd
a7UAdb1c08hEQFVRbF14AR73xbnd8N0obCWJPCbzMCtkaSef4FdEEgEXJiw0VAJT
8wIDAQAB
-----END PUBLIC KEY-----";

/// wechatpay-go `utils/sign_test.go`: SHA256withRSA of "source" (`testAlgorithmExpectSignature`).
const GO_SDK_SIGNATURE_OF_SOURCE: &str = concat!(
    "BKyAfU4iMCuvXMXS0Wzam3V/cnxZ+JaqigPM5OhljS2iOT95OO6Fsuml2JkFANJU9K6q9bLlDhPXuoVz+pp4hAm6pHU4ld81",
    "5U4jsKu1RkyaII+1CYBUYC8TK0XtJ8FwUXXz8vZHh58rrAVN1XwNyvD1vfpxrMT4SL536GLwvpUHlCqIMzoZUguLli/K8V29",
    "QiOhuH6IEqLNJn8e9b3nwNcQ7be3CzYGpDAKBfDGPCqCv8Rw5zndhlffk2FEA70G4hvMwe51qMN/RAJbknXG23bSlObuTCN7",
    "Ndj1aJGH6/L+hdwfLpUtJm4QYVazzW7DFD27EpSQEqA8bX9+8m1rLg==",
);

/// wechatpay-go `core/notify/notify_test.go` (`TestHandler_ParseNotifyRequest`): a platform
/// certificate and a notify it signed, with its headers.
const GO_SDK_NOTIFY_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIDVzCCAj+gAwIBAgIJANfOWdH1ItcBMA0GCSqGSIb3DQEBCwUAMEIxCzAJBgNV
BAYTAlhYMRUwEwYDVQQHDAxEZWZhdWx0IENpdHkxHDAaBgNVBAoME0RlZmF1bHQg
Q29tcGFueSBMdGQwHhcNMjEwNDI3MDg1NTIzWhcNMzEwNDI1MDg1NTIzWjBCMQsw
CQYDVQQGEwJYWDEVMBMGA1UEBwwMRGVmYXVsdCBDaXR5MRwwGgYDVQQKDBNEZWZh
dWx0IENvbXBhbnkgTHRkMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA
2VCTd91fnUn73Xy9DLvt/V62TVxRTEEstVdeRaZ3B3leO0pldE806mXO4RwdHXag
HQ4vGeZN0yqm++rDsGK+U3AH7kejyD2pXshNP9Cq5YwbptiLGtjcquw4HNxJQUOm
DeJf2vg6byms9RUipiq4SzbJKqJFlUpbuIPDpSpWz10PYmyCNeDGUUK65E5h2B83
4uxl1zNLYQCrkdBzb8oUxwYeP5a2DNxmjL5lsJML7DGr5znsevnoqGRwTm9fxCGf
y8wus7hwKz6clt3Whmmda7UAdb1c08hEQFVRbF14AR73xbnd8N0obCWJPCbzMCtk
aSef4FdEEgEXJiw0VAJT8wIDAQABo1AwTjAdBgNVHQ4EFgQUT1c7nd/SUO76HSoZ
umNUJv1R5PwwHwYDVR0jBBgwFoAUT1c7nd/SUO76HSoZumNUJv1R5PwwDAYDVR0T
BAUwAwEB/zANBgkqhkiG9w0BAQsFAAOCAQEAfTjxKRQMzNB/U6ZoCUS+BSNfa2Oh
0plMN6ZuzwiVVZwg1jywvv5yv04koS7Pd4i9E4gt9ZBUQXlpq+A3oOCEEHNRR6b2
kyazGRM7s0OP5X21WrbpSmKmU6K7hkfx30yYs08LVs/Q8DIhvaj1FCFeJzUCzYn/
fHMq4tsbKO0dKAeydPM/nrUZBmaYQVKMVOORGLFjFKVO7JV6Kq/R86ouhjEPgJOe
2xulNBUcjicqtZlBdEh/PWCYP2SpGVDclKm8jeo175T3EVAkdKzzmfpxtMmnMlmq
cTJOU9TxuGvNASMtjj7pYIerTx+xgZDXEVBWFW9PjJ0TV06tCRsgSHItgg==
-----END CERTIFICATE-----";
const GO_SDK_NOTIFY_SERIAL: &str = "D7CE59D1F522D701";
const GO_SDK_NOTIFY_TIMESTAMP: &str = "1624523846";
const GO_SDK_NOTIFY_NONCE: &str = "EcZ9Cmy4Xyx1i6RlJQzLcCyEqDa26NBz";
const GO_SDK_NOTIFY_SIGNATURE: &str = concat!(
    "tJHIiIS9eB2hAYstmAmbbD3ZE5LiIm/Ug5tuL4fC0YOFRWIHV39UFIZXC0e9Wl6lBu6sKvkqDkzpqzBsVHyXFlbYZTOQrVdG",
    "4b6LfTnK4mikv9++ixJMd3vTf2yCqvBkh98zs3Ds5zsYQakzbcwhmw4fMJs4nPLws28H0UW9FjDR//rxELLwXvV1VEA1IBLX",
    "70xptjL8hrfUjEE8kkry6yNJTHZRU8CAc7qHli2Ng1V1qb9ARbK8A3ThmFmPQvRGrapI/jS2laKKgYUmfdEdkNO6B2Cke5e8",
    "VTxY406ArAmQ90GAihDwIcb16TQMnzCMBoutnwZKNiKRACrFmtxw2Q==",
);
const GO_SDK_NOTIFY_BODY: &str = concat!(
    "{\"id\":\"3119dfba-e649-5eec-ab1e-3412bc4d2e17\",\"create_time\":\"2021-06-24T16:37:26+",
    "08:00\",\"resource_type\":\"encrypt-resource\",\"event_type\":\"PAYSCORE.USER_OPEN_SERVI",
    "CE\",\"summary\":\"签约成功\",\"resource\":{\"original_type\":\"payscore\",\"algorithm\":\"AEAD_AE",
    "S_256_GCM\",\"ciphertext\":\"YDS3lKPaC4Y52Gf3uhft5qUBlIa8b428AWTtTauHQfQrRw+X1WpiuHI",
    "Dy0vo1Vd6VEq67aVyqPdDYMkRVSDaZL3iZttevRMOoPKMifozg6XPWjIZumks/GpT48lI4NizyeaqLBo",
    "kNebthah3o1H76qSlO9NkDjp9bzmKLEYYH9TEklFUpsvPqOTOcgSLgh21YJXYR7dEBXFgRLiNIKRgO5J",
    "dXh1hccRUAlyVWxE54PXpnQ==\",\"associated_data\":\"payscore\",\"nonce\":\"Kj7QIyUiYx1q\"}}",
);

fn go_headers() -> SignedHeaders {
    SignedHeaders {
        timestamp: GO_SDK_NOTIFY_TIMESTAMP.into(),
        nonce: GO_SDK_NOTIFY_NONCE.into(),
        signature: GO_SDK_NOTIFY_SIGNATURE.into(),
        serial: GO_SDK_NOTIFY_SERIAL.into(),
    }
}

fn go_verifier() -> Verifier {
    let (key, serial) = from_certificate_pem(GO_SDK_NOTIFY_CERT).unwrap();
    assert_eq!(serial, GO_SDK_NOTIFY_SERIAL, "the serial is read from the certificate");
    let v = Verifier::new();
    v.add(&serial, key);
    v
}

#[test]
fn go_sdk_signature_vector_pkcs8_and_pkcs1() {
    for pem in [GO_SDK_KEY_PKCS8, GO_SDK_KEY_PKCS1] {
        let key = MerchantKey::from_pem(pem).unwrap();
        // PKCS#1 v1.5 is deterministic, so the signature must match to the byte.
        assert_eq!(key.sign(b"source").unwrap(), GO_SDK_SIGNATURE_OF_SOURCE);
    }
    let public = PublicKey::from_pem(GO_SDK_PUBLIC_KEY).unwrap();
    assert!(public.verify(b"source", GO_SDK_SIGNATURE_OF_SOURCE));
    assert!(!public.verify(b"sourcf", GO_SDK_SIGNATURE_OF_SOURCE));
    assert!(MerchantKey::from_pem(GO_SDK_PUBLIC_KEY).is_err(), "a public key is no private key");
    assert!(MerchantKey::from_pem("garbage").is_err());
}

#[test]
fn go_sdk_notify_vector_verifies_within_its_window() {
    let v = go_verifier();
    let body = GO_SDK_NOTIFY_BODY.as_bytes();
    let at: i64 = GO_SDK_NOTIFY_TIMESTAMP.parse().unwrap();
    assert_eq!(v.verify(&go_headers(), body, at), Ok(()));
    assert_eq!(v.verify(&go_headers(), body, at + 299), Ok(()));
    assert_eq!(v.verify(&go_headers(), body, at + 300), Err(VerifyError::Stale));
    assert_eq!(v.verify(&go_headers(), body, at - 300), Err(VerifyError::Stale));
    let mut changed = body.to_vec();
    changed[10] ^= 1;
    assert_eq!(v.verify(&go_headers(), &changed, at), Err(VerifyError::BadSignature));
    let mut other = go_headers();
    other.serial = "5273F570169F776DDA526309D9871F33A89973CC".into();
    assert!(matches!(v.verify(&other, body, at), Err(VerifyError::UnknownSerial(_))));
    let mut probe = go_headers();
    probe.signature = format!("WECHATPAY/SIGNTEST/{}", GO_SDK_NOTIFY_SIGNATURE);
    assert_eq!(v.verify(&probe, body, at), Err(VerifyError::Probe));
    // The same key trusted as a WeChat Pay public key (another serial) verifies the same bytes.
    let pk = Verifier::new();
    pk.add("PUB_KEY_ID_0000000000000000000000000001", PublicKey::from_pem(GO_SDK_PUBLIC_KEY).unwrap());
    let mut h = go_headers();
    h.serial = "PUB_KEY_ID_0000000000000000000000000001".into();
    assert_eq!(pk.verify(&h, body, at), Ok(()));
}

/// wechatpay-java `core/src/test/java/com/wechat/pay/java/core/cipher/AeadAesCipherTest.java`
/// with `TestConfig.API_V3_KEY`.
#[test]
fn java_sdk_aead_vector() {
    let key = ApiV3Key::new("a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb").unwrap();
    let plain = key.decrypt("uluk4a9R25RW", "associatedData", "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=").unwrap();
    assert_eq!(plain, b"message");
    assert_eq!(key.encrypt("uluk4a9R25RW", "associatedData", b"message").unwrap(), "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=");
    assert!(key.decrypt("uluk4a9R25RW", "associatedDatb", "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=").is_err());
    assert!(ApiV3Key::new("a7cde1ZJB1kG2e7VfTs3jQzaWizur8G").is_err(), "31 bytes is not an APIv3 key");
}

/// wechatpay-java `core/src/test/java/com/wechat/pay/java/core/model/TestConfig.java`
/// (`DOWNLOAD_CERTIFICATE_RESPONSE`): an encrypted platform certificate as `/v3/certificates`
/// answers it.
#[test]
fn java_sdk_certificate_download_vector() {
    let answer = serde_json::json!({
        "data": [{
            "effective_time": "2023-09-19T23:15:58+08:00",
            "expire_time": "2028-09-17T23:15:58+08:00",
            "serial_no": "5DEA10EF55877E3CF6C33255C2E7DEFFF7E427EC",
            "encrypt_certificate": {
                "algorithm": "AEAD_AES_256_GCM",
                "associated_data": "certificate",
                "nonce": "14b16c03dc1b",
                "ciphertext": concat!(
                    "Mr/AxbvY+WL9hKlD5nIa03LOMPpn5f+CWeNxE4ujl0f5gXZ9XLJ9CldkArCOTsbU62XgKnTc3YvRMZQ7wCmE2fzwmAenAyST",
                    "YsPms72JhggPWfdqVxri9YD5wBYKn8Ck0Fc5JIiVw9WlN2oxHBz83mRVsjoTGC5+cX1CdYqKuZ8pkvi0aCJIq07ZC8MHoTow",
                    "Uz+4jYJy9XeKqip83Z7BmUYxsePpNM+HtihBqTJIUYXJfX7Col5X0ACsApRoU9l6swfW/kzvqNpDJavhDBGasLrr5822+Fk5",
                    "nVkcTi53f8Wbue7ODWjJxj1yhRYcxFCvXLtpYNB+Qa1aXtrBSdBdBI2p7o+6Imn+auHLBCzkrZqF/yd+d4vTn4tqHPLUj89X",
                    "cHsMf96uBo3T/HQV8LEDeIO+6YvOK9FrIDYsvp+imN4n/mnF7eJKo9mpN/QqWJiawrFpAmMMxFKBjIdpgMnVUl3Z11RcWKyf",
                    "OJ3kcmItTWcnZFNyDgR9cS0aU6QPlefa3uUW89uzBuHjcFdDl43yU3LE4qZnHLDcDgx4qt0OFCLiy51GXtEpyYs5k99YJBvK",
                    "K+RyIs4Yc1/smBmClQUhxW+8bsPNOcXfDvH2yX4YzESoO4TV0RqiCgnsSd4zIFyJPiMKIGzVHiw6Kg0eGCmB4mGHEEZCQ0eN",
                    "3SSPO0QVjjtBYfgXDZfVHSaAB8PjWBVNFimoViZZQrwT6Ygo0LU0Dd8+F5aHFYr4OPHPslr3hrgutEYXDTv1vTA6ABJGqknJ",
                    "9Y2vtyWpy7aIwxc0kQq/1ezjs+RMVL/LRpGDnbx1/CGPDjZhYgZypKa55+PDhoaQxqkF3xCLz2DGoNHZYmFqxzAOsAK0vJZw",
                    "4VcAk6ssbA6YIaMuiemEpxfLC9ZiXtRqsX9s+GWjjtA8JywOFMO+NKZm9BH/E5YNg2DDD3sHG9Mciwn7yJ6sdf8h2lAWlEEx",
                    "AOeiBNyshOHAQ0/S+x1ncWNiqY+Uh5n0rtonvePV2MsxVlEWR3AVHn1abcEWkzivd+G5kg7LYO0goqzGClcQfnFfZdO6KwcM",
                    "XsBCnm9A1Bl4+k5LLokTIYH5/36SRIZ9j0CHGD77BQLE7x8AlNsoFS2m263tLLq78TFqvZUTIZIQcVIl+NInscS3xQbA38qq",
                    "FqutCWIwoF1azuJ7woiJyMvnS3xzIpNzP+rzJ8VDXxjLjpEUBOC9WDs74+QMtsAdmh6g0KDclHEk8WJ4P2bnso4z3VCGoDT5",
                    "X/0bS1C+jMZMKaOCNB21FZ08qgUHmKeDeg8ylENu+mh2Y/AaEDSGkGBHIfFbhMYO3uRxhk9hldiHEnHgdkXiVAAUWk/IhtmG",
                    "ijibO/L76vB74Xpes973uK+2iFKgNBk8qTLLZZnuWbcMQuA6VsFULRb/C+q9B21YuAWPMzvgBwr4EX2m/OpF5w8Q0HL7v1H5",
                    "H0mIGJbrjnklUPoBYrw30W3uk7yF0KE6sfMukafFx0S9rBOL0RykGDPwC0lHSNySkXDeM5XvDJ+dtHK+RDwhJR+azfrWAHGM",
                    "tZcQ+YVamjWVmHxXM03j3GeCXgqae1upwHzkPL5OwojcQ5MQi3Kv/1xtwY0cRN/yeZTOsXfujtqhkJj/Vltby4lnW4SCj4Lj",
                    "WQF19BY6zhzF4yybBA8bhhtoNP/zx8QkhHAkIROkK2ZVgfocCAPvfQ+vSrsIBO+L5cmg6mzFn4g84lsHscgXnszIlzUrzx/4",
                    "Tam0uwuS9J1gddZ0I0QUt9SJzfsoBCTU0OgNMUtXKS5HvgXe7abexMtFH5eulOsAuFZkQ5LYJa/m4yHFInXzL/t3hjdTi2Nm",
                    "xUufvYzwIyffRTu5vS9vjscARD9lUQDHFQ/xgWe1i8EkRlrSfjlXt00+4//h2bcJKyTBT3IXwvKNsuY29V9/vU3HkvWKZ99z",
                    "pSlmcZRuBa1BHbyPEvc0NlqIIoKidxqUvOR64MzudHhAjgWFP+IXojfhS3Gj9OJhBL7s",
                ),
            }
        }]
    });
    let list: CertificateList = serde_json::from_value(answer).unwrap();
    let entry = &list.data[0];
    let key = ApiV3Key::new("a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb").unwrap();
    let r = &entry.encrypt_certificate;
    let pem = String::from_utf8(key.decrypt(&r.nonce, &r.associated_data, &r.ciphertext).unwrap()).unwrap();
    let (_, serial) = from_certificate_pem(&pem).unwrap();
    assert_eq!(serial, entry.serial_no);
}

/// The v2 signing example of WeChat Pay's "安全规范" page (pay.weixin.qq.com/wiki/doc/api/
/// jsapi.php?chapter=4_3): MD5 and HMAC-SHA256 of the same parameters and key.
#[test]
fn v2_documented_example() {
    let mut p: BTreeMap<String, String> = [
        ("appid", "wxd930ea5d5a258f4f"),
        ("mch_id", "10000100"),
        ("device_info", "1000"),
        ("body", "test"),
        ("nonce_str", "ibuaiVcKdpRxkhJA"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let key = "192006250b4c09247ec02edce69f6a2d";
    assert_eq!(v2::sign(&p, key, SignType::Md5), "9A0A8659F005D6984697E2CA0A9CF3B7");
    assert_eq!(
        v2::sign(&p, key, SignType::HmacSha256),
        "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
    );
    // Empty values and the sign itself are left out of the string to sign.
    p.insert("attach".into(), String::new());
    p.insert("sign".into(), "9A0A8659F005D6984697E2CA0A9CF3B7".into());
    assert!(v2::verify(&p, key));
    p.insert("sign_type".into(), "HMAC-SHA256".into());
    assert!(!v2::verify(&p, key), "the sign_type changes the scheme (and is signed itself)");
    let hmac = v2::sign(&p, key, SignType::HmacSha256);
    p.insert("sign".into(), hmac);
    assert!(v2::verify(&p, key));
    p.insert("body".into(), "tesT".into());
    assert!(!v2::verify(&p, key));
}
