//! The documents agree with the code: every route of docs/openapi.json exists, the table in
//! template.yaml is the one the store creates, and every function binary is deployed. And
//! the Lambda glue carries an API Gateway v2 event through the same handlers.

use std::collections::BTreeSet;

use hosting::{Request, dispatch};
use serde_json::{Value, json};
use store::table;

use e2e::docs::{concrete, root, template_routes, yaml};

async fn app() -> hosting::Service {
    let store = e2e::store(e2e::Backend::Embedded).await;
    e2e::settings("http://127.0.0.1:9", false).service(store).unwrap()
}

#[tokio::test]
async fn every_documented_route_exists() {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(root("docs/openapi.json")).unwrap()).unwrap();
    let app = app().await;
    let mut count = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let req = Request::new(method, &concrete(path));
            let resp = dispatch(&app, hosting::routes::ALL, &req).await;
            let body: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
            assert_ne!(body["error"]["code"], json!("NO_ROUTE"), "{method} {path} is documented but not routed");
            count += 1;
        }
    }
    assert!(count >= 40, "the document lists the routes ({count})");
    let resp = dispatch(&app, hosting::routes::ALL, &Request::new("GET", "/not/documented")).await;
    assert_eq!(resp.status, 404);
}

#[test]
fn template_table_matches_the_store() {
    let t = yaml("template.yaml");
    let props = &t["Resources"]["ShopTable"]["Properties"];
    let names = |v: &serde_yaml_ng::Value, field: &str| -> Vec<String> {
        v.as_sequence().unwrap().iter().map(|x| x[field].as_str().unwrap().to_owned()).collect()
    };
    let attrs: BTreeSet<String> = names(&props["AttributeDefinitions"], "AttributeName").into_iter().collect();
    assert_eq!(attrs, table::KEY_ATTRIBUTES.iter().map(|s| s.to_string()).collect());
    assert!(
        props["AttributeDefinitions"].as_sequence().unwrap().iter().all(|a| a["AttributeType"].as_str() == Some("S"))
    );
    assert_eq!(names(&props["KeySchema"], "AttributeName"), vec![table::PK, table::SK]);
    assert_eq!(names(&props["KeySchema"], "KeyType"), vec!["HASH", "RANGE"]);
    let gsis = props["GlobalSecondaryIndexes"].as_sequence().unwrap();
    assert_eq!(gsis.len(), 1);
    assert_eq!(gsis[0]["IndexName"].as_str(), Some(table::GSI1));
    assert_eq!(names(&gsis[0]["KeySchema"], "AttributeName"), vec![table::GSI1_PK, table::GSI1_SK]);
    assert_eq!(gsis[0]["Projection"]["ProjectionType"].as_str(), Some("ALL"));
    assert_eq!(props["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
    assert_eq!(props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(), Some(true));
    assert!(props.get("TimeToLiveSpecification").is_none(), "orders are kept 3 years: no TTL on the table");
}

#[test]
fn the_api_is_throttled_and_the_notify_keeps_its_capacity() {
    let t = yaml("template.yaml");
    let api = &t["Resources"]["ShopApi"]["Properties"]["DefaultRouteSettings"];
    assert!(api["ThrottlingRateLimit"].as_u64().is_some_and(|n| n > 0), "the HTTP API has a rate limit");
    assert!(api["ThrottlingBurstLimit"].as_u64().is_some_and(|n| n > 0), "and a burst limit");
    let notify = &t["Resources"]["PayNotifyFunction"]["Properties"];
    assert!(notify["ReservedConcurrentExecutions"].as_u64().is_some_and(|n| n >= 10), "notify capacity is reserved");
}

#[test]
fn every_function_binary_is_deployed() {
    let t = yaml("template.yaml");
    let deployed: BTreeSet<String> = t["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|r| {
            assert_eq!(r["Metadata"]["BuildMethod"].as_str(), Some("rust-cargolambda"));
            r["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap().to_owned()
        })
        .collect();
    let built: BTreeSet<String> = std::fs::read_dir(root("functions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "local")
        .collect();
    assert_eq!(deployed, built);
}

/// On AWS each route of the HTTP API goes to one function: every documented path and method
/// must reach a function that serves it (the one API Gateway picks, as it picks it).
#[tokio::test]
async fn every_documented_route_is_routed_to_a_function_that_serves_it() {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(root("docs/openapi.json")).unwrap()).unwrap();
    let routes = template_routes();
    let app = app().await;
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let concrete = concrete(path);
            let segs: Vec<&str> = concrete.split('/').filter(|s| !s.is_empty()).collect();
            let best = routes.iter().filter_map(|r| r.rank(method, &segs).map(|k| (k, r))).max_by_key(|(k, _)| *k);
            let Some((_, route)) = best else { panic!("{method} {path}: no route in template.yaml") };
            let handlers = hosting::routes::of_function(&route.binary)
                .unwrap_or_else(|| panic!("{}: not in hosting::routes::FUNCTIONS", route.binary))
                .handlers;
            let resp = dispatch(&app, handlers, &Request::new(method, &concrete)).await;
            let body: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
            assert_ne!(
                body["error"]["code"],
                json!("NO_ROUTE"),
                "{method} {path} goes to the {} function, which does not serve it",
                route.binary
            );
            checked += 1;
        }
    }
    assert!(checked >= 40, "{checked}");
    // Every function binary is in the table the binaries look themselves up in.
    for f in hosting::routes::FUNCTIONS {
        assert!(routes.iter().any(|r| r.binary == f.name), "{} has no route", f.name);
    }
}

/// Every `!Ref` name inside a template value.
fn refs(v: &serde_yaml_ng::Value, out: &mut BTreeSet<String>) {
    use serde_yaml_ng::Value as Y;
    match v {
        Y::Tagged(t) if t.tag == "Ref" => {
            if let Some(name) = t.value.as_str() {
                out.insert(name.to_owned());
            }
        }
        Y::Tagged(t) => refs(&t.value, out),
        Y::Sequence(items) => items.iter().for_each(|i| refs(i, out)),
        Y::Mapping(m) => m.values().for_each(|i| refs(i, out)),
        _ => {}
    }
}

/// On AWS each function may read exactly the secrets its settings need (and is told their
/// names in `SECRETS`); no secret sits in an environment variable; the catalog, which only
/// reads, may only read the table; no function may rewrite the audit trail, and none but the
/// admin function may write an operator account.
#[test]
fn each_function_reads_only_the_secrets_it_uses() {
    let t = yaml("template.yaml");
    let globals = &t["Globals"]["Function"]["Environment"]["Variables"];
    let mut checked = 0;
    for r in t["Resources"].as_mapping().unwrap().values() {
        if r["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = r["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        let uses = hosting::routes::of_function(binary).unwrap().uses;
        let mut expected = BTreeSet::new();
        for (used, secret) in [
            (uses.wechat, "WeChatSecretArn"),
            (uses.sessions, "SessionSecret"),
            (uses.bootstrap, "BootstrapSecret"),
            (uses.pay, "WeChatPaySecretArn"),
            (uses.push, "WeChatPushSecretArn"),
        ] {
            if used {
                expected.insert(secret.to_owned());
            }
        }
        let vars = &r["Properties"]["Environment"]["Variables"];
        let mut told = BTreeSet::new();
        refs(&vars["SECRETS"], &mut told);
        assert_eq!(told, expected, "{binary}: SECRETS");
        let policies = r["Properties"]["Policies"].as_sequence().unwrap();
        let mut may_read = BTreeSet::new();
        for p in policies {
            refs(&p["AWSSecretsManagerGetSecretValuePolicy"], &mut may_read);
        }
        assert_eq!(may_read, expected, "{binary}: secrets its role may read");
        for name in hosting::secrets::SECRET_SETTINGS {
            assert!(vars.get(name).is_none() && globals.get(name).is_none(), "{binary}: {name} in the environment");
        }
        let crud = policies.iter().any(|p| p.get("DynamoDBCrudPolicy").is_some());
        let read = policies.iter().any(|p| p.get("DynamoDBReadPolicy").is_some());
        if binary == "catalog" {
            assert!(read && !crud, "the catalog only reads");
        } else {
            let mut named = BTreeSet::new();
            policies.iter().for_each(|p| refs(p, &mut named));
            assert!(crud && named.contains("AuditAppendOnlyPolicy"), "{binary}: writes, never to the audit trail");
            assert_eq!(
                named.contains("OperatorAccountsPolicy"),
                binary != "admin",
                "{binary}: only the admin function writes operator accounts"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, hosting::routes::FUNCTIONS.len());
    let statement = |policy: &str| t["Resources"][policy]["Properties"]["PolicyDocument"]["Statement"][0].clone();
    let strings = |v: &serde_yaml_ng::Value| -> BTreeSet<String> {
        v.as_sequence().into_iter().flatten().filter_map(|x| x.as_str().map(str::to_owned)).collect()
    };
    let writes = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"];

    // The trail and its head: appended by a conditional put, never updated, deleted or
    // batch-written (a batch put is unconditional).
    let deny = statement("AuditAppendOnlyPolicy");
    assert_eq!(deny["Effect"].as_str(), Some("Deny"));
    let actions = strings(&deny["Action"]);
    for a in &writes[1..] {
        assert!(actions.contains(*a), "the audit trail: {a} not denied");
    }
    let keys = strings(&deny["Condition"]["ForAnyValue:StringEquals"]["dynamodb:LeadingKeys"]);
    for k in [store::keys::audit_entry(0, "x").pk, store::keys::audit_head().pk] {
        assert!(keys.contains(&k), "the audit trail's partition {k} not covered");
    }

    // Operator accounts, their identities and the first-account marker: every write denied.
    let deny = statement("OperatorAccountsPolicy");
    assert_eq!(deny["Effect"].as_str(), Some("Deny"));
    let actions = strings(&deny["Action"]);
    for a in writes {
        assert!(actions.contains(a), "operator accounts: {a} not denied");
    }
    let patterns = strings(&deny["Condition"]["ForAnyValue:StringLike"]["dynamodb:LeadingKeys"]);
    let matches = |pk: &str| {
        patterns.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => pk.starts_with(prefix),
            None => pk == p,
        })
    };
    for pk in [
        store::keys::operator("anyone").0.pk,
        store::keys::operator_identity("digest").pk,
        store::keys::operators_bootstrapped().pk,
    ] {
        assert!(matches(&pk), "operator records under {pk} writable by every function");
    }
}

/// A scheduled function on Lambda takes its schedule's events and its operator routes alike,
/// and does not ask for a retry of input it refuses.
#[tokio::test]
async fn scheduled_functions_take_schedules_and_their_routes() {
    let app = app().await;
    let api = |path: &str, auth: &str| {
        json!({
            "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
            "headers": {"authorization": auth},
            "requestContext": {"accountId": "1", "apiId": "a", "domainName": "x", "domainPrefix": "x",
                "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4", "userAgent": "t"},
                "requestId": "r", "routeKey": "$default", "stage": "$default", "time": "01/Dec/2026:10:00:00 +0000", "timeEpoch": 0},
            "isBase64Encoded": false
        })
    };
    let first: app::operators::NewAccount =
        serde_json::from_value(json!({"id": "finance", "name": "财务", "role": "finance"})).unwrap();
    let issued = app::operators::bootstrap(&app, first).await.unwrap();
    let admin = format!("Bearer {}", issued.token);
    let outbox = hosting::routes::jobs::deliver_outbox;
    let answer = hosting::run::job_invocation(&app, outbox, api("/admin/jobs/outbox", &admin)).await.unwrap();
    assert_eq!(answer["statusCode"], json!(200), "{answer}");
    let refused = hosting::run::job_invocation(&app, outbox, api("/admin/jobs/outbox", "Bearer nope")).await.unwrap();
    assert_eq!(refused["statusCode"], json!(401));
    // The schedule's own event runs the job.
    let swept = hosting::run::job_invocation(&app, outbox, json!({"source": "aws.events"})).await.unwrap();
    assert_eq!(swept["delivered"], json!(0), "{swept}");
    // A day that is no date is refused, not retried.
    let recon = hosting::routes::jobs::reconcile_day;
    let bad = hosting::run::job_invocation(&app, recon, json!({"day": "yesterday"})).await.unwrap();
    assert_eq!(bad["error"]["code"], json!("INVALID_INPUT"));
}

#[tokio::test]
async fn lambda_events_reach_the_handlers() {
    // The shape API Gateway HTTP APIs send (payload format 2.0).
    let event = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/me", "rawQueryString": "limit=0",
        "headers": {"authorization": "Bearer nope", "content-type": "application/json"},
        "requestContext": {"accountId": "123", "apiId": "api", "domainName": "x", "domainPrefix": "x",
            "http": {"method": "GET", "path": "/me", "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4", "userAgent": "t"},
            "requestId": "r", "routeKey": "$default", "stage": "$default", "time": "25/Nov/2026:10:00:00 +0000", "timeEpoch": 0},
        "isBase64Encoded": false
    });
    let ev = serde_json::from_value(event.clone()).unwrap();
    let req = hosting::lambda::from_event(ev).unwrap();
    assert_eq!(req.query("limit"), Some("0"));
    let app = app().await;
    let out = hosting::lambda::to_event(dispatch(&app, hosting::routes::ALL, &req).await);
    assert_eq!(out.status_code, 401);
    let body = serde_json::to_value(&out).unwrap();
    assert!(body["body"].as_str().unwrap().contains("UNAUTHORIZED"));
    // A base64 body is decoded; a broken one is a clear error.
    let mut b64 = event.clone();
    b64["isBase64Encoded"] = json!(true);
    b64["body"] = json!("eyJjb2RlIjoiYSJ9");
    let req = hosting::lambda::from_event(serde_json::from_value(b64.clone()).unwrap()).unwrap();
    assert_eq!(req.body, br#"{"code":"a"}"#);
    b64["body"] = json!("!!!");
    let e = hosting::lambda::from_event(serde_json::from_value(b64).unwrap()).unwrap_err();
    assert_eq!(e.code.as_str(), "INVALID_INPUT");
}

/// WeChat Cloud Hosting builds the Dockerfile and routes to `containerPort`: the image must
/// serve there and run the scheduled jobs itself. Whether a service takes the platform's
/// X-WX-OPENID is its container config's setting, never the image's, and only a service on a
/// shared store whose public access is off does (its pay notify is a public service of its own
/// that takes no one's word): the one-service embedded setup, whose notify comes over the
/// public internet, does not.
#[test]
fn the_cloud_hosting_image_serves_on_its_container_port() {
    let configs = [
        "container.config.json",
        "deploy/wechat-cloud-hosting/shop.container.config.json",
        "deploy/wechat-cloud-hosting/pay-notify.container.config.json",
    ];
    let mut trusting = 0;
    for path in configs {
        let conf: Value = serde_json::from_str(&std::fs::read_to_string(root(path)).unwrap()).unwrap();
        let docker = std::fs::read_to_string(root(conf["dockerfilePath"].as_str().unwrap())).unwrap();
        let port = conf["containerPort"].as_u64().unwrap();
        assert!(docker.contains(&format!("PORT={port}")), "{path}: the binary listens on containerPort");
        assert!(docker.contains(&format!("EXPOSE {port}")));
        assert!(!docker.contains("TRUST_WX_CONTEXT="), "the image takes no side on whom to trust");
        assert!(docker.contains("SCHEDULE_JOBS=1"));
        assert!(
            docker.contains("cargo build --profile server --locked -p local")
                && docker.contains("target/server/shop-local")
        );
        let env = &conf["envParams"];
        let embedded = env["STORE"] == json!("embedded");
        if embedded {
            // The embedded store is one file: one instance only.
            assert_eq!((conf["minNum"].as_u64(), conf["maxNum"].as_u64()), (Some(1), Some(1)), "{path}");
        }
        let remark = conf["remark"].as_str().unwrap();
        if env["TRUST_WX_CONTEXT"] == json!("1") {
            trusting += 1;
            assert!(!embedded && env.get("SERVE").is_none(), "{path}: trusts only as the shop on a shared store");
            assert!(remark.contains("public access off"), "{path}: says to turn public access off");
        } else {
            assert_eq!(env["TRUST_WX_CONTEXT"], json!("0"), "{path}: says so");
        }
        if env["SERVE"] == json!("pay-notify") {
            assert!(env.get("SESSION_SECRET").is_none() && env.get("WECHAT_APP_SECRET").is_none());
        }
    }
    assert_eq!(trusting, 1);
}
