use prost::Message;
use serde_json::json;
use wasmvisor_proto::token::{FILE_DESCRIPTOR_SET, Transfer, Wallet};

use super::*;

fn token_document() -> Value {
    json!({
        "format": 1,
        "constructor": {"message": "wasmvisor.token.TokenConfig"},
        "configuration": null,
        "methods": [
            {"id": 0, "name": "create_wallet", "arguments": {"message": "wasmvisor.token.CreateWallet"}},
            {"id": 2, "name": "transfer", "arguments": {"message": ".wasmvisor.token.Transfer"}},
        ],
        "queries": [
            {"name": "wallet", "private": false, "arguments": {"message": "wasmvisor.token.WalletQuery"},
             "answer": {"message": "wasmvisor.token.Wallet"}},
            {"name": "count", "arguments": "empty", "answer": "u64"},
        ],
        "errors": [{"code": 3, "name": "InsufficientFunds"}],
    })
}

fn parse(document: &Value) -> Result<ServiceInterface, InterfaceError> {
    ServiceInterface::parse(&serde_json::to_vec(document).unwrap(), Some(FILE_DESCRIPTOR_SET))
}

#[test]
fn an_interface_translates_json_to_the_bytes_a_service_sees_and_back() {
    let interface = parse(&token_document()).expect("the token's interface parses");
    assert_eq!(
        interface.method_by_id(2).map(|method| method.name.as_str()),
        Some("transfer")
    );
    assert_eq!(interface.error_name(3), Some("InsufficientFunds"));
    assert_eq!(interface.error_name(4), None);

    let transfer = interface.method("transfer").unwrap();
    let bytes = interface
        .encode_json(&transfer.arguments, &json!({"to": "AQID", "amount": "7", "seed": 9}))
        .unwrap();
    let expected = Transfer {
        to: vec![1, 2, 3],
        amount: 7,
        seed: 9,
    };
    assert_eq!(bytes, expected.encode_to_vec());

    let wallet = Wallet {
        owner: vec![0xff; 32],
        name: "alice".into(),
        balance: 100,
    };
    let answer = interface
        .decode_json(&interface.query("wallet").unwrap().answer, &wallet.encode_to_vec())
        .unwrap();
    assert_eq!(answer["balance"], json!("100"));
    assert_eq!(answer["name"], json!("alice"));

    let count = interface.query("count").unwrap();
    assert_eq!(
        interface.encode_json(&count.arguments, &Value::Null).unwrap(),
        Vec::<u8>::new()
    );
    assert_eq!(
        interface.decode_json(&count.answer, &5u64.to_le_bytes()).unwrap(),
        json!("5")
    );
    assert_eq!(
        interface.encode_json(&Payload::U64, &json!(5)).unwrap(),
        5u64.to_le_bytes()
    );

    let served = ServiceInterface::from_served(&interface.to_json()).expect("what a node serves reads back");
    assert_eq!(served.methods(), interface.methods());
    assert_eq!(served.descriptors(), interface.descriptors());
    let shown = interface.to_json();
    assert_eq!(shown["methods"][1]["name"], json!("transfer"));
    let fields = &shown["messages"]["wasmvisor.token.Transfer"]["fields"];
    assert_eq!(
        fields[0],
        json!({"name": "to", "number": 1, "type": "bytes", "repeated": false})
    );
}

#[test]
fn json_that_is_not_the_payload_is_refused_with_the_reason() {
    let interface = parse(&token_document()).unwrap();
    let transfer = &interface.method("transfer").unwrap().arguments;
    for (value, why) in [
        (json!({"to": "AQID", "amount": "7", "extra": 1}), "extra"),
        (
            json!({"amount": "not a number"}),
            "not a valid wasmvisor.token.Transfer in JSON: invalid digit",
        ),
        (json!([1, 2]), "Transfer"),
    ] {
        let error = interface.encode_json(transfer, &value).expect_err("refused");
        assert!(error.contains(why), "{why:?} in {error:?}");
    }
    assert!(interface.encode_json(&Payload::Empty, &json!(1)).is_err());
    assert!(interface.encode_json(&Payload::U64, &json!(-1)).is_err());
    assert!(interface.encode_json(&Payload::Bytes, &json!("xyz")).is_err());
    assert!(interface.decode_json(&Payload::U64, &[1, 2, 3]).is_err());
    assert!(interface.decode_json(&Payload::String, &[0xff]).is_err());
    let wallet = &interface.query("wallet").unwrap().answer;
    assert!(interface.decode_json(wallet, &[0xff, 0xff, 0xff]).is_err());
}

fn with(mut document: Value, edit: impl FnOnce(&mut Value)) -> Value {
    edit(&mut document);
    document
}

#[test]
fn a_malformed_interface_is_refused_with_the_reason() {
    let name_at_limit = "m".repeat(INTERFACE_NAME_BYTES_MAX);
    let name_over_limit = "m".repeat(INTERFACE_NAME_BYTES_MAX + 1);
    let accepted = with(token_document(), |document| {
        document["methods"][0]["name"] = json!(name_at_limit)
    });
    assert!(parse(&accepted).is_ok(), "a name of exactly the maximum is accepted");

    let method = |id: u32, name: &str| json!({"id": id, "name": name, "arguments": "bytes"});
    let too_many: Vec<Value> = (0..=INTERFACE_ENTRIES_ITEMS_MAX as u32)
        .map(|id| method(id, &format!("m{id}")))
        .collect();
    let at_limit: Vec<Value> = too_many[..INTERFACE_ENTRIES_ITEMS_MAX].to_vec();
    assert!(parse(&with(token_document(), |document| document["methods"] = json!(at_limit))).is_ok());

    let cases: Vec<(Value, &str)> = vec![
        (
            with(token_document(), |document| document["format"] = json!(2)),
            "format 2",
        ),
        (
            with(token_document(), |document| document["extra"] = json!(1)),
            "unknown field",
        ),
        (
            with(token_document(), |document| document["methods"][1]["id"] = json!(0)),
            "two method ids are 0",
        ),
        (
            with(token_document(), |document| {
                document["methods"][1]["name"] = json!("create_wallet")
            }),
            "two method names",
        ),
        (
            with(token_document(), |document| {
                document["queries"][1]["name"] = json!("wallet")
            }),
            "two query names",
        ),
        (
            with(token_document(), |document| {
                document["queries"][1]["name"] = json!("interface")
            }),
            "reserved",
        ),
        (
            with(token_document(), |document| {
                document["methods"][0]["name"] = json!(name_over_limit)
            }),
            "1 to 64",
        ),
        (
            with(token_document(), |document| {
                document["methods"][0]["name"] = json!("Create")
            }),
            "allowed characters",
        ),
        (
            with(token_document(), |document| document["methods"][0]["name"] = json!("")),
            "allowed characters",
        ),
        (
            with(token_document(), |document| {
                document["errors"][0]["name"] = json!("no-dash")
            }),
            "allowed characters",
        ),
        (
            with(token_document(), |document| {
                document["errors"] = json!([{"code": 1, "name": "A"}, {"code": 1, "name": "B"}])
            }),
            "two error codes are 1",
        ),
        (
            with(token_document(), |document| {
                document["errors"] = json!([{"code": 1, "name": "A"}, {"code": 2, "name": "A"}])
            }),
            "two error names",
        ),
        (
            with(token_document(), |document| document["errors"][0]["code"] = json!(256)),
            "does not parse",
        ),
        (
            with(token_document(), |document| {
                document["methods"][0]["arguments"] = json!({"message": "x.Missing"})
            }),
            "not in the service's descriptors",
        ),
        (
            with(token_document(), |document| {
                document["methods"][0]["arguments"] = json!("float")
            }),
            "does not parse",
        ),
        (
            with(token_document(), |document| document["methods"] = json!(too_many)),
            "257 methods exceed",
        ),
    ];
    for (document, why) in cases {
        let error = parse(&document).expect_err(why).to_string();
        assert!(error.contains(why), "{why:?} in {error:?}");
        assert!(error.starts_with("the service's interface is malformed"), "{error}");
    }

    let not_json = ServiceInterface::parse(b"{not json", None)
        .expect_err("refused")
        .to_string();
    assert!(not_json.contains("does not parse"), "{not_json}");
    let garbage = ServiceInterface::parse(&serde_json::to_vec(&token_document()).unwrap(), Some(&[0xff, 0x01]))
        .expect_err("refused")
        .to_string();
    assert!(garbage.contains("descriptors do not decode"), "{garbage}");
    let no_descriptors = ServiceInterface::parse(&serde_json::to_vec(&token_document()).unwrap(), None)
        .expect_err("refused")
        .to_string();
    assert!(
        no_descriptors.contains("not in the service's descriptors"),
        "{no_descriptors}"
    );

    let mut oversized = serde_json::to_vec(&token_document()).unwrap();
    oversized.resize(INTERFACE_BYTES_MAX + 1, b' ');
    let error = ServiceInterface::parse(&oversized, Some(FILE_DESCRIPTOR_SET))
        .expect_err("refused")
        .to_string();
    let expected = format!(
        "{} bytes exceeds the maximum of {INTERFACE_BYTES_MAX}",
        INTERFACE_BYTES_MAX + 1
    );
    assert!(error.contains(&expected), "{error}");
    oversized.truncate(INTERFACE_BYTES_MAX);
    assert!(
        ServiceInterface::parse(&oversized, Some(FILE_DESCRIPTOR_SET)).is_ok(),
        "exactly the maximum parses"
    );
    let descriptors = vec![0u8; INTERFACE_DESCRIPTORS_BYTES_MAX + 1];
    let error = ServiceInterface::parse(b"{}", Some(&descriptors))
        .expect_err("refused")
        .to_string();
    assert!(error.contains("exceed the maximum"), "{error}");
}

/// Descriptors of package `n`: a top-level `Inner` and `Outer` with a
/// nested `Inner` (what prost names `n.Inner` too), and `Lone` with a
/// nested `Only`.
fn nested_descriptors() -> Vec<u8> {
    use prost_reflect::prost_types::{DescriptorProto, FileDescriptorProto, FileDescriptorSet};
    let message = |name: &str, nested: Vec<DescriptorProto>| DescriptorProto {
        name: Some(name.into()),
        nested_type: nested,
        ..Default::default()
    };
    let file = FileDescriptorProto {
        name: Some("n.proto".into()),
        package: Some("n".into()),
        syntax: Some("proto3".into()),
        message_type: vec![
            message("Inner", vec![]),
            message("Outer", vec![message("Inner", vec![])]),
            message("Lone", vec![message("Only", vec![])]),
        ],
        ..Default::default()
    };
    FileDescriptorSet { file: vec![file] }.encode_to_vec()
}

#[test]
fn a_nested_message_is_never_taken_for_a_payload() {
    let descriptors = nested_descriptors();
    let naming = |message: &str| {
        let document = with(token_document(), |document| {
            document["constructor"] = Value::Null;
            document["methods"] = json!([{"id": 0, "name": "go", "arguments": {"message": message}}]);
            document["queries"] = json!([]);
        });
        ServiceInterface::parse(&serde_json::to_vec(&document).unwrap(), Some(&descriptors))
    };
    assert!(
        naming("n.Lone").is_ok(),
        "a top-level message of its own name is a payload"
    );
    for message in ["n.Inner", "n.Outer.Inner", "n.Lone.Only", "n.Only"] {
        let error = naming(message).expect_err(message).to_string();
        assert!(
            error.contains("nested message") || error.contains("not in the service's descriptors"),
            "{message}: {error}"
        );
    }
    assert!(naming(&format!("n.{}", "L".repeat(INTERFACE_MESSAGE_NAME_BYTES_MAX))).is_err());
}

#[test]
fn only_small_payloads_are_shown_as_json() {
    let interface = parse(&token_document()).unwrap();
    let at_limit = vec![0u8; JSON_DECODE_BYTES_MAX];
    assert!(interface.decode_json(&Payload::Bytes, &at_limit).is_ok());
    let over = vec![0u8; JSON_DECODE_BYTES_MAX + 1];
    let error = interface.decode_json(&Payload::Bytes, &over).expect_err("refused");
    assert!(error.contains("more than the 65536 shown as JSON"), "{error}");
}
