//! Serving the APIs: HTTP/1 on hyper, bounded against slow and many
//! clients.
//!
//! - At most [`HTTP_CONNECTIONS_ITEMS_MAX`] connections per API are served
//!   at once; further ones wait in the kernel's backlog.
//! - A request's head must arrive within [`HTTP_HEADER_TIMEOUT_MS`] and fit
//!   [`HTTP_HEAD_BYTES_MAX`] (idle keep-alive connections are closed after
//!   the same time).
//! - A request, body included, must be answered within
//!   [`HTTP_REQUEST_TIMEOUT_MS`] ([`request_timeout`]), else 408.
//! - Bodies are limited per route ([`HTTP_BODY_BYTES_MAX`], or
//!   [`HTTP_LARGE_BODY_BYTES_MAX`] for the routes that take a transaction or
//!   a deploy request), and at most [`HTTP_LARGE_BODIES_ITEMS_MAX`] large
//!   bodies per API are read at once ([`large_bodies`]).
//!
//! Together these bound the memory the APIs can be made to hold
//! (`wasmvisor-limits` checks the sum).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use wasmvisor_limits::{
    HTTP_BODY_BYTES_MAX, HTTP_CONNECTIONS_ITEMS_MAX, HTTP_HEAD_BYTES_MAX, HTTP_HEADER_TIMEOUT_MS,
    HTTP_LARGE_BODIES_ITEMS_MAX, HTTP_LARGE_BODY_BYTES_MAX, HTTP_REQUEST_TIMEOUT_MS,
};

/// Serves `router` on `listener` until `stop` changes, then lets requests
/// in flight finish (for at most one request timeout).
pub async fn serve(listener: TcpListener, router: Router, mut stop: watch::Receiver<bool>) {
    let connections = Arc::new(Semaphore::new(HTTP_CONNECTIONS_ITEMS_MAX));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(HTTP_HEADER_TIMEOUT_MS))
        .max_buf_size(HTTP_HEAD_BYTES_MAX);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&connections).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = stop.changed() => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before
                    // it was accepted: wait a little rather than spin.
                    tracing::warn!("cannot accept a connection: {error}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(router.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that goes away mid-request is not the node's error.
            let _ = connection.await;
            drop(permit);
        });
    }
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_millis(HTTP_REQUEST_TIMEOUT_MS)) => {}
    }
}

/// Answers 408 to a request not answered within
/// [`HTTP_REQUEST_TIMEOUT_MS`] (reading its body included). Work already
/// handed to a blocking thread finishes there; only the answer is lost.
pub async fn request_timeout(request: Request, next: Next) -> Response {
    match tokio::time::timeout(Duration::from_millis(HTTP_REQUEST_TIMEOUT_MS), next.run(request)).await {
        Ok(response) => response,
        Err(_) => crate::api::ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request took longer than {HTTP_REQUEST_TIMEOUT_MS} ms"),
        )
        .into_response(),
    }
}

/// Lets at most [`HTTP_LARGE_BODIES_ITEMS_MAX`] requests read a large body
/// at once (others wait their turn, within the request timeout).
async fn gate_large_body(State(gate): State<Arc<Semaphore>>, request: Request, next: Next) -> Response {
    let Ok(_permit) = gate.acquire().await else {
        return crate::api::ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the API is stopping").into_response();
    };
    next.run(request).await
}

/// The layers every API router gets: the small body limit by default, and
/// the request timeout.
pub fn bounded<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router
        .layer(DefaultBodyLimit::max(HTTP_BODY_BYTES_MAX))
        .layer(axum::middleware::from_fn(request_timeout))
}

/// Layers for a route that takes a large body (a transaction, a deploy
/// request): the large body limit, and the gate shared by every such route
/// of one API.
pub fn large_bodies<S: Clone + Send + Sync + 'static>(
    route: axum::routing::MethodRouter<S>,
    gate: &Arc<Semaphore>,
) -> axum::routing::MethodRouter<S> {
    route
        .layer(DefaultBodyLimit::max(HTTP_LARGE_BODY_BYTES_MAX))
        .layer(axum::middleware::from_fn_with_state(Arc::clone(gate), gate_large_body))
}

/// The gate of one API's large-body routes.
pub fn large_body_gate() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(HTTP_LARGE_BODIES_ITEMS_MAX))
}
