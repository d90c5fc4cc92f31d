//! The error every entry point answers with: an HTTP status, a stable code a client can
//! switch on, and a message a client developer understands. Domain modules define their own
//! outcome-named errors and convert into this at the edge.

use serde::Serialize;
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Machine-readable detail (e.g. the banned words found, the SKU that ran out).
    pub details: Option<Value>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a Value>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), details: None }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "INVALID_INPUT", message)
    }

    pub fn field(field: &str, message: impl std::fmt::Display) -> Self {
        Self::new(400, "INVALID_INPUT", format!("{field}: {message}")).with_details(json!({ "field": field }))
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(404, "NOT_FOUND", format!("{what} not found"))
    }

    pub fn no_route(method: &str, path: &str) -> Self {
        Self::new(404, "NO_ROUTE", format!("no route for {method} {path}"))
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "UNAUTHORIZED", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "FORBIDDEN", message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(409, code, message)
    }

    /// For failures whose cause must stay in the logs: the client learns only that it
    /// may retry.
    pub fn internal() -> Self {
        Self::new(500, "INTERNAL", "internal error, please retry")
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "UNAVAILABLE", message)
    }

    pub fn to_json(&self) -> Vec<u8> {
        let body = Body { error: Inner { code: self.code, message: &self.message, details: self.details.as_ref() } };
        serde_json::to_vec(&body).unwrap_or_else(|_| b"{\"error\":{\"code\":\"INTERNAL\"}}".to_vec())
    }

    pub fn is_no_route(&self) -> bool {
        self.code == "NO_ROUTE"
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError as E;
        match e {
            E::Conflict => Self::new(409, "CONFLICT", "a concurrent update won, please retry"),
            E::ConditionFailed | E::Cancelled { .. } => {
                Self::new(409, "CONFLICT", "the data changed meanwhile, please retry")
            }
            E::BadCursor => Self::new(400, "INVALID_CURSOR", "the page cursor is not one this API gave out"),
            E::Invalid(why) => {
                // A request the store refuses by its shape is the shop's bug, not an outage.
                tracing::error!(error = %why, "invalid store request");
                Self::internal()
            }
            other => {
                tracing::error!(error = %other, "store failure");
                Self::unavailable("storage is unavailable, please retry")
            }
        }
    }
}
