//! Running the HTTP server: binding, background tasks, graceful shutdown.

use crate::AppState;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;

/// Serves `state` on `listener` until `shutdown` resolves, then stops accepting, lets
/// in-flight requests finish (up to 30 s) and closes the store.
///
/// The connection loop is hyper's own (not `axum::serve`) so that slow clients cannot pin
/// the server: request headers must arrive within `header_timeout` — which also closes
/// idle keep-alive connections — and are limited in size (431 beyond).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::server::graceful::GracefulShutdown;
    use tower::ServiceExt as _;

    let sweeper = tokio::spawn(sweep_forever(state.clone()));
    let app = crate::api::app(state.clone());
    // HTTP/1.1 only: every Zendesk client speaks it, and an idle cleartext HTTP/2
    // connection would escape the header timeout below.
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(state.config.header_timeout_ms.max(1)))
        .max_buf_size(MAX_HEADER_BYTES);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let header_timeout = Duration::from_millis(state.config.header_timeout_ms.max(1));
                let service = tower::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let mut req = req.map(axum::body::Body::new);
                    req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                    app.clone().oneshot(req)
                });
                let builder = builder.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    // A connection that sends nothing at all is closed too (hyper's header
                    // timer starts with the first byte; protocol detection would wait forever).
                    let mut first = [0u8; 1];
                    match tokio::time::timeout(header_timeout, stream.peek(&mut first)).await {
                        Ok(Ok(n)) if n > 0 => {}
                        _ => return,
                    }
                    let conn = builder.serve_connection_with_upgrades(
                        TokioIo::new(stream),
                        hyper_util::service::TowerToHyperService::new(service),
                    );
                    let _ = watcher.watch(conn.into_owned()).await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(30)) => {
            tracing::warn!("in-flight requests did not finish within 30 s; closing anyway");
        }
    }
    sweeper.abort();
    state.store.close().await;
    Ok(())
}

/// Largest request head (request line and headers) we read; beyond it hyper answers 431.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Deletes ended sessions in bounded batches, forever. Ended sessions already stop
/// authenticating and vanish from lists at once; this only reclaims their rows.
async fn sweep_forever(state: AppState) {
    let period = Duration::from_secs(state.config.sweep_interval.max(1));
    loop {
        tokio::time::sleep(period).await;
        if let Err(e) = sweep_once(&state).await {
            tracing::warn!(error = %e, "session sweep failed");
        }
        // Failures older than the longest throttling window no longer count.
        let policy = crate::domain::throttle::ThrottlePolicy::default();
        let now = state.clock.now();
        let pruned = state
            .store
            .prune_sign_in_failures(
                now.saturating_sub(policy.account_long_window),
                now.saturating_sub(policy.known_address_for),
            )
            .await;
        if let Err(e) = pruned {
            tracing::warn!(error = %e, "pruning sign-in failures failed");
        }
    }
}

/// One sweep: batches until a short batch says nothing is left. Returns how many went.
pub async fn sweep_once(state: &AppState) -> Result<u64, crate::store::StoreError> {
    let settings = state.store.security_settings().await?;
    let cutoffs = state.expiry(settings).cutoffs();
    let batch = state.config.sweep_batch.max(1);
    let mut total = 0;
    loop {
        let n = state.store.sweep_expired(cutoffs, batch).await?;
        total += n;
        if n < u64::from(batch) {
            break;
        }
        tokio::task::yield_now().await;
    }
    if total > 0 {
        tracing::info!(event = "sessions_expired", count = total, reason = "expiry", "swept ended sessions");
    }
    // The live count for /metrics, refreshed here (once a sweep) rather than per scrape.
    let live = state.store.count_sessions(crate::store::Scope::All, cutoffs).await?;
    state.http_metrics.live_sessions.store(live, std::sync::atomic::Ordering::Relaxed);
    Ok(total)
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called, not
/// when the future is first polled, so a signal that arrives right after start-up is not
/// lost (and does not kill the process with the default action).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).ok();
        let mut int = signal(SignalKind::interrupt()).ok();
        async move {
            let term = async {
                match term.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let int = async {
                match int.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = term => {},
                _ = int => {},
            }
            tracing::info!("shutting down: finishing in-flight requests");
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: finishing in-flight requests");
    }
}
