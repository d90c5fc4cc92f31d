//! Search on 10,000 products: an instance's first search (jieba's dictionary, reading every
//! search document from the store, building the index) on the embedded store and on DynamoDB
//! Local when `DYNAMODB_ENDPOINT` is set, then warm searches (p50, p99) over a mix of words,
//! pinyin, initials, typos, filters and sorts, and the process's memory before and after.
//! Run by `scripts/bench.sh search`; results appended to `--out`.

use std::time::Instant;

use app::search::{self, Query, index::Filters, index::Sort};
use domain::ids::ProductId;
use store::repo::search::SearchDoc;

const CATEGORIES: [&str; 10] = ["女装", "男装", "鞋靴", "数码", "家电", "美妆", "食品", "母婴", "家居", "运动"];
const NOUNS: [&str; 40] = [
    "连衣裙",
    "T恤",
    "衬衫",
    "卫衣",
    "羽绒服",
    "牛仔裤",
    "运动鞋",
    "皮鞋",
    "手机",
    "耳机",
    "充电器",
    "平板电脑",
    "电饭煲",
    "空气炸锅",
    "吸尘器",
    "吹风机",
    "口红",
    "面霜",
    "面膜",
    "洗发水",
    "咖啡豆",
    "绿茶",
    "坚果",
    "牛肉干",
    "纸尿裤",
    "奶粉",
    "奶瓶",
    "积木",
    "枕头",
    "四件套",
    "保温杯",
    "不粘锅",
    "瑜伽垫",
    "哑铃",
    "篮球",
    "帐篷",
    "苹果",
    "橙子",
    "草莓",
    "蜂蜜",
];
const ADJECTIVES: [&str; 20] = [
    "纯棉",
    "加厚",
    "轻薄",
    "大容量",
    "便携",
    "无线",
    "静音",
    "防水",
    "有机",
    "进口",
    "新款",
    "经典",
    "儿童",
    "男士",
    "女士",
    "夏季",
    "冬季",
    "家用",
    "迷你",
    "高端",
];
const QUERIES: [&str; 16] = [
    "连衣裙",
    "纯棉T恤",
    "lianyiqun",
    "lyq",
    "无线耳机",
    "kongqizhaguo",
    "连衣群",
    "dianfanbao",
    "保温杯 便携",
    "进口苹果",
    "男士羽绒服",
    "iphnoe",
    "手机",
    "充电器",
    "儿童积木",
    "口红",
];

fn docs(n: usize, now_ms: i64) -> Vec<SearchDoc> {
    (0..n)
        .map(|i| {
            let noun = NOUNS[i % NOUNS.len()];
            let adj = ADJECTIVES[(i / NOUNS.len()) % ADJECTIVES.len()];
            let adj2 = ADJECTIVES[(i * 7 + 3) % ADJECTIVES.len()];
            SearchDoc {
                product_id: ProductId::parse(&format!("P{i:06}bench")).expect("a product id"),
                on_sale: true,
                title: format!("{adj}{noun} {adj2}款 {}号", i % 97),
                subtitle: format!("{adj2}好物，{noun}"),
                category: CATEGORIES[i % CATEGORIES.len()].to_owned(),
                tags: vec![adj.to_owned()],
                specs: vec!["白色".into(), "黑色".into(), "M".into(), "L".into()],
                sku_names: vec!["标准".into()],
                price_min: 990 + (i as i64 * 7919) % 50_000,
                price_max: 2990 + (i as i64 * 7919) % 50_000,
                in_stock: i % 9 != 0,
                sales: (i as i64 * 31) % 500,
                created_at: 1_700_000_000 + i as i64,
                cover: None,
                written_ms: now_ms,
            }
        })
        .collect()
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn run(label: &str, store: store::SharedStore, n: usize, rows: &mut Vec<String>) {
    let now_ms = domain::clock::wall() * 1000;
    let t = Instant::now();
    for d in docs(n, now_ms) {
        store::repo::search::put(store.as_ref(), &d).await.expect("a document is written");
    }
    let written = t.elapsed();
    // Where a first search's time goes: the dictionary, the reads, the build.
    let t = Instant::now();
    search::text::jieba();
    let dictionary_ms = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    let all = store::repo::search::all(store.as_ref()).await.expect("documents read");
    let read_ms = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    std::hint::black_box(search::index::Index::new(all, &[]));
    let build_ms = t.elapsed().as_secs_f64() * 1000.0;
    let app = e2e::settings("http://127.0.0.1:9", false).app(store).expect("the application builds");
    let before = rss_mb();
    let t = Instant::now();
    let first =
        search::search(&app, &Query { q: "连衣裙".into(), limit: 20, ..Query::default() }).await.expect("search");
    let first_ms = t.elapsed().as_secs_f64() * 1000.0;
    assert!(first.total > 0);
    let after = rss_mb();
    let mut times = Vec::new();
    for round in 0..125 {
        for (i, q) in QUERIES.iter().enumerate() {
            let mut query = Query { q: (*q).into(), limit: 20, ..Query::default() };
            match (round + i) % 4 {
                1 => query.sort = Some(Sort::Sales),
                2 => query.filters = Filters { price_max: Some(20_000), in_stock: true, ..Filters::default() },
                3 => query.filters.category = Some(CATEGORIES[i % CATEGORIES.len()].into()),
                _ => {}
            }
            let t = Instant::now();
            let r = search::search(&app, &query).await.expect("search");
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            std::hint::black_box(r);
        }
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    rows.push(format!(
        "| {label} | {n} | {:.0} | {first_ms:.0} | {dictionary_ms:.0} / {read_ms:.0} / {build_ms:.0} | {:.2} | {:.2} | {} | {:.0} → {:.0} |",
        written.as_secs_f64(),
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.len(),
        before,
        after
    ));
}

#[tokio::main]
async fn main() {
    let (mut n, mut out) = (10_000usize, "search.md".to_owned());
    let mut args = std::env::args().skip(1);
    while let (Some(flag), Some(value)) = (args.next(), args.next()) {
        match flag.as_str() {
            "--products" => n = value.parse().expect("--products takes a number"),
            "--out" => out = value,
            _ => panic!("unknown flag {flag}"),
        }
    }
    let mut rows = Vec::new();
    let dir = std::env::temp_dir().join(format!("search-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let embedded: store::SharedStore = std::sync::Arc::new(
        store::embedded::EmbeddedStore::open(&dir.join("shop.db")).expect("the embedded store opens"),
    );
    // The first run pays for jieba's dictionary too; a process loads it once.
    run("embedded (with jieba's dictionary)", embedded, n, &mut rows).await;
    if std::env::var("DYNAMODB_ENDPOINT").is_ok() {
        let table = format!("searchbench{}", std::process::id());
        let dynamo = e2e::dynamo_store(&table).await;
        run("DynamoDB Local", dynamo, n, &mut rows).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let doc = format!(
        "\n## {} products, {cores} cores ({})\n\n| store | products | writing the documents, s | first search, ms | of which: dictionary / reading / building, ms (measured apart, before) | warm p50, ms | warm p99, ms | warm searches | RSS before → after the first search, MB |\n|---|---|---|---|---|---|---|---|---|\n{}\n",
        n,
        time_stamp(),
        rows.join("\n")
    );
    let mut text = std::fs::read_to_string(&out).unwrap_or_else(|_| {
        "# Search benchmark\n\nWritten by `scripts/bench.sh search` (`tests/src/bin/search_bench.rs`). The first search of an instance loads jieba's dictionary, reads every search document and builds the index; warm searches mix words, pinyin, initials, typos, filters and sorts. Goals: first search ≤ 200 ms, warm p50 ≤ 20 ms and p99 ≤ 50 ms on 10,000 products.\n".to_owned()
    });
    text.push_str(&doc);
    std::fs::write(&out, text).expect("results written");
    eprintln!("{doc}");
}

fn time_stamp() -> String {
    domain::clock::business_day(domain::clock::wall()).map(|d| d.to_string()).unwrap_or_default()
}
