//! What the suites of this test binary share.

use wasmvisor_dispatcher::{CommittedBlock, Dispatcher, Transaction};
use wasmvisor_proto::Message;

/// The deploy spec of a wasm artifact: the component and its blake3 hash.
pub fn spec(component: &[u8]) -> Vec<u8> {
    wasmvisor_wasm::deploy_spec(component).encode_to_vec()
}

/// Executes and commits one block.
pub fn block(dispatcher: &mut Dispatcher, transactions: &[Transaction]) -> CommittedBlock {
    let proposal = dispatcher.execute_proposal(transactions).unwrap();
    dispatcher.commit(proposal).unwrap()
}
