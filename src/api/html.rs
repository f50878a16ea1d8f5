//! What every HTML response shares: security headers, no-store, redirects, the stylesheet,
//! the navigation bar and error pages.
//!
//! The Content-Security-Policy allows nothing but our own stylesheet and same-origin form
//! posts: no script at all (the pages need none), no inline style, no framing. Every page is
//! `Cache-Control: no-store`, so after signing out the back button refetches the page, which
//! then sends the browser to the sign-in form instead of showing what was there.

use crate::api::error::ApiError;
use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The policy every page is sent with.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLESHEET: &str = include_str!("../../assets/style.css");

/// Security headers and no-store, on every page and every redirect between pages.
pub fn secure(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
}

/// A rendered page with its status and headers; a template error is a logged 500.
pub fn html(status: StatusCode, page: Result<String, askama::Error>) -> Response {
    match page {
        Ok(body) => {
            let mut r = (status, body).into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            secure(r.headers_mut());
            r
        }
        Err(e) => ApiError::Internal(format!("template: {e}")).into_response(),
    }
}

/// 303 to a path on this origin.
pub fn see_other(location: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    secure(r.headers_mut());
    r
}

/// GET /assets/style.css — the one stylesheet of the pages.
pub async fn stylesheet() -> Response {
    let mut r = STYLESHEET.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

/// The navigation bar of a signed-in person: where to go, who they are, and a sign-out
/// button (a form, because signing out is a POST with the authenticity token).
pub struct Nav {
    pub name: String,
    pub email: String,
    pub is_admin: bool,
    pub authenticity_token: String,
    /// Which entry is the current page: `home`, `sessions`, `admin` or empty.
    pub current: &'static str,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nav: Option<Nav>,
    title: &'a str,
    message: &'a str,
    back_href: &'a str,
    back_text: &'a str,
}

/// An HTML error page (the API's errors are JSON; the pages' are pages).
pub struct PageError {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: &'static str,
    /// Boxed: errors travel through `Result`s and should stay small.
    pub nav: Option<Box<Nav>>,
}

impl PageError {
    pub fn forbidden(nav: Option<Nav>) -> Self {
        PageError {
            status: StatusCode::FORBIDDEN,
            title: "Not allowed",
            message: "This page is for administrators. Ask an administrator of this service if you need access.",
            nav: nav.map(Box::new),
        }
    }

    pub fn bad_token(nav: Option<Nav>) -> Self {
        PageError {
            status: StatusCode::FORBIDDEN,
            title: "This form has expired",
            message: "The form did not carry a valid authenticity token, so nothing was changed. Go back, reload the page and try again.",
            nav: nav.map(Box::new),
        }
    }

    pub fn bad_request(message: &'static str, nav: Option<Nav>) -> Self {
        PageError { status: StatusCode::BAD_REQUEST, title: "That link is not valid", message, nav: nav.map(Box::new) }
    }
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        let status = e.status();
        if let ApiError::Internal(detail) = &e {
            tracing::error!(error = %detail, "page failed");
        }
        let (title, message) = match status {
            StatusCode::SERVICE_UNAVAILABLE => {
                ("Temporarily unavailable", "The service cannot reach its database right now. Try again in a moment.")
            }
            StatusCode::PAYLOAD_TOO_LARGE => ("Too large", "That form was too large."),
            StatusCode::REQUEST_TIMEOUT => ("Too slow", "That took too long. Try again."),
            StatusCode::BAD_REQUEST => ("Bad request", "That form was malformed."),
            s if s.is_server_error() => ("Something went wrong", "The page could not be shown. Try again later."),
            _ => ("Something went wrong", "The request could not be completed."),
        };
        PageError { status, title, message, nav: None }
    }
}

impl From<crate::store::StoreError> for PageError {
    fn from(e: crate::store::StoreError) -> Self {
        PageError::from(ApiError::from(e))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let signed_in = self.nav.is_some();
        let page = ErrorPage {
            nav: self.nav.map(|nav| *nav),
            title: self.title,
            message: self.message,
            back_href: if signed_in { "/sessions" } else { "/access/login" },
            back_text: if signed_in { "Back to your sessions" } else { "Go to the sign-in page" },
        };
        html(self.status, page.render())
    }
}
