//! Operator accounts: each person has an id, a role and a token of their own, kept only as
//! its SHA-256. The bootstrap token (`ADMIN_TOKEN`) can make the first account, which must
//! be finance, and nothing else; finance makes the others. Every operator action lands in the
//! append-only audit trail ([`crate::audit`]). The bootstrap token itself is the host's
//! configuration: `hosting::auth` tells it apart.

use domain::hex;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::error::{AppError, Code};
use crate::{App, audit};
use domain::clock;
pub use domain::operator::Caller;
use domain::operator::{Account, Permission, Role, check_id};
use store::StoreError;
use store::repo::operators as repo;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    pub id: String,
    pub name: String,
    pub role: Role,
}

/// An account as operators see it: never its token hash.
#[derive(Debug, Serialize)]
pub struct AccountView {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub created_at: i64,
    pub created_by: String,
    pub disabled: bool,
    /// Whether the account is bound to a WeChat identity (never which).
    pub bound: bool,
    /// A finance account waiting for another finance person's approval.
    pub pending: bool,
}

impl From<&Account> for AccountView {
    fn from(a: &Account) -> Self {
        AccountView {
            id: a.id.clone(),
            name: a.name.clone(),
            role: a.role,
            created_at: a.created_at,
            created_by: a.created_by.clone(),
            disabled: a.disabled,
            bound: a.identity.is_some(),
            pending: a.pending,
        }
    }
}

/// A new account and its token, which is shown this once.
#[derive(Debug, Serialize)]
pub struct Issued {
    pub account: AccountView,
    pub token: String,
}

const TOKEN_PREFIX: &str = "op.";

fn digest(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// `op.<id>.<64 hex digits>`: the id finds the account, 256 random bits make it unguessable
/// (so one unsalted SHA-256 suffices to keep it at rest).
fn new_token(id: &str) -> Result<String, AppError> {
    let mut secret = [0u8; 32];
    aws_lc_rs::rand::fill(&mut secret).map_err(|_| {
        tracing::error!("no randomness for an operator token");
        AppError::internal()
    })?;
    Ok(format!("{TOKEN_PREFIX}{id}.{}", hex(&secret)))
}

/// Compares secrets in time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The operator a token belongs to. Every refusal reads the same, so a caller learns
/// nothing about which ids exist.
pub async fn authenticate(app: &App, token: &str) -> Result<Caller, AppError> {
    let refused = || AppError::unauthorized("not a valid operator token");
    let id = token.strip_prefix(TOKEN_PREFIX).and_then(|rest| rest.split_once('.')).map(|(id, _)| id);
    let Some(id) = id.filter(|id| check_id(id).is_ok()) else {
        return Err(refused());
    };
    let account = repo::get(app.store.as_ref(), id).await?.ok_or_else(refused)?;
    if !constant_time_eq(digest(token).as_bytes(), account.token_sha256.as_bytes()) {
        return Err(refused());
    }
    if account.disabled {
        return Err(refused());
    }
    if account.pending {
        return Err(AppError::new(
            Code::Forbidden,
            "this finance account waits for another finance person's approval before it signs in",
        ));
    }
    let recent_openid = account.recent_openid.filter(|r| r.until > clock::now()).map(|r| r.openid);
    Ok(Caller { id: account.id, role: account.role, identity: account.identity, recent_openid })
}

fn account(input: NewAccount, created_by: &str, token: &str) -> Result<Account, AppError> {
    check_id(&input.id)?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 40 {
        return Err(AppError::field("name", "1 to 40 characters"));
    }
    Ok(Account {
        id: input.id,
        name: name.to_owned(),
        role: input.role,
        token_sha256: digest(token),
        created_at: clock::now(),
        created_by: created_by.to_owned(),
        disabled: false,
        identity: None,
        recent_openid: None,
        pending: false,
        version: 1,
    })
}

/// The bootstrap token, as the audit trail names it.
fn bootstrap_caller() -> Caller {
    Caller { id: "bootstrap".into(), role: Role::Finance, identity: None, recent_openid: None }
}

/// The first account, made with the bootstrap token: finance, and only once.
pub async fn bootstrap(app: &App, input: NewAccount) -> Result<Issued, AppError> {
    if input.role != Role::Finance {
        return Err(AppError::field("role", "the first account must be finance, who then makes the others"));
    }
    let token = new_token(&input.id)?;
    let a = account(input, "bootstrap", &token)?;
    let by = bootstrap_caller();
    for _ in 0..audit::RETRIES {
        let mut ops = repo::create_first(&a)?;
        let first = ops.len();
        ops.extend(
            audit::entry(app.store.as_ref(), &by, "operator.create", &a.id, None, Some(json!(AccountView::from(&a))))
                .await?,
        );
        match app.store.transact(ops).await {
            Ok(()) => return Ok(Issued { account: AccountView::from(&a), token }),
            Err(StoreError::Cancelled { failed }) if failed.iter().any(|i| *i < first) => {
                return Err(AppError::new(
                    Code::AlreadyBootstrapped,
                    "the first account exists; the bootstrap token makes no other: ask a finance operator",
                ));
            }
            // Another entry joined the audit trail meanwhile: append after it.
            Err(StoreError::Cancelled { .. } | StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(audit::busy())
}

/// Another account, made by finance. A finance account waits (`pending`) until another
/// finance person approves it ([`approve_grant`]): one person cannot make themselves a second
/// finance account to approve their own large refunds.
pub async fn create(app: &App, by: &Caller, input: NewAccount) -> Result<Issued, AppError> {
    by.may(Permission::Accounts)?;
    let token = new_token(&input.id)?;
    let mut a = account(input, &by.id, &token)?;
    a.pending = a.role == Role::Finance;
    for _ in 0..audit::RETRIES {
        let mut ops = vec![repo::create(&a)?];
        ops.extend(
            audit::entry(app.store.as_ref(), by, "operator.create", &a.id, None, Some(json!(AccountView::from(&a))))
                .await?,
        );
        match app.store.transact(ops).await {
            Ok(()) => return Ok(Issued { account: AccountView::from(&a), token }),
            Err(StoreError::Cancelled { failed }) if failed.contains(&0) => {
                return Err(AppError::new(Code::Conflict, format!("an operator named {} exists", a.id)));
            }
            Err(StoreError::Cancelled { .. } | StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(audit::busy())
}

/// Disables an account: its token stops working at once. Nobody disables themselves, so the
/// last finance account cannot lock the shop out by accident.
pub async fn disable(app: &App, by: &Caller, id: &str) -> Result<AccountView, AppError> {
    by.may(Permission::Accounts)?;
    if id == by.id {
        return Err(AppError::forbidden("you cannot disable your own account"));
    }
    for _ in 0..audit::RETRIES {
        let a = repo::get(app.store.as_ref(), id).await?.ok_or_else(|| AppError::not_found("operator"))?;
        if a.disabled {
            return Ok(AccountView::from(&a));
        }
        let mut next = a.clone();
        next.disabled = true;
        next.version += 1;
        let mut ops = vec![repo::rewrite(&next, a.version)?];
        ops.extend(
            audit::entry(
                app.store.as_ref(),
                by,
                "operator.disable",
                id,
                Some(json!(AccountView::from(&a))),
                Some(json!(AccountView::from(&next))),
            )
            .await?,
        );
        match app.store.transact(ops).await {
            Ok(()) => return Ok(AccountView::from(&next)),
            // The account or the audit trail changed meanwhile: read again.
            Err(StoreError::Cancelled { .. } | StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(audit::busy())
}

/// Who approves a finance grant: another active finance account, bound to a WeChat identity
/// that is neither the grantor's nor the new account's; or, while the shop has one finance
/// account only, the bootstrap token (`by` is `None`), so a shop can have its second.
pub async fn approve_grant(app: &App, by: Option<&Caller>, id: &str) -> Result<AccountView, AppError> {
    let store = app.store.as_ref();
    let a = repo::get(store, id).await?.ok_or_else(|| AppError::not_found("operator"))?;
    if !a.pending {
        return Err(AppError::new(Code::InvalidTransition, "this account waits for no approval"));
    }
    let by = match by {
        Some(by) => {
            by.may(Permission::Accounts)?;
            let grantor = repo::get(store, &a.created_by).await?;
            let same_person = by.id == a.created_by
                || by.identity.is_none()
                || by.identity == a.identity
                || grantor.as_ref().is_some_and(|g| g.identity.is_some() && g.identity == by.identity);
            if same_person {
                return Err(AppError::forbidden(
                    "a finance grant is approved by another finance person, bound to a WeChat identity of their own",
                ));
            }
            by.clone()
        }
        None => {
            let finance = repo::list(store)
                .await?
                .iter()
                .filter(|x| x.role == Role::Finance && !x.disabled && !x.pending)
                .count();
            if finance != 1 {
                return Err(AppError::new(
                    Code::BootstrapOnly,
                    "the bootstrap token approves a second finance account only while the shop has one",
                ));
            }
            bootstrap_caller()
        }
    };
    let mut next = a.clone();
    next.pending = false;
    next.version += 1;
    let before = Some(json!(AccountView::from(&a)));
    for _ in 0..audit::RETRIES {
        let mut ops = vec![repo::rewrite(&next, a.version)?];
        ops.extend(
            audit::entry(
                store,
                &by,
                "operator.approve_grant",
                id,
                before.clone(),
                Some(json!(AccountView::from(&next))),
            )
            .await?,
        );
        match app.store.transact(ops).await {
            Ok(()) => return Ok(AccountView::from(&next)),
            Err(StoreError::Cancelled { failed }) if failed.contains(&0) => {
                return Err(AppError::new(Code::Conflict, "the account changed meanwhile; reload"));
            }
            Err(StoreError::Cancelled { .. } | StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(audit::busy())
}

/// A WeChat identity as the shop keeps it: a digest of the openid, never the openid.
fn identity_of(openid: &domain::ids::OpenId) -> String {
    hex(&Sha256::digest(format!("operator-identity\n{openid}").as_bytes()))
}

/// Binds the caller's account to the WeChat identity `openid` (from a `wx.login` code the
/// console or the mini-program sends), once; one identity binds one account.
pub async fn bind_identity(app: &App, by: &Caller, openid: &domain::ids::OpenId) -> Result<AccountView, AppError> {
    let store = app.store.as_ref();
    let a = repo::get(store, &by.id).await?.ok_or_else(|| AppError::not_found("operator"))?;
    let identity = identity_of(openid);
    let recent = Some(domain::operator::RecentOpenid {
        openid: openid.to_string(),
        until: clock::now() + domain::operator::RECENT_OPENID_SECS,
    });
    if a.identity.as_deref() == Some(identity.as_str()) {
        // Confirmed again: only the content checks' window moves.
        let mut next = a.clone();
        next.recent_openid = recent;
        next.version += 1;
        return match app.store.transact(vec![repo::rewrite(&next, a.version)?]).await {
            Ok(()) => Ok(AccountView::from(&next)),
            Err(StoreError::Cancelled { .. }) => {
                Err(AppError::new(Code::Conflict, "the account changed meanwhile; retry"))
            }
            Err(e) => Err(e.into()),
        };
    }
    if a.identity.is_some() {
        return Err(AppError::new(Code::Conflict, "this account is bound to another WeChat identity already"));
    }
    let mut next = a.clone();
    next.identity = Some(identity.clone());
    next.recent_openid = recent;
    next.version += 1;
    for _ in 0..audit::RETRIES {
        let mut ops = vec![repo::claim_identity(&identity, &a.id)?, repo::rewrite(&next, a.version)?];
        ops.extend(
            audit::entry(store, by, "operator.bind_identity", &a.id, None, Some(json!({ "bound": true }))).await?,
        );
        match app.store.transact(ops).await {
            Ok(()) => return Ok(AccountView::from(&next)),
            Err(StoreError::Cancelled { failed }) if failed.contains(&0) => {
                return Err(AppError::new(
                    Code::Conflict,
                    "this WeChat identity is bound to another operator account: one person, one account",
                ));
            }
            Err(StoreError::Cancelled { failed }) if failed.contains(&1) => {
                return Err(AppError::new(Code::Conflict, "the account changed meanwhile; retry"));
            }
            Err(StoreError::Cancelled { .. } | StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(audit::busy())
}

pub async fn list(app: &App) -> Result<Vec<AccountView>, AppError> {
    Ok(repo::list(app.store.as_ref()).await?.iter().map(AccountView::from).collect())
}
