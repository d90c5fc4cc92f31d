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
    let rule = json!({"kind": "threshold", "min_spend": 10000, "amount_off": 1000});
    let coupon = coupon_template(&shop, "满100减10", rule, 100, 1).await;
    let envs = [
        ("SHOP_BASE", shop.base.clone()),
        ("SIM_BASE", shop.sim.base_url()),
        ("WECHAT_APPID", e2e::pay::APPID.to_owned()),
        ("PRODUCT_ID", pid),
        ("COUPON_TEMPLATE", coupon),
    ];
    let out =
        tokio::task::spawn_blocking(move || node(&["--test", "test/flow.test.js"], &envs)).await.expect("node ran");
    assert_ok("the sample mini-program's flow", &out);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("# pass 4") && report.contains("# fail 0"), "{report}");
}
