//! Shoppers: created on first sight, their logins, verified phone numbers and addresses.

pub mod addresses;

use crate::App;
use crate::error::AppError;
use domain::clock;
use domain::ids::OpenId;
use domain::user::User;
use store::repo;

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
    Ok(repo::users::create(app.store.as_ref(), &user).await?)
}

/// Makes sure a shopper the platform vouches for exists: a read first, since the
/// conditional create is a write and this runs on every call.
pub async fn ensure_seen(app: &App, openid: &OpenId, unionid: Option<&str>) -> Result<(), AppError> {
    if repo::users::get(app.store.as_ref(), openid).await?.is_none() {
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
    let store = app.store.as_ref();
    let created = ensure(app, openid, unionid).await?;
    if !created {
        repo::users::touch_login(store, openid, unionid, clock::now()).await?;
    }
    repo::users::keep_session_key(store, openid, session_key, clock::now()).await?;
    Ok(created)
}

pub async fn get(app: &App, openid: &OpenId) -> Result<User, AppError> {
    crate::lookup::user(app.store.as_ref(), openid).await
}

pub async fn set_phone(app: &App, openid: &OpenId, phone: &str) -> Result<User, AppError> {
    repo::users::set_phone(app.store.as_ref(), openid, phone, clock::now())
        .await?
        .ok_or_else(|| AppError::not_found("user"))
}
