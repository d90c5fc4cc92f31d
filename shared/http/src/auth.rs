//! Who is calling: a shopper (session token from `login`, or the openid WeChat Cloud Hosting
//! injects when the shop trusts it) or an operator (their own token, see `app::operators`).

use app::operators::{self, Caller};
use app::{AppError, Code, clock, users};
use domain::ids::OpenId;
use domain::operator::Permission;

use crate::{Request, Service, session};

fn bearer(req: &Request) -> Option<&str> {
    req.header("authorization")?.strip_prefix("Bearer ").map(str::trim)
}

/// The shopper making the request: the openid WeChat Cloud Hosting injects when the shop is
/// configured to trust it, else the session token from `login`.
pub async fn shopper(svc: &Service, req: &Request) -> Result<OpenId, AppError> {
    if let Some(openid) = platform_openid(svc, req)? {
        let openid = OpenId::parse(openid).map_err(|_| AppError::unauthorized("X-WX-OPENID is not an openid"))?;
        users::ensure_seen(svc, &openid, req.header("x-wx-unionid")).await?;
        return Ok(openid);
    }
    let token = bearer(req)
        .ok_or_else(|| AppError::unauthorized("log in first: send Authorization: Bearer <token from /login>"))?;
    match session::verify(&svc.edge.session_secret, token, clock::now()) {
        Ok(c) => OpenId::parse(&c.sub).map_err(|_| AppError::unauthorized("the session token names no shopper")),
        Err(session::TokenError::Expired) => {
            Err(AppError::new(Code::SessionExpired, "the session expired, log in again"))
        }
        Err(e) => Err(AppError::unauthorized(e.to_string())),
    }
}

/// The headers WeChat Cloud Hosting sets on a `callContainer` request.
const PLATFORM_HEADERS: [&str; 5] = ["x-wx-openid", "x-wx-appid", "x-wx-env", "x-wx-source", "x-wx-unionid"];

/// The openid WeChat Cloud Hosting vouches for, when the shop trusts it (only on Cloud
/// Hosting: `CBR_ENV_ID` is set): only on a request that came through WeChat (`X-WX-SOURCE`),
/// in this environment (`X-WX-ENV`), for this mini-program (`X-WX-APPID`), and that carries no
/// session token of its own. Anything else is an ordinary request. A request that repeats one
/// of the platform's headers is refused: the platform sends each once, and which copy a proxy
/// keeps is not the shop's to guess.
fn platform_openid<'a>(svc: &Service, req: &'a Request) -> Result<Option<&'a str>, AppError> {
    let edge = &svc.edge;
    if !edge.trust_wx_context || bearer(req).is_some() || req.header("x-wx-source").is_none() {
        return Ok(None);
    }
    if PLATFORM_HEADERS.iter().any(|h| req.repeated(h)) {
        return Err(AppError::unauthorized("a platform header (X-WX-*) came more than once"));
    }
    let from_here = edge.cloud_env.is_some() && req.header("x-wx-env") == edge.cloud_env.as_deref();
    if !from_here || req.header("x-wx-appid") != Some(edge.appid.as_str()) {
        return Ok(None);
    }
    Ok(req.header("x-wx-openid"))
}

/// Whether `token` is the bootstrap token.
pub fn is_bootstrap(svc: &Service, token: &str) -> bool {
    // A function without the bootstrap token has an empty one, which nothing may match.
    let admin = &svc.edge.admin_token;
    !admin.is_empty() && operators::constant_time_eq(token.as_bytes(), admin.as_bytes())
}

/// The operator making the request, from `Authorization: Bearer <operator token>`, if their
/// role allows `needed`. The bootstrap token (`ADMIN_TOKEN`) is refused here: it only makes
/// the first account ([`bootstrap_or_operator`]).
pub async fn operator(svc: &Service, req: &Request, needed: Permission) -> Result<Caller, AppError> {
    let Some(token) = bearer(req) else {
        return Err(AppError::unauthorized("operator calls need Authorization: Bearer <operator token>"));
    };
    if is_bootstrap(svc, token) {
        return Err(AppError::new(
            Code::BootstrapOnly,
            "the bootstrap token only makes the first finance account (POST /admin/operators); use an operator token",
        ));
    }
    let caller = operators::authenticate(svc, token).await?;
    let _ = req.operator.set(caller.clone());
    if req.method != "GET" && req.attempt.get().is_none() {
        // Before the role is checked, so a refused try is on the trail too; before anything
        // changes, so no change goes unrecorded: when the entry cannot be written, nothing is done.
        let seq =
            app::audit::append(svc, &caller, &format!("{} {}", req.method, req.path), &req.path, Some(attempt(req)))
                .await?;
        let _ = req.attempt.set(seq);
    }
    caller.may(needed)?;
    Ok(caller)
}

/// Which fields of an operator's request body the audit trail does not keep: a `wx.login`
/// code is a credential, however short-lived.
const UNKEPT: [&str; 3] = ["code", "token", "password"];

/// An operator write's attempt as the audit trail keeps it: what was asked, its credentials
/// left out, and a long body by its digest.
fn attempt(req: &Request) -> serde_json::Value {
    use sha2::{Digest, Sha256};
    let input = match serde_json::from_slice::<serde_json::Value>(&req.body) {
        Ok(serde_json::Value::Object(mut m)) => {
            for k in UNKEPT {
                if m.contains_key(k) {
                    m.insert(k.into(), serde_json::Value::String("(not kept)".into()));
                }
            }
            serde_json::Value::Object(m)
        }
        Ok(v) => v,
        Err(_) if req.body.is_empty() => serde_json::Value::Null,
        Err(_) => serde_json::json!({ "unreadable_bytes": req.body.len() }),
    };
    let text = input.to_string();
    let input = if text.len() > 8192 {
        serde_json::json!({ "bytes": text.len(), "sha256": domain::hex(&Sha256::digest(text.as_bytes())) })
    } else {
        input
    };
    serde_json::json!({ "phase": "attempt", "input": input })
}

/// Records that `by` read a record's personal data (an order's address, an export), before
/// it is handed over: no record leaves unrecorded.
pub async fn read_personal(svc: &Service, by: &Caller, what: &str, target: &str) -> Result<(), AppError> {
    app::audit::append(svc, by, &format!("read {what}"), target, Some(serde_json::json!({ "phase": "read" }))).await?;
    Ok(())
}

/// For `POST /admin/operators`: the bootstrap token (`None`: make the first account), or an
/// operator allowed to manage accounts.
pub async fn bootstrap_or_operator(svc: &Service, req: &Request) -> Result<Option<Caller>, AppError> {
    match bearer(req) {
        Some(t) if is_bootstrap(svc, t) => Ok(None),
        _ => operator(svc, req, Permission::Accounts).await.map(Some),
    }
}

/// A page size from `?limit=`, 1 to 100, default 20.
pub fn page_limit(req: &Request) -> Result<usize, AppError> {
    match req.query("limit") {
        None => Ok(20),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => Ok(n),
            _ => Err(AppError::field("limit", "must be a whole number from 1 to 100")),
        },
    }
}
