//! The mini-program client and its sample app against the real shop: the TypeScript client
//! is compiled (its types are generated from docs/openapi.json, so a route or field the
//! server no longer has fails here), then the sample's pages run under miniprogram-simulate
//! in Node with a `wx` whose requests go over HTTP to this shop and whose payments go to the
//! WeChat simulator (client/test/flow.test.js). Every answer is checked against the document.

use std::path::PathBuf;
use std::process::Command;

use e2e::shop::*;
use e2e::{Backend, Shop};
use serde_json::json;

fn client_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../client")
}

fn node(args: &[&str], envs: &[(&str, String)]) -> std::process::Output {
    let dir = client_dir();
    assert!(
        dir.join("node_modules/miniprogram-simulate").exists(),
        "client/node_modules is missing: run `npm ci` in client/ (scripts/test.sh does)"
    );
    let mut cmd = Command::new("node");
    cmd.current_dir(&dir).args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("node runs")
}

fn assert_ok(what: &str, out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sample_mini_program_orders_pays_and_asks_for_a_refund() {
    let generated = node(&["scripts/check-gen.js"], &[]);
    assert_ok("the generated types are what docs/openapi.json gives", &generated);
    let build = node(&["node_modules/typescript/bin/tsc", "-p", "tsconfig.json"], &[]);
    assert_ok("the client type-checks against docs/openapi.json and builds", &build);

    let shop = Shop::start(Backend::Embedded).await;
    let (pid, _sku) = product_with_stock(&shop, 1500, &[("SH01", 20)]).await;
    let specced = illustrated_product_with_specs(&shop).await;
    // The home page lists what search holds: both, once their documents are written.
    until(&shop, "/products", |l| {
        l["total"] == json!(2) && l["items"].as_array().is_some_and(|i| i.iter().any(|p| !p["cover"].is_null()))
    })
    .await;
    let rule = json!({"kind": "threshold", "min_spend": 10000, "amount_off": 1000});
    let coupon = coupon_template(&shop, "满100减10", rule, 100, 1).await;
    let envs = [
        ("SHOP_BASE", shop.base.clone()),
        ("SIM_BASE", shop.sim.base_url()),
        ("WECHAT_APPID", e2e::pay::APPID.to_owned()),
        ("PRODUCT_ID", pid),
        ("SPEC_PRODUCT", specced.to_string()),
        ("COUPON_TEMPLATE", coupon),
    ];
    let out =
        tokio::task::spawn_blocking(move || node(&["--test", "test/flow.test.js"], &envs)).await.expect("node ran");
    assert_ok("the sample mini-program's flow", &out);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("# pass 5") && report.contains("# fail 0"), "{report}");
}

/// A T-shirt in 白色/黑色 × M/L with a cover and a gallery WeChat passed; 黑色 L is sold out.
/// Its id, images and SKUs, as the page test expects them.
async fn illustrated_product_with_specs(shop: &Shop) -> serde_json::Value {
    shop.media_ready().await;
    let body = json!({"title": "纯棉T恤", "category": "clothing",
        "specs": [{"name": "颜色", "values": ["白色", "黑色"]}, {"name": "尺码", "values": ["M", "L"]}]});
    let p = shop.admin("POST", "/admin/products", Some(body)).await;
    assert_eq!(p.status, 201, "{}", p.body);
    let pid = p.body["id"].as_str().unwrap().to_owned();
    let mut skus = serde_json::Map::new();
    for (c, z) in [("白色", "M"), ("白色", "L"), ("黑色", "M"), ("黑色", "L")] {
        let sku =
            add_sku(shop, &pid, json!({"name": format!("{c} {z}"), "kind": "main", "price_fen": 5900, "spec": [c, z]}))
                .await;
        if (c, z) != ("黑色", "L") {
            adjust(shop, &sku, "SH01", 10).await;
        }
        skus.insert(format!("{c} {z}"), json!(sku));
    }
    let cover = upload_image(shop, "image/png", b"cover").await;
    let g1 = upload_image(shop, "image/jpeg", b"gallery one").await;
    let g2 = upload_image(shop, "image/jpeg", b"gallery two").await;
    let media = json!({"cover": cover, "gallery": [g1, g2]});
    let m = shop.admin("PUT", &format!("/admin/products/{pid}/media"), Some(media)).await;
    assert_eq!(m.status, 200, "{}", m.body);
    media_settled(shop, &pid).await;
    let published = shop.admin("POST", &format!("/admin/products/{pid}/publish"), None).await;
    assert_eq!(published.status, 200, "{}", published.body);
    json!({"id": pid, "images": [cover, g1, g2], "skus": skus})
}
