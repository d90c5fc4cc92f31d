//! What an operator has used of a daily allowance (points granted, stock written off): one
//! counter per power, operator and Shanghai day, taken under a condition in the transaction
//! of the use, so parallel uses never pass the cap together.

use crate::{Cond, Result, Store, TxOp, Update, keys};

/// Powers with a daily allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    PointsGrant,
    WriteOff,
}

impl Power {
    fn name(self) -> &'static str {
        match self {
            Power::PointsGrant => "points",
            Power::WriteOff => "write_off",
        }
    }
}

/// The write that uses `amount` of the operator's allowance of `day`: refused when it would
/// pass `cap`.
pub fn spend(power: Power, operator_id: &str, day: &str, amount: i64, cap: i64) -> TxOp {
    let cond = if amount > cap {
        // More than a whole day's allowance: refused whatever was used.
        Cond::Or(Vec::new())
    } else {
        Cond::Missing("used".into()).or(Cond::le("used", cap - amount))
    };
    TxOp::Update {
        key: keys::operator_allowance(power.name(), operator_id, day),
        update: Update::new().add("used", amount).set("day", day),
        cond: Some(cond),
    }
}

/// What the operator has used of the allowance of `day`.
pub async fn used(store: &dyn Store, power: Power, operator_id: &str, day: &str) -> Result<i64> {
    Ok(store
        .get(&keys::operator_allowance(power.name(), operator_id, day))
        .await?
        .and_then(|i| i.get("used").and_then(serde_json::Value::as_i64))
        .unwrap_or(0))
}
