//! What the suites of this test binary share.

use wasmvisor_dispatcher::{CommittedBlock, Dispatcher, Transaction};
use wasmvisor_proto::Message;
use wasmvisor_proto::supervisor::WasmDeploySpec;

/// The deploy spec of a wasm artifact: the component and its blake3 hash.
pub fn spec(component: &[u8]) -> Vec<u8> {
    WasmDeploySpec {
        component_hash: blake3::hash(component).as_bytes().to_vec(),
        component: component.to_vec(),
    }
    .encode_to_vec()
}

/// Executes and commits one block.
pub fn block(dispatcher: &mut Dispatcher, transactions: &[Transaction]) -> CommittedBlock {
    let proposal = dispatcher.execute_proposal(transactions).unwrap();
    dispatcher.commit(proposal).unwrap()
}
