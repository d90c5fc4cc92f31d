//! The MySQL engine, for many instances on WeChat Cloud Hosting's MySQL and TencentDB /
//! TDSQL-C for MySQL: one row per item, its JSON beside its key columns, as the embedded
//! engine keeps it.
//!
//! **How a condition stays atomic with its write.** Every write is one InnoDB transaction at
//! READ COMMITTED (set per session, whatever the server's default): the rows of every key it
//! touches are read with `SELECT … FOR UPDATE` in key order, so an item that exists is locked
//! until the `COMMIT`; the conditions are judged in Rust on those rows ([`Cond::holds`], the
//! same code the embedded engine runs); then the writes, then one `COMMIT`. An item that does
//! not exist has no row to lock, so it is written with a plain `INSERT`: if another writer
//! inserted it meanwhile, the key's uniqueness refuses ours and the whole transaction is
//! rolled back as [`StoreError::Conflict`], which is what DynamoDB answers to two transactions
//! on one item and what the application already retries. (REPEATABLE READ would lock the gap
//! where a missing key goes instead, and two writers of *different* new keys in one gap would
//! deadlock: a conflict DynamoDB never reports.) A deadlock or a lock wait past
//! [`LOCK_WAIT_SECS`] is a [`StoreError::Conflict`] too. READ COMMITTED needs the binary log
//! in `ROW` or `MIXED` format, the default of MySQL 5.7.7+, 8.0 and MariaDB.
//!
//! **Keys** are `VARBINARY`, so they compare byte by byte as DynamoDB compares its strings
//! (and SQLite its `TEXT`); an item's JSON is a `LONGBLOB` of UTF-8, so any character,
//! emoji included, round-trips whatever the server's character set. Keys longer than
//! [`MAX_KEY_BYTES`] are refused (InnoDB indexes at most 3,072 bytes: four key columns of 512).
//!
//! **Portability.** The SQL is the subset MySQL 5.7, MySQL 8.0 and MariaDB 10.11 share: no
//! JSON column type, no window functions or CTEs, no `INSERT … AS` alias (8.0.19+), no
//! `RETURNING` (MariaDB only), no `ON DUPLICATE KEY UPDATE … VALUES()` (deprecated in 8.0.20);
//! row-constructor comparisons are in all three. CI runs the contract suite and the
//! end-to-end suites on MariaDB 10.11 from Debian's packages.
//!
//! **Connections and failures.** A pool sized by the host (one or two for a Lambda or SCF
//! instance, more for a server), a connection handed out within [`ACQUIRE`] or the store is
//! unavailable (503, never a hang past the request's deadline). A read that fails on a dropped
//! connection is asked once more on another. A write whose `COMMIT` was sent and whose answer
//! never came is [`StoreError::Unknown`]: it may have been applied, and it is never repeated
//! here.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions, MySqlRow};
use sqlx::{AssertSqlSafe, Connection, MySqlConnection, Row, SqlSafeStr, SqlStr};

use super::{
    Cond, Index, Item, Key, MySqlSettings, Page, Query, Result, Store, StoreError, TxOp, Update, decode_cursor,
    item_key, page_of, table, validate_tx,
};

/// The longest key attribute this engine stores, in bytes.
pub const MAX_KEY_BYTES: usize = 512;
/// How long a caller waits for a pooled connection before the store is reported unavailable.
pub const ACQUIRE: Duration = Duration::from_secs(3);
/// How long one statement waits for a row another transaction holds (InnoDB's
/// `innodb_lock_wait_timeout`, per session): past it, a [`StoreError::Conflict`].
const LOCK_WAIT_SECS: u32 = 3;
/// How long a write that met another writer is tried again (a lock wait timeout takes longer,
/// so it is never repeated).
const RETRY_WITHIN: Duration = Duration::from_secs(1);
/// The schema this code writes and reads; [`MySqlStore::migrate`] brings a database to it.
pub const SCHEMA_VERSION: i64 = 1;

/// The statements of each schema version, applied in order, each once.
const MIGRATIONS: &[(i64, &[&str])] = &[(
    1,
    &["CREATE TABLE IF NOT EXISTS items (
            pk VARBINARY(512) NOT NULL,
            sk VARBINARY(512) NOT NULL,
            gsi1pk VARBINARY(512) NULL,
            gsi1sk VARBINARY(512) NULL,
            data LONGBLOB NOT NULL,
            PRIMARY KEY (pk, sk),
            KEY items_gsi1 (gsi1pk, gsi1sk)
        ) ENGINE=InnoDB"],
)];

pub struct MySqlStore {
    pool: MySqlPool,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// What a failed statement means for the caller.
fn classify(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) => match db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>().map(|m| m.number())
        {
            // Deadlock found; lock wait timeout exceeded: InnoDB rolled the statement (or the
            // transaction) back, nothing of it stays.
            Some(1213 | 1205) => StoreError::Conflict,
            // Duplicate entry: another writer inserted the same new item first.
            Some(1062) => StoreError::Conflict,
            // The connection was killed, or the server is shutting down: nothing of an
            // uncommitted transaction stays.
            Some(1927 | 1053) => StoreError::Unavailable(e.to_string()),
            _ => backend(e),
        },
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => backend(e),
    }
}

/// Makes `db` when the user sees no database of that name.
async fn make_database(server: &MySqlConnectOptions, db: &str) -> Result<()> {
    let mut conn = MySqlConnection::connect_with(server).await.map_err(classify)?;
    let seen: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?")
            .bind(db)
            .fetch_optional(&mut conn)
            .await
            .map_err(classify)?;
    if seen.is_none() {
        let create = format!("CREATE DATABASE IF NOT EXISTS `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin");
        sqlx::query(AssertSqlSafe(create)).execute(&mut conn).await.map_err(classify)?;
    }
    let _ = conn.close().await;
    Ok(())
}

/// The server to connect to (without a database) and the database to use.
fn targets(settings: &MySqlSettings) -> Result<(MySqlConnectOptions, Option<String>)> {
    let (server, database) = match &settings.url {
        Some(url) => {
            // The URL's own errors would quote it, password and all: say only which part.
            let (base, query) = url.split_once('?').map_or((url.as_str(), None), |(b, q)| (b, Some(q)));
            let rest = base
                .strip_prefix("mysql://")
                .ok_or_else(|| StoreError::Invalid("MYSQL_URL must start with mysql://".into()))?;
            let (authority, db) = rest.split_once('/').unwrap_or((rest, ""));
            let server_url = match query {
                Some(q) => format!("mysql://{authority}?{q}"),
                None => format!("mysql://{authority}"),
            };
            let options: MySqlConnectOptions =
                server_url.parse().map_err(|_| StoreError::Invalid("MYSQL_URL is not a valid mysql:// URL".into()))?;
            (options, (!db.is_empty()).then(|| db.to_owned()))
        }
        None => (
            MySqlConnectOptions::new()
                .host(&settings.host)
                .port(settings.port)
                .username(&settings.user)
                .password(&settings.password),
            Some(settings.database.clone()),
        ),
    };
    if let Some(db) = &database
        && (db.is_empty() || db.len() > 64 || !db.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    {
        return Err(StoreError::Invalid("the MySQL database name must be 1 to 64 letters, digits or '_'".into()));
    }
    Ok((server, database))
}

fn check_key(key: &Key) -> Result<()> {
    if key.pk.len() > MAX_KEY_BYTES || key.sk.len() > MAX_KEY_BYTES {
        return Err(StoreError::Invalid(format!("a key attribute is longer than {MAX_KEY_BYTES} bytes")));
    }
    Ok(())
}

fn check_item(item: &Item) -> Result<()> {
    for a in table::KEY_ATTRIBUTES {
        if let Some(v) = item.get(a) {
            match v.as_str() {
                Some(s) if !s.is_empty() && s.len() <= MAX_KEY_BYTES => {}
                Some(s) if !s.is_empty() => {
                    return Err(StoreError::Invalid(format!("key attribute {a} is longer than {MAX_KEY_BYTES} bytes")));
                }
                _ => return Err(StoreError::Invalid(format!("key attribute {a} must be a non-empty string"))),
            }
        }
    }
    Ok(())
}

fn parse(data: &[u8]) -> Result<Item> {
    match serde_json::from_slice(data) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(backend("stored item is not a JSON object")),
    }
}

fn data_of(row: &MySqlRow) -> Result<Item> {
    let data: Vec<u8> = row.try_get("data").map_err(backend)?;
    parse(&data)
}

impl MySqlStore {
    /// Connects, makes the database when the server has none of that name (Cloud Hosting
    /// leaves the name to the app), and brings the schema up to date.
    pub async fn connect(settings: &MySqlSettings) -> Result<Self> {
        let (server, database) = targets(settings)?;
        if let Some(db) = &database {
            let made = tokio::time::timeout(ACQUIRE * 2, make_database(&server, db))
                .await
                .map_err(|_| StoreError::Unavailable("MySQL did not answer in time".into()))?;
            made?;
        }
        let options = match &database {
            Some(db) => server.database(db),
            None => server,
        };
        // utf8mb4 for the connection: what the server sends back for messages and names.
        let options = options.charset("utf8mb4");
        let pool = MySqlPoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .min_connections(0)
            .acquire_timeout(ACQUIRE)
            // A connection idle long enough for the server to have closed it is not reused.
            .idle_timeout(Duration::from_secs(60))
            .test_before_acquire(false)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    // Two statements: the isolation level's variable has another name on each
                    // server, and this syntax is the one all three share.
                    sqlx::query("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED").execute(&mut *conn).await?;
                    let wait = format!("SET SESSION innodb_lock_wait_timeout = {LOCK_WAIT_SECS}");
                    sqlx::query(AssertSqlSafe(wait)).execute(&mut *conn).await?;
                    Ok(())
                })
            })
            .connect_lazy_with(options);
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// Brings the schema to [`SCHEMA_VERSION`]: idempotent, and safe when several instances
    /// start at once (each version is applied under a named lock, then recorded).
    pub async fn migrate(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(classify)?;
        sqlx::query("CREATE TABLE IF NOT EXISTS shop_schema (version INT NOT NULL PRIMARY KEY) ENGINE=InnoDB")
            .execute(&mut *conn)
            .await
            .map_err(classify)?;
        let got: Option<i64> =
            sqlx::query_scalar("SELECT GET_LOCK('shop_schema', 30)").fetch_one(&mut *conn).await.map_err(classify)?;
        if got != Some(1) {
            return Err(StoreError::Unavailable("another instance is updating the schema; retry".into()));
        }
        let result = async {
            for (version, statements) in MIGRATIONS {
                let done: Option<i32> = sqlx::query_scalar("SELECT version FROM shop_schema WHERE version = ?")
                    .bind(*version)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(classify)?;
                if done.is_some() {
                    continue;
                }
                for s in *statements {
                    sqlx::query(SqlStr::from_static(s)).execute(&mut *conn).await.map_err(classify)?;
                }
                sqlx::query("INSERT INTO shop_schema (version) VALUES (?)")
                    .bind(*version)
                    .execute(&mut *conn)
                    .await
                    .map_err(classify)?;
            }
            Ok(())
        }
        .await;
        let _ = sqlx::query("SELECT RELEASE_LOCK('shop_schema')").execute(&mut *conn).await;
        result
    }

    /// Runs `body` in one transaction with every key of `keys` locked first (in key order, so
    /// two writers never wait on each other in a circle), committing only when it succeeds.
    /// A transaction InnoDB rolled back as a deadlock, or whose new item another writer
    /// inserted first, left nothing behind: it is run again from the start (conditions judged
    /// afresh) while that stays quick, as DynamoDB serialises two writes of one item.
    async fn write<T, F>(&self, keys: Vec<Key>, body: F) -> Result<T>
    where
        T: Send,
        F: for<'c> Fn(&'c mut MySqlConnection, Vec<Option<Item>>) -> WriteFuture<'c, T> + Send + Sync,
    {
        let started = std::time::Instant::now();
        let mut attempt = 0u32;
        loop {
            match self.write_once(&keys, &body).await {
                Err(StoreError::Conflict) if attempt < 4 && started.elapsed() < RETRY_WITHIN => {
                    attempt += 1;
                    // 4, 8, 16, 32 ms, plus up to as much again, so writers that met once do
                    // not meet again at the same instant.
                    let pause = 2u64 << attempt;
                    let jitter = u64::from(started.elapsed().subsec_nanos()) % pause;
                    tokio::time::sleep(Duration::from_millis(pause + jitter)).await;
                }
                other => return other,
            }
        }
    }

    async fn write_once<T, F>(&self, keys: &[Key], body: &F) -> Result<T>
    where
        T: Send,
        F: for<'c> Fn(&'c mut MySqlConnection, Vec<Option<Item>>) -> WriteFuture<'c, T> + Send + Sync,
    {
        let mut conn = self.pool.acquire().await.map_err(classify)?;
        let conn: &mut MySqlConnection = &mut conn;
        let mut tx = conn.begin().await.map_err(classify)?;
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_by(|a, b| (&keys[*a].pk, &keys[*a].sk).cmp(&(&keys[*b].pk, &keys[*b].sk)));
        let mut current: Vec<Option<Item>> = vec![None; keys.len()];
        for i in order {
            let k = &keys[i];
            let row = sqlx::query("SELECT data FROM items WHERE pk = ? AND sk = ? FOR UPDATE")
                .bind(k.pk.as_bytes())
                .bind(k.sk.as_bytes())
                .fetch_optional(&mut *tx)
                .await
                .map_err(classify)?;
            current[i] = row.as_ref().map(data_of).transpose()?;
        }
        let out = body(&mut tx, current).await;
        match out {
            Ok(v) => match tx.commit().await {
                Ok(()) => Ok(v),
                // The COMMIT went out and no answer came back: it may have been applied.
                Err(e @ (sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::Tls(_))) => {
                    tracing::error!(error = %e, "a MySQL commit's outcome is unknown");
                    Err(StoreError::Unknown)
                }
                Err(e) => Err(classify(e)),
            },
            Err(e) => {
                // Dropping the transaction rolls it back; say so at once to free the locks.
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    /// Runs a read; one that failed because its connection went is asked once more.
    async fn read(&self, sql: SqlStr, binds: &[&[u8]], limit: Option<u64>) -> Result<Vec<MySqlRow>> {
        let run = || {
            let mut q = sqlx::query(sql.clone());
            for b in binds {
                q = q.bind(*b);
            }
            if let Some(n) = limit {
                q = q.bind(n);
            }
            q.fetch_all(&self.pool)
        };
        match run().await {
            Ok(rows) => Ok(rows),
            Err(e) if retry_read(&e) => run().await.map_err(classify),
            Err(e) => Err(classify(e)),
        }
    }
}

type WriteFuture<'c, T> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T>> + Send + 'c>>;

/// Whether a failed read may be asked again: the connection went, the statement did not run.
fn retry_read(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Protocol(_))
}

/// Writes `item`: an `UPDATE` of the row locked when it `existed`, else an `INSERT` that the
/// key's uniqueness refuses if another writer made the item meanwhile.
async fn write_item(conn: &mut MySqlConnection, item: &Item, existed: bool) -> Result<()> {
    let key = item_key(item)?;
    let s = |a: &str| item.get(a).and_then(Value::as_str).map(|v| v.as_bytes().to_vec());
    let (g1pk, g1sk) = match (s(table::GSI1_PK), s(table::GSI1_SK)) {
        (Some(p), Some(s)) => (Some(p), Some(s)),
        _ => (None, None),
    };
    let data = serde_json::to_vec(item).map_err(backend)?;
    let q = if existed {
        sqlx::query("UPDATE items SET gsi1pk = ?, gsi1sk = ?, data = ? WHERE pk = ? AND sk = ?")
            .bind(g1pk)
            .bind(g1sk)
            .bind(data)
            .bind(key.pk.as_bytes())
            .bind(key.sk.as_bytes())
    } else {
        sqlx::query("INSERT INTO items (pk, sk, gsi1pk, gsi1sk, data) VALUES (?, ?, ?, ?, ?)")
            .bind(key.pk.as_bytes())
            .bind(key.sk.as_bytes())
            .bind(g1pk)
            .bind(g1sk)
            .bind(data)
    };
    q.execute(&mut *conn).await.map_err(classify)?;
    Ok(())
}

async fn remove_item(conn: &mut MySqlConnection, key: &Key) -> Result<()> {
    sqlx::query("DELETE FROM items WHERE pk = ? AND sk = ?")
        .bind(key.pk.as_bytes())
        .bind(key.sk.as_bytes())
        .execute(&mut *conn)
        .await
        .map_err(classify)?;
    Ok(())
}

fn cond_holds(cond: &Option<Cond>, current: Option<&Item>) -> bool {
    cond.as_ref().is_none_or(|c| c.holds(current))
}

/// The smallest byte string after every string that starts with `prefix`; `None` when there
/// is none (an empty prefix, or one of only 0xFF bytes).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[async_trait]
impl Store for MySqlStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>> {
        check_key(key)?;
        let rows = self
            .read(
                SqlStr::from_static("SELECT data FROM items WHERE pk = ? AND sk = ?"),
                &[key.pk.as_bytes(), key.sk.as_bytes()],
                None,
            )
            .await?;
        rows.first().map(data_of).transpose()
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        for k in keys {
            check_key(k)?;
        }
        let mut found: std::collections::HashMap<(Vec<u8>, Vec<u8>), Item> = std::collections::HashMap::new();
        // DynamoDB's batch holds 100 keys; the same size keeps each statement small.
        for chunk in keys.chunks(100) {
            let clause = vec!["(pk = ? AND sk = ?)"; chunk.len()].join(" OR ");
            let sql = format!("SELECT pk, sk, data FROM items WHERE {clause}");
            let binds: Vec<&[u8]> = chunk.iter().flat_map(|k| [k.pk.as_bytes(), k.sk.as_bytes()]).collect();
            let rows = self.read(AssertSqlSafe(sql).into_sql_str(), &binds, None).await?;
            for r in rows {
                let pk: Vec<u8> = r.try_get("pk").map_err(backend)?;
                let sk: Vec<u8> = r.try_get("sk").map_err(backend)?;
                found.insert((pk, sk), data_of(&r)?);
            }
        }
        Ok(keys.iter().map(|k| found.get(&(k.pk.as_bytes().to_vec(), k.sk.as_bytes().to_vec())).cloned()).collect())
    }

    async fn put(&self, item: Item, cond: Option<Cond>) -> Result<()> {
        check_item(&item)?;
        let key = item_key(&item)?;
        self.write(vec![key], |conn, current| {
            let (item, cond) = (item.clone(), cond.clone());
            Box::pin(async move {
                if !cond_holds(&cond, current[0].as_ref()) {
                    return Err(StoreError::ConditionFailed);
                }
                write_item(conn, &item, current[0].is_some()).await
            })
        })
        .await
    }

    async fn update(&self, key: &Key, update: Update, cond: Option<Cond>) -> Result<Item> {
        update.validate()?;
        check_key(key)?;
        self.write(vec![key.clone()], |conn, mut current| {
            let (k, update, cond) = (key.clone(), update.clone(), cond.clone());
            Box::pin(async move {
                let current = current.pop().flatten();
                if !cond_holds(&cond, current.as_ref()) {
                    return Err(StoreError::ConditionFailed);
                }
                let existed = current.is_some();
                let new = update.apply(&k, current)?;
                check_item(&new)?;
                write_item(conn, &new, existed).await?;
                Ok(new)
            })
        })
        .await
    }

    async fn delete(&self, key: &Key, cond: Option<Cond>) -> Result<()> {
        check_key(key)?;
        self.write(vec![key.clone()], |conn, current| {
            let (k, cond) = (key.clone(), cond.clone());
            Box::pin(async move {
                if !cond_holds(&cond, current[0].as_ref()) {
                    return Err(StoreError::ConditionFailed);
                }
                remove_item(conn, &k).await
            })
        })
        .await
    }

    async fn transact(&self, ops: Vec<TxOp>) -> Result<()> {
        validate_tx(&ops)?;
        let mut keys = Vec::with_capacity(ops.len());
        for op in &ops {
            match op {
                TxOp::Update { update, .. } => update.validate()?,
                TxOp::Put { item, .. } => check_item(item)?,
                _ => {}
            }
            let k = op.key()?;
            check_key(&k)?;
            keys.push(k);
        }
        self.write(keys, |conn, current| {
            let ops = ops.clone();
            Box::pin(async move {
                // Every condition is judged against the state before the transaction, as
                // DynamoDB does, and every failing one is reported.
                let failed: Vec<usize> = ops
                    .iter()
                    .zip(&current)
                    .enumerate()
                    .filter(|(_, (op, cur))| {
                        let c = cur.as_ref();
                        !match op {
                            TxOp::Put { cond, .. } | TxOp::Update { cond, .. } | TxOp::Delete { cond, .. } => {
                                cond_holds(cond, c)
                            }
                            TxOp::Check { cond, .. } => cond.holds(c),
                        }
                    })
                    .map(|(i, _)| i)
                    .collect();
                if !failed.is_empty() {
                    return Err(StoreError::Cancelled { failed });
                }
                for (op, cur) in ops.iter().zip(current) {
                    match op {
                        TxOp::Put { item, .. } => write_item(conn, item, cur.is_some()).await?,
                        TxOp::Update { key, update, .. } => {
                            let existed = cur.is_some();
                            let new = update.apply(key, cur)?;
                            check_item(&new)?;
                            write_item(conn, &new, existed).await?;
                        }
                        TxOp::Delete { key, .. } => remove_item(conn, key).await?,
                        TxOp::Check { .. } => {}
                    }
                }
                Ok(())
            })
        })
        .await
    }

    async fn query(&self, q: Query) -> Result<Page> {
        let after = q.after.as_deref().map(decode_cursor).transpose()?;
        self.run_query(&q, after.as_ref()).await
    }

    fn kind(&self) -> &'static str {
        "mysql"
    }
}

impl MySqlStore {
    async fn run_query(&self, q: &Query, after: Option<&Item>) -> Result<Page> {
        let cur = |a: &str| -> Result<Vec<u8>> {
            after
                .and_then(|m| m.get(a))
                .and_then(Value::as_str)
                .map(|s| s.as_bytes().to_vec())
                .ok_or(StoreError::BadCursor)
        };
        let prefix = q.sk_prefix.clone().unwrap_or_default().into_bytes();
        let end = prefix_end(&prefix);
        let (pk_col, sk_col) = match q.index {
            Index::Table => ("pk", "sk"),
            Index::Gsi1 => ("gsi1pk", "gsi1sk"),
        };
        let mut binds: Vec<Vec<u8>> = vec![q.pk.as_bytes().to_vec(), prefix];
        let mut sql = format!("SELECT data FROM items WHERE {pk_col} = ? AND {sk_col} >= ?");
        if let Some(e) = end {
            sql.push_str(&format!(" AND {sk_col} < ?"));
            binds.push(e);
        }
        let (cmp, dir) = if q.reverse { ("<", "DESC") } else { (">", "ASC") };
        if after.is_some() {
            match q.index {
                Index::Table => {
                    sql.push_str(&format!(" AND sk {cmp} ?"));
                    binds.push(cur(table::SK)?);
                }
                Index::Gsi1 => {
                    sql.push_str(&format!(" AND (gsi1sk, pk, sk) {cmp} (?, ?, ?)"));
                    binds.extend([cur(table::GSI1_SK)?, cur(table::PK)?, cur(table::SK)?]);
                }
            }
        }
        match q.index {
            Index::Table => sql.push_str(&format!(" ORDER BY sk {dir}")),
            Index::Gsi1 => sql.push_str(&format!(" ORDER BY gsi1sk {dir}, pk {dir}, sk {dir}")),
        }
        sql.push_str(" LIMIT ?");
        let refs: Vec<&[u8]> = binds.iter().map(Vec::as_slice).collect();
        // Built from this module's own column names and placeholders only.
        let rows = self.read(AssertSqlSafe(sql).into_sql_str(), &refs, Some(q.limit as u64 + 1)).await?;
        let items = rows.iter().map(data_of).collect::<Result<Vec<_>>>()?;
        Ok(page_of(items, q))
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }
}
