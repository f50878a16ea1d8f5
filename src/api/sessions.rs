//! The Sessions API (SPEC §4): list, show, delete, the caller's own session, renew,
//! logout, and the admin bulk operations.

use crate::AppState;
use crate::api::auth::{Principal, parse_id, refuse_cross_site};
use crate::api::error::ApiError;
use crate::api::openapi::{BadRequest, Id, IdList, NotFound, UserRef};
use crate::api::pagination::{ListRequest, RawParams, encode_cursor, encode_query_value, query_pairs};
use crate::api::wire::{
    AuthenticityTokenBody, CursorLinks, CursorMeta, CursorPage, OffsetPage, SessionBody, SessionJson, SessionList,
    single_session,
};
use crate::api::{BaseUrl, OriginalPath, base_url, json_response, no_content};
use crate::domain::secret::{SECRET_BYTES, masked_csrf_token, random_bytes};
use crate::domain::{Session, UserId};
use crate::store::{Keyset, Position, Scope, Sort};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// List sessions
///
/// Admins see every session of the account; agents and end users only their own [C-13].
/// Cursor pagination when `page[size]`, `page[after]` or `page[before]` is present, offset
/// pagination otherwise.
#[utoipa::path(
    get, path = "/api/v2/sessions", operation_id = "ListSessions", tag = "Sessions",
    params(RawParams),
    responses(
        (status = 200, description = "A page of sessions, in the form the request chose", body = SessionList),
        (status = 400, response = BadRequest),
    ),
)]
pub async fn list_all(
    State(state): State<AppState>,
    principal: Principal,
    RawQuery(query): RawQuery,
    OriginalPath(path): OriginalPath,
    BaseUrl(base): BaseUrl,
) -> Result<Response, ApiError> {
    let scope = if principal.is_admin() { Scope::All } else { Scope::User(principal.user.id) };
    list(&state, scope, query.as_deref(), &path, &base).await
}

/// List a user's sessions
///
/// Admins, or the user themself [C-14] [C-23].
#[utoipa::path(
    get, path = "/api/v2/users/{user_id}/sessions", operation_id = "ListUserSessions", tag = "Sessions",
    params(("user_id" = inline(UserRef), Path, description = "The id of the user, or `me`"), RawParams),
    responses(
        (status = 200, description = "A page of the user's sessions", body = SessionList),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
    ),
)]
pub async fn list_for_user(
    State(state): State<AppState>,
    principal: Principal,
    user: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    OriginalPath(path): OriginalPath,
    BaseUrl(base): BaseUrl,
) -> Result<Response, ApiError> {
    let Path(user) = crate::api::path_segments(user)?;
    let user_id = existing_target(&state, &principal, &user).await?;
    list(&state, Scope::User(user_id), query.as_deref(), &path, &base).await
}

/// Show session
///
/// Admins, or the session's owner [C-15].
#[utoipa::path(
    get, path = "/api/v2/users/{user_id}/sessions/{session_id}", operation_id = "ShowSession", tag = "Sessions",
    params(
        ("user_id" = inline(UserRef), Path, description = "The id of the user, or `me`"),
        ("session_id" = inline(Id), Path, description = "The id of the session"),
    ),
    responses(
        (status = 200, description = "The session", body = SessionBody),
        (status = 404, response = NotFound),
    ),
)]
pub async fn show(
    State(state): State<AppState>,
    principal: Principal,
    segments: Result<Path<(String, String)>, PathRejection>,
    BaseUrl(base): BaseUrl,
) -> Result<Response, ApiError> {
    let Path((user, session)) = crate::api::path_segments(segments)?;
    let user_id = principal.target_user(&user)?;
    let session = live_session_of(&state, user_id, &session).await?;
    Ok(json_response(StatusCode::OK, &SessionBody { session: single_session(&state.config, &base, &session) }))
}

/// Show the currently authenticated session
///
/// The session of the cookie the request carries [C-16]. Basic, API-token and OAuth callers
/// have no current session: 404 [C-22].
#[utoipa::path(
    get, path = "/api/v2/users/me/session", operation_id = "ShowCurrentlyAuthenticatedSession", tag = "Sessions",
    responses(
        (status = 200, description = "The caller's current session", body = SessionBody),
        (status = 404, response = NotFound),
    ),
)]
pub async fn show_current(
    State(state): State<AppState>,
    principal: Principal,
    BaseUrl(base): BaseUrl,
) -> Result<Response, ApiError> {
    let session = principal.current_session().ok_or(ApiError::RecordNotFound)?;
    Ok(json_response(StatusCode::OK, &SessionBody { session: single_session(&state.config, &base, session) }))
}

/// Renew the current session
///
/// A fresh authenticity token; for a session caller it is also activity, recorded at once
/// [C-17] [E-15].
#[utoipa::path(
    get, path = "/api/v2/users/me/session/renew", operation_id = "RenewCurrentSession", tag = "Sessions",
    responses((status = 200, description = "A fresh authenticity token", body = AuthenticityTokenBody)),
)]
pub async fn renew(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    refuse_cross_site(&principal, &headers, &base_url(&state.config, &headers))?;
    let token = match &principal.carrier {
        crate::api::auth::Carrier::Session { session, csrf_secret } => {
            // Renew is activity, recorded at once [E-15] (unless authentication just did).
            let now = state.clock.now();
            if session.last_seen_at < now {
                state.store.touch_session(session.id, now).await?;
            }
            let secret: [u8; SECRET_BYTES] =
                csrf_secret.as_slice().try_into().map_err(|_| ApiError::Internal("bad CSRF secret length".into()))?;
            masked_csrf_token(&secret)
        }
        // No session, so no CSRF rule applies: a token bound to nothing.
        _ => masked_csrf_token(&random_bytes::<SECRET_BYTES>()),
    };
    let mut response = json_response(StatusCode::OK, &AuthenticityTokenBody { authenticity_token: token });
    no_store(&mut response);
    Ok(response)
}

/// Delete the authenticated session
///
/// Ends the cookie's session only; no effect for Basic, API-token and OAuth callers, who have
/// no current session [C-19].
#[utoipa::path(
    method(get, delete), path = "/api/v2/users/me/logout", operation_id = "DeleteAuthenticatedSession", tag = "Sessions",
    responses((status = 204, description = "Signed out (or nothing to sign out)")),
)]
pub async fn logout_me(
    State(state): State<AppState>,
    method: axum::http::Method,
    principal: Principal,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    refuse_cross_site(&principal, &headers, &base_url(&state.config, &headers))?;
    // HEAD never changes anything.
    if method == axum::http::Method::HEAD {
        return Ok(no_content());
    }
    if let Some(session) = principal.current_session() {
        state.store.delete_session(session.id).await?;
        tracing::info!(
            event = "session_revoked",
            reason = "logout",
            session_id = session.id,
            user_id = principal.user.id
        );
    }
    Ok(no_content())
}

/// Delete session
///
/// Admins, or the session's owner. The session is signed out at once [C-18].
#[utoipa::path(
    delete, path = "/api/v2/users/{user_id}/sessions/{session_id}", operation_id = "DeleteSession", tag = "Sessions",
    params(
        ("user_id" = inline(UserRef), Path, description = "The id of the user, or `me`"),
        ("session_id" = inline(Id), Path, description = "The id of the session"),
    ),
    responses(
        (status = 204, description = "Signed out"),
        (status = 404, response = NotFound),
    ),
)]
pub async fn delete_one(
    State(state): State<AppState>,
    principal: Principal,
    segments: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path((user, session)) = crate::api::path_segments(segments)?;
    let user_id = principal.target_user(&user)?;
    let session = live_session_of(&state, user_id, &session).await?;
    if state.store.delete_sessions(&[session.id], Some(user_id)).await? == 0 {
        // Deleted by someone else between our read and our delete.
        return Err(ApiError::RecordNotFound);
    }
    tracing::info!(
        event = "session_revoked",
        reason = "delete",
        session_id = session.id,
        user_id,
        by = principal.user.id
    );
    Ok(no_content())
}

/// Bulk delete sessions
///
/// Admins, or the user themself: every session of the user is signed out; idempotent [C-20].
#[utoipa::path(
    delete, path = "/api/v2/users/{user_id}/sessions", operation_id = "BulkDeleteSessionsByUserId", tag = "Sessions",
    params(("user_id" = inline(UserRef), Path, description = "The id of the user, or `me`")),
    responses(
        (status = 204, description = "Every session of the user signed out"),
        (status = 404, response = NotFound),
    ),
)]
pub async fn delete_all_for_user(
    State(state): State<AppState>,
    principal: Principal,
    user: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(user) = crate::api::path_segments(user)?;
    let user_id = existing_target(&state, &principal, &user).await?;
    let n = state.store.delete_sessions_of_users(&[user_id]).await?;
    tracing::info!(event = "session_revoked", reason = "bulk", count = n, user_id, by = principal.user.id);
    Ok(no_content())
}

/// Sign users out everywhere
///
/// Admins only: every session of up to 100 users is signed out before the answer [C-24] [E-17].
#[utoipa::path(
    post, path = "/api/v2/users/logout_many", operation_id = "LogoutManyUsers", tag = "Sessions",
    params(("ids" = inline(IdList), Query, description = "Comma-separated user ids, at most 100; unknown ids are ignored")),
    responses(
        (status = 202, description = "Signed out"),
        (status = 400, response = BadRequest),
    ),
)]
pub async fn logout_many(
    State(state): State<AppState>,
    principal: Principal,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    principal.require_admin()?;
    let ids = parse_ids(query.as_deref())?;
    let n = state.store.delete_sessions_of_users(&ids).await?;
    tracing::info!(
        event = "session_revoked",
        reason = "logout_many",
        count = n,
        users = ids.len(),
        by = principal.user.id
    );
    Ok(StatusCode::ACCEPTED.into_response())
}

/// Delete many sessions
///
/// Admins only: up to 100 sessions by id [C-24].
#[utoipa::path(
    delete, path = "/api/v2/sessions/destroy_many", operation_id = "DestroyManySessions", tag = "Sessions",
    params(("ids" = inline(IdList), Query, description = "Comma-separated session ids, at most 100; unknown ids are ignored")),
    responses(
        (status = 204, description = "Signed out"),
        (status = 400, response = BadRequest),
    ),
)]
pub async fn destroy_many(
    State(state): State<AppState>,
    principal: Principal,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    principal.require_admin()?;
    let ids = parse_ids(query.as_deref())?;
    let n = state.store.delete_sessions(&ids, None).await?;
    tracing::info!(event = "session_revoked", reason = "destroy_many", count = n, by = principal.user.id);
    Ok(no_content())
}

/// `ids=1,2,3`: 1..=100 distinct positive ids; duplicates count once [E-4].
pub fn parse_ids(query: Option<&str>) -> Result<Vec<i64>, ApiError> {
    let raw = query_pairs(query.unwrap_or(""))
        .into_iter()
        .rev()
        .find(|(k, _)| k == "ids")
        .map(|(_, v)| v)
        .ok_or_else(|| ApiError::InvalidValue("ids is required: a comma-separated list of ids".into()))?;
    let mut ids = Vec::new();
    for part in raw.split(',') {
        let id = parse_id(part.trim()).ok_or_else(|| {
            ApiError::InvalidValue(format!("ids must be positive integers; {:?} is not", part.trim()))
        })?;
        if !ids.contains(&id) {
            ids.push(id);
        }
        if ids.len() > 100 {
            return Err(ApiError::InvalidValue("ids may name at most 100 ids".into()));
        }
    }
    Ok(ids)
}

/// Resolves the `{user_id}` segment and, when it names someone else, checks they exist.
async fn existing_target(state: &AppState, principal: &Principal, segment: &str) -> Result<UserId, ApiError> {
    let user_id = principal.target_user(segment)?;
    if user_id != principal.user.id && state.store.user_by_id(user_id).await?.is_none() {
        return Err(ApiError::RecordNotFound);
    }
    Ok(user_id)
}

/// The live session with this id if it belongs to `user_id`, else 404 [C-25].
async fn live_session_of(state: &AppState, user_id: UserId, segment: &str) -> Result<Session, ApiError> {
    let id = parse_id(segment).ok_or(ApiError::RecordNotFound)?;
    let (session, role) = state.store.session_by_id(id).await?.ok_or(ApiError::RecordNotFound)?;
    if session.user_id != user_id {
        return Err(ApiError::RecordNotFound);
    }
    let settings = state.store.security_settings().await?;
    if !state.expiry(settings).is_alive(&session, role) {
        return Err(ApiError::RecordNotFound);
    }
    Ok(session)
}

fn no_store(response: &mut Response) {
    response.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
}

/// Lists live sessions in `scope` with cursor or offset pagination [C-30]…[C-40].
async fn list(
    state: &AppState,
    scope: Scope,
    query: Option<&str>,
    path: &str,
    base: &str,
) -> Result<Response, ApiError> {
    let request = ListRequest::from_params(&RawParams::parse(query))?;
    let settings = state.store.security_settings().await?;
    let cutoffs = state.expiry(settings).cutoffs();
    let link_base = format!("{base}{path}");
    let body = match request {
        ListRequest::Cursor { size, sort, sort_param, after, before } => {
            let page = Keyset { sort, after, before, limit: size + 1 };
            let mut sessions = state.store.list_sessions_keyset(scope, cutoffs, page).await?;
            let backwards = before.is_some();
            // One extra row tells whether more exist in the direction of the request.
            let has_more = sessions.len() > size as usize;
            if has_more {
                if backwards {
                    sessions.remove(0);
                } else {
                    sessions.truncate(size as usize);
                }
            }
            let (first, last) = match (sessions.first(), sessions.last()) {
                (Some(f), Some(l)) => (position(sort, f), position(sort, l)),
                _ => {
                    return Ok(json_response(
                        StatusCode::OK,
                        &SessionList::Cursor(CursorPage {
                            links: CursorLinks { next: None, prev: None },
                            meta: CursorMeta { after_cursor: None, before_cursor: None, has_more: false },
                            sessions: Vec::new(),
                        }),
                    ));
                }
            };
            // Whether sessions exist on the other side of the page: a one-row probe.
            let probe = |after: Option<Position>, before: Option<Position>| Keyset { sort, after, before, limit: 1 };
            let (any_next, any_prev) = if backwards {
                (!state.store.list_sessions_keyset(scope, cutoffs, probe(Some(last), None)).await?.is_empty(), has_more)
            } else {
                let prev = match after {
                    None => false,
                    Some(_) => {
                        !state.store.list_sessions_keyset(scope, cutoffs, probe(None, Some(first))).await?.is_empty()
                    }
                };
                (has_more, prev)
            };
            let after_cursor = encode_cursor(sort, last);
            let before_cursor = encode_cursor(sort, first);
            let link = |param: &str, cursor: &str| {
                let mut url = format!("{link_base}?page%5Bsize%5D={size}&page%5B{param}%5D={cursor}");
                if let Some(s) = &sort_param {
                    url.push_str(&format!("&sort={}", encode_query_value(s)));
                }
                url
            };
            SessionList::Cursor(CursorPage {
                links: CursorLinks {
                    next: any_next.then(|| link("after", &after_cursor)),
                    prev: any_prev.then(|| link("before", &before_cursor)),
                },
                meta: CursorMeta { after_cursor: Some(after_cursor), before_cursor: Some(before_cursor), has_more },
                sessions: sessions.iter().map(|s| SessionJson::new(base, s)).collect(),
            })
        }
        ListRequest::Offset { page, per_page, sort, sort_params } => {
            let offset = (page - 1) * per_page;
            let sessions = state.store.list_sessions_offset(scope, cutoffs, sort, offset, per_page).await?;
            let count = state.store.count_sessions(scope, cutoffs).await?;
            let link = |page: u32| {
                let mut url = format!("{link_base}?page={page}&per_page={per_page}");
                for (k, v) in &sort_params {
                    url.push_str(&format!("&{k}={}", encode_query_value(v)));
                }
                url
            };
            let has_next = i64::from(offset) + (sessions.len() as i64) < count && !sessions.is_empty();
            SessionList::Offset(OffsetPage {
                count,
                next_page: has_next.then(|| link(page + 1)),
                previous_page: (page > 1).then(|| link(page - 1)),
                sessions: sessions.iter().map(|s| SessionJson::new(base, s)).collect(),
            })
        }
    };
    Ok(json_response(StatusCode::OK, &body))
}

fn position(sort: Sort, s: &Session) -> Position {
    Position { key: sort.key.value_of(s), id: s.id }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_lists() {
        assert_eq!(parse_ids(Some("ids=3,1,3")).ok(), Some(vec![3, 1]));
        assert_eq!(parse_ids(Some("ids=1%2C2")).ok(), Some(vec![1, 2]));
        for bad in ["", "ids=", "ids=1,,2", "ids=a", "ids=-1", "ids=0", "ids=99999999999999999999"] {
            assert!(matches!(parse_ids(Some(bad)), Err(ApiError::InvalidValue(_))), "{bad:?}");
        }
        let many: Vec<String> = (1..=101).map(|i| i.to_string()).collect();
        assert!(parse_ids(Some(&format!("ids={}", many.join(",")))).is_err());
        let hundred_with_dupes = format!("ids={},1", many[..100].join(","));
        assert_eq!(parse_ids(Some(&hundred_with_dupes)).map(|v| v.len()).ok(), Some(100));
    }
}
