//! Messages to the operators' group robot (WeCom, `OPERATOR_WEBHOOK_URL`). Each goes out as
//! the consumer of an outbox event, so a message the robot refuses (a wrong key, 93000; its
//! rate limit, 45009) or cannot take is delivered again with backoff instead of being lost,
//! and stays listed for operators until it is delivered. The shop keeps to the robot's own
//! limit of 20 messages a minute, counted in the store so every process shares it.

use serde::Serialize;
use store::repo::{self, outbox};

use crate::error::{AppError, Code};
use crate::{App, clock};
use wechat::robot::RobotError;

/// WeCom's limit per robot.
pub const ROBOT_PER_MINUTE: i64 = 20;

/// Sends a markdown message to the operators' robot, when one is configured.
pub async fn tell(app: &App, content: &str) -> Result<(), AppError> {
    let Some(robot) = &app.robot else {
        return Ok(());
    };
    if !repo::rate::take_robot(app.store.as_ref(), clock::now() / 60, ROBOT_PER_MINUTE).await? {
        return Err(AppError::new(Code::Busy, "the robot's 20 messages of this minute are sent; retried later"));
    }
    robot.send_markdown(content).await.map_err(|e| match e {
        RobotError::Unreachable(_) => AppError::new(Code::Unavailable, e.to_string()),
        RobotError::Refused(_) => AppError::new(Code::WechatError, e.to_string()),
    })
}

/// A message to operators not delivered yet.
#[derive(Debug, Serialize)]
pub struct Undelivered {
    pub id: String,
    pub about: String,
    pub created_at: i64,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// When the next attempt may be made.
    pub next_attempt_at: i64,
}

/// Messages to operators still waiting (after a failed attempt, or not yet tried), oldest
/// first: what the robot has not told anyone.
pub async fn undelivered(app: &App) -> Result<Vec<Undelivered>, AppError> {
    let store = app.store.as_ref();
    let mut out = Vec::new();
    let ids = outbox::pending(store, 1_000).await?;
    for env in outbox::get_many(store, &ids).await?.into_iter().flatten() {
        if env.state != outbox::Delivery::Pending || !env.event.tells_operators() {
            continue;
        }
        out.push(Undelivered {
            about: env.event.subject(),
            id: env.id,
            created_at: env.created_at,
            attempts: env.attempts,
            last_error: env.last_error,
            next_attempt_at: env.lease_until,
        });
    }
    Ok(out)
}
