//! Where a guest's native stack runs out depends on the machine (its
//! frames, the engine's setting); what a block records must not.

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
