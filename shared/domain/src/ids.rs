//! Identifiers, parsed once where they enter (a request, a notify, a stored record) and
//! carried typed after that: an `OrderNo` is never an openid, and a malformed one never
//! reaches a key. Each derefs to `&str`, so reading one is as cheap as before.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

use crate::DomainError;

fn id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// WeChat Pay's out_refund_no alphabet: letters, digits and `_-|*@`.
fn refund_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'|' | b'*' | b'@')
}

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident, field: $field:literal, len: $min:literal..=$max:literal, bytes: $ok:expr, alphabet: $alpha:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(pub(crate) String);

        impl $name {
            /// The name this id has in requests, for error messages.
            pub const FIELD: &'static str = $field;

            pub fn parse(s: &str) -> Result<Self, DomainError> {
                let ok: fn(u8) -> bool = $ok;
                if s.len() < $min || s.len() > $max || !s.bytes().all(ok) {
                    return Err(DomainError::invalid(
                        $field,
                        concat!("must be ", $min, " to ", $max, " ", $alpha),
                    ));
                }
                Ok(Self(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = DomainError;
            fn try_from(s: String) -> Result<Self, DomainError> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, o: &str) -> bool {
                self.0 == o
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, o: &&str) -> bool {
                self.0 == *o
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, o: &String) -> bool {
                &self.0 == o
            }
        }
    };
}

string_id!(
    /// An order number, which is also WeChat Pay's `out_trade_no` (6 to 32 characters).
    OrderNo, field: "order_no", len: 6..=32, bytes: id_byte, alphabet: "letters, digits, '-' or '_'"
);
string_id!(
    /// A shopper's openid under this mini-program (28 characters in practice).
    OpenId, field: "openid", len: 6..=64, bytes: id_byte, alphabet: "letters, digits, '-' or '_'"
);
string_id!(
    /// WeChat Pay's id of a payment.
    TransactionId, field: "transaction_id", len: 1..=64, bytes: alnum, alphabet: "letters or digits"
);
string_id!(
    /// The shop's number of a refund, unique per merchant; WeChat Pay refunds one number once.
    OutRefundNo, field: "out_refund_no", len: 1..=64, bytes: refund_byte, alphabet: "letters, digits or _-|*@"
);
string_id!(
    /// The client's id of one attempt (place an order, ask for a refund): a retry with the same
    /// id gets the first answer.
    RequestId, field: "request_id", len: 8..=32, bytes: id_byte, alphabet: "letters, digits, '-' or '_'"
);
string_id!(
    /// A coupon a shopper holds.
    CouponId, field: "coupon_id", len: 1..=64, bytes: id_byte, alphabet: "letters, digits, '-' or '_'"
);
string_id!(
    /// A SKU, as a shopper's order or cart names it.
    SkuId, field: "sku_id", len: 1..=64, bytes: id_byte, alphabet: "letters, digits, '-' or '_'"
);
string_id!(
    /// A product.
    ProductId, field: "product_id", len: 1..=64, bytes: id_byte, alphabet: "letters, digits, '-' or '_'"
);
string_id!(
    /// A warehouse, chosen by an operator.
    WarehouseId, field: "warehouse_id", len: 1..=32, bytes: id_byte, alphabet: "letters, digits, '-' or '_'"
);
string_id!(
    /// A coupon template (the kind of coupon; a shopper holds a [`CouponId`] of it).
    TemplateId, field: "template_id", len: 1..=64, bytes: id_byte, alphabet: "letters, digits, '-' or '_'"
);
string_id!(
    /// A product, a SKU, a warehouse or a coupon template, as a path names it.
    CatalogId, field: "id", len: 1..=64, bytes: id_byte, alphabet: "letters, digits, '-' or '_'"
);

/// Units of one line a shopper asks for: 1 to [`crate::order::MAX_QUANTITY`], so no sum or
/// product of them overflows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Quantity(i64);

impl Quantity {
    pub fn parse(n: i64) -> Result<Quantity, DomainError> {
        if (1..=crate::order::MAX_QUANTITY).contains(&n) {
            Ok(Quantity(n))
        } else {
            Err(DomainError::invalid("quantity", format!("must be 1 to {}", crate::order::MAX_QUANTITY)))
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for Quantity {
    type Error = DomainError;
    fn try_from(n: i64) -> Result<Self, DomainError> {
        Self::parse(n)
    }
}

impl From<Quantity> for i64 {
    fn from(q: Quantity) -> i64 {
        q.0
    }
}

/// An id of any kind from a literal, for tests.
#[cfg(test)]
pub(crate) fn id<T: TryFrom<String, Error = DomainError>>(s: &str) -> T {
    match T::try_from(s.to_owned()) {
        Ok(v) => v,
        Err(e) => panic!("test id {s}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_at_the_edge() {
        assert!(OrderNo::parse("20261201000000123456").is_ok());
        assert!(OrderNo::parse("12345").is_err(), "WeChat wants at least 6");
        assert!(OrderNo::parse(&"9".repeat(33)).is_err());
        assert!(OrderNo::parse("2026/../x").is_err());
        assert!(OrderNo::parse("ORDER#1").is_err(), "no key separator gets into a key");
        assert!(RequestId::parse("short").is_err());
        assert!(OutRefundNo::parse("R2026-req|1*@").is_ok());
        assert!(TransactionId::parse("4200-1").is_err());
        let e = OpenId::parse("o x").unwrap_err();
        assert!(e.to_string().starts_with("openid:"), "{e}");
    }

    #[test]
    fn ids_read_as_str_and_round_trip() {
        let n = OrderNo::parse("N123456").unwrap();
        assert_eq!(n, "N123456");
        assert_eq!(n.len(), 7);
        let back: OrderNo = round_trip(&n);
        assert_eq!(back, n);
        assert!(OrderNo::try_from("bad no".to_string()).is_err());
    }

    fn round_trip(n: &OrderNo) -> OrderNo {
        OrderNo::try_from(String::from(n.clone())).unwrap()
    }
}
