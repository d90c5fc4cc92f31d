//! The audit trail: who did what to which record, with its state before and after, and when.
//! Entries are appended under a condition that refuses an overwrite, and no code path updates
//! or deletes one (on AWS the functions' roles may not either: `template.yaml`). Money
//! decisions (refunds, accounts) write their entry in the same transaction as the change.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::App;
use crate::error::AppError;
use domain::clock;
use domain::operator::{Caller, Role};
use store::TxOp;
use store::repo::operators as repo;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    pub id: String,
    pub at: i64,
    pub operator_id: String,
    pub role: Role,
    /// What was done, e.g. `refund.approve`, `operator.create`, or the route for the rest.
    pub action: String,
    /// The record it was done to.
    pub target: String,
    #[serde(default)]
    pub before: Option<Value>,
    #[serde(default)]
    pub after: Option<Value>,
}

/// The write that appends an entry, for the transaction making the change.
pub fn entry(
    by: &Caller,
    action: &str,
    target: &str,
    before: Option<Value>,
    after: Option<Value>,
) -> Result<TxOp, AppError> {
    let e = Entry {
        id: uuid::Uuid::now_v7().simple().to_string(),
        at: clock::now(),
        operator_id: by.id.clone(),
        role: by.role,
        action: action.to_owned(),
        target: target.to_owned(),
        before,
        after,
    };
    Ok(repo::audit(e.at, &e.id, &e)?)
}

/// Appends an entry on its own, after a change that had no transaction to carry it.
pub async fn append(app: &App, by: &Caller, action: &str, target: &str, after: Option<Value>) -> Result<(), AppError> {
    app.store.transact(vec![entry(by, action, target, None, after)?]).await?;
    Ok(())
}

/// The trail, newest first, a page at a time.
pub async fn list(app: &App, limit: usize, after: Option<String>) -> Result<(Vec<Entry>, Option<String>), AppError> {
    Ok(repo::audit_trail(app.store.as_ref(), limit, after).await?)
}
