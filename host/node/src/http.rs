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
//!   [`HTTP_LARGE_BODY_BYTES_MAX`] for the requests that post a transaction
//!   or a deploy request), and at most [`HTTP_LARGE_BODIES_ITEMS_MAX`] large
//!   bodies per API are read at once, at most
//!   [`HTTP_LARGE_BODIES_PER_SOURCE_ITEMS_MAX`] of them from one remote
//!   address ([`large_bodies`]; 429 beyond).
//!
//! Together these bound the memory the APIs can be made to hold
//! (`wasmvisor-limits` checks the sum).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
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
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt as _;
use wasmvisor_limits::{
    HTTP_BODY_BYTES_MAX, HTTP_CONNECTIONS_ITEMS_MAX, HTTP_HEAD_BYTES_MAX, HTTP_HEADER_TIMEOUT_MS,
    HTTP_LARGE_BODIES_ITEMS_MAX, HTTP_LARGE_BODIES_PER_SOURCE_ITEMS_MAX, HTTP_LARGE_BODY_BYTES_MAX,
    HTTP_REQUEST_TIMEOUT_MS,
};

/// The address a request came from (every request served by [`serve`]
/// carries it as an extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteAddress(pub SocketAddr);

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
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
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
        let service = router
            .clone()
            .map_request(move |mut request: Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(RemoteAddress(remote));
                request
            });
        let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
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

/// A refusal in the API's error form: `status` with `{"error": message}`.
pub fn refusal(status: StatusCode, message: impl Into<String>) -> Response {
    let body = serde_json::json!({ "error": message.into() });
    (status, axum::Json(body)).into_response()
}

/// Answers 408 to a request not answered within
/// [`HTTP_REQUEST_TIMEOUT_MS`] (reading its body included). Work already
/// handed to a blocking thread finishes there; only the answer is lost.
pub async fn request_timeout(request: Request, next: Next) -> Response {
    match tokio::time::timeout(Duration::from_millis(HTTP_REQUEST_TIMEOUT_MS), next.run(request)).await {
        Ok(response) => response,
        Err(_) => refusal(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request took longer than {HTTP_REQUEST_TIMEOUT_MS} ms"),
        ),
    }
}

/// The large-body requests of one API: at most
/// [`HTTP_LARGE_BODIES_ITEMS_MAX`] at once, and at most
/// [`HTTP_LARGE_BODIES_PER_SOURCE_ITEMS_MAX`] from one remote address.
#[derive(Debug)]
pub struct LargeBodyGate {
    permits: Arc<Semaphore>,
    per_source: Mutex<HashMap<IpAddr, usize>>,
}

/// A request's place through the gate: its source's share, then a permit;
/// both given back when it is dropped (also while still waiting).
#[derive(Debug)]
pub struct LargeBodyPass {
    gate: Arc<LargeBodyGate>,
    source: Option<IpAddr>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Drop for LargeBodyPass {
    fn drop(&mut self) {
        let Some(source) = self.source else { return };
        let mut per_source = self
            .gate
            .per_source
            .lock()
            .expect("a lock is poisoned only by a panic, and a panic stops the node");
        if let Some(count) = per_source.get_mut(&source) {
            *count -= 1;
            if *count == 0 {
                per_source.remove(&source);
            }
        }
    }
}

impl LargeBodyGate {
    /// A gate with every permit free.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            permits: Arc::new(Semaphore::new(HTTP_LARGE_BODIES_ITEMS_MAX)),
            per_source: Mutex::default(),
        })
    }

    /// A pass for a request from `source`: refused at once if that remote
    /// address holds its share already (loopback is not counted); else
    /// when one of the permits is free.
    pub async fn enter(self: &Arc<Self>, source: Option<IpAddr>) -> Result<LargeBodyPass, StatusCode> {
        let source = source.filter(|address| !address.is_loopback());
        if let Some(source) = source {
            let mut per_source = self
                .per_source
                .lock()
                .expect("a lock is poisoned only by a panic, and a panic stops the node");
            let count = per_source.entry(source).or_default();
            if *count >= HTTP_LARGE_BODIES_PER_SOURCE_ITEMS_MAX {
                return Err(StatusCode::TOO_MANY_REQUESTS);
            }
            *count += 1;
        }
        let mut pass = LargeBodyPass {
            gate: Arc::clone(self),
            source,
            _permit: None,
        };
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
        pass._permit = Some(permit);
        Ok(pass)
    }
}

/// Lets a large-body request through the gate (others from the same
/// remote address beyond its share get 429; the rest wait their turn,
/// within the request timeout).
async fn gate_large_body(State(gate): State<Arc<LargeBodyGate>>, request: Request, next: Next) -> Response {
    let source = request.extensions().get::<RemoteAddress>().map(|remote| remote.0.ip());
    match gate.enter(source).await {
        Ok(_pass) => next.run(request).await,
        Err(status) => refusal(
            status,
            "too many requests with large bodies from this address at once; retry later",
        ),
    }
}

/// The layers every API router gets: the small body limit by default, and
/// the request timeout.
pub fn bounded<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router
        .layer(DefaultBodyLimit::max(HTTP_BODY_BYTES_MAX))
        .layer(axum::middleware::from_fn(request_timeout))
}

/// Layers for a method that takes a large body (a transaction, a deploy
/// request): the large body limit, and the gate shared by every such method
/// of one API.
pub fn large_bodies<S: Clone + Send + Sync + 'static>(
    route: axum::routing::MethodRouter<S>,
    gate: &Arc<LargeBodyGate>,
) -> axum::routing::MethodRouter<S> {
    route
        .layer(DefaultBodyLimit::max(HTTP_LARGE_BODY_BYTES_MAX))
        .layer(axum::middleware::from_fn_with_state(Arc::clone(gate), gate_large_body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_remote_address_gets_its_share_of_large_bodies_and_loopback_is_not_counted() {
        let gate = LargeBodyGate::new();
        let remote: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        let mut passes = Vec::new();
        for _ in 0..HTTP_LARGE_BODIES_PER_SOURCE_ITEMS_MAX {
            passes.push(gate.enter(Some(remote)).await.unwrap());
        }
        assert_eq!(
            gate.enter(Some(remote)).await.unwrap_err(),
            StatusCode::TOO_MANY_REQUESTS
        );
        passes.push(gate.enter(Some(other)).await.unwrap());
        // Loopback takes what permits are left, uncounted.
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        while passes.len() < HTTP_LARGE_BODIES_ITEMS_MAX {
            passes.push(gate.enter(Some(loopback)).await.unwrap());
        }
        // Every permit taken: the next one waits.
        let waiting = tokio::time::timeout(Duration::from_millis(50), gate.enter(Some(loopback))).await;
        assert!(waiting.is_err(), "a ninth large body waits");
        // A pass given back frees its source's share and its permit.
        passes.remove(0);
        let again = tokio::time::timeout(Duration::from_secs(1), gate.enter(Some(remote))).await;
        assert!(matches!(again, Ok(Ok(_))));
    }
}
