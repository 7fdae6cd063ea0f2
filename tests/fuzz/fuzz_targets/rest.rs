//! REST bodies: any method, path, query, content type and body on either
//! API of an in-process node is answered — never a panic, never an
//! internal error — and every refusal is a JSON object naming the error.
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use wasmvisor_node::testing::{Api, InProcessNode};

/// The routes the two APIs serve, so most inputs reach a handler.
const PATHS: &[&str] = &[
    "/api/system/v1/info",
    "/api/explorer/v1/blocks",
    "/api/explorer/v1/block",
    "/api/explorer/v1/transactions",
    "/api/system/v1/services",
    "/api/proofs/v1/map",
    "/api/proofs/v1/list",
    "/api/proofs/v1/entry",
    "/api/services/supervisor/",
    "/api/services/token/",
    "/metrics",
    "/",
];

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "HEAD"];

const CONTENT_TYPES: &[&str] = &["application/json", "application/octet-stream", "text/plain"];

#[derive(Debug, Arbitrary)]
struct Input {
    private: bool,
    method: u8,
    path: u8,
    suffix: String,
    query: String,
    content_type: Option<u8>,
    body: Vec<u8>,
}

fn node() -> &'static InProcessNode {
    static NODE: OnceLock<InProcessNode> = OnceLock::new();
    NODE.get_or_init(|| InProcessNode::new().expect("a development node starts"))
}

fuzz_target!(|input: Input| {
    let path = format!(
        "{}{}?{}",
        PATHS[usize::from(input.path) % PATHS.len()],
        input.suffix,
        input.query
    );
    let api = if input.private { Api::Private } else { Api::Public };
    let method = METHODS[usize::from(input.method) % METHODS.len()];
    let content_type = input
        .content_type
        .map(|index| CONTENT_TYPES[usize::from(index) % CONTENT_TYPES.len()]);
    let Ok((status, answer)) = node().request(api, method, &path, content_type, input.body) else {
        // Not an HTTP request at all (the path does not parse as a URI).
        return;
    };
    assert_ne!(status, 500, "{method} {path}: {answer}");
    if status >= 400 && method != "HEAD" {
        assert!(
            matches!(&answer, Value::Object(fields) if fields.get("error").is_some_and(Value::is_string)),
            "{method} {path}: {status} without a JSON error: {answer}"
        );
    }
});
