//! Where a guest's native stack runs out depends on the machine (its
//! frames, the engine's setting); what a block records must not. Nor
//! may a service make every node meet a refusal of the store and stop.

use ed25519_dalek::SigningKey;
use wasmvisor_artifacts::HOSTILE;
use wasmvisor_blockchain::blocks::block_hash;
use wasmvisor_runtime::{CallInfo, CallLocation, ErrorKind};
use wasmvisor_testkit::TestKitBuilder;

const HOSTILE_ID: u32 = 5;
/// The wasm runtime's code for an exhausted stack.
const STACK_EXHAUSTED: u8 = 1;

#[test]
fn a_recursion_bomb_records_the_same_outcome_whatever_the_native_stack() {
    let outcome = |stack_bytes: usize| {
        let mut kit = TestKitBuilder::new(1)
            .with_guest_stack_bytes(stack_bytes)
            .with_wasm_service(HOSTILE_ID, "hostile", "test.hostile", HOSTILE.bytes, Vec::new())
            .build();
        let key = SigningKey::from_bytes(&[7; 32]);
        let call = |method_id| CallInfo {
            instance_id: HOSTILE_ID,
            method_id,
        };
        // Method 2 recurses without end; method 10 writes a marker, calls
        // the bomb, and would succeed whatever the bomb did.
        let direct = kit.sign(&key, call(2), Vec::new());
        let mut nested = HOSTILE_ID.to_le_bytes().to_vec();
        nested.extend(2u32.to_le_bytes());
        let nested = kit.sign(&key, call(10), nested);
        kit.create_block_with(vec![direct, nested])
    };
    let small = outcome(128 << 10);
    let large = outcome(1 << 20);
    for block in [&small, &large] {
        for position in 0..2 {
            let error = &block.errors[&CallLocation::Transaction(position)];
            assert_eq!(error.kind, ErrorKind::Runtime(STACK_EXHAUSTED), "{error:?}");
        }
    }
    assert_eq!(small.errors, large.errors, "the same errors, descriptions too");
    assert_eq!(block_hash(&small.header), block_hash(&large.header));
}

#[test]
fn a_lookup_by_a_name_past_every_limit_answers_none_and_stops_no_one() {
    let mut kit = TestKitBuilder::new(1)
        .with_wasm_service(HOSTILE_ID, "hostile", "test.hostile", HOSTILE.bytes, Vec::new())
        .build();
    let key = SigningKey::from_bytes(&[8; 32]);
    let call = CallInfo {
        instance_id: HOSTILE_ID,
        method_id: 12,
    };
    // Method 12 looks the name up and stores the id found (u64::MAX: none):
    // a name longer than any key the store takes is refused by the store,
    // the same on every node — never a failure of the node.
    for name in ["hostile".to_owned(), "x".repeat(1025), "y".repeat(64 * 1024)] {
        let signed = kit.sign(&key, call, name.clone().into_bytes());
        let block = kit.create_block_with(vec![signed]);
        assert!(block.errors.is_empty(), "{:?}", block.errors);
        let mut fork = kit.read_fork();
        let address =
            wasmvisor_storage::IndexAddress::new(wasmvisor_storage::Namespace::Service(HOSTILE_ID), "found").unwrap();
        let bytes = fork.entry(&address).unwrap().get().unwrap().unwrap();
        // The SDK stores a u64 as the protobuf wrapper.
        let found = <u64 as wasmvisor_proto::Message>::decode(bytes.as_slice()).unwrap();
        let expected = if name == "hostile" {
            u64::from(HOSTILE_ID)
        } else {
            u64::MAX
        };
        assert_eq!(found, expected, "{} bytes", name.len());
    }
}
