//! API tokens (any signed-in user, for themself) and OAuth access tokens (admin) [E-1]
//! [E-13]. A token is shown once, at creation; only its digest is stored.

use crate::AppState;
use crate::api::auth::{Principal, parse_id};
use crate::api::error::ApiError;
use crate::api::openapi::{BadRequest, Id, NotFound, PayloadTooLarge, UnprocessableEntity};
use crate::api::wire::{ApiTokenBody, ApiTokenJson, ApiTokenList, OAuthTokenBody, OAuthTokenJson};
use crate::api::{json_response, no_content, path_segments, read_body};
use crate::api::{object_body, parse_object};
use crate::domain::secret::new_secret;
use crate::domain::time::{format_timestamp, parse_timestamp};
use crate::store::{ApiToken, OAuthToken};
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;

const MAX_DESCRIPTION: usize = 255;

fn api_token_json(t: &ApiToken) -> ApiTokenJson {
    ApiTokenJson {
        created_at: format_timestamp(t.created_at),
        description: t.description.clone(),
        id: t.id,
        token: None,
    }
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[derive(Deserialize, Default, ToSchema)]
struct NewApiTokenBody {
    #[serde(default)]
    api_token: Option<NewApiToken>,
}

#[derive(Deserialize, Default, ToSchema)]
struct NewApiToken {
    /// At most 255 characters, no control characters.
    #[serde(default)]
    #[schema(max_length = 255)]
    description: Option<String>,
}

/// Create API token
///
/// For the caller; the body (and the description) are optional [E-1]. The token is shown
/// once, in this answer.
#[utoipa::path(
    post, path = "/api/v2/api_tokens", operation_id = "CreateApiToken", tag = "API tokens",
    request_body(content = Option<NewApiTokenBody>, description = "Optional"),
    responses(
        (status = 201, description = "The new token, with its secret", body = ApiTokenBody),
        (status = 400, response = BadRequest),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = UnprocessableEntity),
    ),
)]
pub async fn create_api_token(
    State(state): State<AppState>,
    principal: Principal,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(body).await?;
    let parsed: NewApiTokenBody = if bytes.iter().all(u8::is_ascii_whitespace) {
        NewApiTokenBody::default()
    } else {
        parse_object(&bytes, Some("api_token"))?
    };
    let description = parsed.api_token.and_then(|t| t.description).unwrap_or_default();
    let description = description.trim().to_owned();
    if description.chars().count() > MAX_DESCRIPTION || description.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            "description",
            "description is too long (maximum is 255 characters) or has control characters",
        ));
    }
    let secret = new_secret();
    let token =
        state.store.create_api_token(principal.user.id, &description, &secret.digest, state.clock.now()).await?;
    tracing::info!(event = "api_token_created", token_id = token.id, user_id = principal.user.id);
    let mut body = api_token_json(&token);
    body.token = Some(secret.plaintext);
    Ok(no_store(json_response(StatusCode::CREATED, &ApiTokenBody { api_token: body })))
}

/// List API tokens
///
/// The caller's tokens, without their secrets.
#[utoipa::path(
    get, path = "/api/v2/api_tokens", operation_id = "ListApiTokens", tag = "API tokens",
    responses((status = 200, description = "The caller's tokens", body = ApiTokenList)),
)]
pub async fn list_api_tokens(State(state): State<AppState>, principal: Principal) -> Result<Response, ApiError> {
    let tokens = state.store.list_api_tokens(principal.user.id).await?;
    let api_tokens = tokens.iter().map(api_token_json).collect();
    Ok(json_response(StatusCode::OK, &ApiTokenList { api_tokens }))
}

/// Delete API token
///
/// The caller's own token (admins: anyone's).
#[utoipa::path(
    delete, path = "/api/v2/api_tokens/{id}", operation_id = "DeleteApiToken", tag = "API tokens",
    params(("id" = inline(Id), Path, description = "The id of the token")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, response = NotFound),
    ),
)]
pub async fn delete_api_token(
    State(state): State<AppState>,
    principal: Principal,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(id) = path_segments(id)?;
    let id = parse_id(&id).ok_or(ApiError::RecordNotFound)?;
    let owner = if principal.is_admin() { None } else { Some(principal.user.id) };
    if !state.store.delete_api_token(id, owner).await? {
        return Err(ApiError::RecordNotFound);
    }
    tracing::info!(event = "api_token_revoked", token_id = id, by = principal.user.id);
    Ok(no_content())
}

#[derive(Deserialize, ToSchema)]
pub struct NewOAuthTokenBody {
    token: NewOAuthToken,
}

#[derive(Deserialize, ToSchema)]
struct NewOAuthToken {
    /// An existing user.
    #[schema(minimum = 1)]
    user_id: i64,
    #[schema(value_type = Vec<crate::api::wire::ScopeName>, min_items = 1)]
    scopes: Vec<String>,
    /// RFC 3339; the token stops working then.
    #[serde(default)]
    #[schema(format = DateTime)]
    expires_at: Option<String>,
}

fn oauth_token_json(t: &OAuthToken, full_token: String) -> OAuthTokenJson {
    OAuthTokenJson {
        created_at: format_timestamp(t.created_at),
        expires_at: t.expires_at.map(format_timestamp),
        full_token,
        id: t.id,
        scopes: t.scopes.clone(),
        user_id: t.user_id,
    }
}

/// Create OAuth access token
///
/// Admins only, for any user [E-13]. `full_token` is shown once, in this answer.
#[utoipa::path(
    post, path = "/api/v2/oauth/tokens", operation_id = "CreateOAuthToken", tag = "OAuth tokens",
    request_body = NewOAuthTokenBody,
    responses(
        (status = 201, description = "The new token, with its secret", body = OAuthTokenBody),
        (status = 400, response = BadRequest),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = UnprocessableEntity),
    ),
)]
pub async fn create_oauth_token(
    State(state): State<AppState>,
    principal: Principal,
    body: Body,
) -> Result<Response, ApiError> {
    principal.require_admin()?;
    let body: NewOAuthTokenBody = object_body(body, Some("token")).await?;
    let t = body.token;
    let mut scopes: Vec<String> = Vec::new();
    for s in &t.scopes {
        if s != "read" && s != "write" {
            return Err(ApiError::invalid_field("scopes", "scopes may only contain read and write"));
        }
        if !scopes.contains(s) {
            scopes.push(s.clone());
        }
    }
    if scopes.is_empty() {
        return Err(ApiError::invalid_field("scopes", "scopes cannot be empty"));
    }
    let expires_at = match t.expires_at.as_deref() {
        Some(raw) => Some(
            parse_timestamp(raw)
                .ok_or_else(|| ApiError::invalid_field("expires_at", "expires_at must be an RFC 3339 timestamp"))?,
        ),
        None => None,
    };
    if state.store.user_by_id(t.user_id).await?.is_none() {
        return Err(ApiError::invalid_field("user_id", "user_id does not name a user"));
    }
    let secret = new_secret();
    let token =
        state.store.create_oauth_token(t.user_id, &scopes, &secret.digest, state.clock.now(), expires_at).await?;
    tracing::info!(event = "oauth_token_created", token_id = token.id, user_id = t.user_id, by = principal.user.id);
    let body = oauth_token_json(&token, secret.plaintext);
    Ok(no_store(json_response(StatusCode::CREATED, &OAuthTokenBody { token: body })))
}

/// Delete OAuth access token
///
/// Admins only.
#[utoipa::path(
    delete, path = "/api/v2/oauth/tokens/{id}", operation_id = "DeleteOAuthToken", tag = "OAuth tokens",
    params(("id" = inline(Id), Path, description = "The id of the token")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, response = NotFound),
    ),
)]
pub async fn delete_oauth_token(
    State(state): State<AppState>,
    principal: Principal,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    principal.require_admin()?;
    let Path(id) = path_segments(id)?;
    let id = parse_id(&id).ok_or(ApiError::RecordNotFound)?;
    if !state.store.delete_oauth_token(id).await? {
        return Err(ApiError::RecordNotFound);
    }
    tracing::info!(event = "oauth_token_revoked", token_id = id, by = principal.user.id);
    Ok(no_content())
}
