//! The audit trail: who did what to which record, with its state before and after, and when.
//! Entries form a hash chain: each carries its sequence number, the hash of the entry before
//! and its own hash, and the trail's head (the last sequence number and hash) moves with each
//! append under a condition, so entries are appended one at a time and never between others.
//! An entry rewritten, removed or slipped in later breaks the chain, which [`verify`] finds.
//!
//! Money decisions (refunds, accounts) write their entry in the same transaction as the
//! change. Every operator write also appends its attempt before anything changes
//! (`hosting::auth::operator`: when that fails, the write is refused) and its outcome after
//! (`hosting::request::dispatch`); reads of personal data append a read before the data leaves.
//!
//! Where it stops: the hash has no secret, so whoever can write the table can rewrite the
//! chain from some entry on, head included, and verify finds it consistent. Against that the
//! head is logged daily by the reconciliation (outside the table), and verify checks a noted
//! sequence number and hash: an entry there that no longer carries it shows the rewrite.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::App;
use crate::error::{AppError, Code};
use domain::clock;
use domain::operator::{Caller, Role};
use store::repo::operators as repo;
use store::{Store, StoreError, TxOp};

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
    /// Its place in the chain, from 1 (0: written before the trail was chained).
    #[serde(default)]
    pub seq: u64,
    /// The hash of the entry before it ("" for the first).
    #[serde(default)]
    pub prev: String,
    /// SHA-256 (hex) of `prev` and this entry without its hash.
    #[serde(default)]
    pub hash: String,
}

impl Entry {
    /// The hash this entry must carry: over the previous hash and the entry as stored, its own
    /// hash left empty.
    pub fn digest(&self) -> String {
        let mut bare = self.clone();
        bare.hash = String::new();
        let text = serde_json::to_string(&bare).unwrap_or_default();
        domain::hex(&Sha256::digest(format!("{}\n{text}", self.prev).as_bytes()))
    }
}

/// The writes that append an entry as the chain's next, for the transaction making the change.
/// The head is read here; the transaction is refused when another entry was appended meanwhile
/// (the caller reads, decides and writes again, as on any other concurrent change).
pub async fn entry(
    store: &dyn Store,
    by: &Caller,
    action: &str,
    target: &str,
    before: Option<Value>,
    after: Option<Value>,
) -> Result<Vec<TxOp>, AppError> {
    Ok(entry_at(store, by, action, target, before, after).await?.1)
}

async fn entry_at(
    store: &dyn Store,
    by: &Caller,
    action: &str,
    target: &str,
    before: Option<Value>,
    after: Option<Value>,
) -> Result<(u64, Vec<TxOp>), AppError> {
    let head = repo::audit_head(store).await?;
    let (seq, prev) = head.clone().map(|(n, h)| (n + 1, h)).unwrap_or((1, String::new()));
    let mut e = Entry {
        id: uuid::Uuid::now_v7().simple().to_string(),
        at: clock::now(),
        operator_id: by.id.clone(),
        role: by.role,
        action: action.to_owned(),
        target: target.to_owned(),
        before,
        after,
        seq,
        prev,
        hash: String::new(),
    };
    e.hash = e.digest();
    Ok((seq, repo::audit_chained(head.map(|(n, _)| n), seq, &e.hash, e.at, &e.id, &e)?))
}

/// How many times a write reads the trail's head again when other entries were appended
/// between its read and its write.
pub const RETRIES: usize = 12;

/// The trail stayed busy through every retry; nothing was written.
pub fn busy() -> AppError {
    AppError::new(Code::Busy, "the audit trail is busy; nothing was changed, please retry")
}

/// Appends an entry on its own (an operator write's attempt or outcome, a read of personal
/// data), retrying while other entries are appended at the same moment; its sequence number.
pub async fn append(app: &App, by: &Caller, action: &str, target: &str, after: Option<Value>) -> Result<u64, AppError> {
    for round in 0..RETRIES as u64 {
        let (seq, ops) = entry_at(app.store.as_ref(), by, action, target, None, after.clone()).await?;
        match app.store.transact(ops).await {
            Ok(()) => return Ok(seq),
            Err(StoreError::Cancelled { .. } | StoreError::Conflict) => {
                // Apart, so writers that met at the head do not meet again at once.
                let jitter = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| u64::from(d.subsec_nanos()) % 5_000)
                    .unwrap_or(0);
                tokio::time::sleep(std::time::Duration::from_micros(5_000 * (round + 1) + jitter)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(busy())
}

/// The trail's head: the last entry's sequence number and hash.
pub async fn head(app: &App) -> Result<Option<(u64, String)>, AppError> {
    Ok(repo::audit_head(app.store.as_ref()).await?)
}

/// The trail, newest first, a page at a time.
pub async fn list(app: &App, limit: usize, after: Option<String>) -> Result<(Vec<Entry>, Option<String>), AppError> {
    Ok(repo::audit_trail(app.store.as_ref(), limit, after).await?)
}

/// What walking the chain found.
#[derive(Debug, Serialize, PartialEq)]
pub struct Verified {
    /// Whether every chained entry is in its place, unchanged, and the head is the last one.
    pub intact: bool,
    pub entries: u64,
    /// Entries written before the trail was chained (not covered).
    pub unchained: u64,
    /// The head's sequence number and hash: note them; a later verify that finds a different
    /// hash at the same number shows the trail was rewritten from there on.
    pub head_seq: u64,
    pub head_hash: String,
    /// Each break, in words: a missing number, an entry whose hash does not match, a link to
    /// the wrong entry, a head ahead of the entries.
    pub problems: Vec<String>,
    /// Operator writes whose attempt has no outcome after it (a process that stopped between
    /// the two): what they did is in the record they changed, not here.
    pub attempts_without_outcome: Vec<String>,
}

/// Walks the whole chain from the first entry to the head; with `noted` (a sequence number and
/// the hash noted for it earlier, e.g. from the daily log), also that the entry there still
/// carries it.
pub async fn verify(app: &App, noted: Option<(u64, &str)>) -> Result<Verified, AppError> {
    let store = app.store.as_ref();
    let head = repo::audit_head(store).await?;
    let all: Vec<Entry> = repo::audit_all(store).await?;
    let unchained = all.iter().filter(|e| e.seq == 0).count() as u64;
    let mut chained: Vec<&Entry> = all.iter().filter(|e| e.seq > 0).collect();
    chained.sort_by_key(|e| e.seq);
    let mut problems = Vec::new();
    let mut prev = String::new();
    let mut expected = 1;
    for e in &chained {
        if e.seq != expected {
            problems.push(format!("entries {expected} to {} are missing", e.seq - 1));
        }
        if e.prev != prev {
            problems.push(format!("entry {} does not follow the entry before it", e.seq));
        }
        if e.digest() != e.hash {
            problems.push(format!("entry {} was changed after it was written", e.seq));
        }
        prev = e.hash.clone();
        expected = e.seq + 1;
    }
    if let Some((seq, hash)) = noted {
        match chained.iter().find(|e| e.seq == seq) {
            Some(e) if e.hash == hash => {}
            Some(_) => {
                problems.push(format!("entry {seq} is not the entry noted: the trail was rewritten from there on"))
            }
            None => problems.push(format!("entry {seq}, noted earlier, is not in the trail")),
        }
    }
    let (head_seq, head_hash) = head.unwrap_or((0, String::new()));
    if head_seq + 1 != expected {
        problems.push(format!("the head names entry {head_seq}, the last entry is {}", expected - 1));
    } else if head_hash != prev {
        problems.push(format!("the head's hash is not entry {head_seq}'s"));
    }
    let phase = |e: &Entry| e.after.as_ref().and_then(|a| a.get("phase")).and_then(Value::as_str).map(str::to_owned);
    let answered: std::collections::HashSet<u64> = chained
        .iter()
        .filter(|e| phase(e).as_deref() == Some("outcome"))
        .filter_map(|e| e.after.as_ref().and_then(|a| a.get("attempt")).and_then(Value::as_u64))
        .collect();
    let open: Vec<&&Entry> =
        chained.iter().filter(|e| phase(e).as_deref() == Some("attempt") && !answered.contains(&e.seq)).collect();
    Ok(Verified {
        intact: problems.is_empty(),
        entries: chained.len() as u64,
        unchained,
        head_seq,
        head_hash,
        problems,
        attempts_without_outcome: open.iter().map(|e| format!("{} {} by {}", e.seq, e.action, e.operator_id)).collect(),
    })
}
