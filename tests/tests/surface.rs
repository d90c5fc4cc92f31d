//! The documents agree with the code: every route of docs/openapi.json exists, the table in
//! template.yaml is the one the store creates, and every function binary is deployed. And
//! the Lambda glue carries an API Gateway v2 event through the same handlers.

use std::collections::BTreeSet;

use hosting::{Request, dispatch};
use serde_json::{Value, json};
use store::table;

fn root(p: &str) -> String {
    format!("{}/../{p}", env!("CARGO_MANIFEST_DIR"))
}

async fn app() -> app::App {
    let store = e2e::store(e2e::Backend::Embedded).await;
    app::App::new(store, e2e::settings("http://127.0.0.1:9", false)).unwrap()
}

#[tokio::test]
async fn every_documented_route_exists() {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(root("docs/openapi.json")).unwrap()).unwrap();
    let app = app().await;
    let mut count = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let concrete = path
                .replace("{id}", "X1")
                .replace("{no}", "20990101000000000001")
                .replace("{sku}", "S1")
                .replace("{warehouse}", "W1")
                .replace("{out_refund_no}", "R1")
                .replace("{day}", "2026-01-01");
            let req = Request::new(method, &concrete);
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

fn yaml(path: &str) -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(&std::fs::read_to_string(root(path)).unwrap()).unwrap()
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

#[tokio::test]
async fn lambda_events_reach_the_handlers() {
    // The shape API Gateway HTTP APIs send (payload format 2.0).
    let event = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/products", "rawQueryString": "limit=0",
        "headers": {"authorization": "Bearer nope", "content-type": "application/json"},
        "requestContext": {"accountId": "123", "apiId": "api", "domainName": "x", "domainPrefix": "x",
            "http": {"method": "GET", "path": "/products", "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4", "userAgent": "t"},
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
