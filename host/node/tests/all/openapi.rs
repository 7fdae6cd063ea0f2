//! The OpenAPI descriptions each API serves (`GET /api/openapi.json`):
//! generated from the handlers the routers are built from, they name
//! every route a real node answers, the answers of a real node fit their
//! schemas, and docs/API.md's endpoint tables list exactly their paths.

use std::collections::BTreeSet;

use ed25519_dalek::SigningKey;
use prost::Message as _;
use serde_json::{Value, json};
use wasmvisor_proto::token::{CreateWallet, WalletQuery};
use wasmvisor_runtime::CallInfo;

use crate::support::{RunningNode, agent, chain_id, cli_ok, get, post, wait_for};

/// `(METHOD, path)` of every operation of a description.
fn operations(spec: &Value) -> BTreeSet<(String, String)> {
    spec["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|method| matches!(method.as_str(), "get" | "post" | "put" | "delete" | "patch"))
                .map(|method| (method.to_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The `(METHOD, path)` rows of the endpoint table under `heading` in
/// docs/API.md (`| GET | /path | ... |`).
fn documented(heading: &str) -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/API.md")).unwrap();
    let section = text
        .split("\n## ")
        .find(|section| section.starts_with(heading))
        .unwrap_or_else(|| panic!("docs/API.md has a section {heading:?}"));
    section
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            match cells.as_slice() {
                ["", method, path, ..] if matches!(*method, "GET" | "POST") => {
                    Some(((*method).to_owned(), path.trim_matches('`').to_owned()))
                }
                _ => None,
            }
        })
        .collect()
}

/// Checks `value` against `schema` of `spec` (the subset of JSON Schema
/// the descriptions use): types, every property declared, the required
/// ones present. Returns what does not fit, by JSON path.
fn misfits(spec: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return misfits(spec, &spec["components"]["schemas"][name], value, at);
    }
    if schema["allOf"].is_array() {
        // One object made of parts (themselves made of parts): their
        // properties and requirements together.
        let mut merged = json!({ "type": "object", "properties": {}, "required": [] });
        merge_parts(spec, schema, &mut merged);
        return misfits(spec, &merged, value, at);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(branches) = schema[key].as_array() {
            return if branches
                .iter()
                .any(|branch| misfits(spec, branch, value, at).is_empty())
            {
                Vec::new()
            } else {
                vec![format!("{at}: {value} fits none of {schema}")]
            };
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => return Vec::new(), // any value
    };
    let fits = types.iter().any(|kind| match *kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_u64() || value.is_i64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => false,
    });
    if !fits {
        return vec![format!("{at}: {value} is not {types:?}")];
    }
    let mut found = Vec::new();
    if let (Some(object), Some(properties)) = (value.as_object(), schema["properties"].as_object()) {
        for (key, inner) in object {
            match properties.get(key) {
                Some(property) => found.extend(misfits(spec, property, inner, &format!("{at}.{key}"))),
                None => found.push(format!("{at}.{key} is not in the schema")),
            }
        }
        for required in schema["required"].as_array().into_iter().flatten() {
            if !object.contains_key(required.as_str().unwrap()) {
                found.push(format!("{at}.{required} is required but absent"));
            }
        }
    }
    if let (Some(items), Some(schema)) = (value.as_array(), schema.get("items")) {
        for (position, item) in items.iter().enumerate() {
            found.extend(misfits(spec, schema, item, &format!("{at}[{position}]")));
        }
    }
    found
}

/// Adds the properties and requirements of `schema`, following its
/// references and `allOf` parts, to `merged`.
fn merge_parts(spec: &Value, schema: &Value, merged: &mut Value) {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return merge_parts(spec, &spec["components"]["schemas"][name], merged);
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        merge_parts(spec, part, merged);
    }
    for (key, property) in schema["properties"].as_object().into_iter().flatten() {
        merged["properties"][key] = property.clone();
    }
    for required in schema["required"].as_array().into_iter().flatten() {
        merged["required"].as_array_mut().unwrap().push(required.clone());
    }
}

/// Checks a real answer of `GET path` against the description's 200 schema.
fn fits(spec: &Value, base: &str, template: &str, query: &str) -> Value {
    let url = format!("{base}{query}");
    let (status, answer) = get(&url);
    assert_eq!(status, 200, "{url}: {answer}");
    let schema = &spec["paths"][template]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{template} describes its answer");
    let found = misfits(spec, schema, &answer, "answer");
    assert!(
        found.is_empty(),
        "{url} does not fit its description: {found:#?}\n{answer:#}"
    );
    answer
}

#[test]
fn the_openapi_documents_describe_every_route_and_every_answer() {
    let data = tempfile::tempdir().unwrap();
    let node = RunningNode::start(data.path());
    cli_ok(
        &node,
        &[
            "deploy",
            wasmvisor_artifacts::TOKEN.path,
            "--name",
            "token",
            "--version",
            "1.0.0",
        ],
    );
    cli_ok(
        &node,
        &["start-service", "--artifact", "token:1.0.0", "--instance", "coins"],
    );
    let owner = SigningKey::from_bytes(&[21; 32]);
    let services = get(&format!("{}/api/system/v1/services", node.public)).1;
    let coins = services["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|instance| instance["name"] == "coins")
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    let signed = wasmvisor_blockchain::sign(
        &owner,
        &chain_id(&node),
        CallInfo {
            instance_id: u32::try_from(coins).unwrap(),
            method_id: 0,
        },
        CreateWallet { name: "owner".into() }.encode_to_vec(),
    );
    let (status, submitted) = post(
        &format!("{}/api/explorer/v1/transactions", node.public),
        "application/octet-stream",
        signed,
    );
    assert_eq!(status, 200, "{submitted}");
    let tx_hash = submitted["tx_hash"].as_str().unwrap().to_owned();
    let tx_url = format!("{}/api/explorer/v1/transactions?hash={tx_hash}", node.public);
    wait_for("the wallet", || get(&tx_url).1["status"] == "committed");

    for (base, generated, heading) in [
        (&node.public, wasmvisor_node::api::public_openapi(), "Public"),
        (&node.private, wasmvisor_node::api::private_openapi(), "Private"),
    ] {
        // What the node serves is the description generated from its handlers.
        let (status, served) = get(&format!("{base}/api/openapi.json"));
        assert_eq!(status, 200, "{served}");
        assert_eq!(served, serde_json::to_value(&generated).unwrap());
        assert!(
            served["openapi"].as_str().unwrap().starts_with("3."),
            "{}",
            served["openapi"]
        );
        // docs/API.md lists exactly its operations.
        let described = operations(&served);
        assert_eq!(
            documented(heading),
            described,
            "docs/API.md's {heading} table and the description"
        );
        // The node routes every operation it describes (no fallback, no 405).
        for (method, template) in &described {
            let path = template
                .replace("{service}", "coins")
                .replace("{method}", "wallet")
                .replace("{kind}", "entry")
                .replace("{action}", "configuration-number");
            let url = format!("{base}{path}");
            let mut request = ureq::http::Request::builder().method(method.as_str()).uri(&url);
            if base == &node.private {
                let token = std::fs::read_to_string(node.data_dir.join("private-api-token")).unwrap();
                request = request.header("authorization", format!("Bearer {}", token.trim()));
            }
            let request = request
                .header("content-type", "application/json")
                .body(Vec::new())
                .unwrap();
            let mut response = agent().run(request).expect("answered");
            let status = response.status().as_u16();
            let text = response.body_mut().read_to_string().unwrap_or_default();
            assert!(
                status != 405 && !(status == 404 && text.contains("no such endpoint")),
                "{method} {template} is described but not routed: {status} {text}"
            );
        }
    }

    // Real answers fit the public description's schemas.
    let public = get(&format!("{}/api/openapi.json", node.public)).1;
    let base = &node.public;
    fits(&public, base, "/healthz", "/healthz");
    fits(&public, base, "/api/system/v1/info", "/api/system/v1/info");
    fits(&public, base, "/api/system/v1/services", "/api/system/v1/services");
    fits(
        &public,
        base,
        "/api/explorer/v1/blocks",
        "/api/explorer/v1/blocks?count=3",
    );
    fits(
        &public,
        base,
        "/api/explorer/v1/block",
        "/api/explorer/v1/block?height=1",
    );
    fits(
        &public,
        base,
        "/api/explorer/v1/governance",
        "/api/explorer/v1/governance",
    );
    let outcome = fits(
        &public,
        base,
        "/api/explorer/v1/transactions",
        &format!("/api/explorer/v1/transactions?hash={tx_hash}"),
    );
    assert_eq!(outcome["call"]["method"], "create_wallet");
    fits(
        &public,
        base,
        "/api/proofs/v1/{kind}",
        &format!(
            "/api/proofs/v1/map?service=coins&index=wallets&key={}",
            hex::encode(owner.verifying_key().as_bytes())
        ),
    );
    let entry = fits(
        &public,
        base,
        "/api/proofs/v1/{kind}",
        "/api/proofs/v1/entry?service=supervisor&index=config",
    );
    assert_eq!(entry["proof"]["index"]["kind"], "proof_entry", "{entry}");
    fits(
        &public,
        base,
        "/api/services/{service}/interface",
        "/api/services/coins/interface",
    );
    let query = WalletQuery {
        owner: owner.verifying_key().to_bytes().to_vec(),
    };
    fits(
        &public,
        base,
        "/api/services/{service}/{method}",
        &format!(
            "/api/services/coins/wallet?arguments={}",
            hex::encode(query.encode_to_vec())
        ),
    );
    // A schema that does not fit an answer is found out.
    let mut wrong = public.clone();
    wrong["components"]["schemas"]["Health"]["properties"] = json!({ "state": { "type": "string" } });
    let health = get(&format!("{}/healthz", node.public)).1;
    let schema = &wrong["paths"]["/healthz"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    assert!(!misfits(&wrong, schema, &health, "answer").is_empty());
}
