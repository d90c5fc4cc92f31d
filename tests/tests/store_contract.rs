//! One storage contract, run on the embedded store and on DynamoDB Local: the same requests
//! must give the same answers, conditions included.

use e2e::{Backend, on_both_stores, store};
use serde_json::{Value, json};
use store::{Cond, Item, Key, Query, StoreError, TxOp, Update, item_key};

fn item(pk: &str, sk: &str, attrs: Value) -> Item {
    let mut m = attrs.as_object().cloned().unwrap_or_default();
    m.insert("pk".into(), json!(pk));
    m.insert("sk".into(), json!(sk));
    m
}

fn stock_of(i: &Option<Item>) -> Option<i64> {
    i.as_ref().and_then(|i| i.get("stock")).and_then(Value::as_i64)
}

async fn round_trip_keeps_every_value(b: Backend) {
    let s = store(b).await;
    let it = item(
        "P",
        "A",
        json!({
            "n": -42, "big": 9_007_199_254_740_993i64, "s": "苹果 ✓", "t": true, "z": null,
            "list": [1, "two", {"three": 3}], "map": {"a": {"b": [false]}},
        }),
    );
    s.put(it.clone(), None).await.unwrap();
    assert_eq!(s.get(&Key::new("P", "A")).await.unwrap(), Some(it));
    assert_eq!(s.get(&Key::new("P", "B")).await.unwrap(), None);
}

async fn put_if_absent_refuses_the_second(b: Backend) {
    let s = store(b).await;
    s.put(item("U", "1", json!({"v": 1})), Some(Cond::NotExists)).await.unwrap();
    let e = s.put(item("U", "1", json!({"v": 2})), Some(Cond::NotExists)).await.unwrap_err();
    assert!(matches!(e, StoreError::ConditionFailed), "{e:?}");
    assert_eq!(s.get(&Key::new("U", "1")).await.unwrap().unwrap()["v"], json!(1));
}

async fn update_creates_and_counts_from_zero(b: Backend) {
    let s = store(b).await;
    let k = Key::new("C", "1");
    let new = s.update(&k, Update::new().add("hits", 3).set("name", "x"), None).await.unwrap();
    assert_eq!(new["hits"], json!(3));
    assert_eq!(item_key(&new).unwrap(), k);
    let new = s.update(&k, Update::new().add("hits", -5).remove("name"), None).await.unwrap();
    assert_eq!(new["hits"], json!(-2));
    assert!(new.get("name").is_none());
}

async fn conditional_decrement_refuses_below_zero(b: Backend) {
    let s = store(b).await;
    let k = Key::new("SKU#1", "STOCK#W#00");
    s.put(item("SKU#1", "STOCK#W#00", json!({"stock": 2})), None).await.unwrap();
    let dec = |n: i64| Update::new().add("stock", -n);
    s.update(&k, dec(2), Some(Cond::ge("stock", 2))).await.unwrap();
    let e = s.update(&k, dec(1), Some(Cond::ge("stock", 1))).await.unwrap_err();
    assert!(matches!(e, StoreError::ConditionFailed));
    assert_eq!(stock_of(&s.get(&k).await.unwrap()), Some(0));
    // On a missing item the condition fails too, and nothing is created.
    let missing = Key::new("SKU#2", "STOCK#W#00");
    assert!(matches!(s.update(&missing, dec(1), Some(Cond::ge("stock", 1))).await, Err(StoreError::ConditionFailed)));
    assert_eq!(s.get(&missing).await.unwrap(), None);
}

async fn conditions_compare_like_dynamodb(b: Backend) {
    let s = store(b).await;
    let k = Key::new("O", "1");
    s.put(item("O", "1", json!({"state": "unpaid", "n": 5})), None).await.unwrap();
    let set = || Update::new().set("touched", true);
    let cases: Vec<(Cond, bool)> = vec![
        (Cond::eq("state", "unpaid"), true),
        (Cond::eq("state", "paid"), false),
        (Cond::one_of("state", ["paid", "unpaid"]), true),
        (Cond::one_of("state", ["paid", "closed"]), false),
        (Cond::one_of("state", Vec::<String>::new()), false),
        (Cond::ge("n", 5), true),
        (Cond::ge("n", 6), false),
        (Cond::le("n", 5), true),
        (Cond::le("n", 4), false),
        (Cond::ge("absent", 0), false),
        (Cond::Missing("absent".into()), true),
        (Cond::Missing("n".into()), false),
        (Cond::Exists, true),
        (Cond::NotExists, false),
        (Cond::eq("state", "unpaid").and(Cond::ge("n", 1)), true),
        (Cond::eq("state", "unpaid").and(Cond::ge("n", 9)), false),
        (Cond::And(vec![]), true),
        (Cond::Missing("n".into()).or(Cond::le("n", 5)), true),
        (Cond::Missing("n".into()).or(Cond::le("n", 4)), false),
        (Cond::Missing("absent".into()).or(Cond::le("absent", 0)), true),
        (Cond::eq("state", "paid").or(Cond::eq("state", "unpaid").and(Cond::ge("n", 5))), true),
        (Cond::Or(vec![]), false),
    ];
    for (i, (c, expect)) in cases.into_iter().enumerate() {
        let got = s.update(&k, set(), Some(c.clone())).await;
        assert_eq!(got.is_ok(), expect, "case {i}: {c:?} gave {got:?}");
        if !expect {
            assert!(matches!(got, Err(StoreError::ConditionFailed)), "case {i}");
        }
    }
}

async fn delete_is_conditional(b: Backend) {
    let s = store(b).await;
    let k = Key::new("D", "1");
    s.put(item("D", "1", json!({"state": "locked"})), None).await.unwrap();
    assert!(matches!(s.delete(&k, Some(Cond::eq("state", "free"))).await, Err(StoreError::ConditionFailed)));
    assert!(s.get(&k).await.unwrap().is_some());
    s.delete(&k, Some(Cond::eq("state", "locked"))).await.unwrap();
    assert!(s.get(&k).await.unwrap().is_none());
    s.delete(&k, None).await.unwrap();
}

async fn transaction_applies_all(b: Backend) {
    let s = store(b).await;
    s.put(item("S", "a", json!({"stock": 5})), None).await.unwrap();
    s.put(item("S", "gone", json!({})), None).await.unwrap();
    s.transact(vec![
        TxOp::Update {
            key: Key::new("S", "a"),
            update: Update::new().add("stock", -2),
            cond: Some(Cond::ge("stock", 2)),
        },
        TxOp::Put { item: item("O", "1", json!({"state": "unpaid"})), cond: Some(Cond::NotExists) },
        TxOp::Delete { key: Key::new("S", "gone"), cond: Some(Cond::Exists) },
        TxOp::Check { key: Key::new("IDEMPOTENCY", "req-1"), cond: Cond::NotExists },
    ])
    .await
    .unwrap();
    assert_eq!(stock_of(&s.get(&Key::new("S", "a")).await.unwrap()), Some(3));
    assert!(s.get(&Key::new("O", "1")).await.unwrap().is_some());
    assert!(s.get(&Key::new("S", "gone")).await.unwrap().is_none());
}

async fn transaction_is_all_or_nothing(b: Backend) {
    let s = store(b).await;
    s.put(item("S", "a", json!({"stock": 5})), None).await.unwrap();
    s.put(item("S", "b", json!({"stock": 1})), None).await.unwrap();
    s.put(item("S", "c", json!({"stock": 0})), None).await.unwrap();
    let dec = |sk: &str, n: i64| TxOp::Update {
        key: Key::new("S", sk),
        update: Update::new().add("stock", -n),
        cond: Some(Cond::ge("stock", n)),
    };
    let e = s
        .transact(vec![
            dec("a", 2),
            dec("b", 2),
            TxOp::Put { item: item("O", "1", json!({})), cond: Some(Cond::NotExists) },
            dec("c", 1),
        ])
        .await
        .unwrap_err();
    match e {
        StoreError::Cancelled { failed } => {
            assert_eq!(failed, vec![1, 3], "the failing actions, in order")
        }
        other => panic!("expected a cancelled transaction, got {other:?}"),
    }
    assert_eq!(stock_of(&s.get(&Key::new("S", "a")).await.unwrap()), Some(5), "nothing applied");
    assert_eq!(stock_of(&s.get(&Key::new("S", "b")).await.unwrap()), Some(1));
    assert!(s.get(&Key::new("O", "1")).await.unwrap().is_none());
}

async fn transaction_shape_is_checked(b: Backend) {
    let s = store(b).await;
    let put = |sk: String| TxOp::Put { item: item("X", &sk, json!({})), cond: None };
    let e = s.transact(vec![put("1".into()), put("1".into())]).await.unwrap_err();
    assert!(matches!(e, StoreError::Invalid(_)), "{e:?}");
    let e = s.transact((0..101).map(|i| put(i.to_string())).collect()).await.unwrap_err();
    assert!(matches!(e, StoreError::Invalid(_)), "{e:?}");
    assert!(matches!(s.transact(vec![]).await, Err(StoreError::Invalid(_))));
    s.transact((0..100).map(|i| put(format!("{i:03}"))).collect()).await.unwrap();
    let all = s.query(Query::table("X").limit(1000)).await.unwrap();
    assert_eq!(all.items.len(), 100);
}

async fn query_pages_in_sort_order(b: Backend) {
    let s = store(b).await;
    for i in (0..25).rev() {
        s.put(item("Q", &format!("ITEM#{i:02}"), json!({"i": i})), None).await.unwrap();
    }
    s.put(item("Q", "META", json!({})), None).await.unwrap();
    s.put(item("Q2", "ITEM#00", json!({})), None).await.unwrap();
    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let p = s.query(Query::table("Q").prefix("ITEM#").limit(10).after(after)).await.unwrap();
        pages += 1;
        seen.extend(p.items.iter().map(|i| i["i"].as_i64().unwrap()));
        after = p.next;
        if after.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, (0..25).collect::<Vec<_>>());
    let exact = s.query(Query::table("Q").prefix("ITEM#").limit(25)).await.unwrap();
    assert_eq!(exact.items.len(), 25);
    assert!(exact.next.is_none(), "no cursor when nothing is left");
    let mut newest_first = Vec::new();
    let mut after = None;
    loop {
        let p = s.query(Query::table("Q").prefix("ITEM#").limit(10).after(after).reverse()).await.unwrap();
        newest_first.extend(p.items.iter().map(|i| i["i"].as_i64().unwrap()));
        after = p.next;
        if after.is_none() {
            break;
        }
    }
    assert_eq!(newest_first, (0..25).rev().collect::<Vec<_>>());
    let none = s.query(Query::table("Q").prefix("NOPE#")).await.unwrap();
    assert!(none.items.is_empty() && none.next.is_none());
}

async fn secondary_index_query(b: Backend) {
    let s = store(b).await;
    for (pk, cat, status) in [("P1", "fruit", "on"), ("P2", "tea", "on"), ("P3", "fruit", "on"), ("P4", "fruit", "off")]
    {
        let mut it = item(pk, "META", json!({"id": pk}));
        it.insert("gsi1pk".into(), json!(format!("STATUS#{status}")));
        it.insert("gsi1sk".into(), json!(format!("{cat}#{pk}")));
        s.put(it, None).await.unwrap();
    }
    s.put(item("P5", "META", json!({"id": "P5"})), None).await.unwrap();
    let ids = |p: &store::Page| p.items.iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    let on = s.query(Query::gsi1("STATUS#on")).await.unwrap();
    assert_eq!(ids(&on), vec!["P1", "P3", "P2"]);
    let fruit = s.query(Query::gsi1("STATUS#on").prefix("fruit#")).await.unwrap();
    assert_eq!(ids(&fruit), vec!["P1", "P3"]);
    let first = s.query(Query::gsi1("STATUS#on").limit(2)).await.unwrap();
    assert_eq!(ids(&first), vec!["P1", "P3"]);
    let rest = s.query(Query::gsi1("STATUS#on").limit(2).after(first.next)).await.unwrap();
    assert_eq!(ids(&rest), vec!["P2"]);
    assert!(rest.next.is_none());
    let back = s.query(Query::gsi1("STATUS#on").limit(2).reverse()).await.unwrap();
    assert_eq!(ids(&back), vec!["P2", "P3"]);
    let back_rest = s.query(Query::gsi1("STATUS#on").limit(2).reverse().after(back.next)).await.unwrap();
    assert_eq!(ids(&back_rest), vec!["P1"]);
    // Moving an item to another index partition moves it out of the first.
    let mut moved = item("P1", "META", json!({"id": "P1"}));
    moved.insert("gsi1pk".into(), json!("STATUS#off"));
    moved.insert("gsi1sk".into(), json!("fruit#P1"));
    s.put(moved, None).await.unwrap();
    assert_eq!(ids(&s.query(Query::gsi1("STATUS#off")).await.unwrap()), vec!["P1", "P4"]);
}

async fn foreign_cursor_is_refused(b: Backend) {
    let s = store(b).await;
    let e = s.query(Query::table("Q").after(Some("not a cursor!".into()))).await.unwrap_err();
    assert!(matches!(e, StoreError::BadCursor), "{e:?}");
}

/// The oversell guard: many parallel conditional decrements of one counter succeed exactly as
/// many times as there is stock.
async fn parallel_decrements_never_oversell(b: Backend) {
    let s = store(b).await;
    let k = Key::new("SKU#hot", "STOCK#W#00");
    s.put(item("SKU#hot", "STOCK#W#00", json!({"stock": 20})), None).await.unwrap();
    let tasks: Vec<_> = (0..120)
        .map(|_| {
            let (s, k) = (s.clone(), k.clone());
            tokio::spawn(async move {
                loop {
                    match s.update(&k, Update::new().add("stock", -1), Some(Cond::ge("stock", 1))).await {
                        Ok(_) => return true,
                        Err(StoreError::ConditionFailed) => return false,
                        Err(StoreError::Conflict) => continue,
                        Err(e) => panic!("unexpected store error {e:?}"),
                    }
                }
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        if t.await.unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 20);
    assert_eq!(stock_of(&s.get(&k).await.unwrap()), Some(0));
}

/// The same through transactions touching two counters and an order row each.
async fn parallel_transactions_never_oversell(b: Backend) {
    let s = store(b).await;
    s.put(item("S", "a", json!({"stock": 7})), None).await.unwrap();
    s.put(item("S", "b", json!({"stock": 30})), None).await.unwrap();
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let dec = |sk: &str| TxOp::Update {
                    key: Key::new("S", sk),
                    update: Update::new().add("stock", -1),
                    cond: Some(Cond::ge("stock", 1)),
                };
                let order =
                    TxOp::Put { item: item("ORDER", &format!("{i:03}"), json!({})), cond: Some(Cond::NotExists) };
                loop {
                    match s.transact(vec![dec("a"), dec("b"), order.clone()]).await {
                        Ok(()) => return true,
                        Err(StoreError::Cancelled { failed }) => {
                            assert!(!failed.contains(&2), "order rows are unique");
                            return false;
                        }
                        Err(StoreError::Conflict) => tokio::task::yield_now().await,
                        Err(e) => panic!("unexpected store error {e:?}"),
                    }
                }
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        if t.await.unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 7);
    assert_eq!(stock_of(&s.get(&Key::new("S", "a")).await.unwrap()), Some(0));
    assert_eq!(stock_of(&s.get(&Key::new("S", "b")).await.unwrap()), Some(23));
    assert_eq!(s.query(Query::table("ORDER").limit(100)).await.unwrap().items.len(), 7);
}

/// A read after a write sees it, with many callers at once: on the embedded store some reads
/// are served in place on a reader connection and others by the store thread, and both must
/// see every commit made before the read began.
async fn reads_see_every_earlier_write_under_load(b: Backend) {
    let s = store(b).await;
    let tasks: Vec<_> = (0..16)
        .map(|t| {
            let s = s.clone();
            tokio::spawn(async move {
                let k = Key::new("RYW", format!("{t:02}"));
                for v in 1..=20i64 {
                    s.update(&k, Update::new().set("v", v), None).await.unwrap();
                    let got = s.get(&k).await.unwrap();
                    assert_eq!(got.as_ref().and_then(|i| i.get("v")).and_then(Value::as_i64), Some(v), "task {t}");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(s.query(Query::table("RYW").limit(100)).await.unwrap().items.len(), 16);
}

/// A batch read answers each key in the order asked, `None` where nothing is, the same key
/// twice alike, and more keys than one DynamoDB call takes (100) in full; it sees the latest
/// writes like `get`.
async fn batch_reads_answer_every_key_in_order(b: Backend) {
    let s = store(b).await;
    for i in 0..150 {
        s.put(item(&format!("P#{i}"), "S", json!({ "n": i })), None).await.unwrap();
    }
    let mut keys: Vec<Key> = (0..150).rev().map(|i| Key::new(format!("P#{i}"), "S")).collect();
    keys.insert(10, Key::new("P#absent", "S"));
    keys.push(Key::new("P#7", "S"));
    let got = s.get_many(&keys).await.unwrap();
    assert_eq!(got.len(), keys.len());
    for (k, g) in keys.iter().zip(&got) {
        match k.pk.strip_prefix("P#").and_then(|n| n.parse::<i64>().ok()) {
            Some(n) => assert_eq!(g.as_ref().and_then(|i| i.get("n")).and_then(Value::as_i64), Some(n), "{k:?}"),
            None => assert!(g.is_none(), "{k:?}"),
        }
    }
    s.update(&Key::new("P#3", "S"), Update::new().set("n", 1003), None).await.unwrap();
    let fresh = s.get_many(&[Key::new("P#3", "S")]).await.unwrap();
    assert_eq!(fresh[0].as_ref().and_then(|i| i.get("n")).and_then(Value::as_i64), Some(1003));
    assert!(s.get_many(&[]).await.unwrap().is_empty());
}

on_both_stores!(
    batch_reads_answer_every_key_in_order,
    round_trip_keeps_every_value,
    reads_see_every_earlier_write_under_load,
    put_if_absent_refuses_the_second,
    update_creates_and_counts_from_zero,
    conditional_decrement_refuses_below_zero,
    conditions_compare_like_dynamodb,
    delete_is_conditional,
    transaction_applies_all,
    transaction_is_all_or_nothing,
    transaction_shape_is_checked,
    query_pages_in_sort_order,
    secondary_index_query,
    foreign_cursor_is_refused,
    parallel_decrements_never_oversell,
    parallel_transactions_never_oversell,
);

/// `STORE=dynamodb` on DynamoDB Local makes the table on first start, so the shop runs there
/// as it runs on the embedded store; a second start finds it.
#[tokio::test]
async fn the_shop_makes_its_table_on_dynamodb_local() {
    let _ = e2e::store(Backend::Dynamo).await; // sets the local credentials
    let settings = store::StoreSettings {
        kind: store::StoreKind::Dynamodb,
        path: std::path::PathBuf::new(),
        table: format!("fresh-{}", uuid::Uuid::new_v4().simple()),
        endpoint: Some(e2e::dynamodb_endpoint()),
        mysql: None,
    };
    let first = store::open(&settings).await.expect("the table is made");
    let k = Key::new("P", "S");
    first.put(item("P", "S", json!({ "n": 1 })), None).await.unwrap();
    let again = store::open(&settings).await.expect("a second start finds the table");
    assert_eq!(again.get(&k).await.unwrap().unwrap()["n"], json!(1));
}

/// `STORE=mysql` makes its database and schema on first start, also when several instances
/// start at once, and a later start finds them; emoji and other four-byte characters come
/// back as they went in.
#[tokio::test]
async fn the_shop_makes_its_database_and_schema_on_mysql() {
    let m = e2e::mysql_settings();
    let settings = store::StoreSettings {
        kind: store::StoreKind::Mysql,
        path: std::path::PathBuf::new(),
        table: String::new(),
        endpoint: None,
        mysql: Some(m),
    };
    let starts: Vec<_> = (0..4).map(|_| store::open(&settings)).collect();
    let stores: Vec<_> = futures_util::future::join_all(starts).await;
    let first = stores.into_iter().next().unwrap().expect("the database and schema are made");
    let k = Key::new("USER#😀", "PROFILE");
    first.put(item("USER#😀", "PROFILE", json!({ "nickname": "小红🌸", "n": 1 })), None).await.unwrap();
    let again = store::open(&settings).await.expect("a later start finds them");
    let got = again.get(&k).await.unwrap().unwrap();
    assert_eq!((got["nickname"].clone(), got["n"].clone()), (json!("小红🌸"), json!(1)));
}

/// A row another session holds past the lock wait (3 s) is a `Conflict`, as DynamoDB answers
/// two writers of one item; nothing is written, and once the other session commits the write
/// goes through.
#[tokio::test]
async fn mysql_lock_wait_is_a_conflict() {
    use sqlx::Connection;
    let m = e2e::mysql_settings();
    let s = e2e::mysql_store(&m).await;
    s.put(item("L", "1", json!({ "n": 1 })), None).await.unwrap();
    let url = m.url.clone().unwrap();
    let mut other = sqlx::MySqlConnection::connect(&url).await.expect("a second session");
    sqlx::query("BEGIN").execute(&mut other).await.unwrap();
    sqlx::query("SELECT data FROM items WHERE pk = 'L' AND sk = '1' FOR UPDATE").execute(&mut other).await.unwrap();
    let started = std::time::Instant::now();
    let held = s.put(item("L", "1", json!({ "n": 2 })), Some(Cond::eq("n", 1))).await;
    assert!(matches!(held, Err(StoreError::Conflict)), "{held:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "bounded by the lock wait");
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    assert_eq!(s.get(&Key::new("L", "1")).await.unwrap().unwrap()["n"], json!(1), "nothing was written");
    s.put(item("L", "1", json!({ "n": 2 })), Some(Cond::eq("n", 1))).await.unwrap();
    assert_eq!(s.get(&Key::new("L", "1")).await.unwrap().unwrap()["n"], json!(2));
}

/// A MySQL server that is not there is `Unavailable` within seconds, never a hang.
#[tokio::test]
async fn mysql_down_is_unavailable_at_once() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let settings = store::MySqlSettings {
        url: Some(format!("mysql://root@127.0.0.1:{port}/shop")),
        max_connections: 2,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let down = store::mysql::MySqlStore::connect(&settings).await;
    assert!(matches!(down, Err(StoreError::Unavailable(_))), "{:?}", down.err());
    assert!(started.elapsed() < std::time::Duration::from_secs(8));
}

/// A connection killed in the middle of a transaction (here while it waits for a row another
/// session holds) leaves nothing half-applied: the caller hears the store is unavailable, no
/// item moved, and the next write goes through on a new connection.
#[tokio::test]
async fn mysql_killed_connection_leaves_nothing_half_done() {
    use sqlx::{Connection, Row};
    let m = e2e::mysql_settings();
    let s = e2e::mysql_store(&m).await;
    for k in ["1", "2"] {
        s.put(item("K", k, json!({ "n": 1 })), None).await.unwrap();
    }
    let url = m.url.clone().unwrap();
    let mut other = sqlx::MySqlConnection::connect(&url).await.expect("a second session");
    sqlx::query("BEGIN").execute(&mut other).await.unwrap();
    sqlx::query("SELECT data FROM items WHERE pk = 'K' AND sk = '2' FOR UPDATE").execute(&mut other).await.unwrap();
    let both = || {
        vec![
            TxOp::Update { key: Key::new("K", "1"), update: Update::new().add("n", 1), cond: None },
            TxOp::Update { key: Key::new("K", "2"), update: Update::new().add("n", 1), cond: None },
        ]
    };
    let store = s.clone();
    let waiting = tokio::spawn(async move { store.transact(both()).await });
    // The store's session, waiting for K/2 with K/1 already locked.
    let mut victim = None;
    for _ in 0..100 {
        let row = sqlx::query(
            // This test's own database only: the other suites' sessions run beside it.
            "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT data FROM items%FOR UPDATE' \
             AND ID <> CONNECTION_ID() AND DB = DATABASE()",
        )
        .fetch_optional(&mut other)
        .await
        .unwrap();
        if let Some(r) = row {
            victim = Some(r.try_get::<i64, _>("ID").unwrap());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let victim = victim.expect("the store's transaction waits for the row");
    sqlx::query(sqlx::AssertSqlSafe(format!("KILL {victim}"))).execute(&mut other).await.unwrap();
    let killed = waiting.await.unwrap();
    assert!(matches!(killed, Err(StoreError::Unavailable(_))), "{killed:?}");
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    for k in ["1", "2"] {
        assert_eq!(s.get(&Key::new("K", k)).await.unwrap().unwrap()["n"], json!(1), "K/{k} untouched");
    }
    s.transact(both()).await.expect("the next write takes a new connection");
    for k in ["1", "2"] {
        assert_eq!(s.get(&Key::new("K", k)).await.unwrap().unwrap()["n"], json!(2));
    }
}
