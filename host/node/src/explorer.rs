//! The explorer page on the public API (`/explorer/`): static files built
//! from `clients/typescript/explorer` by the build script and embedded in
//! the binary. The page reads the same public API as any client and
//! verifies proofs itself.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// The page's files: (name, content type, bytes).
const FILES: [(&str, &str, &[u8]); 3] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!(concat!(env!("OUT_DIR"), "/explorer/index.html")),
    ),
    (
        "explorer.js",
        "text/javascript; charset=utf-8",
        include_bytes!(concat!(env!("OUT_DIR"), "/explorer/explorer.js")),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!(concat!(env!("OUT_DIR"), "/explorer/style.css")),
    ),
];

/// What the page may load and reach: its own files and this API, nothing
/// inline, no frames around it. `'unsafe-eval'`: protobufjs, which the
/// page decodes service messages with, compiles its codecs with
/// `Function`.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self' 'unsafe-eval'; \
     style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

fn file(name: &str) -> Response {
    let Some((_, content_type, bytes)) = FILES.iter().find(|(file, _, _)| *file == name) else {
        return (StatusCode::NOT_FOUND, "no such file of the explorer").into_response();
    };
    (
        [
            (header::CONTENT_TYPE, *content_type),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        *bytes,
    )
        .into_response()
}

/// The explorer's routes: `/explorer` redirects to `/explorer/`, which is
/// the page; `/explorer/<file>` its script and style sheet.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/explorer", get(|| async { Redirect::permanent("/explorer/") }))
        .route("/explorer/", get(|| async { file("index.html") }))
        .route(
            "/explorer/{file}",
            get(|Path(name): Path<String>| async move { file(&name) }),
        )
}
