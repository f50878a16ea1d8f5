//! Reading the server from outside: `GET /healthz` (the process answers), `GET /readyz`
//! (the database answers too) and `GET /metrics` (Prometheus text). These three need no
//! credentials, like a load balancer's probe or a Prometheus scrape; they reveal counts and
//! timings, never who.

use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 14] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];
/// Status codes counted one by one: 100..=599.
const STATUS_MIN: u16 = 100;
const STATUS_SLOTS: usize = 500;

struct RouteMetrics {
    by_status: Vec<AtomicU64>,
    /// Per bucket (not cumulative; summed when rendered), then +Inf.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl RouteMetrics {
    fn new() -> Self {
        Self {
            by_status: (0..STATUS_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_micros: AtomicU64::new(0),
        }
    }

    fn record(&self, status: u16, seconds: f64) {
        let slot = usize::from(status.saturating_sub(STATUS_MIN)).min(STATUS_SLOTS - 1);
        if let Some(c) = self.by_status.get(slot) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let bucket = BUCKETS.iter().position(|&le| seconds <= le).unwrap_or(BUCKETS.len());
        if let Some(b) = self.buckets.get(bucket) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_micros.fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }
}

/// Request counts and latencies by route and status, kept lock-free on the hot path.
#[derive(Default)]
pub struct HttpMetrics {
    routes: RwLock<HashMap<String, Arc<RouteMetrics>>>,
    /// Live sessions, as last counted by the sweeper (-1: not counted yet).
    pub live_sessions: AtomicI64,
}

impl HttpMetrics {
    pub fn new() -> Self {
        Self { routes: RwLock::default(), live_sessions: AtomicI64::new(-1) }
    }

    fn route(&self, name: &str) -> Arc<RouteMetrics> {
        if let Some(m) = self.routes.read().unwrap_or_else(|p| p.into_inner()).get(name) {
            return m.clone();
        }
        let mut routes = self.routes.write().unwrap_or_else(|p| p.into_inner());
        routes.entry(name.to_owned()).or_insert_with(|| Arc::new(RouteMetrics::new())).clone()
    }

    pub fn record(&self, route: &str, status: u16, seconds: f64) {
        self.route(route).record(status, seconds);
    }
}

pub async fn healthz() -> Response {
    plain(StatusCode::OK, "ok\n")
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => plain(StatusCode::OK, "ready\n"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: the database does not answer");
            plain(StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
        }
    }
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut response = plain(StatusCode::OK, render(&state));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

fn plain(status: StatusCode, body: impl Into<String>) -> Response {
    let mut r = (status, body.into()).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The Prometheus text exposition of everything we count.
pub fn render(state: &AppState) -> String {
    let mut out = String::with_capacity(8192);
    let routes: Vec<(String, Arc<RouteMetrics>)> = {
        let map = state.http_metrics.routes.read().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<_> = map.iter().map(|(k, m)| (k.clone(), m.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    out.push_str("# HELP sessiond_http_requests_total HTTP requests answered, by route pattern and status.\n");
    out.push_str("# TYPE sessiond_http_requests_total counter\n");
    for (route, m) in &routes {
        for (slot, c) in m.by_status.iter().enumerate() {
            let n = c.load(Ordering::Relaxed);
            if n > 0 {
                let status = usize::from(STATUS_MIN) + slot;
                let _ = writeln!(
                    out,
                    "sessiond_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                    escape(route)
                );
            }
        }
    }
    out.push_str("# HELP sessiond_http_request_duration_seconds Time to answer, by route pattern.\n");
    out.push_str("# TYPE sessiond_http_request_duration_seconds histogram\n");
    for (route, m) in &routes {
        let route = escape(route);
        let mut cumulative = 0u64;
        for (i, b) in m.buckets.iter().enumerate() {
            cumulative += b.load(Ordering::Relaxed);
            let le = BUCKETS.get(i).map_or_else(|| "+Inf".to_owned(), |v| v.to_string());
            let _ = writeln!(
                out,
                "sessiond_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {cumulative}"
            );
        }
        let sum = m.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "sessiond_http_request_duration_seconds_sum{{route=\"{route}\"}} {sum}");
        let _ = writeln!(out, "sessiond_http_request_duration_seconds_count{{route=\"{route}\"}} {cumulative}");
    }
    let store = state.store.metrics();
    let reads = store.reads.load(Ordering::Relaxed);
    let writes = store.writes.load(Ordering::Relaxed);
    let last_seen = store.last_seen_writes.load(Ordering::Relaxed);
    let batches = store.activity_batches.load(Ordering::Relaxed);
    out.push_str("# HELP sessiond_store_queries_total Database reads, by kind.\n");
    out.push_str("# TYPE sessiond_store_queries_total counter\n");
    let _ = writeln!(out, "sessiond_store_queries_total{{kind=\"read\"}} {reads}");
    out.push_str("# HELP sessiond_store_writes_total Database writes, by kind: last_seen (sessions whose activity was recorded), activity_batch (transactions recording it), other.\n");
    out.push_str("# TYPE sessiond_store_writes_total counter\n");
    let _ = writeln!(out, "sessiond_store_writes_total{{kind=\"last_seen\"}} {last_seen}");
    let _ = writeln!(out, "sessiond_store_writes_total{{kind=\"activity_batch\"}} {batches}");
    let _ = writeln!(out, "sessiond_store_writes_total{{kind=\"other\"}} {writes}");
    out.push_str("# HELP sessiond_credential_cache_hits_total Credential checks answered from memory.\n");
    out.push_str("# TYPE sessiond_credential_cache_hits_total counter\n");
    let _ = writeln!(out, "sessiond_credential_cache_hits_total {}", store.cache_hits.load(Ordering::Relaxed));
    out.push_str("# HELP sessiond_credential_cache_misses_total Credential checks that read the database.\n");
    out.push_str("# TYPE sessiond_credential_cache_misses_total counter\n");
    let _ = writeln!(out, "sessiond_credential_cache_misses_total {}", store.cache_misses.load(Ordering::Relaxed));
    out.push_str("# HELP sessiond_credential_cache_entries Credentials held in the cache.\n");
    out.push_str("# TYPE sessiond_credential_cache_entries gauge\n");
    let _ = writeln!(out, "sessiond_credential_cache_entries {}", state.store.cached_credentials());
    let live = state.http_metrics.live_sessions.load(Ordering::Relaxed);
    if live >= 0 {
        out.push_str("# HELP sessiond_live_sessions Live sessions, as counted by the last sweep.\n");
        out.push_str("# TYPE sessiond_live_sessions gauge\n");
        let _ = writeln!(out, "sessiond_live_sessions {live}");
    }
    out
}

/// A label value as Prometheus text wants it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_land_in_the_right_bucket_and_statuses_are_counted() {
        let m = RouteMetrics::new();
        m.record(200, 0.0002);
        m.record(200, 0.0002);
        m.record(401, 7.0);
        assert_eq!(m.by_status[100].load(Ordering::Relaxed), 2);
        assert_eq!(m.by_status[301].load(Ordering::Relaxed), 1);
        assert_eq!(m.buckets[1].load(Ordering::Relaxed), 2, "0.2 ms is in the 0.25 ms bucket");
        assert_eq!(m.buckets[BUCKETS.len()].load(Ordering::Relaxed), 1, "7 s is only in +Inf");
        assert_eq!(m.sum_micros.load(Ordering::Relaxed), 7_000_400);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
