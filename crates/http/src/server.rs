//! Serving the app on a TCP listener with graceful shutdown.
//!
//! Accepted sockets get `TCP_NODELAY`. On the shutdown signal the listener
//! is dropped (no new connections), idle connections close, running
//! requests and streams may finish for `shutdown_grace`; after that the
//! remaining connections are cut (their usage guards record what was
//! delivered, outcome `shutdown`). Finally the usage-recording tasks are
//! drained so no ledger row is lost.

use std::{future::Future, time::Duration};

use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto::Builder, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, task::JoinSet};
use tower::Layer;

use crate::{AppState, app};

/// How long a client may take to send request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves until `shutdown` resolves, then shuts down gracefully.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let app = app(state.clone());
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let graceful = GracefulShutdown::new();
    let mut conns = JoinSet::new();
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "listening");
    }
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        // E.g. too many open files: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!(error = %e, "could not set TCP_NODELAY");
                }
                // The peer address (`ConnectInfo`) counts failed dashboard logins per client.
                let service = TowerToHyperService::new(
                    axum::Extension(axum::extract::ConnectInfo(peer)).layer(app.clone()),
                );
                let conn = builder.serve_connection(TokioIo::new(tcp), service).into_owned();
                let conn = graceful.watch(conn);
                conns.spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let grace = state.settings().shutdown_grace;
    tracing::info!(
        connections = conns.len(),
        grace_s = grace.as_secs_f64(),
        "shutting down"
    );
    let finished = tokio::time::timeout(grace, async {
        graceful.shutdown().await;
        while conns.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        tracing::warn!(
            connections = conns.len(),
            "shutdown grace elapsed; closing remaining connections"
        );
        state.set_aborting();
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
    state.drain().await;
    tracing::info!("shutdown complete");
    Ok(())
}
