//! The DynamoDB adapter: single table, conditions as `ConditionExpression`, transactions as
//! `TransactWriteItems`. A failed condition maps to [`StoreError::ConditionFailed`] and a
//! cancelled transaction to [`StoreError::Cancelled`] with the failing action indexes.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, KeysAndAttributes, Projection, ProjectionType, Put, ScalarAttributeType, TransactWriteItem,
    Update as DdbUpdate,
};
use serde_json::{Map, Number, Value};

use super::{
    Cond, Index, Item, Key, Page, Query, Result, Store, StoreError, TxOp, Update, decode_cursor, encode_cursor,
    item_key, table, validate_tx,
};

pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// Connects with the default AWS credential chain; `endpoint` points at DynamoDB Local.
    pub async fn connect(table: &str, endpoint: Option<&str>) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(ep) = endpoint {
            loader = loader.endpoint_url(ep);
        }
        let conf = loader.load().await;
        Self { client: Client::new(&conf), table: table.to_owned() }
    }

    /// [`Self::create_table`] unless the table exists already.
    pub async fn create_table_if_missing(&self) -> Result<()> {
        match self.client.describe_table().table_name(&self.table).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => {
                match self.create_table().await {
                    // Another instance made it meanwhile.
                    Err(StoreError::Backend(m)) if m.contains("ResourceInUse") => Ok(()),
                    other => other,
                }
            }
            Err(e) => Err(sdk(e)),
        }
    }

    /// Creates the table as `template.yaml` declares it (for DynamoDB Local and tests).
    pub async fn create_table(&self) -> Result<()> {
        let s = |n: &str| {
            AttributeDefinition::builder()
                .attribute_name(n)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(backend)
        };
        let k =
            |n: &str, t: KeyType| KeySchemaElement::builder().attribute_name(n).key_type(t).build().map_err(backend);
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(table::GSI1)
            .key_schema(k(table::GSI1_PK, KeyType::Hash)?)
            .key_schema(k(table::GSI1_SK, KeyType::Range)?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .map_err(backend)?;
        let mut req = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(k(table::PK, KeyType::Hash)?)
            .key_schema(k(table::SK, KeyType::Range)?)
            .global_secondary_indexes(gsi);
        for a in table::KEY_ATTRIBUTES {
            req = req.attribute_definitions(s(a)?);
        }
        req.send().await.map_err(sdk)?;
        Ok(())
    }
}

/// The most keys DynamoDB takes in one BatchGetItem.
const BATCH_GET_MAX: usize = 100;

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn sdk<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(e: SdkError<E, R>) -> StoreError {
    match e.code() {
        Some("ConditionalCheckFailedException") => StoreError::ConditionFailed,
        Some("TransactionConflictException") => StoreError::Conflict,
        Some("ValidationException") => StoreError::Invalid(e.message().unwrap_or("").to_owned()),
        _ => StoreError::Backend(format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&e))),
    }
}

pub fn to_attr(v: &Value) -> AttributeValue {
    match v {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(a) => AttributeValue::L(a.iter().map(to_attr).collect()),
        Value::Object(m) => AttributeValue::M(m.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect()),
    }
}

pub fn from_attr(a: &AttributeValue) -> Value {
    match a {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => n
            .parse::<i64>()
            .map(Value::from)
            .ok()
            .or_else(|| n.parse::<f64>().ok().and_then(Number::from_f64).map(Value::Number))
            .unwrap_or(Value::Null),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::L(l) => Value::Array(l.iter().map(from_attr).collect()),
        AttributeValue::M(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), from_attr(v))).collect()),
        _ => Value::Null,
    }
}

fn to_item_map(item: &Item) -> HashMap<String, AttributeValue> {
    item.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect()
}

fn from_item_map(m: &HashMap<String, AttributeValue>) -> Item {
    m.iter().map(|(k, v)| (k.clone(), from_attr(v))).collect::<Map<_, _>>()
}

fn key_map(key: &Key) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (table::PK.to_owned(), AttributeValue::S(key.pk.clone())),
        (table::SK.to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

/// Collects the placeholder names and values of one request's expressions.
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    fn name(&mut self, attr: &str) -> String {
        let p = format!("#n{}", self.names.len());
        self.names.insert(p.clone(), attr.to_owned());
        p
    }

    fn value(&mut self, v: AttributeValue) -> String {
        let p = format!(":v{}", self.values.len());
        self.values.insert(p.clone(), v);
        p
    }

    fn cond(&mut self, c: &Cond) -> String {
        match c {
            Cond::Exists => {
                let n = self.name(table::PK);
                format!("attribute_exists({n})")
            }
            Cond::NotExists => {
                let n = self.name(table::PK);
                format!("attribute_not_exists({n})")
            }
            Cond::Missing(a) => {
                let n = self.name(a);
                format!("attribute_not_exists({n})")
            }
            Cond::Eq(a, v) => {
                let (n, v) = (self.name(a), self.value(to_attr(v)));
                format!("{n} = {v}")
            }
            Cond::In(a, vs) if vs.is_empty() => {
                // Nothing is in the empty set; DynamoDB has no literal false, so ask for an
                // attribute to be both present and absent.
                let n = self.name(a);
                format!("(attribute_exists({n}) AND attribute_not_exists({n}))")
            }
            Cond::In(a, vs) => {
                let n = self.name(a);
                let list: Vec<String> = vs.iter().map(|v| self.value(to_attr(v))).collect();
                format!("{n} IN ({})", list.join(", "))
            }
            Cond::Ge(a, x) => {
                let (n, v) = (self.name(a), self.value(AttributeValue::N(x.to_string())));
                format!("{n} >= {v}")
            }
            Cond::Le(a, x) => {
                let (n, v) = (self.name(a), self.value(AttributeValue::N(x.to_string())));
                format!("{n} <= {v}")
            }
            Cond::And(cs) if cs.is_empty() => {
                let n = self.name(table::PK);
                format!("(attribute_exists({n}) OR attribute_not_exists({n}))")
            }
            Cond::Or(cs) if cs.is_empty() => {
                let n = self.name(table::PK);
                format!("(attribute_exists({n}) AND attribute_not_exists({n}))")
            }
            Cond::And(cs) | Cond::Or(cs) => {
                let join = if matches!(c, Cond::And(_)) { " AND " } else { " OR " };
                let parts: Vec<String> = cs.iter().map(|c| format!("({})", self.cond(c))).collect();
                parts.join(join)
            }
        }
    }

    fn update(&mut self, u: &Update) -> String {
        let mut out = Vec::new();
        if !u.set.is_empty() {
            let parts: Vec<String> =
                u.set.iter().map(|(a, v)| format!("{} = {}", self.name(a), self.value(to_attr(v)))).collect();
            out.push(format!("SET {}", parts.join(", ")));
        }
        if !u.add.is_empty() {
            let parts: Vec<String> = u
                .add
                .iter()
                .map(|(a, n)| format!("{} {}", self.name(a), self.value(AttributeValue::N(n.to_string()))))
                .collect();
            out.push(format!("ADD {}", parts.join(", ")));
        }
        if !u.remove.is_empty() {
            let parts: Vec<String> = u.remove.iter().map(|a| self.name(a)).collect();
            out.push(format!("REMOVE {}", parts.join(", ")));
        }
        out.join(" ")
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

fn tx_item(table_name: &str, op: &TxOp) -> Result<TransactWriteItem> {
    let mut e = Expr::default();
    let b = TransactWriteItem::builder();
    Ok(match op {
        TxOp::Put { item, cond } => {
            let c = cond.as_ref().map(|c| e.cond(c));
            b.put(
                Put::builder()
                    .table_name(table_name)
                    .set_item(Some(to_item_map(item)))
                    .set_condition_expression(c)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .build()
                    .map_err(backend)?,
            )
        }
        TxOp::Update { key, update, cond } => {
            let u = e.update(update);
            let c = cond.as_ref().map(|c| e.cond(c));
            b.update(
                DdbUpdate::builder()
                    .table_name(table_name)
                    .set_key(Some(key_map(key)))
                    .update_expression(u)
                    .set_condition_expression(c)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .build()
                    .map_err(backend)?,
            )
        }
        TxOp::Delete { key, cond } => {
            let c = cond.as_ref().map(|c| e.cond(c));
            b.delete(
                Delete::builder()
                    .table_name(table_name)
                    .set_key(Some(key_map(key)))
                    .set_condition_expression(c)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .build()
                    .map_err(backend)?,
            )
        }
        TxOp::Check { key, cond } => {
            let c = e.cond(cond);
            b.condition_check(
                ConditionCheck::builder()
                    .table_name(table_name)
                    .set_key(Some(key_map(key)))
                    .condition_expression(c)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .build()
                    .map_err(backend)?,
            )
        }
    }
    .build())
}

#[async_trait]
impl Store for DynamoStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk)?;
        Ok(out.item().map(from_item_map))
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>> {
        let mut found: HashMap<(String, String), Item> = HashMap::new();
        let mut unique: Vec<&Key> = Vec::new();
        for k in keys {
            if !unique.iter().any(|u| u.pk == k.pk && u.sk == k.sk) {
                unique.push(k);
            }
        }
        for chunk in unique.chunks(BATCH_GET_MAX) {
            let mut pending: Vec<HashMap<String, AttributeValue>> = chunk.iter().map(|k| key_map(k)).collect();
            let mut wait = std::time::Duration::from_millis(25);
            for attempt in 0.. {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true)
                    .build()
                    .map_err(backend)?;
                let out = self.client.batch_get_item().request_items(&self.table, request).send().await.map_err(sdk)?;
                for item in out.responses().and_then(|r| r.get(&self.table)).into_iter().flatten() {
                    let it = from_item_map(item);
                    let k = item_key(&it)?;
                    found.insert((k.pk, k.sk), it);
                }
                pending = out
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .map(|k| k.keys().to_vec())
                    .unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                // DynamoDB left part of the batch for later (throughput): ask again, backing
                // off as its documentation asks, a bounded number of times.
                if attempt >= 8 {
                    return Err(StoreError::Backend("DynamoDB kept part of a batch read unprocessed".into()));
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(1));
            }
        }
        Ok(keys.iter().map(|k| found.get(&(k.pk.clone(), k.sk.clone())).cloned()).collect())
    }

    async fn put(&self, item: Item, cond: Option<Cond>) -> Result<()> {
        item_key(&item)?;
        let mut e = Expr::default();
        let c = cond.as_ref().map(|c| e.cond(c));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item_map(&item)))
            .set_condition_expression(c)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await
            .map_err(sdk)?;
        Ok(())
    }

    async fn update(&self, key: &Key, update: Update, cond: Option<Cond>) -> Result<Item> {
        update.validate()?;
        let mut e = Expr::default();
        let u = e.update(&update);
        let c = cond.as_ref().map(|c| e.cond(c));
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .update_expression(u)
            .set_condition_expression(c)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await
            .map_err(sdk)?;
        Ok(out.attributes().map(from_item_map).unwrap_or_default())
    }

    async fn delete(&self, key: &Key, cond: Option<Cond>) -> Result<()> {
        let mut e = Expr::default();
        let c = cond.as_ref().map(|c| e.cond(c));
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .set_condition_expression(c)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await
            .map_err(sdk)?;
        Ok(())
    }

    async fn transact(&self, ops: Vec<TxOp>) -> Result<()> {
        validate_tx(&ops)?;
        for op in &ops {
            if let TxOp::Update { update, .. } = op {
                update.validate()?;
            }
        }
        let items = ops.iter().map(|op| tx_item(&self.table, op)).collect::<Result<Vec<_>>>()?;
        let res = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        let Err(err) = res else { return Ok(()) };
        if let Some(
            aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c),
        ) = err.as_service_error()
        {
            let reasons = c.cancellation_reasons();
            let failed: Vec<usize> = reasons
                .iter()
                .enumerate()
                .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
                .map(|(i, _)| i)
                .collect();
            if !failed.is_empty() {
                return Err(StoreError::Cancelled { failed });
            }
            if reasons.iter().any(|r| matches!(r.code(), Some("TransactionConflict") | Some("ThrottlingError"))) {
                return Err(StoreError::Conflict);
            }
        }
        Err(sdk(err))
    }

    async fn query(&self, q: Query) -> Result<Page> {
        let mut e = Expr::default();
        let (pk_attr, sk_attr, index) = match q.index {
            Index::Table => (table::PK, table::SK, None),
            Index::Gsi1 => (table::GSI1_PK, table::GSI1_SK, Some(table::GSI1)),
        };
        let pk_n = e.name(pk_attr);
        let pk_v = e.value(AttributeValue::S(q.pk.clone()));
        let mut kce = format!("{pk_n} = {pk_v}");
        if let Some(p) = q.sk_prefix.as_ref().filter(|p| !p.is_empty()) {
            let sk_n = e.name(sk_attr);
            let sk_v = e.value(AttributeValue::S(p.clone()));
            kce.push_str(&format!(" AND begins_with({sk_n}, {sk_v})"));
        }
        let start = q
            .after
            .as_deref()
            .map(decode_cursor)
            .transpose()?
            .map(|m| m.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect::<HashMap<_, _>>());
        // One more than asked, so that `next` is set only when more items exist (as the
        // embedded store does), rather than whenever a page happens to be full.
        let mut items = Vec::new();
        let mut exclusive_start = start;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index.map(str::to_owned))
                .key_condition_expression(&kce)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .set_exclusive_start_key(exclusive_start)
                .limit((q.limit + 1 - items.len()) as i32)
                .scan_index_forward(!q.reverse)
                .consistent_read(index.is_none())
                .send()
                .await
                .map_err(sdk)?;
            items.extend(out.items().iter().map(from_item_map));
            exclusive_start = out.last_evaluated_key().cloned();
            if items.len() > q.limit || exclusive_start.is_none() {
                break;
            }
        }
        let next = if items.len() > q.limit {
            items.truncate(q.limit);
            items.last().map(|last| {
                let mut cursor = Map::new();
                let mut keep = vec![table::PK, table::SK];
                if index.is_some() {
                    keep.extend([table::GSI1_PK, table::GSI1_SK]);
                }
                for a in keep {
                    cursor.insert(a.to_owned(), last.get(a).cloned().unwrap_or(Value::Null));
                }
                encode_cursor(&Value::Object(cursor))
            })
        } else {
            None
        };
        Ok(Page { items, next })
    }

    fn kind(&self) -> &'static str {
        "dynamodb"
    }
}
