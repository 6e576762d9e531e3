//! One error type for every handler: a status, a stable code and a message
//! naming what was wrong, as JSON. A refusal is always 4xx; 5xx means the
//! hub itself failed (and then nothing of the request was written).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use vaxdesk_core::sync::protocol::ApiError;

#[derive(Debug)]
pub struct HubError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

pub type HubResult<T> = Result<T, HubError>;

impl HubError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        HubError { status, code, message: message.into() }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "auth.required", message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "auth.scope", message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("no such {what}"))
    }
}

impl IntoResponse for HubError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, "request failed: {}", self.message);
        }
        (self.status, Json(ApiError { code: self.code.to_string(), message: self.message })).into_response()
    }
}

impl From<crate::db::DbError> for HubError {
    fn from(e: crate::db::DbError) -> Self {
        match e {
            // A bug met while filing (a panic, caught), not a storage
            // trouble a retry may get past.
            crate::db::DbError::Interrupted => HubError::new(StatusCode::INTERNAL_SERVER_ERROR, "hub.internal", e.to_string()),
            _ => HubError::new(StatusCode::SERVICE_UNAVAILABLE, "hub.storage", e.to_string()),
        }
    }
}

impl From<tokio::task::JoinError> for HubError {
    fn from(e: tokio::task::JoinError) -> Self {
        HubError::new(StatusCode::INTERNAL_SERVER_ERROR, "hub.internal", e.to_string())
    }
}

impl From<JsonRejection> for HubError {
    fn from(r: JsonRejection) -> Self {
        let (status, code) = match &r {
            JsonRejection::MissingJsonContentType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "request.content_type"),
            // Too long is 413; a body that could not be read otherwise (a
            // corrupt gzip or zstd stream, a cut-off upload) is the client's 400.
            JsonRejection::BytesRejection(_) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => (StatusCode::PAYLOAD_TOO_LARGE, "request.too_large"),
            JsonRejection::BytesRejection(_) => (StatusCode::BAD_REQUEST, "request.body"),
            JsonRejection::JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, "request.fields"),
            _ => (StatusCode::BAD_REQUEST, "request.json"),
        };
        HubError::new(status, code, r.body_text())
    }
}

impl From<QueryRejection> for HubError {
    fn from(r: QueryRejection) -> Self {
        HubError::bad_request("request.query", r.body_text())
    }
}
