//! The operators' WeCom group robot (企业微信群机器人): a markdown message posted to the robot's
//! webhook URL, whose `key` is the robot's only credential (so the URL is never logged).

use std::time::Duration;

use serde_json::json;

pub struct Robot {
    http: reqwest::Client,
    url: String,
}

impl std::fmt::Debug for Robot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Robot").finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RobotError {
    /// The robot could not be reached (or answered with a server error); worth retrying.
    #[error("the operators' robot is unreachable: {0}")]
    Unreachable(String),
    /// The robot answered, refusing the message (`errcode`, e.g. 93000 for a wrong key,
    /// 45009 for more than 20 messages a minute); `None` when its answer was not its JSON.
    #[error("the operators' robot refused the message (errcode {0:?})")]
    Refused(Option<i64>),
}

/// Text an operator or a supplier typed (a product's name), made plain for the robot's
/// markdown: the characters that would make a link, a mention (`<@all>`), a font tag, emphasis,
/// a heading, a quote or a new line become their full-width forms, which read the same to a
/// person and mean nothing to the markdown.
pub fn plain(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '<' => '＜',
            '>' => '＞',
            '[' => '［',
            ']' => '］',
            '(' => '（',
            ')' => '）',
            '*' => '＊',
            '_' => '＿',
            '`' => '｀',
            '#' => '＃',
            '~' => '～',
            '\\' => '＼',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

impl Robot {
    pub fn new(http: reqwest::Client, url: impl Into<String>) -> Robot {
        Robot { http, url: url.into() }
    }

    /// Posts a markdown message to the group.
    pub async fn send_markdown(&self, content: &str) -> Result<(), RobotError> {
        let body = json!({ "msgtype": "markdown", "markdown": { "content": content } });
        let resp = self
            .http
            .post(&self.url)
            .timeout(Duration::from_secs(5))
            .json(&body)
            .send()
            .await
            .map_err(|e| RobotError::Unreachable(e.without_url().to_string()))?;
        if resp.status().is_server_error() {
            return Err(RobotError::Unreachable(format!("HTTP {}", resp.status().as_u16())));
        }
        let answer: serde_json::Value = resp.json().await.unwrap_or_default();
        match answer.get("errcode").and_then(serde_json::Value::as_i64) {
            Some(0) => Ok(()),
            code => Err(RobotError::Refused(code)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::plain;

    #[test]
    fn typed_text_cannot_link_mention_or_format() {
        let typed = "[点我](http://evil.example) <@all> **红**\n### 标题 `x` <font color=\"warning\">";
        let p = plain(typed);
        for markup in ["[", "](", "<@", "**", "\n", "#", "`", "<font"] {
            assert!(!p.contains(markup), "{markup} survived in {p}");
        }
        assert_eq!(plain("苹果 红富士 5kg"), "苹果 红富士 5kg", "ordinary names are untouched");
    }
}
