//! Login over HTTP against the WeChat simulator, on both stores.

use e2e::{Backend, Shop, on_both_stores};
use serde_json::json;
use store::keys;

async fn login_creates_then_finds_the_user(b: Backend) {
    let shop = Shop::start(b).await;
    let first = shop.call("POST", "/login", None, Some(json!({"code": "alice.1"}))).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["new_user"], json!(true));
    assert_eq!(first.body["openid"], json!(shop.sim.sim.openid_for("alice")));
    let again = shop.call("POST", "/login", None, Some(json!({"code": "alice.2"}))).await;
    assert_eq!(again.body["new_user"], json!(false));
    assert_eq!(again.body["openid"], first.body["openid"]);
    let token = again.body["token"].as_str().unwrap();
    let me = shop.call("GET", "/me", Some(token), None).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["openid"], first.body["openid"]);
    // The session_key stays on the server: stored, but in no answer.
    let openid = first.body["openid"].as_str().unwrap();
    let stored = shop.app.store.get(&keys::user_session(&e2e::id(openid))).await.unwrap().unwrap();
    let session_key = stored["session_key"].as_str().unwrap();
    assert_eq!(session_key.len(), 24);
    for body in [&first.body, &again.body, &me.body] {
        assert!(!body.to_string().contains(session_key));
    }
}

async fn wechat_error_codes_map_to_clear_errors(b: Backend) {
    let shop = Shop::start(b).await;
    shop.login("reused").await;
    let cases = [
        ("login code WeChat does not know", "invalid-code", 400, "INVALID_CODE"),
        ("WeChat rate-limiting the shop", "ratelimit-1", 429, "WECHAT_RATE_LIMITED"),
        ("shopper WeChat has blocked", "blocked-1", 403, "USER_BLOCKED"),
        ("WeChat busy", "busy-1", 503, "WECHAT_UNAVAILABLE"),
    ];
    for (_, code, status, err) in cases {
        let a = shop.call("POST", "/login", None, Some(json!({ "code": code }))).await;
        assert_eq!((a.status, a.code()), (status, err), "code {code}: {}", a.body);
        assert!(!a.body["error"]["message"].as_str().unwrap_or("").is_empty());
    }
    // A code is good once.
    let ok = shop.call("POST", "/login", None, Some(json!({"code": "bob.7"}))).await;
    assert_eq!(ok.status, 200);
    let reused = shop.call("POST", "/login", None, Some(json!({"code": "bob.7"}))).await;
    assert_eq!((reused.status, reused.code()), (400, "INVALID_CODE"));
    // A refused login creates no user.
    let blocked = shop.sim.sim.openid_for("blocked-1");
    assert!(shop.app.store.get(&keys::user(&e2e::id(&blocked))).await.unwrap().is_none());
}

async fn malformed_login_requests_are_refused(b: Backend) {
    let shop = Shop::start(b).await;
    let cases = [
        ("login without a body", None, "a JSON body is required"),
        ("login without a code", Some(json!({})), "missing field `code`"),
        ("login with an empty code", Some(json!({"code": ""})), "code"),
        ("login code over 128 characters", Some(json!({"code": "x".repeat(129)})), "code"),
        ("login code with a space", Some(json!({"code": "has space"})), "code"),
        ("login code given as a number", Some(json!({"code": 42})), "invalid type"),
    ];
    for (_, body, says) in cases {
        let a = shop.call("POST", "/login", None, body.clone()).await;
        assert_eq!((a.status, a.code()), (400, "INVALID_INPUT"), "{body:?}");
        assert!(a.body["error"]["message"].as_str().unwrap().contains(says), "{body:?}: {}", a.body);
    }
    let calls = shop.http.post(format!("{}/login", shop.base)).body("{not json").send().await.unwrap();
    assert_eq!(calls.status(), 400);
}

async fn wrong_app_secret_is_a_config_error_without_the_secret(b: Backend) {
    let mut shop = Shop::start(b).await;
    let mut settings = shop.settings.clone();
    settings.wechat.app_secret = "a-wrong-secret-value".into();
    shop.app = settings.app(shop.app.store.clone()).unwrap();
    let r = shop.app.wechat.code2session("carol.1").await.unwrap_err();
    let api: app::AppError = r.into();
    assert_eq!((hosting::errors::status(api.code), api.code.as_str()), (502, "WECHAT_CONFIG"));
    assert!(!api.message.contains("a-wrong-secret-value"));
}

async fn unreachable_wechat_is_unavailable(b: Backend) {
    let shop = Shop::start(b).await;
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut settings = shop.settings.clone();
    settings.wechat.api_base = format!("http://127.0.0.1:{port}");
    let app = settings.app(shop.app.store.clone()).unwrap();
    let e: app::AppError = app.wechat.code2session("dave.1").await.unwrap_err().into();
    assert_eq!((hosting::errors::status(e.code), e.code.as_str()), (503, "WECHAT_UNAVAILABLE"));
}

async fn session_tokens_are_checked(b: Backend) {
    let shop = Shop::start(b).await;
    let token = shop.login("erin").await;
    let no = shop.call("GET", "/me", None, None).await;
    assert_eq!((no.status, no.code()), (401, "UNAUTHORIZED"));
    let mut forged = token.clone().into_bytes();
    let i = forged.len() / 3;
    forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    assert_eq!(shop.call("GET", "/me", Some(&forged), None).await.status, 401);
    let openid = shop.sim.sim.openid_for("erin");
    let (expired, _) = hosting::session::issue(&shop.settings.session_secret, &e2e::id(&openid), 1_000, 60);
    let a = shop.call("GET", "/me", Some(&expired), None).await;
    assert_eq!((a.status, a.code()), (401, "SESSION_EXPIRED"));
    // A header naming a user is not trusted unless the shop is told to trust it.
    let r = shop.http.get(format!("{}/me", shop.base)).header("X-WX-OPENID", openid).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

async fn cloud_hosting_identity_header_is_trusted_when_configured(b: Backend) {
    let shop = Shop::start_with(b, true).await;
    let openid = shop.sim.sim.openid_for("frank");
    let me = shop.send("GET", "/me", &Shop::cloud_hosting(&openid), None).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["openid"], json!(openid));
    let bad = shop.send("GET", "/me", &Shop::cloud_hosting("not an openid!"), None).await;
    assert_eq!(bad.status, 401);
}

/// X-WX-OPENID is WeChat Cloud Hosting's word only when the request came through WeChat for
/// this mini-program and carries no token of its own; otherwise anyone could send it.
async fn forged_platform_identity_is_not_trusted(b: Backend) {
    let shop = Shop::start_with(b, true).await;
    let victim = shop.sim.sim.openid_for("victim");
    let without = |name: &str| -> Vec<(&'static str, String)> {
        Shop::cloud_hosting(&victim).into_iter().filter(|(n, _)| *n != name).collect()
    };
    let no_source = shop.send("GET", "/me", &without("X-WX-SOURCE"), None).await;
    assert_eq!(no_source.status, 401, "no X-WX-SOURCE: not from WeChat");
    // Every other forged combination: another environment, none, and a platform header sent
    // twice (the first naming the victim, or the second: which one a proxy keeps is no proof).
    let mut other_env = without("X-WX-ENV");
    other_env.push(("X-WX-ENV", "prod-someone-else".into()));
    assert_eq!(shop.send("GET", "/me", &other_env, None).await.status, 401, "another environment");
    assert_eq!(shop.send("GET", "/me", &without("X-WX-ENV"), None).await.status, 401, "no environment");
    for twice in ["X-WX-OPENID", "X-WX-APPID", "X-WX-ENV", "X-WX-SOURCE"] {
        let mut h = Shop::cloud_hosting(&victim);
        let again = h.iter().find(|(n, _)| *n == twice).map(|(_, v)| v.clone()).unwrap();
        h.push((twice, again));
        let a = shop.send("GET", "/me", &h, None).await;
        assert_eq!((a.status, a.code()), (401, "UNAUTHORIZED"), "{twice} twice: {}", a.body);
    }
    let mut two_people = Shop::cloud_hosting(&victim);
    two_people.push(("X-WX-OPENID", shop.sim.sim.openid_for("mallory")));
    assert_eq!(shop.send("GET", "/me", &two_people, None).await.status, 401, "two openids");
    // The pay notify takes no platform header for proof of anything.
    let notify = shop.send("POST", "/pay/notify", &Shop::cloud_hosting(&victim), Some(json!({"id": "x"}))).await;
    assert_eq!(notify.status, 400, "a notify without WeChat Pay's signature: {}", notify.body);
    let mut other_app = without("X-WX-APPID");
    other_app.push(("X-WX-APPID", "wx9999999999999999".into()));
    assert_eq!(shop.send("GET", "/me", &other_app, None).await.status, 401, "another mini-program's user");
    assert_eq!(shop.send("GET", "/me", &without("X-WX-APPID"), None).await.status, 401);
    // A shopper's own token wins over a header naming someone else.
    let token = shop.login("mallory").await;
    let mut both = Shop::cloud_hosting(&victim);
    both.push(("Authorization", format!("Bearer {token}")));
    let me = shop.send("GET", "/me", &both, None).await;
    assert_eq!(me.body["openid"], json!(shop.sim.sim.openid_for("mallory")));
    // Not trusted at all unless configured.
    let plain = Shop::start(b).await;
    assert_eq!(plain.send("GET", "/me", &Shop::cloud_hosting(&victim), None).await.status, 401);
}

async fn phone_number_is_verified_and_masked(b: Backend) {
    let shop = Shop::start(b).await;
    let token = shop.login("gina").await;
    let a = shop.call("POST", "/login/phone", Some(&token), Some(json!({"code": "phone-13800138000"}))).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["phone"], json!("138****8000"));
    assert!(a.body["phone_verified_at"].as_i64().is_some());
    let stored = shop.app.store.get(&keys::user(&e2e::id(&shop.sim.sim.openid_for("gina")))).await.unwrap().unwrap();
    assert_eq!(stored["phone"], json!("13800138000"));
    // The access token is cached...
    let b2 = shop.call("POST", "/login/phone", Some(&token), Some(json!({"code": "phone-13900139000"}))).await;
    assert_eq!(b2.body["phone"], json!("139****9000"));
    let stats = shop.sim.sim.mp.lock().unwrap().token_calls;
    assert_eq!(stats, 1, "one stable_token call serves both");
    // ...and refreshed once when WeChat refuses it.
    shop.http.post(format!("{}/sim/invalidate-tokens", shop.sim.base_url())).send().await.unwrap();
    let c = shop.call("POST", "/login/phone", Some(&token), Some(json!({"code": "phone-13700137000"}))).await;
    assert_eq!(c.status, 200, "{}", c.body);
    assert_eq!(shop.sim.sim.mp.lock().unwrap().token_calls, 2);
    let blocked = shop.call("POST", "/login/phone", Some(&token), Some(json!({"code": "blocked-p"}))).await;
    assert_eq!((blocked.status, blocked.code()), (403, "PHONE_BLOCKED"));
    let invalid = shop.call("POST", "/login/phone", Some(&token), Some(json!({"code": "invalid-p"}))).await;
    assert_eq!((invalid.status, invalid.code()), (400, "INVALID_CODE"));
    let anon = shop.call("POST", "/login/phone", None, Some(json!({"code": "phone-1"}))).await;
    assert_eq!(anon.status, 401);
}

on_both_stores!(
    login_creates_then_finds_the_user,
    wechat_error_codes_map_to_clear_errors,
    malformed_login_requests_are_refused,
    wrong_app_secret_is_a_config_error_without_the_secret,
    unreachable_wechat_is_unavailable,
    session_tokens_are_checked,
    cloud_hosting_identity_header_is_trusted_when_configured,
    forged_platform_identity_is_not_trusted,
    phone_number_is_verified_and_masked,
);
