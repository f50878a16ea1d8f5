//! Users (SPEC §7).

use crate::AppState;
use crate::api::auth::{Carrier, Principal};
use crate::api::error::ApiError;
use crate::api::wire::UserJson;
use crate::api::{base_url, json_response};
use crate::domain::secret::masked_csrf_token;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::json;

/// GET /api/v2/users/{id} (admin or self); `me` is the caller. A cookie caller looking at
/// themself also gets a fresh `authenticity_token` [E-7].
pub async fn show(
    State(state): State<AppState>,
    principal: Principal,
    Path(user): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = principal.target_user(&user)?;
    let target = if id == principal.user.id {
        principal.user.clone()
    } else {
        state.store.user_by_id(id).await?.ok_or(ApiError::RecordNotFound)?
    };
    let base = base_url(&state.config, &headers);
    let mut body = json!(UserJson::new(&base, &target));
    let mut sensitive = false;
    if let (Carrier::Session { csrf_secret, .. }, true) = (&principal.carrier, id == principal.user.id) {
        let secret: [u8; 32] =
            csrf_secret.as_slice().try_into().map_err(|_| ApiError::Internal("bad CSRF secret length".into()))?;
        body["authenticity_token"] = json!(masked_csrf_token(&secret));
        sensitive = true;
    }
    let mut response = json_response(StatusCode::OK, &json!({ "user": body }));
    if sensitive {
        response.headers_mut().insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    }
    Ok(response)
}
