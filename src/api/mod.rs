//! The HTTP edge: routing, the request pipeline, and the helpers every handler shares.

pub mod access;
pub mod activity;
pub mod auth;
pub mod error;
pub mod html;
pub mod limits;
pub mod openapi;
pub mod ops;
pub mod pages;
pub mod pagination;
pub mod sessions;
pub mod settings;
pub mod tokens;
pub mod users;
pub mod wire;

use crate::AppState;
use crate::config::Config;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use error::ApiError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::net::IpAddr;
use tower::ServiceExt as _;
use tower::util::MapRequest;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// Largest request body we read (SPEC §8).
pub const BODY_LIMIT: usize = 64 * 1024;

/// The path as the client sent it, before `.json` was stripped: links keep it [C-34].
/// (Recorded only when a suffix was stripped; otherwise it is the request's own path.)
#[derive(Debug, Clone)]
pub struct OriginalPath(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for OriginalPath {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<OriginalPath>().cloned().unwrap_or_else(|| OriginalPath(parts.uri.path().to_owned())))
    }
}

/// The whole application as one service: `.json` stripping in front of the router.
pub type App = MapRequest<Router, fn(Request) -> Request>;

pub fn app(state: AppState) -> App {
    // Every route comes from its handler's `#[utoipa::path]`, so the OpenAPI document lists
    // exactly the routes there are.
    let (router, doc) = OpenApiRouter::<AppState>::new()
        .routes(routes!(sessions::list_all))
        .routes(routes!(sessions::destroy_many))
        .routes(routes!(sessions::logout_many))
        .routes(routes!(sessions::show_current))
        .routes(routes!(sessions::renew))
        .routes(routes!(sessions::logout_me))
        .routes(routes!(users::create))
        .routes(routes!(users::show, users::update, users::delete))
        .routes(routes!(users::change_password))
        .routes(routes!(tokens::list_api_tokens, tokens::create_api_token))
        .routes(routes!(tokens::delete_api_token))
        .routes(routes!(tokens::create_oauth_token))
        .routes(routes!(tokens::delete_oauth_token))
        .routes(routes!(settings::show, settings::update))
        .routes(routes!(sessions::list_for_user, sessions::delete_all_for_user))
        .routes(routes!(sessions::show, sessions::delete_one))
        .routes(routes!(access::login_page, access::login))
        .routes(routes!(access::logout))
        .routes(routes!(access::home))
        .routes(routes!(openapi::serve_document))
        .split_for_parts();
    let document =
        openapi::Document(std::sync::Arc::new(openapi::document_bytes(&openapi::finish(doc, &state.config))));
    // Made from this state's config, so any earlier one made for the same state is the same.
    let _ = state.openapi.set(document);
    let api = router
        // The HTML pages are not part of the API document.
        .route("/sessions", get(pages::my_sessions))
        .route("/sessions/sign_out_others", post(pages::sign_out_others))
        .route("/sessions/{id}/sign_out", post(pages::sign_out_mine))
        .route("/admin/sessions", get(pages::admin_sessions))
        .route("/admin/sessions/{id}/sign_out", post(pages::admin_sign_out_session))
        .route("/admin/users/{id}/sign_out", post(pages::admin_sign_out_user))
        .route("/assets/style.css", get(html::stylesheet))
        // Probes and metrics, for operators (no credentials; counts and timings only).
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .merge(openapi::docs_router())
        .fallback(|| async { ApiError::InvalidEndpoint })
        .method_not_allowed_fallback(|| async { ApiError::InvalidEndpoint })
        .with_state(state.clone())
        // One middleware for everything (each layer costs every request a boxed future and
        // a clone of the route): see `edge`.
        .layer(axum::middleware::from_fn_with_state(state, edge));
    api.map_request(strip_json_suffix as fn(Request) -> Request)
}

/// What every request passes through, in one middleware (each layer costs a boxed future):
/// the credential headers are marked sensitive, so nothing that prints headers shows them;
/// a declared body over the limit is refused before a byte of it is read, and a chunked one
/// as soon as it passes the limit (413), whether or not the route reads bodies; the request
/// must finish within the timeout (408); authenticated answers get the rate-limit headers;
/// and every answer is counted and timed for /metrics under its route pattern (never the raw
/// path: ids would make the series unbounded).
///
/// With `SESSIOND_LOG=debug`, each request also gets a span and one line when answered:
/// method and path only — no query string, no headers (credentials are never logged). At
/// the default level there is neither: at tens of thousands of requests a second a line per
/// request would cost more than the request; /metrics counts them instead.
async fn edge(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let started = std::time::Instant::now();
    let route = req.extensions().get::<axum::extract::MatchedPath>().cloned();
    let response = if tracing::enabled!(tracing::Level::DEBUG) {
        use tracing::Instrument as _;
        let span = tracing::debug_span!("request", method = %req.method(), path = %req.uri().path());
        let response = edge_inner(&state, req, next).instrument(span.clone()).await;
        span.in_scope(|| {
            let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            tracing::debug!(status = response.status().as_u16(), micros, "answered");
        });
        response
    } else {
        edge_inner(&state, req, next).await
    };
    let route = route.as_ref().map_or("unmatched", axum::extract::MatchedPath::as_str);
    state.http_metrics.record(route, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

async fn edge_inner(state: &AppState, mut req: Request, next: axum::middleware::Next) -> Response {
    for name in [header::AUTHORIZATION, header::COOKIE] {
        if let header::Entry::Occupied(mut values) = req.headers_mut().entry(name) {
            values.iter_mut().for_each(|v| v.set_sensitive(true));
        }
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT as u64) {
        return ApiError::PayloadTooLarge.into_response();
    }
    let undeclared_body = declared.is_none() && req.headers().contains_key(header::TRANSFER_ENCODING);
    let timeout = std::time::Duration::from_millis(state.config.request_timeout_ms.max(1));
    limits::with_rate_headers(async move {
        let handled = async move {
            // A body of undeclared length (chunked) is read here, up to the limit, so that
            // every route refuses an oversized one — also the routes that never read theirs.
            let req = if undeclared_body {
                let (parts, body) = req.into_parts();
                match read_body(body).await {
                    Ok(bytes) => Request::from_parts(parts, Body::from(bytes)),
                    Err(e) => return e.into_response(),
                }
            } else {
                req
            };
            next.run(req).await
        };
        tokio::time::timeout(timeout, handled).await.unwrap_or_else(|_| ApiError::RequestTimeout.into_response())
    })
    .await
}

/// Every `/api/v2/…` path also answers with a `.json` suffix, identically [C-4] [E-21].
/// Routing cannot express `/{id}.json`, so the suffix is removed before routing; the
/// original path is kept in an [`OriginalPath`] extension for links.
fn strip_json_suffix(mut req: Request) -> Request {
    if !req.uri().path().ends_with(".json") {
        return req;
    }
    let path = req.uri().path().to_owned();
    req.extensions_mut().insert(OriginalPath(path.clone()));
    if let Some(stripped) = path.strip_suffix(".json")
        && path.starts_with("/api/v2/")
        && stripped.len() > "/api/v2".len()
    {
        let pq = match req.uri().query() {
            Some(q) => format!("{stripped}?{q}"),
            None => stripped.to_owned(),
        };
        let mut parts = req.uri().clone().into_parts();
        if let Ok(pq) = pq.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = axum::http::Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    req
}

/// Path segments as extracted, or why not. Handlers take this instead of a bare `Path` so
/// that a segment that cannot even be decoded (e.g. `%FF`, not UTF-8) is judged after
/// authentication and authorization, like any other non-numeric id [E-12].
pub type Segments<T> = Result<axum::extract::Path<T>, axum::extract::rejection::PathRejection>;

/// Undecodable segments name nothing: 404 `RecordNotFound` [C-28].
pub fn path_segments<T>(extracted: Segments<T>) -> Result<axum::extract::Path<T>, ApiError> {
    extracted.map_err(|_| ApiError::RecordNotFound)
}

/// The address of the client that sent a request. `X-Forwarded-For` is believed only when
/// the connection comes from a configured trusted proxy; then the header is read from the
/// right (the hop our proxy added) leftwards, skipping further trusted proxies, and the
/// first address that is not one of them is the client. Anything unreadable stops the walk
/// at the last address we could vouch for, so a client can never choose its own address.
pub fn client_ip(trusted: &[IpAddr], peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|t| t.to_canonical() == *ip);
    if !is_trusted(&peer) {
        return peer;
    }
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(value) = value.to_str() else {
            return peer;
        };
        hops.extend(value.split(',').map(str::trim));
    }
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_forwarded_hop(hop) else {
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`1.2.3.4:80`, `[::1]:80`).
fn parse_forwarded_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

/// The base URL of an answer's links ([`base_url`]) as an extractor. It reads the request's
/// headers in place: a handler taking `HeaderMap` by value copies every header of every request.
pub struct BaseUrl(pub String);

impl axum::extract::FromRequestParts<AppState> for BaseUrl {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(BaseUrl(base_url(&state.config, &parts.headers)))
    }
}

/// The base URL for `url` fields and links: the configured public URL, else the scheme,
/// host and port this request used [C-3]. A `Host` that is not one plain host name or IP
/// address with an optional numeric port (or that comes twice) is not echoed into links:
/// they then name the listening address.
pub fn base_url(config: &Config, headers: &HeaderMap) -> String {
    if let Some(url) = &config.public_url {
        return url.clone();
    }
    let mut hosts = headers.get_all(header::HOST).iter();
    let host = match (hosts.next(), hosts.next()) {
        (Some(only), None) => only.to_str().ok().filter(|h| plausible_host(h)),
        _ => None,
    };
    match host {
        Some(h) => format!("http://{h}"),
        None => format!("http://{}", config.listen),
    }
}

/// `name[:port]`, `a.b.c.d[:port]` or `[v6][:port]`: a DNS name (letters, digits, hyphens,
/// dot-separated labels of 1 to 63 characters, 253 in all), an IP address, and a port of
/// 1 to 5 digits that fits in 16 bits.
fn plausible_host(h: &str) -> bool {
    let (name, port) = if let Some(rest) = h.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else { return false };
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        match after {
            "" => return true,
            _ => match after.strip_prefix(':') {
                Some(port) => (None, Some(port)),
                None => return false,
            },
        }
    } else {
        match h.split_once(':') {
            Some((name, port)) => (Some(name), Some(port)),
            None => (Some(h), None),
        }
    };
    let port_ok = port.is_none_or(|p| {
        (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok()
    });
    let name_ok = name.is_none_or(|n| {
        (1..=253).contains(&n.len())
            && n.split('.').all(|label| {
                (1..=63).contains(&label.len()) && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    });
    port_ok && name_ok
}

pub(crate) fn json_bytes<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec())
}

/// A JSON response with our content type.
pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    let mut r = (status, json_bytes(value)).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE));
    r
}

/// 204 with no body [C-7].
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Reads a request body, refusing more than [`BODY_LIMIT`] bytes with 413.
pub async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|e| {
        let too_large = std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit");
        if too_large {
            ApiError::PayloadTooLarge
        } else {
            ApiError::InvalidJson("could not read the request body".into())
        }
    })
}

/// Reads a JSON request body into `T`, after the handler has authorized the caller, so a
/// non-admin learns nothing about bodies and always gets the role-403 [E-3] [E-12].
/// The top level, and the `envelope` object inside it when named, must be JSON objects:
/// serde would otherwise accept an array for a struct (`["x"]` as a password body) [E-4].
pub async fn object_body<T: DeserializeOwned>(body: Body, envelope: Option<&str>) -> Result<T, ApiError> {
    parse_object(&read_body(body).await?, envelope)
}

/// [`object_body`] for a body already read.
pub fn parse_object<T: DeserializeOwned>(bytes: &[u8], envelope: Option<&str>) -> Result<T, ApiError> {
    let value: serde_json::Value = parse_json(bytes)?;
    let Some(object) = value.as_object() else {
        return Err(ApiError::InvalidJson("the request body must be a JSON object".into()));
    };
    if let Some(key) = envelope
        && object.get(key).is_some_and(|inner| !inner.is_object() && !inner.is_null())
    {
        return Err(ApiError::InvalidJson(format!("`{key}` must be a JSON object")));
    }
    T::deserialize(value).map_err(|e| ApiError::InvalidJson(e.to_string()))
}

/// Parses a JSON body into `T`, answering 400 `InvalidJSON` with what is wrong [E-4].
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidJson("the request body is empty; expected a JSON object".into()));
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::InvalidJson(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_hosts_are_echoed_into_links() {
        for good in ["h", "example.com", "h:80", "sub.example-1.com:65535", "127.0.0.1:8080", "[::1]", "[::1]:80"] {
            assert!(plausible_host(good), "{good}");
        }
        let long_label = "a".repeat(64);
        let long_name = ["abc"; 70].join(".");
        for bad in [
            "",
            "h:",
            "h:abc",
            "h:-1",
            "h:99999",
            "h:123456",
            ":80",
            "[zz]",
            "[v1.x]",
            "[::1]:",
            "[::1]x",
            "..",
            ".h",
            "h.",
            "h,evil.com",
            "h!$&()*+=",
            "a@b",
            "a b",
            "evil.com/x",
            "h:1:2",
            "é.com",
            &long_label,
            &long_name,
        ] {
            assert!(!plausible_host(bad), "{bad:?}");
        }
    }

    #[test]
    fn two_host_headers_name_the_listening_address() {
        let config = Config::default();
        let mut h = HeaderMap::new();
        h.append(header::HOST, HeaderValue::from_static("h:80"));
        assert_eq!(base_url(&config, &h), "http://h:80");
        h.append(header::HOST, HeaderValue::from_static("evil:81"));
        assert_eq!(base_url(&config, &h), format!("http://{}", config.listen));
        h.remove(header::HOST);
        h.insert(header::HOST, HeaderValue::from_static("h:abc"));
        assert_eq!(base_url(&config, &h), format!("http://{}", config.listen));
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let h = xff(&["203.0.113.9"]);
        assert_eq!(client_ip(&[], ip("198.51.100.1"), &h), ip("198.51.100.1"));
        assert_eq!(client_ip(&[ip("10.0.0.1")], ip("198.51.100.1"), &h), ip("198.51.100.1"));
    }

    #[test]
    fn forwarded_for_is_read_from_the_right_past_trusted_hops() {
        let proxies = [ip("10.0.0.1"), ip("10.0.0.2")];
        // The client may prepend anything; only what our proxies appended counts.
        let h = xff(&["1.1.1.1, 203.0.113.9, 10.0.0.2"]);
        assert_eq!(client_ip(&proxies, ip("10.0.0.1"), &h), ip("203.0.113.9"));
        // Several header lines are one list, in order.
        let h = xff(&["1.1.1.1", "203.0.113.9:4711"]);
        assert_eq!(client_ip(&proxies, ip("10.0.0.1"), &h), ip("203.0.113.9"));
        let h = xff(&["[2001:db8::7]:443"]);
        assert_eq!(client_ip(&proxies, ip("10.0.0.1"), &h), ip("2001:db8::7"));
        // No header: the proxy itself.
        assert_eq!(client_ip(&proxies, ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
        // Only trusted hops: the leftmost of them.
        let h = xff(&["10.0.0.2"]);
        assert_eq!(client_ip(&proxies, ip("10.0.0.1"), &h), ip("10.0.0.2"));
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_vouched_address() {
        let proxies = [ip("10.0.0.1"), ip("10.0.0.2")];
        let h = xff(&["203.0.113.9, <script>, 10.0.0.2"]);
        assert_eq!(client_ip(&proxies, ip("10.0.0.1"), &h), ip("10.0.0.2"));
        let h = xff(&["unknown"]);
        assert_eq!(client_ip(&proxies, ip("10.0.0.1"), &h), ip("10.0.0.1"));
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_bytes(b"1.2.3.4\xff").unwrap());
        assert_eq!(client_ip(&proxies, ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_proxies() {
        let h = xff(&["203.0.113.9"]);
        assert_eq!(client_ip(&[ip("10.0.0.1")], ip("::ffff:10.0.0.1"), &h), ip("203.0.113.9"));
    }
}
