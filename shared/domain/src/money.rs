//! Money is integer fen (1 yuan = 100 fen) everywhere; no float comes near a price.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Fen(i64);

impl Fen {
    pub const ZERO: Fen = Fen(0);

    pub const fn new(fen: i64) -> Fen {
        Fen(fen)
    }

    /// The amount in fen, for wire formats and storage conditions.
    pub const fn fen(self) -> i64 {
        self.0
    }

    pub fn checked_sub(self, o: Fen) -> Option<Fen> {
        self.0.checked_sub(o.0).map(Fen::new)
    }

    pub const fn yuan(y: i64) -> Fen {
        Fen(y * 100)
    }

    pub fn checked_mul(self, n: i64) -> Option<Fen> {
        self.0.checked_mul(n).map(Fen::new)
    }

    pub fn checked_add(self, o: Fen) -> Option<Fen> {
        self.0.checked_add(o.0).map(Fen::new)
    }
}

impl std::fmt::Display for Fen {
    /// Yuan with two decimals, as WeChat Pay's bills print amounts.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", a / 100, a % 100)
    }
}

/// The single-payment limit of the seed: 50,000 yuan.
pub const SINGLE_PAYMENT_LIMIT: Fen = Fen::yuan(50_000);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_as_yuan() {
        assert_eq!(Fen(12345).to_string(), "123.45");
        assert_eq!(Fen(5).to_string(), "0.05");
        assert_eq!(Fen(-2700).to_string(), "-27.00");
        assert_eq!(SINGLE_PAYMENT_LIMIT.0, 5_000_000);
    }
}
