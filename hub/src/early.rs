//! Answers a request before its handler runs, or after it, must reach the
//! client intact on HTTP/1.1 and HTTP/2 alike.
//!
//! A handler that refuses a request before reading its body (401 without a
//! token, 429 over the rate limit) leaves the client still uploading; on
//! HTTP/2 the stream is then reset under the answer and some clients (curl)
//! report a framing error instead of the 401. So the body is read whole
//! first, up to [`crate::MAX_BODY`], before any handler sees the request;
//! a longer one is read on and thrown away (up to [`DRAIN_MAX`], for at most
//! [`DRAIN_TIME`]) before its 413 goes out. The hub buffers JSON bodies to
//! parse them anyway, so this costs no memory it did not already spend.
//!
//! Also here: a `Content-Encoding` the hub cannot decode gets a JSON 415
//! that says which ones it takes (the decompression layer's own has no body).

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use http_body_util::BodyExt;

use crate::error::HubError;

/// Past this, an oversized upload is cut off rather than drained.
pub const DRAIN_MAX: usize = 64 * 1024 * 1024;
pub const DRAIN_TIME: Duration = Duration::from_secs(15);
/// A body must arrive within this: a client trickling bytes cannot hold a
/// buffer (and a connection) open for ever.
pub const BODY_TIME: Duration = Duration::from_secs(30);

/// Read the whole body before the handler runs (see the module's text).
pub async fn whole_body_first(req: Request, next: Next) -> Response {
    // Requests without a body (GET, HEAD, DELETE without one) pass as they are.
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    let chunked = req.headers().get(header::TRANSFER_ENCODING).is_some();
    if declared == Some(0) || declared.is_none() && !chunked && http_body::Body::is_end_stream(req.body()) {
        return next.run(req).await;
    }
    let (parts, mut body) = req.into_parts();
    let limit = crate::body_limit(parts.uri.path());
    // Room for what the client says it sends, never more than the limit.
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
    let mut too_large = declared.is_some_and(|n| n > limit);
    let read = tokio::time::timeout(BODY_TIME, async {
        while !too_large {
            let Some(frame) = body.frame().await else { break };
            let Ok(frame) = frame else { return false };
            if let Some(data) = frame.data_ref() {
                if buf.len() + data.len() > limit {
                    too_large = true;
                    break;
                }
                buf.extend_from_slice(data);
            }
        }
        true
    })
    .await;
    match read {
        Err(_) => return HubError::new(StatusCode::REQUEST_TIMEOUT, "request.timeout", format!("body: not sent within {} s", BODY_TIME.as_secs())).into_response(),
        Ok(false) => return HubError::bad_request("request.body", "the request body could not be read (cut off?)").into_response(),
        Ok(true) => {}
    }
    if too_large {
        let mut seen = buf.len();
        drop(buf);
        let _ = tokio::time::timeout(DRAIN_TIME, async {
            while let Some(Ok(frame)) = body.frame().await {
                seen += frame.data_ref().map_or(0, |d| d.len());
                if seen > DRAIN_MAX {
                    break;
                }
            }
        })
        .await;
        return HubError::new(StatusCode::PAYLOAD_TOO_LARGE, "request.too_large", format!("body: at most {limit} bytes")).into_response();
    }
    next.run(Request::from_parts(parts, Body::from(buf.freeze()))).await
}

/// A JSON 415 for a `Content-Encoding` other than gzip, zstd or identity.
pub async fn known_encoding(req: Request, next: Next) -> Response {
    if let Some(v) = req.headers().get(header::CONTENT_ENCODING) {
        let known = v.to_str().is_ok_and(|s| s.split(',').map(str::trim).all(|e| e.eq_ignore_ascii_case("gzip") || e.eq_ignore_ascii_case("zstd") || e.eq_ignore_ascii_case("identity")));
        if !known {
            return HubError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "request.encoding", "Content-Encoding: gzip, zstd or none expected").into_response();
        }
    }
    next.run(req).await
}
