//! The test of docs/SERVICE-AUTHORS.md's example (quoted there verbatim).

use ed25519_dalek::SigningKey;
use wasmvisor_artifacts::GUESTBOOK;
use wasmvisor_runtime::{CallInfo, CallLocation, ErrorKind};
use wasmvisor_testkit::TestKitBuilder;

#[test]
fn visitors_sign_the_guestbook() {
    // A chain of 4 validators running the guestbook as instance 5.
    let mut testkit = TestKitBuilder::new(4)
        .with_wasm_service(5, "guestbook", "example.guestbook", GUESTBOOK.bytes, vec![])
        .build();
    let visitor = SigningKey::from_bytes(&[42; 32]);
    let sign = CallInfo {
        instance_id: 5,
        method_id: 0,
    };

    // One good entry and one empty one, in one block.
    let hello = testkit.sign(&visitor, sign, b"hello from the guide".to_vec());
    let empty = testkit.sign(&visitor, sign, Vec::new());
    let block = testkit.create_block_with(vec![hello, empty]);

    // The empty message failed with the service's code 0; the other counted.
    assert_eq!(block.errors[&CallLocation::Transaction(1)].kind, ErrorKind::Service(0));
    let count = testkit.query("guestbook", "count", &[]).unwrap();
    assert_eq!(count, 1u64.to_le_bytes());

    // Every state root can be reproduced from the block log.
    testkit.replay().unwrap();
}
