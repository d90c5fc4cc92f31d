//! Product images and WeChat's content security. Uploads go straight to object storage on a
//! URL the shop signs (its key, type and length chosen and signed here); attaching a key
//! checks that the object arrived as signed and asks WeChat to check it (`media_check_async`),
//! whose verdict comes back on the message push. Publishing waits for every image to pass and
//! for the text to pass `msg_sec_check`.

use std::time::Duration;

use serde::Serialize;

use super::get_product;
use crate::App;
use crate::error::{AppError, Code};
use domain::catalog::{CheckState, Media, MediaCheck, Product, Sku, UploadPurpose, check_upload, media_key};
use domain::clock;
use domain::events::Event;
use domain::ids::ProductId;
use domain::operator::Caller;
use store::repo;
use store::repo::media::{Subject, Trace, UploadGrant};
use wechat::WeChatError;

/// How long a signed upload URL stays usable.
pub const UPLOAD_TTL: Duration = Duration::from_secs(15 * 60);

/// Content security scenes (WeChat's `scene`): a product's material is the shop's profile.
const SCENE_PROFILE: u8 = 1;
/// ... and a review or a reply to one is a comment.
pub(crate) const SCENE_COMMENT: u8 = 2;

/// msgSecCheck reads at most 2,500 characters at once.
const TEXT_CHUNK: usize = 2500;

/// A signed upload: where to PUT the bytes, with which headers, until when; and the key to
/// attach afterwards.
#[derive(Debug, Serialize)]
pub struct Upload {
    pub key: String,
    #[serde(flatten)]
    pub put: store::objects::PresignedPut,
    pub expires_at: i64,
    pub max_bytes: i64,
}

/// Signs an upload of `size` bytes of `content_type` for `purpose`, under a key the shop
/// picks. `by` names who asked (an operator id, or a shopper's openid for reviews).
pub async fn sign_upload(
    app: &App,
    by: &str,
    purpose: UploadPurpose,
    content_type: &str,
    size: i64,
) -> Result<Upload, AppError> {
    check_upload(content_type, size)?;
    let objects = app.objects()?;
    let key = media_key(purpose, &uuid::Uuid::new_v4().simple().to_string(), content_type)?;
    let now = clock::now();
    let expires_at = now + i64::try_from(UPLOAD_TTL.as_secs()).unwrap_or(900);
    let grant = UploadGrant {
        key: key.clone(),
        purpose,
        content_type: content_type.to_owned(),
        size,
        by: by.to_owned(),
        expires_at,
    };
    repo::media::put_grant(app.store.as_ref(), &grant).await?;
    let put = objects.presign_put(&key, content_type, size, UPLOAD_TTL).await.map_err(|e| {
        tracing::error!(error = %e, "presigning an upload failed");
        AppError::unavailable("object storage could not sign the upload; retry shortly")
    })?;
    Ok(Upload { key, put, expires_at, max_bytes: domain::catalog::MAX_IMAGE_BYTES })
}

/// Checks that `key` was signed here for `purpose` (and for `owner`, when named) and holds
/// what was signed.
pub(crate) async fn check_arrived(
    app: &App,
    key: &str,
    purpose: UploadPurpose,
    owner: Option<&str>,
) -> Result<(), AppError> {
    let mismatch = |why: &str| {
        AppError::new(Code::UploadMismatch, format!("{key}: {why}")).with_details(serde_json::json!({ "key": key }))
    };
    let grant = repo::media::grant(app.store.as_ref(), key).await?;
    let Some(grant) = grant.filter(|g| g.purpose == purpose && owner.is_none_or(|o| g.by == o)) else {
        return Err(mismatch("no upload of this shop has that key"));
    };
    let info = app.objects()?.head(key).await.map_err(|e| {
        tracing::error!(error = %e, "reading an uploaded object failed");
        AppError::unavailable("object storage could not be read; retry shortly")
    })?;
    match info {
        None => Err(mismatch("nothing was uploaded there yet")),
        Some(i) if i.size != grant.size || i.content_type.as_deref() != Some(grant.content_type.as_str()) => {
            Err(mismatch("the object differs from the upload that was signed"))
        }
        Some(_) => Ok(()),
    }
}

/// The openid content checks are asked under: the operator's own, confirmed with a fresh
/// `wx.login` code within WeChat's two-hour window.
pub(crate) fn check_identity(by: &Caller) -> Result<&str, AppError> {
    by.recent_openid.as_deref().ok_or_else(|| {
        AppError::new(
            Code::ContentCheckUnavailable,
            "WeChat checks content only under a WeChat that used the mini-program in the last two hours: \
             confirm yours (POST /admin/me/identity with a fresh wx.login code) and retry",
        )
    })
}

pub(crate) fn content_check_error(e: WeChatError) -> AppError {
    if e == WeChatError::Other(wechat::mp::USER_NOT_RECENT) {
        return AppError::new(
            Code::ContentCheckUnavailable,
            "WeChat checks content only for a WeChat that used the mini-program lately: open the mini-program, then retry",
        );
    }
    AppError::from(e)
}

/// Sets a product's images. Every key new to the product must be an upload signed here that
/// arrived as signed; each is sent to WeChat's media check, and stays hidden from shoppers
/// (and blocks publishing) until WeChat passes it.
pub async fn set_media(app: &App, by: &Caller, id: &ProductId, media: Media) -> Result<Product, AppError> {
    media.validate()?;
    let p = get_product(&app.store, id).await?;
    let skus = super::skus_of(&app.store, id).await?;
    for sku_id in media.sku_images.keys() {
        if !skus.iter().any(|s| &s.id == sku_id) {
            return Err(AppError::field("sku_images", format!("the product has no SKU {sku_id}")));
        }
    }
    let fresh: Vec<String> =
        media.keys().into_iter().filter(|k| !p.checks.contains_key(*k)).map(str::to_owned).collect();
    if !fresh.is_empty() {
        let openid = check_identity(by)?;
        for k in &fresh {
            check_arrived(app, k, UploadPurpose::Product, None).await?;
        }
        let objects = app.objects()?;
        let now = clock::now();
        let mut traces = Vec::new();
        for k in &fresh {
            let url = objects.public_url(k);
            let trace_id =
                app.wechat.media_check_async(openid, SCENE_PROFILE, &url).await.map_err(content_check_error)?;
            traces.push(Trace {
                trace_id,
                key: k.clone(),
                subject: Subject::Product { product_id: id.clone() },
                requested_at: now,
            });
        }
        let ids: Vec<String> = traces.iter().map(|t| t.trace_id.clone()).collect();
        let saved = save_media(app, p, media, traces).await?;
        // A verdict may have overtaken the write above: apply any that did.
        let early = repo::media::early(app.store.as_ref(), &ids).await?;
        if early.is_empty() {
            return Ok(saved);
        }
        for v in early {
            on_verdict(app, &v.trace_id, &wechat::mp::Verdict { suggest: v.suggest, label: v.label }).await?;
        }
        return get_product(&app.store, id).await;
    }
    save_media(app, p, media, Vec::new()).await
}

async fn save_media(app: &App, mut p: Product, media: Media, traces: Vec<Trace>) -> Result<Product, AppError> {
    let now = clock::now();
    let read_version = p.version;
    for t in &traces {
        p.checks.insert(
            t.key.clone(),
            MediaCheck { state: CheckState::Pending, trace_id: t.trace_id.clone(), label: 0, at: now },
        );
    }
    let named: std::collections::HashSet<String> = media.keys().into_iter().map(str::to_owned).collect();
    p.checks.retain(|k, _| named.contains(k));
    p.media = media;
    p.version += 1;
    p.updated_at = now;
    let mut extra = traces.iter().map(repo::media::record_trace).collect::<Result<Vec<_>, _>>()?;
    extra.push(super::changed(&p.id)?);
    if !repo::catalog::save_product_with(app.store.as_ref(), &p, read_version, extra).await? {
        return Err(AppError::new(Code::ConcurrentEdit, "the product changed meanwhile; reload and retry"));
    }
    Ok(p)
}

/// Refuses to publish while an image is not cleared, naming each and why.
pub fn check_cleared(p: &Product) -> Result<(), AppError> {
    let held = p.uncleared_media();
    if held.is_empty() {
        return Ok(());
    }
    let details: Vec<_> = held.iter().map(|(k, s)| serde_json::json!({ "key": k, "state": s.as_str() })).collect();
    let risky = held.iter().any(|(_, s)| *s != CheckState::Pending);
    let message = if risky {
        "WeChat's content check did not pass an image: replace it before publishing"
    } else {
        "WeChat has not finished checking the images; publish once it has"
    };
    Err(AppError::new(Code::MediaNotCleared, message).with_details(serde_json::json!({ "images": details })))
}

/// Passes the product's text (title, subtitle, description, category, SKU names and spec
/// values) through WeChat's msgSecCheck. `by: None` is the shop's own sample catalog,
/// shipped with the code and not checked.
pub async fn check_text(app: &App, by: Option<&Caller>, p: &Product, skus: &[Sku]) -> Result<(), AppError> {
    let Some(by) = by else {
        return Ok(());
    };
    let openid = check_identity(by)?;
    let mut text: Vec<&str> = p.texts().into_iter().filter(|t| !t.is_empty()).collect();
    text.extend(skus.iter().map(|s| s.name.as_str()));
    text.extend(
        p.specs.iter().flat_map(|a| std::iter::once(a.name.as_str()).chain(a.values.iter().map(String::as_str))),
    );
    let joined = text.join("\n");
    let chars: Vec<char> = joined.chars().collect();
    for chunk in chars.chunks(TEXT_CHUNK) {
        let content: String = chunk.iter().collect();
        let verdict = app.wechat.msg_sec_check(openid, SCENE_PROFILE, &content).await.map_err(content_check_error)?;
        if !verdict.passed() {
            return Err(AppError::new(
                Code::ContentRisky,
                "WeChat's content check did not pass the product's text; change it before publishing",
            )
            .with_details(serde_json::json!({ "suggest": verdict.suggest, "label": verdict.label })));
        }
    }
    Ok(())
}

/// What became of a pushed verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Recorded on the check it names.
    Recorded(CheckState),
    /// Nothing waits for it (an unknown trace, an image since replaced, a verdict already in).
    Ignored,
}

/// Records WeChat's verdict on the check `trace_id` names. Applies once: a repeat, a replay or
/// a verdict for an image the product no longer shows changes nothing. An image that did not
/// pass tells the operators.
pub async fn on_verdict(app: &App, trace_id: &str, verdict: &wechat::mp::Verdict) -> Result<Applied, AppError> {
    let trace = match repo::media::trace(app.store.as_ref(), trace_id).await? {
        Some(t) => t,
        None => {
            // Kept, in case the check's record is being written right now: whichever of the
            // two writes comes second sees the other (both reads are strongly consistent).
            let early = repo::media::EarlyVerdict {
                trace_id: trace_id.to_owned(),
                suggest: verdict.suggest.clone(),
                label: verdict.label,
            };
            repo::media::keep_early(app.store.as_ref(), &early).await?;
            match repo::media::trace(app.store.as_ref(), trace_id).await? {
                Some(t) => t,
                None => {
                    tracing::info!("a media verdict for a check not recorded (yet): kept");
                    return Ok(Applied::Ignored);
                }
            }
        }
    };
    let product_id = match &trace.subject {
        Subject::Product { product_id } => product_id,
        Subject::Review { order_no, product_id } => {
            return super::reviews::on_verdict(app, order_no, product_id, trace_id, &verdict.suggest, verdict.label)
                .await;
        }
    };
    let state = CheckState::from_suggest(&verdict.suggest);
    for _ in 0..3 {
        let mut p = match get_product(&app.store, product_id).await {
            Ok(p) => p,
            Err(e) if e.code == Code::NotFound => return Ok(Applied::Ignored),
            Err(e) => return Err(e),
        };
        let Some(check) = p.checks.get_mut(&trace.key) else {
            return Ok(Applied::Ignored);
        };
        if check.trace_id != trace_id || check.state != CheckState::Pending {
            return Ok(Applied::Ignored);
        }
        check.state = state;
        check.label = verdict.label;
        let now = clock::now();
        check.at = now;
        let read_version = p.version;
        p.version += 1;
        p.updated_at = now;
        // A rejected image tells the operators, in the same write that records it.
        let mut extra = vec![super::changed(product_id)?];
        if state != CheckState::Pass {
            let event = Event::MediaRejected {
                product_id: product_id.clone(),
                title: p.title.clone(),
                key: trace.key.clone(),
                verdict: state.as_str().to_owned(),
                label: verdict.label,
                trace_id: trace_id.to_owned(),
            };
            extra.push(repo::outbox::append(&event, now)?);
        }
        if repo::catalog::save_product_with(app.store.as_ref(), &p, read_version, extra).await? {
            app.poke_outbox();
            return Ok(Applied::Recorded(state));
        }
    }
    Err(AppError::new(Code::ConcurrentEdit, "the product kept changing; WeChat will push the verdict again"))
}

/// The outbox consumer of [`Event::MediaRejected`]: a message to the operators' robot.
pub async fn tell_operators(
    app: &App,
    product_id: &ProductId,
    title: &str,
    key: &str,
    verdict: &str,
    label: i64,
) -> Result<(), AppError> {
    let title = wechat::robot::plain(title);
    let content = format!(
        "### 图片未通过内容安全检测\n> 商品：**{title}**（{product_id}）\n> 图片：{key}\n> 结论：<font color=\"warning\">{verdict}</font>（标签 {label}）\n该图片不会展示给顾客，商品在更换图片前不能上架。"
    );
    crate::alerts::tell(app, &content).await
}
