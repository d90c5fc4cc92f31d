//! The `login` function: `POST /login` (wx.login code → session token), `POST /login/phone`
//! (getPhoneNumber code → verified phone), `GET /me` and the address book (`/me/addresses`).

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::Service;
use crate::auth::shopper;
use crate::{Request, Response, session};
use app::AppError;
use app::users::addresses::AddressInput;
use app::{clock, users};
use domain::ids::OpenId;
use domain::user::{User, mask_openid, mask_phone};

pub fn handler<'a>(app: &'a Service, req: &'a Request) -> BoxFuture<'a, Result<Response, AppError>> {
    handle(app, req).boxed()
}

async fn handle(app: &Service, req: &Request) -> Result<Response, AppError> {
    match (req.method.as_str(), req.segments().as_slice()) {
        ("POST", ["login"]) => login(app, req).await,
        ("POST", ["login", "phone"]) => phone(app, req).await,
        ("GET", ["me"]) => me(app, req).await,
        ("GET", ["me", "addresses"]) => {
            let openid = shopper(app, req).await?;
            Response::ok(&users::addresses::book(app, &openid).await?)
        }
        ("POST", ["me", "addresses"]) => {
            let openid = shopper(app, req).await?;
            Response::json(201, &users::addresses::add(app, &openid, req.json::<AddressInput>()?).await?)
        }
        ("PUT", ["me", "addresses", id]) => {
            let openid = shopper(app, req).await?;
            Response::ok(&users::addresses::replace(app, &openid, id, req.json::<AddressInput>()?).await?)
        }
        ("DELETE", ["me", "addresses", id]) => {
            let openid = shopper(app, req).await?;
            Response::ok(&users::addresses::remove(app, &openid, id).await?)
        }
        ("POST", ["me", "addresses", id, "default"]) => {
            let openid = shopper(app, req).await?;
            Response::ok(&users::addresses::set_default(app, &openid, id).await?)
        }
        _ => Err(AppError::no_route(&req.method, &req.path)),
    }
}

#[derive(Deserialize)]
struct CodeBody {
    code: String,
}

fn valid_code(code: &str) -> Result<&str, AppError> {
    let code = code.trim();
    if code.is_empty() || code.len() > 128 || !code.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AppError::field("code", "must be the code from wx.login (1 to 128 visible characters)"));
    }
    Ok(code)
}

#[derive(Serialize)]
struct LoginAnswer {
    token: String,
    expires_at: i64,
    openid: String,
    new_user: bool,
}

async fn login(app: &Service, req: &Request) -> Result<Response, AppError> {
    let body: CodeBody = req.json()?;
    let code = valid_code(&body.code)?;
    let s = app.wechat.code2session(code).await?;
    // WeChat's answer is parsed like any input: an openid that is not one stops here.
    let openid = OpenId::parse(&s.openid).map_err(|_| AppError::from(wechat::WeChatError::BadAnswer))?;
    let created = users::record_login(app, &openid, s.unionid.as_deref(), &s.session_key).await?;
    let (token, expires_at) =
        session::issue(&app.edge.session_secret, &openid, clock::now(), app.edge.session_ttl_secs);
    tracing::info!(user = %mask_openid(&openid), new_user = created, "login");
    Response::ok(&LoginAnswer { token, expires_at, openid: s.openid, new_user: created })
}

#[derive(Serialize)]
struct Profile {
    openid: String,
    phone: Option<String>,
    phone_verified_at: Option<i64>,
    created_at: i64,
}

impl From<User> for Profile {
    fn from(u: User) -> Self {
        Profile {
            openid: u.openid.into(),
            phone: u.phone.as_deref().map(mask_phone),
            phone_verified_at: u.phone_verified_at,
            created_at: u.created_at,
        }
    }
}

async fn phone(app: &Service, req: &Request) -> Result<Response, AppError> {
    let openid = shopper(app, req).await?;
    let body: CodeBody = req.json()?;
    let code = valid_code(&body.code)?;
    let info = app.wechat.phone_number(code).await?;
    let user = users::set_phone(app, &openid, &info.pure_phone_number).await?;
    Response::ok(&Profile::from(user))
}

async fn me(app: &Service, req: &Request) -> Result<Response, AppError> {
    let openid = shopper(app, req).await?;
    Response::ok(&Profile::from(users::get(app, &openid).await?))
}
