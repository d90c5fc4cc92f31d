//! Reviews: once per product per received order, through WeChat's content checks (the text
//! at once with `msg_sec_check`, each image later through the media check's push), answered,
//! hidden or featured by operators, and summed into each product's rating in the same write.

use serde::Serialize;

use super::media::{self, SCENE_COMMENT, Upload};
use crate::App;
use crate::error::{AppError, Code};
use domain::catalog::{CheckState, MediaCheck, UploadPurpose};
use domain::clock;
use domain::ids::{OpenId, OrderNo, ProductId};
use domain::operator::Caller;
use domain::order::Fulfilment;
use domain::review::{Decision, Rating, Reply, Review, ReviewInput, ReviewState, check_reply};
use store::StoreError;
use store::repo;
use store::repo::media::{Subject, Trace};

/// Review uploads a shopper may ask for in one minute.
const UPLOADS_PER_MINUTE: i64 = 12;
/// Times a write that met another writer on the product's summary is tried.
const ATTEMPTS: u32 = 8;

/// Signs an image upload for a review, from the shopper's per-minute allowance.
pub async fn sign_upload(app: &App, openid: &OpenId, content_type: &str, size: i64) -> Result<Upload, AppError> {
    domain::catalog::check_upload(content_type, size)?;
    let minute = clock::now() / 60;
    if !repo::reviews::take_upload(app.store.as_ref(), openid, minute, UPLOADS_PER_MINUTE).await? {
        return Err(AppError::new(Code::ClientRateLimited, "too many uploads this minute; wait a moment"));
    }
    media::sign_upload(app, openid.as_str(), UploadPurpose::Review, content_type, size).await
}

/// A review as its author sees it: everything but other people's business.
#[derive(Debug, Serialize)]
pub struct OwnReview {
    pub product_id: ProductId,
    pub stars: u8,
    pub text: String,
    pub anonymous: bool,
    pub author: String,
    pub state: ReviewState,
    /// The review's images with where WeChat's check of each stands.
    pub images: Vec<ImageView>,
    pub reply: Option<Reply>,
    pub created_at: i64,
}

#[derive(Debug, Serialize)]
pub struct ImageView {
    pub key: String,
    pub url: String,
    pub check: CheckState,
}

/// A published review as every shopper sees it.
#[derive(Debug, Serialize)]
pub struct PublicReview {
    pub author: String,
    pub stars: u8,
    pub text: String,
    /// What the author bought (the SKUs' names).
    pub bought: Vec<String>,
    /// Only images WeChat passed.
    pub images: Vec<String>,
    pub featured: bool,
    pub reply: Option<Reply>,
    pub created_at: i64,
}

fn own(app: &App, r: &Review) -> OwnReview {
    let url = |k: &str| super::public_url(app, k).unwrap_or_default();
    OwnReview {
        product_id: r.product_id.clone(),
        stars: r.stars,
        text: r.text.clone(),
        anonymous: r.anonymous,
        author: r.author(),
        state: r.state,
        images: r
            .images
            .iter()
            .map(|k| ImageView {
                key: k.clone(),
                url: url(k),
                check: r.checks.get(k).map_or(CheckState::Pending, |c| c.state),
            })
            .collect(),
        reply: r.reply.clone(),
        created_at: r.created_at,
    }
}

fn public(app: &App, r: &Review) -> PublicReview {
    let url = |k: &str| super::public_url(app, k).unwrap_or_default();
    PublicReview {
        author: r.author(),
        stars: r.stars,
        text: r.text.clone(),
        bought: r.bought.clone(),
        images: r.cleared_images().map(url).collect(),
        featured: r.featured,
        reply: r.reply.clone(),
        created_at: r.created_at,
    }
}

/// Writes the shopper's review of one product of their order. Repeating the same review
/// answers the first; another review of the same product is refused.
pub async fn write(
    app: &App,
    openid: &OpenId,
    order_no: &OrderNo,
    input: ReviewInput,
) -> Result<(OwnReview, bool), AppError> {
    let input = input.validate()?;
    let order = crate::lookup::own_order(app.store.as_ref(), openid, order_no).await?;
    if !matches!(order.fulfilment(), Fulfilment::Received | Fulfilment::Completed) {
        return Err(AppError::new(Code::NotReviewable, "an order can be reviewed once its goods are received"));
    }
    let bought: Vec<String> =
        order.lines().iter().filter(|l| l.product_id == input.product_id).map(|l| l.name.clone()).collect();
    if bought.is_empty() {
        return Err(AppError::new(Code::NotReviewable, "the order holds no such product"));
    }
    if let Some(first) = repo::reviews::get(app.store.as_ref(), order_no, &input.product_id).await? {
        return replay(app, &first, &input);
    }
    for k in &input.images {
        media::check_arrived(app, k, UploadPurpose::Review, Some(openid.as_str())).await?;
    }
    let texts = input.texts();
    let (text_check, text_label) = if texts.is_empty() {
        (CheckState::Pass, 0)
    } else {
        let v = app
            .wechat
            .msg_sec_check(openid.as_str(), SCENE_COMMENT, &texts)
            .await
            .map_err(media::content_check_error)?;
        (CheckState::from_suggest(&v.suggest), v.label)
    };
    let now = clock::now();
    let mut traces = Vec::new();
    let objects = if input.images.is_empty() { None } else { Some(app.objects()?) };
    for k in &input.images {
        let url = objects.map(|o| o.public_url(k)).unwrap_or_default();
        let trace_id = app
            .wechat
            .media_check_async(openid.as_str(), SCENE_COMMENT, &url)
            .await
            .map_err(media::content_check_error)?;
        traces.push(Trace {
            trace_id,
            key: k.clone(),
            subject: Subject::Review { order_no: order_no.clone(), product_id: input.product_id.clone() },
            requested_at: now,
        });
    }
    let mut review = Review::new(input.clone(), order_no.clone(), openid.clone(), bought, text_check, text_label, now);
    for t in &traces {
        review.checks.insert(
            t.key.clone(),
            MediaCheck { state: CheckState::Pending, trace_id: t.trace_id.clone(), label: 0, at: now },
        );
    }
    let extra = || traces.iter().map(repo::media::record_trace).collect::<Result<Vec<_>, _>>();
    let mut attempt = 0;
    loop {
        match repo::reviews::create(app.store.as_ref(), &review, extra()?).await {
            Ok(true) => break,
            Ok(false) => {
                let first = repo::reviews::get(app.store.as_ref(), order_no, &review.product_id).await?;
                return match first {
                    Some(first) => replay(app, &first, &input),
                    None => Err(AppError::new(Code::Conflict, "the review met another write; retry")),
                };
            }
            Err(StoreError::Conflict) if attempt + 1 < ATTEMPTS => {
                attempt += 1;
                crate::retry::backoff(attempt).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    if traces.is_empty() {
        return Ok((own(app, &review), true));
    }
    // A verdict may have overtaken the write above: apply any that did.
    let ids: Vec<String> = traces.iter().map(|t| t.trace_id.clone()).collect();
    let early = repo::media::early(app.store.as_ref(), &ids).await?;
    if early.is_empty() {
        return Ok((own(app, &review), true));
    }
    for v in early {
        on_verdict(app, &review.order_no, &review.product_id, &v.trace_id, &v.suggest, v.label).await?;
    }
    let saved = repo::reviews::get(app.store.as_ref(), order_no, &review.product_id).await?.unwrap_or(review);
    Ok((own(app, &saved), true))
}

/// The answer to a review written again: the first one when it is the same review.
fn replay(app: &App, first: &Review, input: &ReviewInput) -> Result<(OwnReview, bool), AppError> {
    if first.stars == input.stars && first.text == input.text && first.images == input.images {
        return Ok((own(app, first), false));
    }
    Err(AppError::new(Code::AlreadyReviewed, "this product of the order is reviewed already"))
}

/// The shopper's reviews of one of their orders.
pub async fn of_order(app: &App, openid: &OpenId, order_no: &OrderNo) -> Result<Vec<OwnReview>, AppError> {
    crate::lookup::own_order(app.store.as_ref(), openid, order_no).await?;
    let all = repo::reviews::of_order(app.store.as_ref(), order_no).await?;
    Ok(all.iter().map(|r| own(app, r)).collect())
}

/// The rating summary of a product.
pub async fn rating(app: &App, product_id: &ProductId) -> Result<Rating, AppError> {
    Ok(repo::reviews::rating(app.store.as_ref(), product_id).await?.summary())
}

#[derive(Debug, Serialize)]
pub struct ReviewPage {
    pub rating: Rating,
    pub items: Vec<PublicReview>,
    pub next: Option<String>,
}

/// A product's published reviews, featured first, then newest, with its rating summary.
pub async fn published(
    app: &App,
    product_id: &ProductId,
    limit: usize,
    cursor: Option<String>,
) -> Result<ReviewPage, AppError> {
    let store = app.store.as_ref();
    let (page, rating) = futures_util::future::join(
        repo::reviews::published(store, product_id, limit, cursor),
        repo::reviews::rating(store, product_id),
    )
    .await;
    let (items, next) = page?;
    // The index may trail a change a moment: a review no longer published is dropped.
    let items = items.iter().filter(|r| r.state == ReviewState::Published).map(|r| public(app, r)).collect();
    Ok(ReviewPage { rating: rating?.summary(), items, next })
}

/// Held or hidden reviews (the operators' queues), or a product's published ones.
pub async fn for_operators(
    app: &App,
    state: ReviewState,
    product_id: Option<&ProductId>,
    limit: usize,
    cursor: Option<String>,
) -> Result<(Vec<Review>, Option<String>), AppError> {
    let store = app.store.as_ref();
    let (items, next) = match (state, product_id) {
        (ReviewState::Published, Some(p)) => repo::reviews::published(store, p, limit, cursor).await?,
        (ReviewState::Published, None) => {
            return Err(AppError::field("product_id", "published reviews are listed per product"));
        }
        (s, _) => repo::reviews::in_state(store, s, limit, cursor).await?,
    };
    Ok((items.into_iter().filter(|r| r.state == state).collect(), next))
}

/// What an operator does to a review.
#[derive(Debug, Clone)]
pub enum Action {
    Approve,
    Hide,
    Feature(bool),
    Reply(String),
}

/// Applies an operator's action. A reply passes WeChat's text check under the operator's
/// own WeChat first.
pub async fn act(
    app: &App,
    by: &Caller,
    order_no: &OrderNo,
    product_id: &ProductId,
    action: Action,
) -> Result<Review, AppError> {
    let action = match action {
        Action::Reply(text) => {
            let text = check_reply(&text)?;
            let openid = media::check_identity(by)?;
            let v = app.wechat.msg_sec_check(openid, SCENE_COMMENT, &text).await.map_err(media::content_check_error)?;
            if !v.passed() {
                return Err(AppError::new(Code::ContentRisky, "WeChat's content check did not pass the reply")
                    .with_details(serde_json::json!({ "suggest": v.suggest, "label": v.label })));
            }
            Action::Reply(text)
        }
        a => a,
    };
    for attempt in 1..=ATTEMPTS {
        let mut r = repo::reviews::get(app.store.as_ref(), order_no, product_id)
            .await?
            .ok_or_else(|| AppError::not_found("review"))?;
        let read_version = r.version;
        let now = clock::now();
        let delta = r.change(now, |r| match &action {
            Action::Approve => r.decision = Some(Decision::Approved),
            Action::Hide => r.decision = Some(Decision::Hidden),
            Action::Feature(f) => r.featured = *f,
            Action::Reply(text) => r.reply = Some(Reply { text: text.clone(), at: now }),
        });
        if matches!(action, Action::Approve) && r.state != ReviewState::Published {
            return Err(AppError::new(
                Code::ContentRisky,
                "WeChat found the review's text or an image risky: it stays hidden",
            ));
        }
        match repo::reviews::save(app.store.as_ref(), &r, read_version, delta).await {
            Ok(true) => return Ok(r),
            Ok(false) | Err(StoreError::Conflict) => crate::retry::backoff(attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::new(Code::ConcurrentEdit, "the review kept changing; reload and retry"))
}

/// Records WeChat's verdict on one image of a review (see [`media::on_verdict`]): once,
/// moving the review's state and the product's summary with it.
pub(crate) async fn on_verdict(
    app: &App,
    order_no: &OrderNo,
    product_id: &ProductId,
    trace_id: &str,
    suggest: &str,
    label: i64,
) -> Result<media::Applied, AppError> {
    let state = CheckState::from_suggest(suggest);
    for attempt in 1..=ATTEMPTS {
        let Some(mut r) = repo::reviews::get(app.store.as_ref(), order_no, product_id).await? else {
            return Ok(media::Applied::Ignored);
        };
        let key = r.checks.iter().find(|(_, c)| c.trace_id == trace_id).map(|(k, _)| k.clone());
        let Some(key) = key.filter(|k| r.checks.get(k).is_some_and(|c| c.state == CheckState::Pending)) else {
            return Ok(media::Applied::Ignored);
        };
        let read_version = r.version;
        let now = clock::now();
        let delta = r.change(now, |r| {
            if let Some(c) = r.checks.get_mut(&key) {
                c.state = state;
                c.label = label;
                c.at = now;
            }
        });
        match repo::reviews::save(app.store.as_ref(), &r, read_version, delta).await {
            Ok(true) => return Ok(media::Applied::Recorded(state)),
            Ok(false) | Err(StoreError::Conflict) => crate::retry::backoff(attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::new(Code::ConcurrentEdit, "the review kept changing; WeChat will push the verdict again"))
}
