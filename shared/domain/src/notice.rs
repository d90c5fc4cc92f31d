//! Which subscribe message tells a shopper what, as the merchant set it up: a notice's values
//! go to the keywords of the template the merchant chose in the mini-program admin (their
//! names, `thing1`, `date2`, …, depend on that template), any other keyword of the template
//! gets a fixed text, and the message opens a page of the mini-program. A mapping is checked
//! against the template's own keyword list (its `content`, e.g. `会员等级:{{thing1.DATA}}`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// The notices the shop sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    /// A member reached a higher level.
    LevelUp,
    /// A member's points expire soon.
    PointsExpiry,
}

/// What a value is, for the keyword types WeChat lets it fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Text,
    Date,
    Number,
}

impl ValueKind {
    /// The keyword types (the name before the digits) a value of this kind may fill.
    fn fits(self, keyword_type: &str) -> bool {
        match self {
            ValueKind::Text => matches!(keyword_type, "thing" | "name" | "phrase"),
            ValueKind::Date => matches!(keyword_type, "date" | "time"),
            ValueKind::Number => matches!(keyword_type, "number" | "character_string" | "thing"),
        }
    }
}

impl Notice {
    pub const ALL: [Notice; 2] = [Notice::LevelUp, Notice::PointsExpiry];

    pub fn as_str(self) -> &'static str {
        match self {
            Notice::LevelUp => "level_up",
            Notice::PointsExpiry => "points_expiry",
        }
    }

    pub fn parse(s: &str) -> Option<Notice> {
        Notice::ALL.into_iter().find(|n| n.as_str() == s)
    }

    /// The values this notice carries.
    pub fn values(self) -> &'static [(&'static str, ValueKind)] {
        match self {
            Notice::LevelUp => &[("level", ValueKind::Text), ("day", ValueKind::Date)],
            Notice::PointsExpiry => &[("points", ValueKind::Number), ("expires_on", ValueKind::Date)],
        }
    }

    /// The mapping used while the template is set only by `SUBSCRIBE_TEMPLATE_*` (the
    /// keywords of the templates those settings were written for).
    pub fn preset(self, template_id: &str) -> NoticeTemplate {
        let fields = match self {
            Notice::LevelUp => [("level", "thing1"), ("day", "date2")],
            Notice::PointsExpiry => [("points", "number1"), ("expires_on", "date2")],
        };
        NoticeTemplate {
            template_id: template_id.to_owned(),
            page: "pages/me/index".into(),
            fields: fields.iter().map(|(v, k)| ((*v).to_owned(), (*k).to_owned())).collect(),
            fixed: BTreeMap::new(),
        }
    }
}

/// A notice's template as the merchant set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeTemplate {
    pub template_id: String,
    /// The mini-program page the message opens (`pages/…`, a query allowed).
    pub page: String,
    /// The notice's value → the template keyword it fills.
    pub fields: BTreeMap<String, String>,
    /// Other keywords of the template → the text they always show.
    #[serde(default)]
    pub fixed: BTreeMap<String, String>,
}

/// The keywords of a template's content: `{{thing1.DATA}}` → `thing1`.
pub fn keywords_of(content: &str) -> Vec<String> {
    content
        .split("{{")
        .skip(1)
        .filter_map(|part| part.split_once(".DATA}}").map(|(k, _)| k.trim().to_owned()))
        .filter(|k| !k.is_empty())
        .collect()
}

/// The type of a keyword: `thing1` → `thing`, `character_string2` → `character_string`.
fn keyword_type(keyword: &str) -> &str {
    keyword.trim_end_matches(|c: char| c.is_ascii_digit())
}

/// The most characters WeChat shows of a keyword type.
fn limit_of(keyword_type: &str) -> usize {
    match keyword_type {
        "thing" => 20,
        "name" => 10,
        "phrase" => 5,
        _ => 32,
    }
}

fn invalid(msg: impl std::fmt::Display) -> DomainError {
    DomainError::invalid("template", msg)
}

impl NoticeTemplate {
    /// The template checked for `notice` against the keywords its content lists: every value
    /// of the notice fills a keyword of a type that takes it, every keyword is filled once,
    /// fixed texts fit their keyword, and the page is a page of the mini-program.
    pub fn checked(self, notice: Notice, keywords: &[String]) -> Result<NoticeTemplate, DomainError> {
        let plain_id = (1..=64).contains(&self.template_id.len())
            && self.template_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !plain_id {
            return Err(invalid("template_id: 1 to 64 letters, digits, '-' or '_'"));
        }
        let page_ok = self.page.len() <= 256
            && self.page.starts_with("pages/")
            && self.page.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_-?=&.%".contains(&b));
        if !page_ok {
            return Err(invalid("page: a mini-program page such as pages/me/index (a query allowed)"));
        }
        for (value, kind) in notice.values() {
            let Some(keyword) = self.fields.get(*value) else {
                return Err(invalid(format!("fields: say which keyword shows {value}")));
            };
            if !keywords.contains(keyword) {
                return Err(invalid(format!("fields.{value}: the template has no keyword {keyword}")));
            }
            if !kind.fits(keyword_type(keyword)) {
                return Err(invalid(format!("fields.{value}: a {keyword} keyword cannot show it")));
            }
        }
        if let Some(extra) = self.fields.keys().find(|v| !notice.values().iter().any(|(n, _)| n == v)) {
            return Err(invalid(format!("fields.{extra}: the {} notice has no such value", notice.as_str())));
        }
        let mut filled: Vec<&String> = self.fields.values().chain(self.fixed.keys()).collect();
        filled.sort();
        if filled.windows(2).any(|w| w[0] == w[1]) {
            return Err(invalid("each keyword is filled once"));
        }
        for (keyword, text) in &self.fixed {
            if !keywords.contains(keyword) {
                return Err(invalid(format!("fixed.{keyword}: the template has no such keyword")));
            }
            if text.trim().is_empty() || text.chars().count() > limit_of(keyword_type(keyword)) {
                return Err(invalid(format!("fixed.{keyword}: 1 to {} characters", limit_of(keyword_type(keyword)))));
            }
        }
        if let Some(missing) = keywords.iter().find(|k| !filled.contains(k)) {
            return Err(invalid(format!(
                "the template's keyword {missing} is filled by nothing: map a value or fix a text"
            )));
        }
        Ok(self)
    }

    /// What each keyword of the message shows: each value under its keyword, cut to what the
    /// keyword shows, and the fixed texts.
    pub fn data(&self, values: &[(&str, String)]) -> BTreeMap<String, String> {
        let mut data = BTreeMap::new();
        for (name, value) in values {
            if let Some(keyword) = self.fields.get(*name) {
                let shown: String = value.chars().take(limit_of(keyword_type(keyword))).collect();
                data.insert(keyword.clone(), shown);
            }
        }
        for (keyword, text) in &self.fixed {
            data.insert(keyword.clone(), text.clone());
        }
        data
    }
}

/// The templates operators set, by notice.
pub type NoticeTemplates = BTreeMap<Notice, NoticeTemplate>;

#[cfg(test)]
mod tests {
    use super::*;

    fn t(fields: &[(&str, &str)], fixed: &[(&str, &str)]) -> NoticeTemplate {
        NoticeTemplate {
            template_id: "TPLabc".into(),
            page: "pages/member/index?tab=level".into(),
            fields: fields.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect(),
            fixed: fixed.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect(),
        }
    }

    #[test]
    fn a_mapping_is_checked_against_the_templates_keywords() {
        let keywords = keywords_of("会员等级:{{phrase3.DATA}}\n升级时间:{{time5.DATA}}\n备注:{{thing7.DATA}}");
        assert_eq!(keywords, ["phrase3", "time5", "thing7"]);
        let ok = t(&[("level", "phrase3"), ("day", "time5")], &[("thing7", "感谢支持")]);
        let ok = ok.checked(Notice::LevelUp, &keywords).unwrap();
        let data = ok.data(&[("level", "钻石会员至尊".into()), ("day", "2026-12-04".into())]);
        assert_eq!(data["phrase3"], "钻石会员至", "a phrase shows 5 characters");
        assert_eq!(data["thing7"], "感谢支持");
        for (bad, why) in [
            (t(&[("level", "phrase3")], &[("thing7", "x")]), "day is not shown"),
            (t(&[("level", "thing9"), ("day", "time5")], &[("thing7", "x")]), "no such keyword"),
            (t(&[("level", "time5"), ("day", "phrase3")], &[("thing7", "x")]), "a date in a phrase"),
            (t(&[("level", "phrase3"), ("day", "time5")], &[]), "thing7 is left empty"),
            (t(&[("level", "phrase3"), ("day", "time5")], &[("thing7", "x"), ("time5", "y")]), "time5 twice"),
            (t(&[("level", "phrase3"), ("day", "time5"), ("points", "thing7")], &[]), "no such value"),
        ] {
            assert!(bad.checked(Notice::LevelUp, &keywords).is_err(), "{why}");
        }
        let mut off_site = t(&[("level", "phrase3"), ("day", "time5")], &[("thing7", "x")]);
        off_site.page = "https://evil.example".into();
        assert!(off_site.checked(Notice::LevelUp, &keywords).is_err());
        let preset = Notice::PointsExpiry.preset("TPLx");
        assert!(preset.checked(Notice::PointsExpiry, &keywords_of("{{number1.DATA}} {{date2.DATA}}")).is_ok());
    }
}
