//! Shoppers in storage: created on first login, the session_key kept apart from the profile.

use serde_json::json;

use crate::api::App;
use crate::clock;
use crate::domain::user::User;
use crate::error::ApiError;
use crate::store::{Cond, StoreError, Update, from_item, keys, to_item};

/// Creates the user on first sight; `true` when this call created it.
pub async fn ensure(app: &App, openid: &str, unionid: Option<&str>) -> Result<bool, ApiError> {
    let now = clock::now();
    let user = User {
        openid: openid.to_owned(),
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

/// Records a login: creates the user or stamps the login time, and keeps the session_key.
pub async fn record_login(app: &App, openid: &str, unionid: Option<&str>, session_key: &str) -> Result<bool, ApiError> {
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

pub async fn get(app: &App, openid: &str) -> Result<User, ApiError> {
    let item = app.store.get(&keys::user(openid)).await?.ok_or_else(|| ApiError::not_found("user"))?;
    Ok(from_item(item)?)
}

pub async fn set_phone(app: &App, openid: &str, phone: &str) -> Result<User, ApiError> {
    let upd = Update::new().set("phone", phone).set("phone_verified_at", clock::now());
    let item = app.store.update(&keys::user(openid), upd, Some(Cond::Exists)).await.map_err(|e| match e {
        StoreError::ConditionFailed => ApiError::not_found("user"),
        e => e.into(),
    })?;
    Ok(from_item(item)?)
}

/// The same read for code that holds only the store.
pub async fn get_store(store: &crate::store::SharedStore, openid: &str) -> Result<User, ApiError> {
    let item = store.get(&keys::user(openid)).await?.ok_or_else(|| ApiError::not_found("user"))?;
    Ok(from_item(item)?)
}
