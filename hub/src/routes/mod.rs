//! The HTTP surface, `/api/v1`, one module per caller.

pub mod cert;
pub mod coordinator;
pub mod desk;
pub mod fixes;
pub mod registrations;

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::HubError;

/// `Json` whose refusals are the hub's JSON errors (415 without a JSON
/// content type, 413 too large, 400 malformed, 422 wrong fields).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = HubError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(v) = axum::Json::<T>::from_request(req, state).await?;
        Ok(ApiJson(v))
    }
}
