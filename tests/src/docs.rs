//! What the documents say: docs/openapi.json's routes, template.yaml's routes and which
//! function binary serves each, read the way API Gateway reads them.

use serde_json::Value;

pub fn root(p: &str) -> String {
    format!("{}/../{p}", env!("CARGO_MANIFEST_DIR"))
}

/// A documented path with its parameters filled in.
pub fn concrete(path: &str) -> String {
    path.replace("{id}", "x1")
        .replace("{no}", "20990101000000000001")
        .replace("{sku}", "S1")
        .replace("{warehouse}", "W1")
        .replace("{out_refund_no}", "R1")
        .replace("{day}", "2026-01-01")
        .replace("{openid}", "oMember0000000000001")
        .replace("{segment}", "important_value")
}

pub fn yaml(path: &str) -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(&std::fs::read_to_string(root(path)).unwrap()).unwrap()
}

/// One HTTP API route of the template: its path pattern, method and function binary.
pub struct Route {
    pub segments: Vec<String>,
    pub method: String,
    pub binary: String,
}

impl Route {
    /// How API Gateway ranks a match: a route without a greedy variable before one with, then
    /// more literal segments, then an exact method before ANY. `None`: no match.
    pub fn rank(&self, method: &str, path: &[&str]) -> Option<(bool, usize, bool)> {
        let method_ok = self.method == "ANY" || self.method.eq_ignore_ascii_case(method);
        if !method_ok {
            return None;
        }
        let greedy = self.segments.last().is_some_and(|s| s.ends_with("+}"));
        let fixed = if greedy { &self.segments[..self.segments.len() - 1] } else { &self.segments[..] };
        let fits = if greedy { path.len() > fixed.len() } else { path.len() == fixed.len() };
        if !fits {
            return None;
        }
        let mut literals = 0;
        for (pat, seg) in fixed.iter().zip(path) {
            if pat.starts_with('{') {
                continue;
            }
            if pat != seg {
                return None;
            }
            literals += 1;
        }
        Some((!greedy, literals, self.method != "ANY"))
    }
}

pub fn template_routes() -> Vec<Route> {
    let t = yaml("template.yaml");
    let mut out = Vec::new();
    for r in t["Resources"].as_mapping().unwrap().values() {
        if r["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = r["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap().to_owned();
        let Some(events) = r["Properties"]["Events"].as_mapping() else { continue };
        for ev in events.values().filter(|e| e["Type"].as_str() == Some("HttpApi")) {
            let path = ev["Properties"]["Path"].as_str().unwrap();
            out.push(Route {
                segments: path.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
                method: ev["Properties"]["Method"].as_str().unwrap().to_ascii_uppercase(),
                binary: binary.clone(),
            });
        }
    }
    out
}

/// Every documented operation: (method in upper case, path as documented).
pub fn documented_operations() -> Vec<(String, String)> {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(root("docs/openapi.json")).unwrap()).unwrap();
    let mut out = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            out.push((method.to_ascii_uppercase(), path.clone()));
        }
    }
    out
}

/// The function binary API Gateway (as template.yaml routes it) sends `method path` to.
pub fn function_of(routes: &[Route], method: &str, path: &str) -> Option<String> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    routes
        .iter()
        .filter_map(|r| r.rank(method, &segs).map(|k| (k, r)))
        .max_by_key(|(k, _)| *k)
        .map(|(_, r)| r.binary.clone())
}
