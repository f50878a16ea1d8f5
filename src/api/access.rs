//! Sign-in and sign-out: how sessions are born and die (SPEC §3). The HTML form and the
//! JSON API share one path: check the password, create a new session, set the cookie.

use crate::AppState;
use crate::api::auth::{check_password_from, session_cookie, session_for_token};
use crate::api::error::ApiError;
use crate::api::error::{ErrorDescription, TitledError, Unauthenticated};
use crate::api::html::{Nav, html, see_other};
use crate::api::openapi::{BadRequest, PayloadTooLarge};
use crate::api::wire::{SignInBody, single_session};
use crate::api::{base_url, client_ip, json_response, parse_json, read_body};
use crate::domain::secret::{SECRET_BYTES, masked_csrf_token, new_secret, random_bytes, verify_csrf_token};
use crate::domain::{Session, User};
use crate::store::NewSession;
use askama::Template;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::net::SocketAddr;
use utoipa::ToSchema;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    nav: Option<Nav>,
    error: Option<&'a str>,
    email: &'a str,
    return_to: &'a str,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage<'a> {
    nav: Option<Nav>,
    name: &'a str,
    email: &'a str,
    role: &'a str,
    is_admin: bool,
}

const THROTTLED: &str = "Too many failed attempts. Wait a few minutes and try again.";
const GENERIC_FAILURE: &str = "That email and password did not match an active account.";

/// A `return_to` we may redirect to: a relative path on this origin, nothing else [E-19].
pub fn safe_return_to(raw: &str) -> Option<&str> {
    let ok = raw.starts_with('/')
        && !raw.starts_with("//")
        && !raw.starts_with("/\\")
        && !raw.chars().any(|c| c == '\\' || c.is_control() || c.is_whitespace())
        && raw.len() <= 2048;
    ok.then_some(raw)
}

/// The sign-in page
///
/// An HTML form that posts to `POST /access/login`.
#[utoipa::path(
    get, path = "/access/login", operation_id = "SignInPage", tag = "Sign-in",
    params(("return_to" = Option<String>, Query, description = "Where to go after signing in: a relative path on this origin")),
    responses((status = 200, description = "The sign-in form", content_type = "text/html", body = String)),
)]
pub async fn login_page(axum::extract::RawQuery(query): axum::extract::RawQuery) -> Response {
    let return_to = crate::api::pagination::query_pairs(query.as_deref().unwrap_or(""))
        .into_iter()
        .find(|(k, _)| k == "return_to")
        .and_then(|(_, v)| safe_return_to(&v).map(str::to_owned))
        .unwrap_or_default();
    html(StatusCode::OK, LoginPage { nav: None, error: None, email: "", return_to: &return_to }.render())
}

#[derive(Deserialize, ToSchema)]
struct Credentials {
    email: String,
    password: String,
    /// Forms only: where to go after signing in, a relative path on this origin.
    #[serde(default)]
    return_to: Option<String>,
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"))
}

/// JSON bodies: `application/json` (or `…+json`), or no content type at all.
fn is_json_or_unset(headers: &HeaderMap) -> bool {
    match headers.get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or("").trim().to_ascii_lowercase()) {
        None => true,
        Some(ct) => {
            let mime = ct.split(';').next().unwrap_or("").trim();
            mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
        }
    }
}

/// Sign in
///
/// JSON or an HTML form. Success: a brand-new session, its cookie (`HttpOnly`,
/// `SameSite=Lax`, `Path=/`; `Secure` behind an https public URL), and for JSON the session
/// and an authenticity token; the form is redirected to `return_to` or `/`. Failure: 401
/// (the same for an unknown email and a wrong password); throttled after repeated failures.
#[utoipa::path(
    post, path = "/access/login", operation_id = "SignIn", tag = "Sign-in",
    request_body(content(
        (Credentials = "application/json"),
        (Credentials = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 201, description = "Signed in (JSON)", body = SignInBody,
            headers(("Set-Cookie" = String, description = "The session cookie"))),
        (status = 303, description = "Signed in (form): to `return_to` or `/`",
            headers(("Location" = String), ("Set-Cookie" = String, description = "The session cookie"))),
        (status = 400, response = BadRequest),
        (status = 401, description = "Wrong email or password, or a suspended user", content(
            (Unauthenticated = "application/json"),
            (String = "text/html"),
        )),
        (status = 413, response = PayloadTooLarge),
        (status = 429, description = "Throttled after repeated failures: the JSON error, or the form again",
            headers(("Retry-After" = String, description = "Whole seconds to wait (at least 1)")),
            content((ErrorDescription = "application/json"), (String = "text/html"))),
    ),
)]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    // Login CSRF: a hostile page must not sign the victim's browser into another account.
    if crate::api::auth::is_cross_site(&headers, &base_url(&state.config, &headers)) {
        return Err(ApiError::InvalidAuthenticityToken);
    }
    let form = is_form(&headers);
    if !form && !is_json_or_unset(&headers) {
        return Err(ApiError::InvalidJson(
            "send the credentials as application/json or application/x-www-form-urlencoded".into(),
        ));
    }
    let bytes = read_body(body).await?;
    let creds: Credentials = if form {
        serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| ApiError::InvalidJson(format!("the form is missing a field or malformed: {e}")))?
    } else {
        parse_json(&bytes)?
    };
    let ip = client_ip(&state.config.trusted_proxies, peer.ip(), &headers);
    let checked = check_password_from(&state, &creds.email, creds.password, Some(ip)).await;
    if let (true, Err(ApiError::TooManyRequests { retry_after })) = (form, &checked) {
        let return_to = creds.return_to.as_deref().and_then(safe_return_to).unwrap_or("");
        let email = creds.email.chars().take(254).collect::<String>();
        let page = LoginPage { nav: None, error: Some(THROTTLED), email: &email, return_to };
        let mut r = html(StatusCode::TOO_MANY_REQUESTS, page.render());
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        return Ok(r);
    }
    let Some((user, checked_hash)) = checked? else {
        if form {
            let return_to = creds.return_to.as_deref().and_then(safe_return_to).unwrap_or("");
            let email = creds.email.chars().take(254).collect::<String>();
            let page = LoginPage { nav: None, error: Some(GENERIC_FAILURE), email: &email, return_to };
            return Ok(html(StatusCode::UNAUTHORIZED, page.render()));
        }
        return Err(ApiError::Unauthenticated);
    };
    let user_agent =
        headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(|s| s.chars().take(512).collect::<String>());
    let (session, token, csrf) = start_session(&state, &user, checked_hash, Some(ip.to_string()), user_agent).await?;
    let cookie = session_cookie_header(&state, &token);
    let mut response = if form {
        see_other(creds.return_to.as_deref().and_then(safe_return_to).unwrap_or("/"))
    } else {
        let base = base_url(&state.config, &headers);
        json_response(
            StatusCode::CREATED,
            &SignInBody {
                authenticity_token: masked_csrf_token(&csrf),
                session: single_session(&state.config, &base, &session),
            },
        )
    };
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Creates a new session for `user`: never reuses a token the client sent.
async fn start_session(
    state: &AppState,
    user: &User,
    checked_password_hash: String,
    ip: Option<String>,
    user_agent: Option<String>,
) -> Result<(Session, String, [u8; SECRET_BYTES]), ApiError> {
    let secret = new_secret();
    let csrf = random_bytes::<SECRET_BYTES>();
    let new = NewSession {
        user_id: user.id,
        token: secret.digest,
        csrf_secret: csrf,
        ip,
        user_agent,
        created_via: "password",
        checked_password_hash: Some(checked_password_hash),
    };
    let token_ref = secret.digest.log_ref();
    // The password changed, or the user was suspended or deleted, while we checked it.
    let session = state.store.create_session(new, state.clock.now()).await.map_err(|e| match e {
        crate::store::StoreError::Conflict(_) => ApiError::Unauthenticated,
        other => other.into(),
    })?;
    tracing::info!(event = "session_created", session_id = session.id, user_id = user.id, token_ref);
    Ok((session, secret.plaintext, csrf))
}

fn session_cookie_header(state: &AppState, token: &str) -> HeaderValue {
    let secure = if state.config.secure_cookies() { "; Secure" } else { "" };
    let value = format!("{}={token}; Path=/; HttpOnly; SameSite=Lax{secure}", state.config.cookie_name());
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(""))
}

pub(crate) fn clear_cookie_header(state: &AppState) -> HeaderValue {
    let secure = if state.config.secure_cookies() { "; Secure" } else { "" };
    let value = format!("{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}", state.config.cookie_name());
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(""))
}

#[derive(Deserialize, ToSchema)]
struct LogoutForm {
    /// The session's authenticity token (or send it in `X-CSRF-Token`).
    #[serde(default)]
    authenticity_token: String,
}

/// Sign out (browser)
///
/// A form with the session's `authenticity_token`: ends the cookie's session, clears the
/// cookie and goes back to the sign-in page [E-19].
#[utoipa::path(
    post, path = "/access/logout", operation_id = "SignOut", tag = "Sign-in",
    request_body(content = LogoutForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Signed out: to `/access/login`",
            headers(("Location" = String), ("Set-Cookie" = String, description = "Clears the session cookie"))),
        (status = 400, response = BadRequest),
        (status = 403, description = "The authenticity token is missing or wrong", body = TitledError),
        (status = 413, response = PayloadTooLarge),
    ),
)]
pub async fn logout(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let bytes = read_body(body).await?;
    let form: LogoutForm = serde_urlencoded::from_bytes(&bytes)
        .map_err(|e| ApiError::InvalidJson(format!("the form is malformed: {e}")))?;
    if let Some(token) = session_cookie(&headers, state.config.cookie_name())
        && let Some((user, session, csrf_secret)) = session_for_token(&state, &token).await?
    {
        let presented = if form.authenticity_token.is_empty() {
            headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
        } else {
            form.authenticity_token
        };
        if !verify_csrf_token(&presented, &csrf_secret) {
            if !is_form(&headers) {
                return Err(ApiError::InvalidAuthenticityToken);
            }
            // A browser's form: the pages' 403 page, with a working sign-out button on it.
            let nav = <[u8; SECRET_BYTES]>::try_from(csrf_secret.as_slice()).ok().map(|secret| Nav {
                name: user.name.clone(),
                email: user.email.clone(),
                is_admin: user.role == crate::domain::Role::Admin,
                authenticity_token: masked_csrf_token(&secret),
                current: "",
            });
            return Ok(crate::api::html::PageError::bad_token(nav).into_response());
        }
        state.store.delete_session(session.id).await?;
        tracing::info!(event = "session_revoked", reason = "logout", session_id = session.id, user_id = user.id);
    }
    let mut response = see_other("/access/login");
    response.headers_mut().insert(header::SET_COOKIE, clear_cookie_header(&state));
    Ok(response)
}

/// Home page
///
/// Who am I, with a sign-out button; signed out, a redirect to the sign-in page.
#[utoipa::path(
    get, path = "/", operation_id = "HomePage", tag = "Sign-in",
    responses(
        (status = 200, description = "The signed-in user", content_type = "text/html", body = String),
        (status = 303, description = "Not signed in: to `/access/login`", headers(("Location" = String))),
    ),
)]
/// GET / — who am I, with links to the pages; the sign-in page when signed out.
pub async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let viewer = match crate::api::pages::viewer(&state, &headers, "/").await {
        Ok(v) => v,
        Err(redirect) => return redirect,
    };
    let page = HomePage {
        nav: Some(viewer.nav("home")),
        name: &viewer.user.name,
        email: &viewer.user.email,
        role: viewer.user.role.as_str(),
        is_admin: viewer.user.role == crate::domain::Role::Admin,
    };
    html(StatusCode::OK, page.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_must_stay_on_this_origin() {
        assert_eq!(safe_return_to("/sessions?x=1"), Some("/sessions?x=1"));
        for bad in ["https://evil.example/", "//evil.example", "/\\evil.example", "evil", "", "/a b", "/\tx"] {
            assert_eq!(safe_return_to(bad), None, "{bad:?}");
        }
    }
}
