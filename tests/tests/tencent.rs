//! The Tencent deployment (`deploy/tencent/<function>/serverless.yml`, one Serverless Framework
//! `scf` component per function, all in the app `shop`) is made from the same facts as
//! `template.yaml`: the functions and the settings they use (`hosting::routes::FUNCTIONS`),
//! each documented route on the function that serves it, and the schedules. The files are
//! written by `UPDATE_DEPLOY=1 cargo test -p e2e --test tencent` and held here against what
//! they would be, then read back as Tencent reads them: every documented operation must reach
//! an API Gateway endpoint on a function that serves it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use e2e::docs::{concrete, documented_operations, function_of, root, template_routes, yaml};
use hosting::routes::{FUNCTIONS, Function};
use hosting::{Request, dispatch};
use serde_json::{Value, json};

/// A template function's `Timeout`, `MemorySize` and schedules, by binary.
struct Aws {
    timeout: u64,
    memory: u64,
    schedules: Vec<String>,
}

fn aws_functions() -> BTreeMap<String, Aws> {
    let t = yaml("template.yaml");
    let globals = &t["Globals"]["Function"];
    let mut out = BTreeMap::new();
    for r in t["Resources"].as_mapping().unwrap().values() {
        if r["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = r["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap().to_owned();
        let p = &r["Properties"];
        let schedules = p["Events"]
            .as_mapping()
            .map(|evs| {
                evs.values()
                    .filter(|e| e["Type"].as_str() == Some("Schedule"))
                    .map(|e| e["Properties"]["Schedule"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        out.insert(
            binary,
            Aws {
                timeout: p["Timeout"].as_u64().or(globals["Timeout"].as_u64()).unwrap(),
                memory: p["MemorySize"].as_u64().or(globals["MemorySize"].as_u64()).unwrap(),
                schedules,
            },
        );
    }
    out
}

/// An EventBridge schedule as an SCF timer (seconds minutes hours day month weekday year,
/// in Beijing time, where EventBridge's cron is UTC).
fn timer_cron(schedule: &str) -> String {
    if let Some(n) = schedule.strip_prefix("rate(").and_then(|r| r.strip_suffix(" minutes)")) {
        return format!("0 */{n} * * * * *");
    }
    let fields: Vec<&str> = schedule.trim_start_matches("cron(").trim_end_matches(')').split(' ').collect();
    match fields.as_slice() {
        [minute, hour, "*", "*", "?", "*"] => {
            let hour: u32 = hour.parse().unwrap();
            format!("0 {minute} {} * * * *", (hour + 8) % 24)
        }
        _ => panic!("{schedule}: no SCF timer for this schedule yet"),
    }
}

/// What each function reads from its environment on SCF: the store on DynamoDB by endpoint,
/// and the settings (secrets among them) its `uses` requires, from the deployer's `.env`.
fn variables(f: &Function) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> =
        vec![("SHOP_FUNCTION".into(), f.name.into()), ("STORE".into(), "dynamodb".into())];
    let mut from_env = vec!["TABLE_NAME", "DYNAMODB_ENDPOINT", "AWS_REGION"];
    v.extend(aws_key(f.name).map(|(k, from)| (k.to_owned(), format!("${{env.{from}}}"))));
    from_env.extend(["WECHAT_APPID", "WECHAT_API_BASE"]);
    if f.uses.wechat {
        from_env.push("WECHAT_APP_SECRET");
    }
    if f.uses.sessions {
        from_env.push("SESSION_SECRET");
    }
    if f.uses.bootstrap {
        from_env.push("ADMIN_TOKEN");
    }
    if f.uses.pay {
        from_env.extend([
            "WECHATPAY_API_BASE",
            "WECHATPAY_MCHID",
            "WECHATPAY_MCH_SERIAL",
            "WECHATPAY_MCH_KEY",
            "WECHATPAY_APIV3_KEY",
            "WECHATPAY_PUBLIC_KEY_ID",
            "WECHATPAY_PUBLIC_KEY",
            "WECHATPAY_NOTIFY_URL",
        ]);
    }
    // Images on COS through its S3-compatible endpoint, served under a CDN; admin signs
    // product uploads and reviews shoppers' review uploads, so only they hold COS keys: the
    // reviews function a sub-account's allowed `reviews/*` alone (README, "Tencent SCF").
    from_env.extend(["MEDIA_BUCKET", "MEDIA_ENDPOINT", "MEDIA_REGION", "MEDIA_BASE_URL"]);
    if f.name == "admin" {
        from_env.extend(["MEDIA_ACCESS_KEY_ID", "MEDIA_SECRET_ACCESS_KEY"]);
    }
    // pay-notify serves the mini-program's message push URL too.
    if f.uses.push {
        from_env.extend(["WECHAT_PUSH_TOKEN", "WECHAT_PUSH_AES_KEY"]);
    }
    v.extend(from_env.into_iter().map(|k| (k.to_owned(), format!("${{env.{k}}}"))));
    if f.name == "reviews" {
        for k in ["MEDIA_ACCESS_KEY_ID", "MEDIA_SECRET_ACCESS_KEY"] {
            v.push((k.to_owned(), format!("${{env.REVIEWS_{k}}}")));
        }
    }
    v.extend([("ORDER_EXPIRY_SECS".into(), "'1800'".into()), ("LOG_FORMAT".into(), "json".into())]);
    v.push(("RUST_LOG".into(), "info".into()));
    v
}

/// Which of the deployer's three AWS keys a function holds (there are no roles on SCF): the
/// admin function the only key that may write operator accounts, the catalog a read-only one,
/// the rest one denied operator accounts and audit rewrites (the IAM policies are the
/// template's; README, "Tencent SCF").
fn aws_key(function: &str) -> [(&'static str, &'static str); 2] {
    match function {
        "admin" => {
            [("AWS_ACCESS_KEY_ID", "ADMIN_AWS_ACCESS_KEY_ID"), ("AWS_SECRET_ACCESS_KEY", "ADMIN_AWS_SECRET_ACCESS_KEY")]
        }
        "catalog" => [
            ("AWS_ACCESS_KEY_ID", "READER_AWS_ACCESS_KEY_ID"),
            ("AWS_SECRET_ACCESS_KEY", "READER_AWS_SECRET_ACCESS_KEY"),
        ],
        _ => [("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"), ("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY")],
    }
}

/// The documented operations API Gateway sends to each function (as template.yaml routes).
fn endpoints() -> BTreeMap<String, BTreeSet<(String, String)>> {
    let routes = template_routes();
    let mut out: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for (method, path) in documented_operations() {
        let f = function_of(&routes, &method, &concrete(&path)).unwrap_or_else(|| panic!("{method} {path}: no route"));
        out.entry(f).or_default().insert((path, method));
    }
    out
}

fn expected(f: &Function, aws: &Aws, endpoints: &BTreeSet<(String, String)>) -> String {
    let mut y = String::new();
    let w = &mut y;
    let _ = writeln!(w, "# Generated by `UPDATE_DEPLOY=1 cargo test -p e2e --test tencent` from the functions, the");
    let _ = writeln!(w, "# documented routes and template.yaml: edit those, not this file. Values `${{env.X}}` come");
    let _ = writeln!(w, "# from the deployer's `.env` (see the README, \"Tencent SCF\").");
    let _ = writeln!(w, "app: shop\nstage: ${{env.STAGE}}\ncomponent: scf\nname: {}\n", f.name);
    let _ = writeln!(w, "inputs:\n  name: shop-{}-${{stage}}", f.name);
    let _ = writeln!(w, "  # scripts/package-scf.sh: `bootstrap` (scripts/scf/bootstrap) beside the binary.");
    let _ = writeln!(w, "  src: ../../../target/scf/{}", f.name);
    let _ = writeln!(w, "  type: event\n  runtime: CustomRuntime\n  region: ${{env.REGION}}");
    let _ = writeln!(w, "  memorySize: {}\n  timeout: {}\n  initTimeout: 3", aws.memory, aws.timeout);
    let _ = writeln!(w, "  environment:\n    variables:");
    for (k, v) in variables(f) {
        let _ = writeln!(w, "      {k}: {v}");
    }
    let _ = writeln!(w, "  events:");
    if !endpoints.is_empty() {
        let _ = writeln!(w, "    - apigw:\n        parameters:\n          serviceName: shop");
        let _ = writeln!(w, "          serviceId: ${{env.APIGW_SERVICE_ID}}");
        let _ = writeln!(w, "          protocols:\n            - https\n          environment: release");
        let _ = writeln!(w, "          endpoints:");
        for (path, method) in endpoints {
            let _ = writeln!(w, "            - path: {path}\n              method: {method}");
            let params: Vec<&str> =
                path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
            if !params.is_empty() {
                let _ = writeln!(w, "              param:");
                for p in params {
                    let _ = writeln!(
                        w,
                        "                - name: {p}\n                  position: PATH\n                  required: true\n                  type: string"
                    );
                }
            }
            let _ = writeln!(w, "              serviceTimeout: {}", aws.timeout.min(60));
            let _ = writeln!(w, "              function:\n                isIntegratedResponse: true");
        }
    }
    for (i, s) in aws.schedules.iter().enumerate() {
        let _ = writeln!(w, "    - timer:\n        parameters:");
        let _ = writeln!(w, "          name: {}-{}", f.name, i + 1);
        let _ = writeln!(w, "          cronExpression: '{}'", timer_cron(s));
        let _ = writeln!(w, "          enable: true");
    }
    // The outbox has DynamoDB Streams on AWS; on SCF a timer delivers what is pending.
    if f.name == "outbox" && aws.schedules.is_empty() {
        let _ = writeln!(w, "    - timer:\n        parameters:\n          name: outbox-1");
        let _ = writeln!(w, "          cronExpression: '0 */1 * * * * *'\n          enable: true");
    }
    y
}

#[test]
fn the_tencent_deployment_is_made_from_the_functions_routes_and_schedules() {
    let aws = aws_functions();
    let endpoints = endpoints();
    let update = std::env::var_os("UPDATE_DEPLOY").is_some();
    let mut stale = Vec::new();
    for f in FUNCTIONS {
        let a = aws.get(f.name).unwrap_or_else(|| panic!("{} is not in template.yaml", f.name));
        let text = expected(f, a, endpoints.get(f.name).unwrap_or(&BTreeSet::new()));
        let path = root(&format!("deploy/tencent/{}/serverless.yml", f.name));
        if update {
            std::fs::create_dir_all(root(&format!("deploy/tencent/{}", f.name))).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(f.name);
        }
    }
    assert!(
        stale.is_empty(),
        "deploy/tencent is out of date for {stale:?}: run UPDATE_DEPLOY=1 cargo test -p e2e --test tencent"
    );
    let dirs: BTreeSet<String> = std::fs::read_dir(root("deploy/tencent"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let names: BTreeSet<String> = FUNCTIONS.iter().map(|f| f.name.to_owned()).collect();
    assert_eq!(dirs, names, "one component per function, no other");
}

#[test]
fn timers_run_at_the_same_moments_in_beijing_time() {
    assert_eq!(timer_cron("rate(5 minutes)"), "0 */5 * * * * *");
    assert_eq!(timer_cron("cron(0 19 * * ? *)"), "0 0 3 * * * *", "19:00 UTC is 03:00 in Beijing");
    assert_eq!(timer_cron("cron(30 3 * * ? *)"), "0 30 11 * * * *");
}

/// Read back as Tencent reads them: each documented operation has exactly one endpoint, on a
/// function that serves it, answered with the integration response; the scheduled functions
/// have timers; every function is a custom runtime event function given only its settings.
#[tokio::test]
async fn every_documented_operation_reaches_a_tencent_function_that_serves_it() {
    let store = e2e::store(e2e::Backend::Embedded).await;
    let app = e2e::settings("http://127.0.0.1:9", false).service(store).unwrap();
    let mut endpoint_of: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut timers = BTreeSet::new();
    for f in FUNCTIONS {
        let y = yaml(&format!("deploy/tencent/{}/serverless.yml", f.name));
        let inputs = &y["inputs"];
        assert_eq!(y["component"].as_str(), Some("scf"));
        assert_eq!(inputs["runtime"].as_str(), Some("CustomRuntime"), "{}", f.name);
        assert_eq!(inputs["type"].as_str(), Some("event"), "{}", f.name);
        let vars = &inputs["environment"]["variables"];
        assert_eq!(vars["SHOP_FUNCTION"].as_str(), Some(f.name));
        assert_eq!(vars["STORE"].as_str(), Some("dynamodb"), "event functions run as many instances");
        assert_eq!(vars["SESSION_SECRET"].is_null(), !f.uses.sessions, "{}: SESSION_SECRET only where used", f.name);
        assert_eq!(vars["WECHATPAY_MCH_KEY"].is_null(), !f.uses.pay, "{}: the merchant key only where used", f.name);
        assert_eq!(vars["WECHAT_APP_SECRET"].is_null(), !f.uses.wechat, "{}", f.name);
        let key = vars["AWS_ACCESS_KEY_ID"].as_str().unwrap_or_default();
        assert_eq!(
            key == "${env.ADMIN_AWS_ACCESS_KEY_ID}",
            f.name == "admin",
            "{}: the admin key is admin's alone",
            f.name
        );
        assert_eq!(key == "${env.READER_AWS_ACCESS_KEY_ID}", f.name == "catalog", "{}: the catalog only reads", f.name);
        for ev in inputs["events"].as_sequence().unwrap() {
            if let Some(t) = ev.get("timer") {
                assert!(t["parameters"]["cronExpression"].as_str().unwrap().split(' ').count() == 7);
                timers.insert(f.name);
            }
            let Some(gw) = ev.get("apigw") else { continue };
            for e in gw["parameters"]["endpoints"].as_sequence().unwrap() {
                assert_eq!(
                    e["function"]["isIntegratedResponse"].as_bool(),
                    Some(true),
                    "answers are integration responses"
                );
                let key = (e["method"].as_str().unwrap().to_owned(), e["path"].as_str().unwrap().to_owned());
                let before = endpoint_of.insert(key.clone(), f.name.to_owned());
                assert!(before.is_none(), "{key:?} is on two functions");
            }
        }
    }
    let mut checked = 0;
    for (method, path) in documented_operations() {
        let f = endpoint_of
            .get(&(method.clone(), path.clone()))
            .unwrap_or_else(|| panic!("{method} {path}: no endpoint in deploy/tencent"));
        let handlers = hosting::routes::of_function(f).unwrap().handlers;
        let resp = dispatch(&app, handlers, &Request::new(&method, &concrete(&path))).await;
        let body: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        assert_ne!(body["error"]["code"], json!("NO_ROUTE"), "{method} {path} goes to {f}, which does not serve it");
        checked += 1;
    }
    assert_eq!(checked, endpoint_of.len(), "no endpoint beyond the documented operations");
    for job in ["close-unpaid", "reconciliation", "members-daily", "outbox"] {
        assert!(timers.contains(job), "{job} runs on a timer");
    }
}

/// A long-running process with `SCHEDULE_JOBS=1` (WeChat Cloud Hosting) runs the jobs when
/// EventBridge would: the same jobs, the same moments.
#[test]
fn the_in_process_timetable_is_the_templates() {
    use hosting::timetable::{Every, TIMETABLE};
    let aws = aws_functions();
    let scheduled: BTreeSet<&str> =
        aws.iter().filter(|(_, a)| !a.schedules.is_empty()).map(|(n, _)| n.as_str()).collect();
    let timetable: BTreeSet<&str> = TIMETABLE.iter().map(|(n, _, _)| *n).collect();
    assert_eq!(scheduled, timetable);
    for (name, _, every) in TIMETABLE {
        let expr = match *every {
            Every::Minutes(n) => format!("rate({n} minutes)"),
            Every::DailyAt(h, m) => format!("cron({m} {} * * ? *)", (h + 16) % 24),
        };
        assert_eq!(aws[*name].schedules, vec![expr], "{name}");
    }
}
