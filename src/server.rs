//! Running the HTTP server: binding, background tasks, graceful shutdown.

use crate::AppState;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

/// Serves `state` on `listener` until `shutdown` resolves, then lets in-flight requests
/// finish and closes the store (which flushes and checkpoints).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sweeper = tokio::spawn(sweep_forever(state.clone()));
    let app = crate::api::app(state.clone());
    let service = axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<SocketAddr>(app);
    let result = axum::serve(listener, service).with_graceful_shutdown(shutdown).await;
    sweeper.abort();
    state.store.close().await;
    result
}

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
        let horizon =
            state.clock.now().saturating_sub(crate::domain::throttle::ThrottlePolicy::default().account_long_window);
        if let Err(e) = state.store.prune_sign_in_failures(horizon).await {
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
