//! Every answer the suites get is held against `docs/openapi.json`: a 2xx answer must match
//! the schema its operation documents for that status, objects with no field the document does
//! not name. An answer of an operation the document does not describe, or a 2xx it gives no
//! schema, fails the test that got it. `SHOP_ANSWERS_DIR` also records each answer (one JSON
//! line per answer) for writing the document's schemas from what the shop sends.

use std::collections::HashMap;
use std::io::Write;
use std::sync::OnceLock;

use serde_json::{Value, json};

/// The document's operations: (method, path segments) → the operation object.
struct Doc {
    ops: Vec<(String, Vec<String>, Value)>,
    components: Value,
    compiled: std::sync::Mutex<HashMap<(usize, u16), std::sync::Arc<jsonschema::Validator>>>,
}

fn doc() -> &'static Doc {
    static DOC: OnceLock<Doc> = OnceLock::new();
    DOC.get_or_init(|| {
        let text = std::fs::read_to_string(crate::docs::root("docs/openapi.json")).expect("docs/openapi.json");
        let d: Value = serde_json::from_str(&text).expect("openapi.json is JSON");
        let mut ops = Vec::new();
        for (path, methods) in d["paths"].as_object().expect("paths") {
            for (m, op) in methods.as_object().expect("methods") {
                let segs = path.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect();
                ops.push((m.to_ascii_uppercase(), segs, op.clone()));
            }
        }
        Doc { ops, components: d["components"].clone(), compiled: Default::default() }
    })
}

/// The documented operation `method path` is, preferring literal segments over parameters
/// (`/admin/alerts/undelivered` before `/admin/orders/{no}`); its index and path template.
pub fn operation(method: &str, path: &str) -> Option<(usize, String)> {
    let path = path.split('?').next().unwrap_or(path);
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut best: Option<(usize, usize)> = None;
    for (i, (m, pat, _)) in doc().ops.iter().enumerate() {
        if m != method || pat.len() != segs.len() {
            continue;
        }
        let mut literals = 0;
        let fits = pat.iter().zip(&segs).all(|(p, s)| {
            if p.starts_with('{') {
                true
            } else {
                literals += 1;
                p == s
            }
        });
        if fits && best.is_none_or(|(_, l)| literals > l) {
            best = Some((i, literals));
        }
    }
    best.map(|(i, _)| (i, format!("/{}", doc().ops[i].1.join("/"))))
}

/// OpenAPI 3.0's `nullable` as JSON Schema says it (a type that also takes null), without
/// OpenAPI's own keywords.
fn json_schema(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            let mut out = serde_json::Map::new();
            for (k, x) in o {
                match k.as_str() {
                    "nullable" | "example" | "description" => {}
                    // Field names, not keywords: each names a schema.
                    "properties" | "schemas" => {
                        let fields = x.as_object().map(|f| {
                            f.iter().map(|(name, s)| (name.clone(), json_schema(s))).collect::<serde_json::Map<_, _>>()
                        });
                        out.insert(k.clone(), fields.map(Value::Object).unwrap_or_else(|| x.clone()));
                    }
                    _ => {
                        out.insert(k.clone(), json_schema(x));
                    }
                }
            }
            if o.get("nullable") == Some(&Value::Bool(true)) {
                match out.remove("type") {
                    Some(Value::String(t)) => {
                        out.insert("type".into(), json!([t, "null"]));
                    }
                    Some(other) => {
                        out.insert("type".into(), other);
                    }
                    None => {
                        // A bare $ref that may be null.
                        let inner = Value::Object(std::mem::take(&mut out));
                        out.insert("anyOf".into(), json!([inner, {"type": "null"}]));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(json_schema).collect()),
        other => other.clone(),
    }
}

fn validator(op: usize, status: u16) -> Result<Option<std::sync::Arc<jsonschema::Validator>>, String> {
    let d = doc();
    if let Some(v) = d.compiled.lock().map_err(|e| e.to_string())?.get(&(op, status)) {
        return Ok(Some(v.clone()));
    }
    let response = &d.ops[op].2["responses"][status.to_string()];
    if response.is_null() {
        return Err(format!("status {status} is not documented"));
    }
    if response.pointer("/content/application~1json").is_none() {
        return Ok(None); // not a JSON document (a CSV export)
    }
    let Some(schema) = response.pointer("/content/application~1json/schema") else {
        return Err(format!("its {status} answer has no schema"));
    };
    let mut root = json_schema(schema);
    if let Value::Object(o) = &mut root {
        o.insert("components".into(), json_schema(&d.components));
    }
    let v = std::sync::Arc::new(jsonschema::validator_for(&root).map_err(|e| format!("schema: {e}"))?);
    d.compiled.lock().map_err(|e| e.to_string())?.insert((op, status), v.clone());
    Ok(Some(v))
}

/// Holds one answer against the document (and records it when asked); panics with what does
/// not match.
pub fn check(method: &str, path: &str, status: u16, body: &Value) {
    let success = (200..300).contains(&status) && status != 204;
    let Some((op, template)) = operation(method, path) else {
        assert!(!success, "{method} {path} answered {status} but is no operation of docs/openapi.json");
        return;
    };
    if let Ok(dir) = std::env::var("SHOP_ANSWERS_DIR") {
        record(&dir, method, &template, status, body);
        return;
    }
    if !success {
        return;
    }
    let v = match validator(op, status) {
        Ok(Some(v)) => v,
        Ok(None) => return,
        Err(e) => panic!("{method} {template}: {e}"),
    };
    let errors: Vec<String> = v.iter_errors(body).take(5).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{method} {path} answered {status} unlike docs/openapi.json: {errors:?}\n{body}");
}

fn record(dir: &str, method: &str, template: &str, status: u16, body: &Value) {
    // The suite's tests run on many threads: one line at a time.
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONE.lock();
    let line = json!({ "method": method, "path": template, "status": status, "body": body }).to_string();
    let file = format!("{dir}/answers-{}.jsonl", std::process::id());
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(file) {
        let _ = writeln!(f, "{line}");
    }
}
