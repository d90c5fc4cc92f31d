//! Reviews: a shopper's stars, words and pictures about one product of a received order, what
//! WeChat's content checks and the operators decided about them, and the product's rating
//! summary they add up to. No I/O.
//!
//! ```text
//! written ──text and images pass──────────────▶ published ◀──operator approves── held
//!    ├──WeChat asks for a person (review)─────▶ held
//!    └──WeChat finds it risky (text or image)─▶ hidden ◀──operator hides── published / held
//! ```
//!
//! Only published reviews count in the rating summary; every change of state moves the
//! summary in the same transaction, so the summary is never recomputed from the reviews.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalog::{CheckState, MediaCheck, UploadPurpose, is_media_key};
use crate::error::DomainError;
use crate::ids::{OpenId, OrderNo, ProductId};

pub const MAX_TEXT_CHARS: usize = 500;
pub const MAX_IMAGES: usize = 6;
pub const MAX_REPLY_CHARS: usize = 500;
pub const MAX_NICKNAME_CHARS: usize = 20;
/// Four and five stars are a good review (好评).
pub const GOOD_STARS: u8 = 4;

/// Where a review stands; see the module's diagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    Published,
    /// Waits for an operator: WeChat asked for a person to look.
    Held,
    Hidden,
}

impl ReviewState {
    pub const ALL: [ReviewState; 3] = [ReviewState::Published, ReviewState::Held, ReviewState::Hidden];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Published => "published",
            Self::Held => "held",
            Self::Hidden => "hidden",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// What an operator decided; it outranks WeChat's "review" but never its "risky".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approved,
    Hidden,
}

/// The shop's answer under a review.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Reply {
    pub text: String,
    pub at: i64,
}

/// What a shopper writes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    pub product_id: ProductId,
    pub stars: u8,
    #[serde(default)]
    pub text: String,
    /// Object keys of images uploaded for a review (`POST /me/uploads`).
    #[serde(default)]
    pub images: Vec<String>,
    #[serde(default)]
    pub anonymous: bool,
    /// The name shown when not anonymous; WeChat no longer tells the shop one.
    #[serde(default)]
    pub nickname: Option<String>,
}

impl ReviewInput {
    /// Checks the shape and trims the text; the content checks come after.
    pub fn validate(mut self) -> Result<ReviewInput, DomainError> {
        if !(1..=5).contains(&self.stars) {
            return Err(DomainError::invalid("stars", "must be 1 to 5"));
        }
        self.text = self.text.trim().to_owned();
        if self.text.chars().count() > MAX_TEXT_CHARS {
            return Err(DomainError::invalid("text", format!("at most {MAX_TEXT_CHARS} characters")));
        }
        if self.images.len() > MAX_IMAGES {
            return Err(DomainError::invalid("images", format!("at most {MAX_IMAGES} images")));
        }
        for (i, k) in self.images.iter().enumerate() {
            if !is_media_key(k, UploadPurpose::Review) {
                return Err(DomainError::invalid("images", format!("{k} is not a key this shop gave a review upload")));
            }
            if self.images[..i].contains(k) {
                return Err(DomainError::invalid("images", format!("{k} is named twice")));
            }
        }
        self.nickname = self.nickname.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
        if let Some(n) = &self.nickname
            && (n.chars().count() > MAX_NICKNAME_CHARS || n.chars().any(char::is_control))
        {
            return Err(DomainError::invalid("nickname", format!("1 to {MAX_NICKNAME_CHARS} printable characters")));
        }
        Ok(self)
    }

    /// The words WeChat's text check reads: the review and the name it shows.
    pub fn texts(&self) -> String {
        match &self.nickname {
            Some(n) if !self.anonymous => format!("{n}\n{}", self.text),
            _ => self.text.clone(),
        }
    }
}

/// Checks an operator's reply.
pub fn check_reply(text: &str) -> Result<String, DomainError> {
    let t = text.trim();
    if t.is_empty() || t.chars().count() > MAX_REPLY_CHARS {
        return Err(DomainError::invalid("text", format!("1 to {MAX_REPLY_CHARS} characters")));
    }
    Ok(t.to_owned())
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Review {
    pub order_no: OrderNo,
    pub product_id: ProductId,
    pub openid: OpenId,
    pub stars: u8,
    pub text: String,
    /// Object keys, in the shopper's order.
    pub images: Vec<String>,
    /// WeChat's media check of each image.
    pub checks: BTreeMap<String, MediaCheck>,
    /// WeChat's text check (synchronous, so never pending).
    pub text_check: CheckState,
    #[serde(default)]
    pub text_label: i64,
    pub anonymous: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// The SKU names the shopper bought of the product (e.g. `黑色 L`).
    pub bought: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    pub featured: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<Reply>,
    /// Kept in step with [`Review::derive_state`] by every change below.
    pub state: ReviewState,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

impl Review {
    /// A new review of `order_no`'s `product_id`, with WeChat's text verdict.
    pub fn new(
        input: ReviewInput,
        order_no: OrderNo,
        openid: OpenId,
        bought: Vec<String>,
        text_check: CheckState,
        text_label: i64,
        now: i64,
    ) -> Review {
        let mut r = Review {
            order_no,
            product_id: input.product_id,
            openid,
            stars: input.stars,
            text: input.text,
            images: input.images,
            checks: BTreeMap::new(),
            text_check,
            text_label,
            anonymous: input.anonymous,
            nickname: if input.anonymous { None } else { input.nickname },
            bought,
            decision: None,
            featured: false,
            reply: None,
            state: ReviewState::Published,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        r.state = r.derive_state();
        r
    }

    /// The state the checks and the operator's decision give.
    pub fn derive_state(&self) -> ReviewState {
        let verdicts = || std::iter::once(self.text_check).chain(self.checks.values().map(|c| c.state));
        if self.decision == Some(Decision::Hidden) || verdicts().any(|s| s == CheckState::Risky) {
            ReviewState::Hidden
        } else if self.decision == Some(Decision::Approved) {
            ReviewState::Published
        } else if verdicts().any(|s| s == CheckState::Review) {
            ReviewState::Held
        } else {
            ReviewState::Published
        }
    }

    /// Whether the review counts in the product's rating summary.
    pub fn counts(&self) -> bool {
        self.state == ReviewState::Published
    }

    pub fn good(&self) -> bool {
        self.stars >= GOOD_STARS
    }

    /// The images WeChat passed, the only ones shoppers see.
    pub fn cleared_images(&self) -> impl Iterator<Item = &str> {
        self.images
            .iter()
            .filter(|k| self.checks.get(*k).is_some_and(|c| c.state == CheckState::Pass))
            .map(String::as_str)
    }

    /// The name shown to other shoppers.
    pub fn author(&self) -> String {
        match (&self.nickname, self.anonymous) {
            (_, true) => "匿名用户".to_owned(),
            (Some(n), false) => n.clone(),
            (None, false) => "微信用户".to_owned(),
        }
    }

    /// Applies `change`, bumps the version and gives how the summary moves.
    pub fn change(&mut self, now: i64, change: impl FnOnce(&mut Review)) -> RatingDelta {
        let before = self.clone();
        change(self);
        self.state = self.derive_state();
        self.version += 1;
        self.updated_at = now;
        RatingDelta::between(Some(&before), self)
    }
}

/// How a product's rating summary moves with one review's change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RatingDelta {
    /// +1 when the review starts counting, −1 when it stops, 0 otherwise.
    pub sign: i64,
    pub stars: u8,
}

impl RatingDelta {
    pub fn between(before: Option<&Review>, after: &Review) -> RatingDelta {
        let was = before.is_some_and(Review::counts);
        match (was, after.counts()) {
            (false, true) => RatingDelta { sign: 1, stars: after.stars },
            (true, false) => RatingDelta { sign: -1, stars: after.stars },
            _ => RatingDelta::default(),
        }
    }

    pub fn is_zero(&self) -> bool {
        self.sign == 0
    }

    /// The counters to add: `(name, amount)`.
    pub fn counters(&self) -> Vec<(String, i64)> {
        if self.sign == 0 {
            return Vec::new();
        }
        let mut c = vec![
            ("count".to_owned(), self.sign),
            ("stars_sum".to_owned(), self.sign * i64::from(self.stars)),
            (format!("stars_{}", self.stars), self.sign),
        ];
        if self.stars >= GOOD_STARS {
            c.push(("good".to_owned(), self.sign));
        }
        c
    }
}

/// A product's rating summary, as the counters add up.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RatingCounters {
    #[serde(default)]
    pub count: i64,
    #[serde(default)]
    pub stars_sum: i64,
    #[serde(default)]
    pub good: i64,
    #[serde(default)]
    pub stars_1: i64,
    #[serde(default)]
    pub stars_2: i64,
    #[serde(default)]
    pub stars_3: i64,
    #[serde(default)]
    pub stars_4: i64,
    #[serde(default)]
    pub stars_5: i64,
}

impl RatingCounters {
    /// The counters of `reviews` recounted one by one (what the summary must equal).
    pub fn recount<'a>(reviews: impl IntoIterator<Item = &'a Review>) -> RatingCounters {
        let mut c = RatingCounters::default();
        for r in reviews.into_iter().filter(|r| r.counts()) {
            c.count += 1;
            c.stars_sum += i64::from(r.stars);
            c.good += i64::from(r.good());
            *c.star_mut(r.stars) += 1;
        }
        c
    }

    fn star_mut(&mut self, stars: u8) -> &mut i64 {
        match stars {
            1 => &mut self.stars_1,
            2 => &mut self.stars_2,
            3 => &mut self.stars_3,
            4 => &mut self.stars_4,
            _ => &mut self.stars_5,
        }
    }

    pub fn summary(&self) -> Rating {
        let count = self.count.max(0);
        // Tenths of a star and whole percents, rounded half up, in integers.
        let average_tenths = if count == 0 { 0 } else { (self.stars_sum * 20 + count) / (count * 2) };
        let good_percent = if count == 0 { 0 } else { (self.good * 200 + count) / (count * 2) };
        Rating {
            count,
            average: average_tenths as f64 / 10.0,
            good_percent,
            stars: [self.stars_1, self.stars_2, self.stars_3, self.stars_4, self.stars_5],
        }
    }
}

/// The rating summary the product answer carries.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Rating {
    pub count: i64,
    /// Stars, to one decimal; 0 with no review.
    pub average: f64,
    /// Share of good reviews (4-5 stars), in whole percent.
    pub good_percent: i64,
    /// How many reviews gave 1, 2, 3, 4 and 5 stars.
    pub stars: [i64; 5],
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(stars: u8) -> ReviewInput {
        ReviewInput {
            product_id: ProductId::parse("p1").unwrap(),
            stars,
            text: " 好 ".into(),
            images: vec![],
            anonymous: false,
            nickname: None,
        }
    }

    fn review(stars: u8, text: CheckState) -> Review {
        Review::new(
            input(stars).validate().unwrap(),
            OrderNo::parse("20260101000000000001").unwrap(),
            OpenId::parse("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o").unwrap(),
            vec![],
            text,
            100,
            1,
        )
    }

    #[test]
    fn input_is_bounded() {
        assert!(input(0).validate().is_err());
        assert!(input(6).validate().is_err());
        assert_eq!(input(5).validate().unwrap().text, "好");
        let mut long = input(3);
        long.text = "好".repeat(MAX_TEXT_CHARS + 1);
        assert!(long.validate().is_err());
        let mut stranger = input(3);
        stranger.images = vec!["products/0123456789abcdef0123456789abcdef.png".into()];
        assert!(stranger.validate().is_err(), "a product image is not a review's");
        let mut many = input(3);
        many.images = (0..7).map(|i| format!("reviews/{i:032x}.png")).collect();
        assert!(many.validate().is_err());
    }

    #[test]
    fn state_follows_checks_and_operators() {
        assert_eq!(review(5, CheckState::Pass).state, ReviewState::Published);
        assert_eq!(review(5, CheckState::Review).state, ReviewState::Held);
        assert_eq!(review(5, CheckState::Risky).state, ReviewState::Hidden);
        let mut held = review(5, CheckState::Review);
        let d = held.change(2, |r| r.decision = Some(Decision::Approved));
        assert_eq!((held.state, d.sign), (ReviewState::Published, 1));
        let mut risky = review(5, CheckState::Risky);
        let d = risky.change(2, |r| r.decision = Some(Decision::Approved));
        assert_eq!(
            (risky.state, d.sign),
            (ReviewState::Hidden, 0),
            "an operator cannot publish what WeChat found risky"
        );
        let mut shown = review(2, CheckState::Pass);
        let d = shown.change(2, |r| r.decision = Some(Decision::Hidden));
        assert_eq!((shown.state, d.counters()), (ReviewState::Hidden, RatingDelta { sign: -1, stars: 2 }.counters()));
    }

    #[test]
    fn summary_rounds_in_integers() {
        let rs = [
            review(5, CheckState::Pass),
            review(4, CheckState::Pass),
            review(4, CheckState::Pass),
            review(1, CheckState::Risky),
        ];
        let s = RatingCounters::recount(&rs).summary();
        assert_eq!((s.count, s.average, s.good_percent, s.stars), (3, 4.3, 100, [0, 0, 0, 2, 1]));
        assert_eq!(RatingCounters::default().summary().average, 0.0);
        let third = [review(5, CheckState::Pass), review(1, CheckState::Pass), review(1, CheckState::Pass)];
        assert_eq!(RatingCounters::recount(&third).summary().good_percent, 33);
    }
}
