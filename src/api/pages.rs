//! The web pages for people: "where am I signed in", and the administrators' view of
//! everyone's sessions, with buttons to sign sessions out.
//!
//! Every page is server-rendered (askama escapes everything it prints) and works without
//! JavaScript. Pages authenticate by the session cookie only; a visit without a live session
//! is sent to the sign-in form with `return_to`. Every form is a POST that carries the
//! session's authenticity token in a hidden field and is refused (403, nothing changed)
//! without a valid one. Pages are not API calls: they do not count towards the API rate
//! limit, but they are activity of the session like any other request.

use crate::AppState;
use crate::api::access::{clear_cookie_header, safe_return_to};
use crate::api::auth::{parse_id, session_cookie, session_for_token};
use crate::api::error::ApiError;
use crate::api::html::{Nav, PageError, html, see_other};
use crate::api::pagination::{MAX_PAGE_SIZE, decode_cursor, encode_cursor, encode_query_value, query_pairs};
use crate::api::read_body;
use crate::domain::secret::{SECRET_BYTES, masked_csrf_token, verify_csrf_token};
use crate::domain::time::{format_human_utc, format_relative, format_timestamp};
use crate::domain::{Role, Session, User, user_agent};
use crate::store::{Keyset, Position, Scope, SessionDetail, SessionFilter, Sort, SortKey};
use askama::Template;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// Sessions per page unless `page[size]` says otherwise.
const DEFAULT_PAGE_SIZE: u32 = 25;

/// Newest first: the API's `sort=-id`, so its cursors work here and ours there.
const NEWEST_FIRST: Sort = Sort { key: SortKey::Id, descending: true };

/// The signed-in person looking at a page.
pub struct Viewer {
    pub user: User,
    pub session: Session,
    csrf_secret: [u8; SECRET_BYTES],
}

impl Viewer {
    pub fn is_admin(&self) -> bool {
        self.user.role == Role::Admin
    }

    /// A fresh authenticity token for the forms of one page.
    fn token(&self) -> String {
        masked_csrf_token(&self.csrf_secret)
    }

    pub fn nav(&self, current: &'static str) -> Nav {
        Nav {
            name: self.user.name.clone(),
            email: self.user.email.clone(),
            is_admin: self.is_admin(),
            authenticity_token: self.token(),
            current,
        }
    }

    /// Whether a form's token belongs to this session.
    fn check(&self, form: &PageForm, current: &'static str) -> Result<(), PageError> {
        if verify_csrf_token(&form.authenticity_token, &self.csrf_secret) {
            Ok(())
        } else {
            tracing::info!(event = "csrf_refused", session_id = self.session.id, user_id = self.user.id);
            Err(PageError::bad_token(Some(self.nav(current))))
        }
    }
}

/// The person whose live session the request's cookie names, if any. `Err` carries the
/// redirect to the sign-in form (clearing a stale cookie), to be answered as is.
pub async fn viewer(state: &AppState, headers: &HeaderMap, return_to: &str) -> Result<Viewer, Response> {
    let cookie = session_cookie(headers, state.config.cookie_name());
    let found = match &cookie {
        Some(token) => session_for_token(state, token).await.map_err(|e| PageError::from(e).into_response())?,
        None => None,
    };
    let Some((user, session, csrf_secret)) = found else {
        return Err(to_sign_in(state, return_to, cookie.is_some()));
    };
    let csrf_secret: [u8; SECRET_BYTES] = csrf_secret
        .as_slice()
        .try_into()
        .map_err(|_| PageError::from(ApiError::Internal("bad CSRF secret length".into())).into_response())?;
    Ok(Viewer { user, session, csrf_secret })
}

/// 303 to the sign-in form, coming back to `return_to` afterwards.
fn to_sign_in(state: &AppState, return_to: &str, clear_cookie: bool) -> Response {
    let location = match safe_return_to(return_to) {
        Some(path) if path != "/" => format!("/access/login?return_to={}", encode_query_value(path)),
        _ => "/access/login".to_owned(),
    };
    let mut r = see_other(&location);
    if clear_cookie {
        r.headers_mut().insert(header::SET_COOKIE, clear_cookie_header(state));
    }
    r
}

/// The path and query a page was asked for, to come back to after signing in.
fn path_and_query(uri: &Uri) -> &str {
    uri.path_and_query().map_or("/", |pq| pq.as_str())
}

/// One session as the pages show it.
struct Row {
    id: i64,
    device: String,
    user_agent: String,
    ip: String,
    signed_in_iso: String,
    signed_in_human: String,
    last_seen_iso: String,
    last_seen_human: String,
    last_seen_relative: String,
    current: bool,
    user_id: i64,
    user_name: String,
    user_email: String,
    user_role: &'static str,
}

impl Row {
    fn new(d: &SessionDetail, now: i64, current: i64) -> Self {
        let ua = d.user_agent.as_deref().unwrap_or("");
        let s = &d.session;
        Row {
            id: s.id,
            device: user_agent::parse(ua).label(),
            user_agent: ua.to_owned(),
            ip: d.ip.clone().filter(|ip| !ip.is_empty()).unwrap_or_else(|| "unknown".to_owned()),
            signed_in_iso: format_timestamp(s.authenticated_at),
            signed_in_human: format_human_utc(s.authenticated_at),
            last_seen_iso: format_timestamp(s.last_seen_at),
            last_seen_human: format_human_utc(s.last_seen_at),
            last_seen_relative: format_relative(now, s.last_seen_at),
            current: s.id == current,
            user_id: d.user.id,
            user_name: d.user.name.clone(),
            user_email: d.user.email.clone(),
            user_role: d.user.role.as_str(),
        }
    }
}

/// The query of a list page: paging as in the API (`page[size]`, `page[after]`,
/// `page[before]`, cursors of `sort=-id`), an email filter, and the notice of the form
/// that brought the person here.
#[derive(Default)]
struct ListQuery {
    size: Option<u32>,
    after: Option<Position>,
    before: Option<Position>,
    email: String,
    notice: Option<String>,
}

impl ListQuery {
    fn parse(query: Option<&str>) -> Result<Self, &'static str> {
        let mut q = ListQuery::default();
        let (mut notice, mut count) = (None, None);
        for (k, v) in query_pairs(query.unwrap_or("")) {
            match k.as_str() {
                "page[size]" => {
                    let n = v.trim().parse::<i64>().ok().filter(|n| *n >= 1).ok_or("page[size] is not valid")?;
                    q.size = u32::try_from(n.min(MAX_PAGE_SIZE)).ok();
                }
                "page[after]" => {
                    q.after =
                        Some(decode_cursor(&v, NEWEST_FIRST, "page[after]").map_err(|_| "page[after] is not valid")?)
                }
                "page[before]" => {
                    q.before =
                        Some(decode_cursor(&v, NEWEST_FIRST, "page[before]").map_err(|_| "page[before] is not valid")?)
                }
                "email" => q.email = v.trim().chars().take(254).collect(),
                "notice" => notice = Some(v),
                "n" => count = v.parse::<u64>().ok(),
                _ => {}
            }
        }
        if q.after.is_some() && q.before.is_some() {
            return Err("page[before] and page[after] cannot be used together");
        }
        q.notice = notice.and_then(|code| notice_text(&code, count));
        Ok(q)
    }

    fn size(&self) -> u32 {
        self.size.unwrap_or(DEFAULT_PAGE_SIZE)
    }

    /// A link to another page of the same list (same filter and size).
    fn href(&self, path: &str, cursor: Option<(&str, &str)>) -> String {
        let mut params = Vec::new();
        if !self.email.is_empty() {
            params.push(format!("email={}", encode_query_value(&self.email)));
        }
        if let Some(size) = self.size {
            params.push(format!("page%5Bsize%5D={size}"));
        }
        if let Some((which, cursor)) = cursor {
            // Cursors are base64url already: safe in a query as they are, like the API's links.
            params.push(format!("page%5B{which}%5D={cursor}"));
        }
        if params.is_empty() { path.to_owned() } else { format!("{path}?{}", params.join("&")) }
    }

    /// This very page, to come back to after a form.
    fn self_href(&self, path: &str) -> String {
        let cursor = match (self.after, self.before) {
            (Some(p), _) => Some(("after", encode_cursor(NEWEST_FIRST, p))),
            (None, Some(p)) => Some(("before", encode_cursor(NEWEST_FIRST, p))),
            _ => None,
        };
        self.href(path, cursor.as_ref().map(|(w, c)| (*w, c.as_str())))
    }
}

/// The fixed messages a form's redirect may ask for; nothing from the query is echoed.
fn notice_text(code: &str, count: Option<u64>) -> Option<String> {
    let sessions = |n: u64| if n == 1 { "1 session".to_owned() } else { format!("{n} sessions") };
    Some(match code {
        "signed_out" => "That session is signed out.".to_owned(),
        "already_ended" => "That session had already ended.".to_owned(),
        "signed_out_others" => match count {
            Some(n) => format!("Signed out {} on other devices.", sessions(n)),
            None => "Signed out your other sessions.".to_owned(),
        },
        "signed_out_user" => match count {
            Some(n) => format!("Signed out {} of that person.", sessions(n)),
            None => "Signed out that person's sessions.".to_owned(),
        },
        _ => return None,
    })
}

/// One page of a list, newest first, with the cursors of its neighbours.
struct ListPage {
    rows: Vec<SessionDetail>,
    newer: Option<Position>,
    older: Option<Position>,
}

async fn list_page(state: &AppState, filter: &SessionFilter, q: &ListQuery) -> Result<ListPage, ApiError> {
    let cutoffs = state.expiry(state.store.security_settings().await?).cutoffs();
    let size = q.size();
    let page = Keyset { sort: NEWEST_FIRST, after: q.after, before: q.before, limit: size + 1 };
    let mut rows = state.store.list_session_details(filter, cutoffs, page).await?;
    let backwards = q.before.is_some();
    // One extra row tells whether more exist in the direction of the request.
    let more = rows.len() > size as usize;
    if more {
        if backwards {
            rows.remove(0);
        } else {
            rows.truncate(size as usize);
        }
    }
    let pos = |d: &SessionDetail| Position { key: d.session.id, id: d.session.id };
    let (Some(first), Some(last)) = (rows.first().map(pos), rows.last().map(pos)) else {
        return Ok(ListPage { rows, newer: None, older: None });
    };
    let probe = |after, before| Keyset { sort: NEWEST_FIRST, after, before, limit: 1 };
    let (any_older, any_newer) = if backwards {
        (!state.store.list_session_details(filter, cutoffs, probe(Some(last), None)).await?.is_empty(), more)
    } else {
        let newer = match q.after {
            None => false,
            Some(_) => !state.store.list_session_details(filter, cutoffs, probe(None, Some(first))).await?.is_empty(),
        };
        (more, newer)
    };
    Ok(ListPage { rows, newer: any_newer.then_some(first), older: any_older.then_some(last) })
}

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage {
    nav: Option<Nav>,
    rows: Vec<Row>,
    total: i64,
    others: i64,
    notice: Option<String>,
    authenticity_token: String,
    newer_href: Option<String>,
    older_href: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_sessions.html")]
struct AdminSessionsPage {
    nav: Option<Nav>,
    rows: Vec<Row>,
    email: String,
    notice: Option<String>,
    authenticity_token: String,
    return_to: String,
    newer_href: Option<String>,
    older_href: Option<String>,
}

/// GET /sessions — every live session of mine, newest first.
pub async fn my_sessions(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let viewer = match viewer(&state, &headers, path_and_query(&uri)).await {
        Ok(v) => v,
        Err(redirect) => return redirect,
    };
    render_my_sessions(&state, &viewer, uri.query()).await.unwrap_or_else(IntoResponse::into_response)
}

async fn render_my_sessions(state: &AppState, viewer: &Viewer, query: Option<&str>) -> Result<Response, PageError> {
    let q = ListQuery::parse(query).map_err(|m| PageError::bad_request(m, Some(viewer.nav("sessions"))))?;
    let page = list_page(state, &SessionFilter::User(viewer.user.id), &q).await?;
    let cutoffs = state.expiry(state.store.security_settings().await?).cutoffs();
    let total = state.store.count_sessions(Scope::User(viewer.user.id), cutoffs).await.map_err(ApiError::from)?;
    let now = state.clock.now();
    let cursor_href =
        |which, p: Option<Position>| p.map(|p| q.href("/sessions", Some((which, &encode_cursor(NEWEST_FIRST, p)))));
    let body = SessionsPage {
        nav: Some(viewer.nav("sessions")),
        rows: page.rows.iter().map(|d| Row::new(d, now, viewer.session.id)).collect(),
        total,
        others: total.saturating_sub(1),
        notice: q.notice.clone(),
        authenticity_token: viewer.token(),
        newer_href: cursor_href("before", page.newer),
        older_href: cursor_href("after", page.older),
    };
    Ok(html(StatusCode::OK, body.render()))
}

/// GET /admin/sessions — administrators: everyone's sessions, newest first, by email.
pub async fn admin_sessions(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let viewer = match viewer(&state, &headers, path_and_query(&uri)).await {
        Ok(v) => v,
        Err(redirect) => return redirect,
    };
    render_admin_sessions(&state, &viewer, uri.query()).await.unwrap_or_else(IntoResponse::into_response)
}

async fn render_admin_sessions(state: &AppState, viewer: &Viewer, query: Option<&str>) -> Result<Response, PageError> {
    if !viewer.is_admin() {
        return Err(PageError::forbidden(Some(viewer.nav(""))));
    }
    let q = ListQuery::parse(query).map_err(|m| PageError::bad_request(m, Some(viewer.nav("admin"))))?;
    let filter = if q.email.is_empty() { SessionFilter::All } else { SessionFilter::EmailContains(q.email.clone()) };
    let page = list_page(state, &filter, &q).await?;
    let now = state.clock.now();
    let cursor_href = |which, p: Option<Position>| {
        p.map(|p| q.href("/admin/sessions", Some((which, &encode_cursor(NEWEST_FIRST, p)))))
    };
    let body = AdminSessionsPage {
        nav: Some(viewer.nav("admin")),
        rows: page.rows.iter().map(|d| Row::new(d, now, viewer.session.id)).collect(),
        email: q.email.clone(),
        notice: q.notice.clone(),
        authenticity_token: viewer.token(),
        return_to: q.self_href("/admin/sessions"),
        newer_href: cursor_href("before", page.newer),
        older_href: cursor_href("after", page.older),
    };
    Ok(html(StatusCode::OK, body.render()))
}

/// The fields of every page form.
#[derive(Deserialize, Default)]
struct PageForm {
    #[serde(default)]
    authenticity_token: String,
    #[serde(default)]
    return_to: String,
}

async fn read_form(body: Body) -> Result<PageForm, PageError> {
    let bytes = read_body(body).await?;
    serde_urlencoded::from_bytes(&bytes).map_err(|_| PageError::from(ApiError::InvalidJson(String::new())))
}

/// Where an admin form goes back to: its own list page (with filter and cursor), if the
/// form says so and it is one; else the first page.
fn admin_return(form: &PageForm) -> String {
    safe_return_to(&form.return_to)
        .filter(|p| *p == "/admin/sessions" || p.starts_with("/admin/sessions?"))
        .unwrap_or("/admin/sessions")
        .to_owned()
}

fn with_notice(path: &str, notice: &str, count: Option<u64>) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    match count {
        Some(n) => format!("{path}{sep}notice={notice}&n={n}"),
        None => format!("{path}{sep}notice={notice}"),
    }
}

/// The viewer's own session just went: the browser is signed out.
fn signed_out_here(state: &AppState) -> Response {
    let mut r = see_other("/access/login");
    r.headers_mut().insert(header::SET_COOKIE, clear_cookie_header(state));
    r
}

/// A path id that does not parse names no session: the same answer as an ended one.
fn path_id(segment: Result<Path<String>, PathRejection>) -> Option<i64> {
    segment.ok().and_then(|Path(s)| parse_id(&s))
}

/// POST /sessions/{id}/sign_out — sign out one of my sessions.
pub async fn sign_out_mine(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Response {
    let viewer = match viewer(&state, &headers, "/sessions").await {
        Ok(v) => v,
        Err(redirect) => return redirect,
    };
    sign_out_mine_as(&state, &viewer, path_id(id), body).await.unwrap_or_else(IntoResponse::into_response)
}

async fn sign_out_mine_as(
    state: &AppState,
    viewer: &Viewer,
    id: Option<i64>,
    body: Body,
) -> Result<Response, PageError> {
    let form = read_form(body).await?;
    viewer.check(&form, "sessions")?;
    let Some(id) = id else {
        return Ok(see_other(&with_notice("/sessions", "already_ended", None)));
    };
    // Only my own sessions: someone else's id deletes nothing and reads as already ended.
    let n = state.store.delete_sessions(&[id], Some(viewer.user.id)).await.map_err(ApiError::from)?;
    if n > 0 {
        tracing::info!(event = "session_revoked", reason = "page", session_id = id, user_id = viewer.user.id);
    }
    if id == viewer.session.id {
        return Ok(signed_out_here(state));
    }
    Ok(see_other(&with_notice("/sessions", if n > 0 { "signed_out" } else { "already_ended" }, None)))
}

/// POST /sessions/sign_out_others — sign out every session of mine but this one.
pub async fn sign_out_others(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let viewer = match viewer(&state, &headers, "/sessions").await {
        Ok(v) => v,
        Err(redirect) => return redirect,
    };
    let result: Result<Response, PageError> = async {
        let form = read_form(body).await?;
        viewer.check(&form, "sessions")?;
        let n = state.store.delete_other_sessions(viewer.user.id, viewer.session.id).await.map_err(ApiError::from)?;
        tracing::info!(event = "session_revoked", reason = "page_others", count = n, user_id = viewer.user.id);
        Ok(see_other(&with_notice("/sessions", "signed_out_others", Some(n))))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// POST /admin/sessions/{id}/sign_out — an administrator signs out any one session.
pub async fn admin_sign_out_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Response {
    let viewer = match viewer(&state, &headers, "/admin/sessions").await {
        Ok(v) => v,
        Err(redirect) => return redirect,
    };
    let id = path_id(id);
    let result: Result<Response, PageError> = async {
        if !viewer.is_admin() {
            return Err(PageError::forbidden(Some(viewer.nav(""))));
        }
        let form = read_form(body).await?;
        viewer.check(&form, "admin")?;
        let back = admin_return(&form);
        let Some(id) = id else {
            return Ok(see_other(&with_notice(&back, "already_ended", None)));
        };
        let n = state.store.delete_sessions(&[id], None).await.map_err(ApiError::from)?;
        if n > 0 {
            tracing::info!(event = "session_revoked", reason = "admin_page", session_id = id, by = viewer.user.id);
        }
        if id == viewer.session.id {
            return Ok(signed_out_here(&state));
        }
        Ok(see_other(&with_notice(&back, if n > 0 { "signed_out" } else { "already_ended" }, None)))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// POST /admin/users/{id}/sign_out — an administrator signs a person out everywhere.
pub async fn admin_sign_out_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Response {
    let viewer = match viewer(&state, &headers, "/admin/sessions").await {
        Ok(v) => v,
        Err(redirect) => return redirect,
    };
    let id = path_id(id);
    let result: Result<Response, PageError> = async {
        if !viewer.is_admin() {
            return Err(PageError::forbidden(Some(viewer.nav(""))));
        }
        let form = read_form(body).await?;
        viewer.check(&form, "admin")?;
        let back = admin_return(&form);
        let Some(user_id) = id else {
            return Ok(see_other(&with_notice(&back, "signed_out_user", Some(0))));
        };
        let n = state.store.delete_sessions_of_users(&[user_id]).await.map_err(ApiError::from)?;
        tracing::info!(event = "session_revoked", reason = "admin_page_user", count = n, user_id, by = viewer.user.id);
        if user_id == viewer.user.id {
            return Ok(signed_out_here(&state));
        }
        Ok(see_other(&with_notice(&back, "signed_out_user", Some(n))))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_queries_parse_like_the_api_and_refuse_garbage() {
        let c = encode_cursor(NEWEST_FIRST, Position { key: 7, id: 7 });
        let q =
            ListQuery::parse(Some(&format!("page%5Bsize%5D=500&page%5Bafter%5D={c}&email=+Ada@X.io+&x=1"))).unwrap();
        assert_eq!(q.size, Some(100));
        assert_eq!(q.after, Some(Position { key: 7, id: 7 }));
        assert_eq!(q.email, "Ada@X.io");
        assert_eq!(q.href("/admin/sessions", None), "/admin/sessions?email=Ada%40X.io&page%5Bsize%5D=100");
        assert_eq!(
            q.self_href("/admin/sessions"),
            format!("/admin/sessions?email=Ada%40X.io&page%5Bsize%5D=100&page%5Bafter%5D={c}")
        );
        // A cursor of another sort (the API's default `id`) is not one of ours.
        let other = encode_cursor(Sort::default(), Position { key: 7, id: 7 });
        assert!(ListQuery::parse(Some(&format!("page[after]={other}"))).is_err());
        for bad in ["page[size]=0", "page[size]=x", "page[after]=zzz", &format!("page[after]={c}&page[before]={c}")] {
            assert!(ListQuery::parse(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn notices_are_fixed_texts_never_echoes() {
        assert_eq!(
            ListQuery::parse(Some("notice=signed_out_others&n=2")).unwrap().notice.as_deref(),
            Some("Signed out 2 sessions on other devices.")
        );
        assert_eq!(
            ListQuery::parse(Some("notice=signed_out_user&n=1")).unwrap().notice.as_deref(),
            Some("Signed out 1 session of that person.")
        );
        assert_eq!(ListQuery::parse(Some("notice=%3Cscript%3E")).unwrap().notice, None);
    }

    #[test]
    fn admin_forms_return_only_to_the_admin_list() {
        let form = |r: &str| PageForm { authenticity_token: String::new(), return_to: r.to_owned() };
        assert_eq!(admin_return(&form("/admin/sessions?email=a")), "/admin/sessions?email=a");
        for other in ["/sessions", "https://evil.example/admin/sessions", "//evil.example", "/admin/sessionsX", ""] {
            assert_eq!(admin_return(&form(other)), "/admin/sessions", "{other}");
        }
        assert_eq!(
            with_notice("/admin/sessions?email=a", "signed_out", None),
            "/admin/sessions?email=a&notice=signed_out"
        );
        assert_eq!(with_notice("/sessions", "signed_out_others", Some(3)), "/sessions?notice=signed_out_others&n=3");
    }
}
