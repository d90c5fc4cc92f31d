//! The embedded default store: SQLite on disk (WAL), one row per item, the item's JSON beside
//! its key columns. Every write runs in an IMMEDIATE transaction that reads the current item,
//! checks the condition in Rust ([`Cond::holds`]) and writes, so conditions are atomic with
//! their writes even across processes sharing the file.
//!
//! One thread owns the connection and runs the operations in turn (SQLite has one writer
//! anyway), fed by a bounded queue: a burst of requests waits in the queue, holding no thread
//! each, and past [`QUEUE`] waiting operations callers wait for room (back-pressure) instead of
//! growing it.
//!
//! Point reads by key skip that hop: a file-backed store keeps a few read-only connections
//! that a caller uses in place on its own thread. In WAL mode a read sees the last commit and
//! never waits for the writer, and a read by primary key takes microseconds, less than
//! handing it to the store thread and back (two thread wake-ups). A reader that is in use, or
//! a read that would wait for a lock (SQLite's rare `BUSY` in WAL mode), goes through the
//! queue as before, so no caller ever blocks on another.

use std::path::Path;
use std::sync::Mutex;

use async_trait::async_trait;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use serde_json::Value;

use super::{
    Cond, Index, Item, Key, Page, Query, Result, Store, StoreError, TxOp, Update, decode_cursor, item_key, page_of,
    table, validate_tx,
};

/// Operations that may wait for the store thread at once.
pub const QUEUE: usize = 256;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Read-only connections for point reads in place (see the module's note).
const READERS: usize = 2;

pub struct EmbeddedStore {
    jobs: tokio::sync::mpsc::Sender<Job>,
    readers: Vec<Mutex<Connection>>,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl EmbeddedStore {
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(backend)?;
        }
        let mut store = Self::init(Connection::open(path).map_err(backend)?)?;
        for _ in 0..READERS {
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let conn = Connection::open_with_flags(path, flags).map_err(backend)?;
            // A read that would wait goes through the store thread instead.
            conn.busy_timeout(std::time::Duration::ZERO).map_err(backend)?;
            store.readers.push(Mutex::new(conn));
        }
        Ok(store)
    }

    /// A private store that lives as long as the value (for unit tests and benchmarks). Its
    /// database lives in the one connection, so every read goes through the store thread.
    pub fn in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory().map_err(backend)?)
    }

    fn init(conn: Connection) -> Result<Self> {
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(backend)?;
        // journal_mode answers with a row, so it is read rather than executed.
        let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).map_err(backend)?;
        conn.execute_batch(
            "PRAGMA synchronous=NORMAL;
             CREATE TABLE IF NOT EXISTS items (
                 pk TEXT NOT NULL, sk TEXT NOT NULL,
                 gsi1pk TEXT, gsi1sk TEXT,
                 data TEXT NOT NULL,
                 PRIMARY KEY (pk, sk)
             ) WITHOUT ROWID;
             CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk)
                 WHERE gsi1pk IS NOT NULL;",
        )
        .map_err(backend)?;
        let (jobs, mut queue) = tokio::sync::mpsc::channel::<Job>(QUEUE);
        let mut conn = conn;
        // The thread ends when the store (the last sender) is dropped.
        std::thread::Builder::new()
            .name("sqlite-store".into())
            .spawn(move || {
                while let Some(job) = queue.blocking_recv() {
                    job(&mut conn);
                }
            })
            .map_err(backend)?;
        Ok(Self { jobs, readers: Vec::new() })
    }

    async fn with_conn<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            // The caller may have gone (a dropped request): its answer is not needed.
            let _ = tx.send(f(conn));
        });
        self.jobs.send(job).await.map_err(|_| backend("the store thread stopped"))?;
        rx.await.map_err(|_| backend("the store thread stopped"))?
    }

    /// Runs `body` in one IMMEDIATE transaction, committing only when it succeeds.
    async fn write<T, F>(&self, body: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T> + Send + 'static,
    {
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            let out = body(&tx)?;
            tx.commit().map_err(backend)?;
            Ok(out)
        })
        .await
    }
}

fn read(conn: &Connection, key: &Key) -> Result<Option<Item>> {
    read_data(conn, key).map_err(backend)?.map(|d| parse(&d)).transpose()
}

fn read_data(conn: &Connection, key: &Key) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT data FROM items WHERE pk = ?1 AND sk = ?2")
        .and_then(|mut st| st.query_row(params![key.pk, key.sk], |r| r.get(0)))
        .optional()
}

/// A point read on a free reader connection; `None` when every reader is in use or the read
/// would have to wait for a lock.
fn read_in_place(readers: &[Mutex<Connection>], key: &Key) -> Option<Result<Option<Item>>> {
    let conn = readers.iter().find_map(|r| r.try_lock().ok())?;
    match read_data(&conn, key) {
        Err(rusqlite::Error::SqliteFailure(e, _))
            if matches!(e.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) =>
        {
            None
        }
        Err(e) => Some(Err(backend(e))),
        Ok(data) => Some(data.map(|d| parse(&d)).transpose()),
    }
}

fn parse(data: &str) -> Result<Item> {
    match serde_json::from_str(data) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(backend("stored item is not a JSON object")),
    }
}

fn check_key_types(item: &Item) -> Result<()> {
    for a in table::KEY_ATTRIBUTES {
        if let Some(v) = item.get(a)
            && (!v.is_string() || v.as_str() == Some(""))
        {
            return Err(StoreError::Invalid(format!("key attribute {a} must be a non-empty string")));
        }
    }
    Ok(())
}

fn write_item(conn: &Connection, item: &Item) -> Result<()> {
    check_key_types(item)?;
    let key = item_key(item)?;
    let s = |a: &str| item.get(a).and_then(Value::as_str).map(str::to_owned);
    let (g1pk, g1sk) = match (s(table::GSI1_PK), s(table::GSI1_SK)) {
        (Some(p), Some(s)) => (Some(p), Some(s)),
        _ => (None, None),
    };
    let data = serde_json::to_string(item).map_err(backend)?;
    conn.prepare_cached(
        "INSERT INTO items (pk, sk, gsi1pk, gsi1sk, data) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (pk, sk) DO UPDATE SET gsi1pk = ?3, gsi1sk = ?4, data = ?5",
    )
    .and_then(|mut st| st.execute(params![key.pk, key.sk, g1pk, g1sk, data]))
    .map_err(backend)?;
    Ok(())
}

fn remove_item(conn: &Connection, key: &Key) -> Result<()> {
    conn.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")
        .and_then(|mut st| st.execute(params![key.pk, key.sk]))
        .map_err(backend)?;
    Ok(())
}

fn cond_holds(cond: &Option<Cond>, current: Option<&Item>) -> bool {
    cond.as_ref().is_none_or(|c| c.holds(current))
}

/// Checks and applies one action; `Ok(false)` when its condition does not hold.
fn apply_op(conn: &Connection, op: &TxOp, dry_run: bool) -> Result<bool> {
    let key = op.key()?;
    let current = read(conn, &key)?;
    let ok = match op {
        TxOp::Put { cond, .. } | TxOp::Update { cond, .. } | TxOp::Delete { cond, .. } => {
            cond_holds(cond, current.as_ref())
        }
        TxOp::Check { cond, .. } => cond.holds(current.as_ref()),
    };
    if !ok || dry_run {
        return Ok(ok);
    }
    match op {
        TxOp::Put { item, .. } => write_item(conn, item)?,
        TxOp::Update { key, update, .. } => write_item(conn, &update.apply(key, current)?)?,
        TxOp::Delete { key, .. } => remove_item(conn, key)?,
        TxOp::Check { .. } => {}
    }
    Ok(true)
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>> {
        if let Some(found) = read_in_place(&self.readers, key) {
            return found;
        }
        let key = key.clone();
        self.with_conn(move |c| read(c, &key)).await
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>> {
        // One visit to the store's thread for all of them: a single instance has no network
        // between it and its file, so this is the one round trip.
        let keys = keys.to_vec();
        self.with_conn(move |c| keys.iter().map(|k| read(c, k)).collect()).await
    }

    async fn put(&self, item: Item, cond: Option<Cond>) -> Result<()> {
        check_key_types(&item)?;
        self.write(move |tx| {
            let key = item_key(&item)?;
            if !cond_holds(&cond, read(tx, &key)?.as_ref()) {
                return Err(StoreError::ConditionFailed);
            }
            write_item(tx, &item)
        })
        .await
    }

    async fn update(&self, key: &Key, update: Update, cond: Option<Cond>) -> Result<Item> {
        update.validate()?;
        let key = key.clone();
        self.write(move |tx| {
            let current = read(tx, &key)?;
            if !cond_holds(&cond, current.as_ref()) {
                return Err(StoreError::ConditionFailed);
            }
            let new = update.apply(&key, current)?;
            write_item(tx, &new)?;
            Ok(new)
        })
        .await
    }

    async fn delete(&self, key: &Key, cond: Option<Cond>) -> Result<()> {
        let key = key.clone();
        self.write(move |tx| {
            if !cond_holds(&cond, read(tx, &key)?.as_ref()) {
                return Err(StoreError::ConditionFailed);
            }
            remove_item(tx, &key)
        })
        .await
    }

    async fn transact(&self, ops: Vec<TxOp>) -> Result<()> {
        validate_tx(&ops)?;
        for op in &ops {
            match op {
                TxOp::Update { update, .. } => update.validate()?,
                TxOp::Put { item, .. } => check_key_types(item)?,
                _ => {}
            }
        }
        self.write(move |tx| {
            // All conditions are judged against the state before the transaction, as
            // DynamoDB does, and every failing one is reported.
            let mut failed = Vec::new();
            for (i, op) in ops.iter().enumerate() {
                if !apply_op(tx, op, true)? {
                    failed.push(i);
                }
            }
            if !failed.is_empty() {
                return Err(StoreError::Cancelled { failed });
            }
            for op in &ops {
                apply_op(tx, op, false)?;
            }
            Ok(())
        })
        .await
    }

    async fn query(&self, q: Query) -> Result<Page> {
        let after = q.after.as_deref().map(decode_cursor).transpose()?;
        self.with_conn(move |c| run_query(c, &q, after)).await
    }

    fn kind(&self) -> &'static str {
        "embedded"
    }
}

fn run_query(c: &Connection, q: &Query, after: Option<Item>) -> Result<Page> {
    let cur = |a: &str| -> Result<String> {
        after.as_ref().and_then(|m| m.get(a)).and_then(Value::as_str).map(str::to_owned).ok_or(StoreError::BadCursor)
    };
    let prefix = q.sk_prefix.clone().unwrap_or_default();
    let limit = q.limit as i64 + 1;
    let rows: Vec<String> = match q.index {
        Index::Table => {
            let after_sk = if after.is_some() { Some(cur(table::SK)?) } else { None };
            let sql = if q.reverse {
                "SELECT data FROM items WHERE pk = ?1 AND substr(sk, 1, length(?2)) = ?2
                 AND (?3 IS NULL OR sk < ?3) ORDER BY sk DESC LIMIT ?4"
            } else {
                "SELECT data FROM items WHERE pk = ?1 AND substr(sk, 1, length(?2)) = ?2
                 AND (?3 IS NULL OR sk > ?3) ORDER BY sk LIMIT ?4"
            };
            let mut st = c.prepare_cached(sql).map_err(backend)?;
            st.query_map(params![q.pk, prefix, after_sk, limit], |r| r.get(0))
                .map_err(backend)?
                .collect::<rusqlite::Result<_>>()
                .map_err(backend)?
        }
        Index::Gsi1 => {
            let (a_gsk, a_pk, a_sk) = if after.is_some() {
                (Some(cur(table::GSI1_SK)?), Some(cur(table::PK)?), Some(cur(table::SK)?))
            } else {
                (None, None, None)
            };
            let sql = if q.reverse {
                "SELECT data FROM items WHERE gsi1pk = ?1
                 AND substr(gsi1sk, 1, length(?2)) = ?2
                 AND (?3 IS NULL OR (gsi1sk, pk, sk) < (?3, ?4, ?5))
                 ORDER BY gsi1sk DESC, pk DESC, sk DESC LIMIT ?6"
            } else {
                "SELECT data FROM items WHERE gsi1pk = ?1
                 AND substr(gsi1sk, 1, length(?2)) = ?2
                 AND (?3 IS NULL OR (gsi1sk, pk, sk) > (?3, ?4, ?5))
                 ORDER BY gsi1sk, pk, sk LIMIT ?6"
            };
            let mut st = c.prepare_cached(sql).map_err(backend)?;
            st.query_map(params![q.pk, prefix, a_gsk, a_pk, a_sk, limit], |r| r.get(0))
                .map_err(backend)?
                .collect::<rusqlite::Result<_>>()
                .map_err(backend)?
        }
    };
    let items = rows.iter().map(|d| parse(d)).collect::<Result<Vec<_>>>()?;
    Ok(page_of(items, q))
}
