//! Users (SPEC §7): create, show, update, change password, delete — with the session
//! consequences security demands (suspension and deletion sign out everywhere; a password
//! change signs out every other session).

use crate::AppState;
use crate::api::auth::{Carrier, Principal, check_password_from};
use crate::api::error::ApiError;
use crate::api::openapi::{BadRequest, NotFound, PayloadTooLarge, UnprocessableEntity, UserRef};
use crate::api::wire::{EmptyBody, UserBody, UserJson};
use crate::api::{BaseUrl, base_url, json_response, object_body, path_segments};
use crate::domain::secret::masked_csrf_token;
use crate::domain::user::{validate_name, validate_password};
use crate::domain::{Email, Role, User};
use crate::store::{NewUser, StoreError, UserPatch};
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::net::SocketAddr;
use utoipa::ToSchema;

/// Collects per-field validation errors into one 422 `RecordInvalid`.
#[derive(Default)]
struct Invalid(Map<String, Value>);

impl Invalid {
    fn add(&mut self, field: &str, message: &str) {
        self.0.insert(
            field.to_owned(),
            json!([{ "description": format!("{field} {message}"), "error": "InvalidValue" }]),
        );
    }
    fn check<T>(&mut self, field: &str, r: Result<T, &'static str>) -> Option<T> {
        r.map_err(|m| self.add(field, m)).ok()
    }
    fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() { Ok(()) } else { Err(ApiError::RecordInvalid(Value::Object(self.0))) }
    }
}

fn parse_role(role: &str) -> Result<Role, &'static str> {
    Role::parse(role).ok_or("must be one of admin, agent, end-user")
}

fn user_body(base: &str, u: &User) -> UserBody {
    UserBody { user: UserJson::new(base, u) }
}

#[derive(Deserialize, ToSchema)]
pub struct CreateUserBody {
    user: CreateUser,
}

#[derive(Deserialize, ToSchema)]
struct CreateUser {
    /// 1 to 255 characters, no control characters; trimmed.
    #[schema(min_length = 1, max_length = 255, example = "Ada Lovelace")]
    name: String,
    /// Unique, case-insensitive.
    #[schema(format = Email, max_length = 254, example = "ada@example.com")]
    email: String,
    /// `admin`, `agent` or `end-user` (default).
    #[serde(default)]
    #[schema(value_type = Option<crate::api::wire::RoleName>)]
    role: Option<String>,
    /// 8 characters to 1024 bytes. Without one, the user cannot sign in with a password.
    #[serde(default)]
    #[schema(min_length = 8, max_length = 1024)]
    password: Option<String>,
}

/// Create user
///
/// Admins only. A duplicate email or a bad role is a 422.
#[utoipa::path(
    post, path = "/api/v2/users", operation_id = "CreateUser", tag = "Users",
    request_body = CreateUserBody,
    responses(
        (status = 201, description = "The new user", body = UserBody),
        (status = 400, response = BadRequest),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = UnprocessableEntity),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    principal.require_admin()?;
    let body: CreateUserBody = object_body(body, Some("user")).await?;
    let u = body.user;
    let mut invalid = Invalid::default();
    let name = invalid.check("name", validate_name(&u.name));
    let email = invalid.check("email", Email::parse(&u.email));
    let role = invalid.check("role", parse_role(u.role.as_deref().unwrap_or("end-user")));
    if let Some(p) = &u.password {
        invalid.check("password", validate_password(p));
    }
    invalid.finish()?;
    let (Some(name), Some(email), Some(role)) = (name, email, role) else {
        return Err(ApiError::Internal("validation passed without values".into()));
    };
    let password_hash = match u.password {
        Some(p) => Some(state.hash_password(p).await?),
        None => None,
    };
    let new = NewUser { name, email: email.as_str().to_owned(), role, password_hash };
    let user = match state.store.create_user(new, state.clock.now()).await {
        Ok(user) => user,
        Err(StoreError::Conflict(_)) => {
            let mut invalid = Invalid::default();
            invalid.add("email", "is already being used by another user");
            return Err(invalid.finish().err().unwrap_or(ApiError::Internal("conflict".into())));
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(event = "user_created", user_id = user.id, by = principal.user.id);
    Ok(json_response(StatusCode::CREATED, &user_body(&base_url(&state.config, &headers), &user)))
}

/// Show user
///
/// Admins, or the user themself (`me`). A cookie caller looking at themself also gets a fresh
/// `authenticity_token` [E-7].
#[utoipa::path(
    get, path = "/api/v2/users/{user_id}", operation_id = "ShowUser", tag = "Users",
    params(("user_id" = inline(UserRef), Path, description = "The id of the user, or `me`")),
    responses(
        (status = 200, description = "The user", body = UserBody),
        (status = 404, response = NotFound),
    ),
)]
pub async fn show(
    State(state): State<AppState>,
    principal: Principal,
    user: Result<Path<String>, PathRejection>,
    BaseUrl(base): BaseUrl,
) -> Result<Response, ApiError> {
    let Path(user) = path_segments(user)?;
    let id = principal.target_user(&user)?;
    let target = if id == principal.user.id {
        principal.user.clone()
    } else {
        state.store.user_by_id(id).await?.ok_or(ApiError::RecordNotFound)?
    };
    let mut body = UserJson::new(&base, &target);
    let mut sensitive = false;
    if let (Carrier::Session { csrf_secret, .. }, true) = (&principal.carrier, id == principal.user.id) {
        let secret: [u8; 32] =
            csrf_secret.as_slice().try_into().map_err(|_| ApiError::Internal("bad CSRF secret length".into()))?;
        body.authenticity_token = Some(masked_csrf_token(&secret));
        sensitive = true;
    }
    let mut response = json_response(StatusCode::OK, &UserBody { user: body });
    if sensitive {
        response.headers_mut().insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    }
    Ok(response)
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateUserBody {
    user: UpdateUser,
}

#[derive(Deserialize, ToSchema)]
struct UpdateUser {
    /// 1 to 255 characters, no control characters; trimmed.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255)]
    name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<crate::api::wire::RoleName>)]
    role: Option<String>,
    /// Suspending signs the user out everywhere and refuses their tokens.
    #[serde(default)]
    suspended: Option<bool>,
}

/// Update user
///
/// Admins only: name, role, suspended [E-2]. Suspending signs the user out everywhere (in
/// the same transaction); a role change applies at the next request, since every request
/// reads the role afresh.
#[utoipa::path(
    put, path = "/api/v2/users/{user_id}", operation_id = "UpdateUser", tag = "Users",
    params(("user_id" = inline(UserRef), Path, description = "The id of the user, or `me`")),
    request_body = UpdateUserBody,
    responses(
        (status = 200, description = "The updated user", body = UserBody),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = UnprocessableEntity),
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    user: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    principal.require_admin()?;
    let Path(user) = path_segments(user)?;
    let id = principal.target_user(&user)?;
    let body: UpdateUserBody = object_body(body, Some("user")).await?;
    let u = body.user;
    let mut invalid = Invalid::default();
    let name = u.name.as_deref().and_then(|n| invalid.check("name", validate_name(n)));
    let role = u.role.as_deref().and_then(|r| invalid.check("role", parse_role(r)));
    invalid.finish()?;
    let removes_admin = role.is_some_and(|r| r != Role::Admin) || u.suspended == Some(true);
    if removes_admin {
        keep_an_admin(&state, id, if u.suspended == Some(true) { "suspended" } else { "role" }).await?;
    }
    let patch = UserPatch { name, role, suspended: u.suspended };
    let updated = state.store.update_user(id, patch).await?.ok_or(ApiError::RecordNotFound)?;
    if u.suspended == Some(true) {
        tracing::info!(event = "session_revoked", reason = "suspension", user_id = id, by = principal.user.id);
    }
    Ok(json_response(StatusCode::OK, &user_body(&base_url(&state.config, &headers), &updated)))
}

/// Refuses (422) to demote, suspend or delete the last active admin: nobody could then
/// administer sessiond except through the command line.
async fn keep_an_admin(state: &AppState, id: i64, field: &str) -> Result<(), ApiError> {
    let target = state.store.user_by_id(id).await?.ok_or(ApiError::RecordNotFound)?;
    if target.role == Role::Admin && !target.suspended && state.store.count_active_admins().await? <= 1 {
        let mut invalid = Invalid::default();
        invalid.add(field, "cannot remove the last active admin");
        return invalid.finish();
    }
    Ok(())
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordBody {
    /// 8 characters to 1024 bytes.
    #[schema(min_length = 8, max_length = 1024)]
    password: String,
    /// Required when changing your own password.
    #[serde(default)]
    previous_password: Option<String>,
}

/// Change password
///
/// Yourself, with `previous_password`; or an admin for someone else [E-2]. Signs out every
/// other session of the user; the caller's own current session stays.
#[utoipa::path(
    put, path = "/api/v2/users/{user_id}/password", operation_id = "SetUserPassword", tag = "Users",
    params(("user_id" = inline(UserRef), Path, description = "The id of the user, or `me`")),
    request_body = PasswordBody,
    responses(
        (status = 200, description = "Changed", body = EmptyBody),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = UnprocessableEntity),
    ),
)]
pub async fn change_password(
    State(state): State<AppState>,
    principal: Principal,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    user: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let Path(user) = path_segments(user)?;
    let id = principal.target_user(&user)?;
    let body: PasswordBody = object_body(body, None).await?;
    let is_self = id == principal.user.id;
    let mut invalid = Invalid::default();
    invalid.check("password", validate_password(&body.password));
    if is_self {
        let previous_ok = match body.previous_password {
            Some(prev) => {
                let ip = crate::api::client_ip(&state.config.trusted_proxies, peer.ip(), &headers);
                check_password_from(&state, &principal.user.email, prev, Some(ip)).await?.is_some()
            }
            None => false,
        };
        if !previous_ok {
            invalid.add("previous_password", "is missing or does not match the current password");
        }
    }
    invalid.finish()?;
    if !is_self && state.store.user_by_id(id).await?.is_none() {
        return Err(ApiError::RecordNotFound);
    }
    let hash = state.hash_password(body.password).await?;
    let keep = if is_self { principal.current_session().map(|s| s.id) } else { None };
    if !state.store.set_password(id, &hash, keep).await? {
        return Err(ApiError::RecordNotFound);
    }
    tracing::info!(event = "session_revoked", reason = "password_change", user_id = id, by = principal.user.id);
    Ok(json_response(StatusCode::OK, &EmptyBody {}))
}

/// Delete user
///
/// Admins only. Answers with the deleted user; their sessions and tokens go with them.
#[utoipa::path(
    delete, path = "/api/v2/users/{user_id}", operation_id = "DeleteUser", tag = "Users",
    params(("user_id" = inline(UserRef), Path, description = "The id of the user, or `me`")),
    responses(
        (status = 200, description = "The deleted user", body = UserBody),
        (status = 404, response = NotFound),
    ),
)]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    user: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    principal.require_admin()?;
    let Path(user) = path_segments(user)?;
    let id = principal.target_user(&user)?;
    keep_an_admin(&state, id, "user").await?;
    let deleted = state.store.delete_user(id).await?.ok_or(ApiError::RecordNotFound)?;
    tracing::info!(event = "session_revoked", reason = "user_deleted", user_id = id, by = principal.user.id);
    Ok(json_response(StatusCode::OK, &user_body(&base_url(&state.config, &headers), &deleted)))
}
