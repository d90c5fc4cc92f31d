//! Shoppers in storage: created on first login, the session_key kept apart from the profile.

use serde_json::json;

use crate::App;
use crate::error::AppError;
use domain::clock;
use domain::ids::OpenId;
use domain::user::User;
use store::{Cond, StoreError, Update, from_item, keys, to_item};

/// Creates the user on first sight; `true` when this call created it.
pub async fn ensure(app: &App, openid: &OpenId, unionid: Option<&str>) -> Result<bool, AppError> {
    let now = clock::now();
    let user = User {
        openid: openid.clone(),
        unionid: unionid.map(str::to_owned),
        phone: None,
        phone_verified_at: None,
        created_at: now,
        last_login_at: now,
    };
    let item = to_item(&keys::user(openid), None, &user)?;
    match app.store.put(item, Some(Cond::NotExists)).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Makes sure a shopper the platform vouches for exists: a read first, since the
/// conditional create is a write and this runs on every call.
pub async fn ensure_seen(app: &App, openid: &OpenId, unionid: Option<&str>) -> Result<(), AppError> {
    if app.store.get(&keys::user(openid)).await?.is_none() {
        ensure(app, openid, unionid).await?;
    }
    Ok(())
}

/// Records a login: creates the user or stamps the login time, and keeps the session_key.
#[tracing::instrument(skip_all)]
pub async fn record_login(
    app: &App,
    openid: &OpenId,
    unionid: Option<&str>,
    session_key: &str,
) -> Result<bool, AppError> {
    let created = ensure(app, openid, unionid).await?;
    if !created {
        let mut upd = Update::new().set("last_login_at", clock::now());
        if let Some(u) = unionid {
            upd = upd.set("unionid", u);
        }
        app.store.update(&keys::user(openid), upd, Some(Cond::Exists)).await?;
    }
    let k = keys::user_session(openid);
    let item = to_item(&k, None, &json!({ "session_key": session_key, "updated_at": clock::now() }))?;
    app.store.put(item, None).await?;
    Ok(created)
}

pub async fn get(app: &App, openid: &str) -> Result<User, AppError> {
    let item = app.store.get(&keys::user(openid)).await?.ok_or_else(|| AppError::not_found("user"))?;
    Ok(from_item(item)?)
}

pub async fn set_phone(app: &App, openid: &str, phone: &str) -> Result<User, AppError> {
    let upd = Update::new().set("phone", phone).set("phone_verified_at", clock::now());
    let item = app.store.update(&keys::user(openid), upd, Some(Cond::Exists)).await.map_err(|e| match e {
        StoreError::ConditionFailed => AppError::not_found("user"),
        e => e.into(),
    })?;
    Ok(from_item(item)?)
}

/// The same read for code that holds only the store.
pub async fn get_store(store: &store::SharedStore, openid: &str) -> Result<User, AppError> {
    let item = store.get(&keys::user(openid)).await?.ok_or_else(|| AppError::not_found("user"))?;
    Ok(from_item(item)?)
}
