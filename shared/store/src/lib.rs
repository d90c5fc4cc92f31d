//! The storage port. The application speaks only to [`Store`] (through the repositories in
//! [`repo`]); which engine answers is decided once at start ([`open`]). Both adapters give the same conditional semantics: a condition
//! is checked atomically with its write, a transaction is all or nothing, and a failed
//! condition comes back as [`StoreError::ConditionFailed`] / [`StoreError::Cancelled`],
//! never as a string to parse.

pub mod cache;
mod cond;
pub mod dynamo;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod keys;
#[cfg(feature = "mysql")]
pub mod mysql;
pub mod objects;
pub mod prefetch;
pub mod repo;
pub mod table;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

pub use cond::{Cond, Update};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Embedded,
    Dynamodb,
    Mysql,
}

/// Which engine, and where its data is.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    pub kind: StoreKind,
    pub path: std::path::PathBuf,
    pub table: String,
    pub endpoint: Option<String>,
    /// The MySQL engine's database and pool (`STORE=mysql`).
    pub mysql: Option<MySqlSettings>,
}

/// Where the MySQL engine's database is and how many connections an instance keeps: a URL
/// (`mysql://user:password@host:port/database`, `?ssl-mode=required` or `verify_identity`
/// for TLS), or the parts WeChat Cloud Hosting injects. Its `Debug` shows no password.
#[derive(Clone, Default)]
pub struct MySqlSettings {
    pub url: Option<String>,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub database: String,
    pub max_connections: u32,
}

impl std::fmt::Debug for MySqlSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlSettings")
            .field("url", &self.url.as_ref().map(|_| "<set>"))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

/// An item: a JSON object holding at least the string attributes `pk` and `sk`, and
/// optionally `gsi1pk`/`gsi1sk` for the one secondary index. Numbers are integers.
pub type Item = Map<String, Value>;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self { pk: pk.into(), sk: sk.into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The condition of a single write did not hold; nothing was written.
    #[error("condition failed")]
    ConditionFailed,
    /// A transaction was refused as a whole; `failed` lists the indexes of the actions whose
    /// conditions did not hold, in the order the actions were given.
    #[error("transaction cancelled: conditions failed at {failed:?}")]
    Cancelled { failed: Vec<usize> },
    /// Another writer touched the same item at the same moment; retrying is safe.
    #[error("write conflict")]
    Conflict,
    /// The request itself was malformed (a programming error, not a business outcome).
    #[error("invalid store request: {0}")]
    Invalid(String),
    /// A page cursor that this store did not hand out.
    #[error("malformed page cursor")]
    BadCursor,
    /// The store cannot be reached now (down, or no connection free in time); nothing was
    /// done. Retrying later is safe.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A write was sent and its answer was lost: it may or may not have been applied. Never
    /// repeated blindly: read the state first.
    #[error("the outcome of a write is unknown")]
    Unknown,
    #[error("store backend: {0}")]
    Backend(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// One action of an all-or-nothing transaction.
#[derive(Debug, Clone)]
pub enum TxOp {
    Put { item: Item, cond: Option<Cond> },
    Update { key: Key, update: Update, cond: Option<Cond> },
    Delete { key: Key, cond: Option<Cond> },
    Check { key: Key, cond: Cond },
}

impl TxOp {
    pub fn key(&self) -> Result<Key> {
        match self {
            TxOp::Put { item, .. } => item_key(item),
            TxOp::Update { key, .. } | TxOp::Delete { key, .. } | TxOp::Check { key, .. } => Ok(key.clone()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    /// The table's own key: `pk`, `sk`. Strongly consistent.
    Table,
    /// The overloaded global secondary index `gsi1pk`, `gsi1sk`. Eventually consistent on
    /// DynamoDB: never used to decide a money or stock question.
    Gsi1,
}

#[derive(Debug, Clone)]
pub struct Query {
    pub index: Index,
    pub pk: String,
    pub sk_prefix: Option<String>,
    pub limit: usize,
    /// Opaque cursor from a previous [`Page::next`].
    pub after: Option<String>,
    /// Newest first: descending sort-key order.
    pub reverse: bool,
}

impl Query {
    pub fn table(pk: impl Into<String>) -> Self {
        Self { index: Index::Table, pk: pk.into(), sk_prefix: None, limit: 100, after: None, reverse: false }
    }

    pub fn gsi1(pk: impl Into<String>) -> Self {
        Self { index: Index::Gsi1, ..Self::table(pk) }
    }

    pub fn prefix(mut self, p: impl Into<String>) -> Self {
        self.sk_prefix = Some(p.into());
        self
    }

    pub fn limit(mut self, n: usize) -> Self {
        self.limit = n.clamp(1, 1000);
        self
    }

    pub fn after(mut self, cursor: Option<String>) -> Self {
        self.after = cursor;
        self
    }

    pub fn reverse(mut self) -> Self {
        self.reverse = true;
        self
    }
}

#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<Item>,
    pub next: Option<String>,
}

/// Most transactions a single call may carry (DynamoDB's limit, kept on both stores).
pub const MAX_TX_OPS: usize = 100;

#[async_trait]
pub trait Store: Send + Sync {
    async fn get(&self, key: &Key) -> Result<Option<Item>>;
    /// Reads several items at once (DynamoDB's BatchGetItem, 100 keys a call, what it leaves
    /// unprocessed asked again), strongly consistent like `get`: the answers in the order of
    /// `keys`, `None` for an item that is not there.
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>>;
    async fn put(&self, item: Item, cond: Option<Cond>) -> Result<()>;
    /// Applies `update` (creating the item when absent, as DynamoDB's UpdateItem does unless
    /// the condition requires it to exist) and returns the item as it is afterwards.
    async fn update(&self, key: &Key, update: Update, cond: Option<Cond>) -> Result<Item>;
    async fn delete(&self, key: &Key, cond: Option<Cond>) -> Result<()>;
    async fn transact(&self, ops: Vec<TxOp>) -> Result<()>;
    async fn query(&self, query: Query) -> Result<Page>;
    fn kind(&self) -> &'static str;
}

pub type SharedStore = Arc<dyn Store>;

/// Opens the store the settings name.
pub async fn open(settings: &StoreSettings) -> Result<SharedStore> {
    Ok(match settings.kind {
        #[cfg(feature = "embedded")]
        StoreKind::Embedded => Arc::new(embedded::EmbeddedStore::open(&settings.path)?),
        // Function binaries for Lambda and SCF are built without SQLite: there every
        // instance would keep its own file.
        #[cfg(not(feature = "embedded"))]
        StoreKind::Embedded => {
            return Err(StoreError::Invalid(
                "this binary is built without the embedded store (feature `embedded`): set STORE=dynamodb".into(),
            ));
        }
        #[cfg(feature = "mysql")]
        StoreKind::Mysql => {
            let m = settings
                .mysql
                .as_ref()
                .ok_or_else(|| StoreError::Invalid("STORE=mysql needs MYSQL_URL or MYSQL_ADDRESS".into()))?;
            Arc::new(mysql::MySqlStore::connect(m).await?)
        }
        #[cfg(not(feature = "mysql"))]
        StoreKind::Mysql => {
            return Err(StoreError::Invalid("this binary is built without the MySQL engine (feature `mysql`)".into()));
        }
        StoreKind::Dynamodb => {
            let store = dynamo::DynamoStore::connect(&settings.table, settings.endpoint.as_deref()).await;
            // Against DynamoDB Local (an endpoint is set) the table is made on first start;
            // on AWS the template owns it.
            if settings.endpoint.is_some() {
                store.create_table_if_missing().await?;
            }
            Arc::new(store)
        }
    })
}

pub fn item_key(item: &Item) -> Result<Key> {
    let s = |name: &str| {
        item.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| StoreError::Invalid(format!("item without string attribute {name}")))
    };
    Ok(Key { pk: s(table::PK)?, sk: s(table::SK)? })
}

/// Serialises a record into an item under `key`, with an optional GSI1 key.
pub fn to_item<T: Serialize>(key: &Key, gsi1: Option<(String, String)>, value: &T) -> Result<Item> {
    let mut item = match serde_json::to_value(value) {
        Ok(Value::Object(m)) => m,
        Ok(_) => {
            return Err(StoreError::Invalid("records must serialise to objects".into()));
        }
        Err(e) => return Err(StoreError::Invalid(e.to_string())),
    };
    item.insert(table::PK.into(), Value::String(key.pk.clone()));
    item.insert(table::SK.into(), Value::String(key.sk.clone()));
    if let Some((pk, sk)) = gsi1 {
        item.insert(table::GSI1_PK.into(), Value::String(pk));
        item.insert(table::GSI1_SK.into(), Value::String(sk));
    }
    Ok(item)
}

/// Reads a record back from an item; the key attributes are ignored by the record type.
pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T> {
    serde_json::from_value(Value::Object(item))
        .map_err(|e| StoreError::Backend(format!("stored record does not parse: {e}")))
}

/// Checks the shape rules both stores enforce, so a request that one would refuse is refused
/// by the other too.
pub(crate) fn validate_tx(ops: &[TxOp]) -> Result<()> {
    if ops.is_empty() || ops.len() > MAX_TX_OPS {
        return Err(StoreError::Invalid(format!("a transaction takes 1 to {MAX_TX_OPS} actions, got {}", ops.len())));
    }
    let mut seen = std::collections::HashSet::new();
    for op in ops {
        if !seen.insert(op.key()?) {
            return Err(StoreError::Invalid("two actions on the same item in one transaction".into()));
        }
    }
    Ok(())
}

/// The page a SQL engine answers from the rows it read, asked for `q.limit + 1`: at most
/// `q.limit` items, and a cursor after the last one when a row was left over (the keys that
/// order the index read, as DynamoDB's `LastEvaluatedKey` holds them).
#[cfg(any(feature = "embedded", feature = "mysql"))]
pub(crate) fn page_of(mut items: Vec<Item>, q: &Query) -> Page {
    if items.len() <= q.limit {
        return Page { items, next: None };
    }
    items.truncate(q.limit);
    let next = items.last().map(|last| {
        let pick = |a: &str| last.get(a).cloned().unwrap_or(Value::Null);
        let cursor = match q.index {
            Index::Table => serde_json::json!({ table::PK: pick(table::PK), table::SK: pick(table::SK) }),
            Index::Gsi1 => serde_json::json!({
                table::PK: pick(table::PK), table::SK: pick(table::SK),
                table::GSI1_PK: pick(table::GSI1_PK), table::GSI1_SK: pick(table::GSI1_SK),
            }),
        };
        encode_cursor(&cursor)
    });
    Page { items, next }
}

pub(crate) fn encode_cursor(v: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

pub(crate) fn decode_cursor(s: &str) -> Result<Map<String, Value>> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).map_err(|_| StoreError::BadCursor)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(StoreError::BadCursor),
    }
}
