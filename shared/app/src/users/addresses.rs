//! A shopper's address book: up to ten delivery addresses, one of them the default, written
//! as one record under a version so two phones editing at once never lose an edit silently.

use serde::Deserialize;

use crate::App;
use crate::error::{AppError, Code};
use domain::DomainError;
use domain::address::{Address, AddressBook, ChosenAddress};
use domain::ids::OpenId;
use store::{StoreError, repo};

/// An address as the client sends it: in the shop's own shape, or exactly as
/// `wx.chooseAddress` returned it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressInput {
    #[serde(default)]
    pub address: Option<Address>,
    #[serde(default)]
    pub wx_address: Option<ChosenAddress>,
    #[serde(default)]
    pub default: bool,
}

impl AddressInput {
    pub fn into_address(self) -> Result<(Address, bool), AppError> {
        match (self.address, self.wx_address) {
            (Some(a), None) => Ok((a.checked()?, self.default)),
            (None, Some(w)) => Ok((Address::from(w).checked()?, self.default)),
            _ => Err(AppError::bad_request("give exactly one of address or wx_address")),
        }
    }
}

pub async fn book(app: &App, openid: &OpenId) -> Result<AddressBook, AppError> {
    Ok(repo::users::address_book(app.store.as_ref(), openid).await?)
}

/// The address an order goes to: one of the shopper's book (`id`), one given with the order
/// (the shop's shape or `wx.chooseAddress`'s), or else the book's default.
pub async fn delivery_address(
    app: &App,
    openid: &OpenId,
    id: Option<&str>,
    given: Option<&Address>,
    chosen: Option<&ChosenAddress>,
) -> Result<Address, AppError> {
    match (id, given, chosen) {
        (Some(id), None, None) => {
            let book = book(app, openid).await?;
            book.get(id).cloned().ok_or_else(|| AppError::field("address_id", "no such address in your book"))
        }
        (None, Some(a), None) => Ok(a.clone().checked()?),
        (None, None, Some(w)) => Ok(Address::from(w.clone()).checked()?),
        (None, None, None) => book(app, openid).await?.default_address().cloned().ok_or_else(|| {
            AppError::new(Code::AddressRequired, "add a delivery address, or choose one, before ordering")
        }),
        _ => Err(AppError::bad_request("give at most one of address_id, address or wx_address")),
    }
}

/// Reads the book, applies `change`, writes it if nobody else did meanwhile (three tries).
async fn edit(
    app: &App,
    openid: &OpenId,
    change: impl Fn(&AddressBook) -> Result<AddressBook, DomainError>,
) -> Result<AddressBook, AppError> {
    for _ in 0..3 {
        let read = book(app, openid).await?;
        let next = change(&read).map_err(|e| match e {
            DomainError::Invalid { field, .. } if field == "id" => AppError::not_found("address"),
            other => other.into(),
        })?;
        match repo::users::put_address_book(app.store.as_ref(), openid, &next, read.version).await {
            Ok(()) => return Ok(next),
            Err(StoreError::ConditionFailed | StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::new(Code::ConcurrentEdit, "the address book changed meanwhile; reload"))
}

pub async fn add(app: &App, openid: &OpenId, input: AddressInput) -> Result<AddressBook, AppError> {
    let (address, default) = input.into_address()?;
    let id = format!("A{}", &uuid::Uuid::now_v7().simple().to_string()[..16]);
    edit(app, openid, |b| b.add(id.clone(), address.clone(), default)).await
}

pub async fn replace(app: &App, openid: &OpenId, id: &str, input: AddressInput) -> Result<AddressBook, AppError> {
    let (address, default) = input.into_address()?;
    edit(app, openid, |b| {
        let b = b.replace(id, address.clone())?;
        if default { b.set_default(id) } else { Ok(b) }
    })
    .await
}

pub async fn remove(app: &App, openid: &OpenId, id: &str) -> Result<AddressBook, AppError> {
    edit(app, openid, |b| b.remove(id)).await
}

pub async fn set_default(app: &App, openid: &OpenId, id: &str) -> Result<AddressBook, AppError> {
    edit(app, openid, |b| b.set_default(id)).await
}
