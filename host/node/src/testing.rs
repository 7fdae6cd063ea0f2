//! A node in process, for service authors' tests: an in-memory chain whose
//! blocks are made on demand, and the public and private APIs answered
//! without sockets (the same routers the `wasmvisor` binary serves).
//!
//! ```no_run
//! use wasmvisor_node::testing::InProcessNode;
//!
//! let node = InProcessNode::new().unwrap();
//! let (status, info) = node.get_public("/api/system/v1/info");
//! assert_eq!(status, 200);
//! node.create_block();
//! # let _ = info;
//! ```

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, header};
use serde_json::Value;
use tower::ServiceExt;
use wasmvisor_proto::blockchain::BlockHeader;
use wasmvisor_storage::MemoryDatabase;

use crate::api::{private_router, public_router};
use crate::config::NodeConfig;
use crate::node::{Node, NodeKeys, StartError};

/// Largest answer read back from a router (a block list can be long).
pub const ANSWER_SIZE_MAX: usize = 64 << 20;

/// Which of the node's two APIs a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// The public API (explorer, transactions, service queries).
    Public,
    /// The private (operator) API.
    Private,
}

/// A single-validator node on a memory database with in-process APIs.
pub struct InProcessNode {
    node: Arc<Node>,
    public: Router,
    private: Router,
    runtime: tokio::runtime::Runtime,
}

impl InProcessNode {
    /// A development node (supervisor in simple mode, native and wasm
    /// runtimes) at its genesis block.
    pub fn new() -> Result<Self, StartError> {
        Self::with_config(NodeConfig::development("in-memory".into()))
    }

    /// A node with `config` (its addresses and data directory are unused;
    /// system services are deployed at genesis as configured; the node's
    /// keys are fresh, so `genesis_validators` must be empty).
    pub fn with_config(config: NodeConfig) -> Result<Self, StartError> {
        let node = Node::open_with(config, NodeKeys::generate()?, Arc::new(MemoryDatabase::new()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|error| StartError::Io(format!("cannot start the async runtime: {error}")))?;
        Ok(Self {
            public: public_router(Arc::clone(&node)),
            private: private_router(Arc::clone(&node)),
            node,
            runtime,
        })
    }

    /// The node (chain, mempool, keys).
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// Makes a block of the pooled transactions, as the block producer
    /// does.
    pub fn create_block(&self) -> BlockHeader {
        self.node.produce_block().expect("the block commits")
    }

    fn call(&self, router: &Router, method: Method, path: &str, body: Option<(&str, Vec<u8>)>) -> (u16, Value) {
        self.try_call(router, method, path, body)
            .expect("a well-formed request")
    }

    fn try_call(
        &self,
        router: &Router,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<(u16, Value), axum::http::Error> {
        let mut request = Request::builder().method(method).uri(path);
        // The private API is called as the operator's CLI calls it: with
        // the node's token.
        if std::ptr::eq(router, &self.private) {
            request = request.header(
                header::AUTHORIZATION,
                format!("Bearer {}", self.node.private_api_token()),
            );
        }
        let body = match body {
            Some((content_type, bytes)) => {
                request = request.header(header::CONTENT_TYPE, content_type);
                Body::from(bytes)
            }
            None => Body::empty(),
        };
        let request = request.body(body)?;
        let router = router.clone();
        Ok(self.runtime.block_on(async move {
            let response = router.oneshot(request).await.expect("routers are infallible");
            let status = response.status().as_u16();
            let bytes = axum::body::to_bytes(response.into_body(), ANSWER_SIZE_MAX)
                .await
                .unwrap_or_default();
            let value = serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
            (status, value)
        }))
    }

    /// Any request on either API: the status and the JSON answer (or the
    /// text, as a JSON string); an error if `method`, `path` or
    /// `content_type` cannot form an HTTP request at all. The body is sent
    /// with its `content_type`; without one, the request has no body.
    pub fn request(
        &self,
        api: Api,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<(u16, Value), axum::http::Error> {
        let method = Method::from_bytes(method.as_bytes())?;
        let router = match api {
            Api::Public => &self.public,
            Api::Private => &self.private,
        };
        self.try_call(
            router,
            method,
            path,
            content_type.map(|content_type| (content_type, body)),
        )
    }

    /// `GET` on the public API: the status and the JSON answer (or the
    /// text, as a JSON string).
    pub fn get_public(&self, path: &str) -> (u16, Value) {
        self.call(&self.public, Method::GET, path, None)
    }

    /// `POST` of a JSON body on the public API.
    pub fn post_public(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call(
            &self.public,
            Method::POST,
            path,
            Some(("application/json", body.to_string().into_bytes())),
        )
    }

    /// `POST` of a binary body (a signed transaction, a protobuf payload)
    /// on the public API.
    pub fn post_public_bytes(&self, path: &str, body: Vec<u8>) -> (u16, Value) {
        self.call(
            &self.public,
            Method::POST,
            path,
            Some(("application/octet-stream", body)),
        )
    }

    /// `GET` on the private API.
    pub fn get_private(&self, path: &str) -> (u16, Value) {
        self.call(&self.private, Method::GET, path, None)
    }

    /// `POST` of a JSON body on the private API.
    pub fn post_private(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call(
            &self.private,
            Method::POST,
            path,
            Some(("application/json", body.to_string().into_bytes())),
        )
    }
}
