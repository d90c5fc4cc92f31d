//! Shoppers: the profile, and apart from it the session_key of the last login, so no read of
//! a profile ever carries it.

use domain::address::AddressBook;
use domain::ids::OpenId;
use domain::user::User;

use crate::{Cond, Result, Store, StoreError, Update, from_item, keys, to_item};

/// Creates the profile unless it exists; `true` when this call created it.
pub async fn create(store: &dyn Store, user: &User) -> Result<bool> {
    match store.put(to_item(&keys::user(&user.openid), None, user)?, Some(Cond::NotExists)).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e),
    }
}

pub async fn get(store: &dyn Store, openid: &OpenId) -> Result<Option<User>> {
    store.get(&keys::user(openid)).await?.map(from_item).transpose()
}

/// Stamps a returning shopper's login (and unionid, when WeChat gives one).
pub async fn touch_login(store: &dyn Store, openid: &OpenId, unionid: Option<&str>, now: i64) -> Result<()> {
    let mut upd = Update::new().set("last_login_at", now);
    if let Some(u) = unionid {
        upd = upd.set("unionid", u);
    }
    store.update(&keys::user(openid), upd, Some(Cond::Exists)).await.map(|_| ())
}

/// Keeps the session_key of the shopper's last login (server side only).
pub async fn keep_session_key(store: &dyn Store, openid: &OpenId, session_key: &str, now: i64) -> Result<()> {
    #[derive(serde::Serialize)]
    struct Session<'a> {
        session_key: &'a str,
        updated_at: i64,
    }
    let item = to_item(&keys::user_session(openid), None, &Session { session_key, updated_at: now })?;
    store.put(item, None).await
}

/// Records a verified phone number; `None` when there is no such shopper.
pub async fn set_phone(store: &dyn Store, openid: &OpenId, phone: &str, now: i64) -> Result<Option<User>> {
    let upd = Update::new().set("phone", phone).set("phone_verified_at", now);
    match store.update(&keys::user(openid), upd, Some(Cond::Exists)).await {
        Ok(item) => Ok(Some(from_item(item)?)),
        Err(StoreError::ConditionFailed) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The shopper's address book (empty when they have none yet).
pub async fn address_book(store: &dyn Store, openid: &OpenId) -> Result<AddressBook> {
    Ok(store.get(&keys::user_addresses(openid)).await?.map(from_item).transpose()?.unwrap_or_default())
}

/// Writes `next`, refused if the book changed since it was read at `read_version` (0: it
/// did not exist).
pub async fn put_address_book(store: &dyn Store, openid: &OpenId, next: &AddressBook, read_version: i64) -> Result<()> {
    let cond = if read_version == 0 { Cond::NotExists } else { Cond::eq("version", read_version) };
    store.put(to_item(&keys::user_addresses(openid), None, next)?, Some(cond)).await
}
