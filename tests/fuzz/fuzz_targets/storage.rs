//! Storage operation sequences against a model: every index kind, any
//! sequence of writes, removals, clears, flushes, rollbacks and commits,
//! compared with a `BTreeMap`/`Vec` model after every step, proof roots
//! (whenever an input asks, so trees take batches of every size) against
//! roots computed from scratch (the same machine as the storage
//! crate's property tests).
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use wasmvisor_storage::{IndexKind, MemoryDatabase};

#[allow(dead_code)]
#[path = "../../../host/storage/tests/all/model_machine.rs"]
mod model_machine;

use model_machine::{Op, run_model};

/// Most operations one input runs (each is compared with the model).
const OPS_MAX: usize = 200;

fn op(input: &mut Unstructured<'_>) -> arbitrary::Result<Op> {
    Ok(match u8::arbitrary(input)? % 16 {
        0..=7 => {
            let key = u8::arbitrary(input)? % 24;
            let length = usize::from(u8::arbitrary(input)? % 16);
            Op::Write(key, input.bytes(length)?.to_vec())
        }
        8..=10 => Op::Remove(u8::arbitrary(input)? % 24),
        11 => Op::Clear,
        12 => Op::Flush,
        13 => Op::Root,
        14 => Op::Rollback,
        _ => Op::Commit,
    })
}

fuzz_target!(|data: &[u8]| {
    let mut input = Unstructured::new(data);
    let Ok(kind) = input.choose(&IndexKind::ALL) else {
        return;
    };
    let mut ops = Vec::new();
    while ops.len() < OPS_MAX {
        match op(&mut input) {
            Ok(op) => ops.push(op),
            Err(_) => break,
        }
    }
    run_model(&MemoryDatabase::new(), *kind, &ops);
});
