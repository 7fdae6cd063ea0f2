//! The two kinds of failure, kept apart: what is the same on every node is
//! recorded against the call; what is this node's own stops the block's
//! execution with a node error and is recorded nowhere.

use std::sync::Arc;

use wasmvisor_dispatcher::Dispatcher;
use wasmvisor_runtime::{CallLocation, ErrorKind, NodeError, Runtime};
use wasmvisor_storage::{Database, MemoryDatabase};

use crate::support::{COUNTER_ID, Chain, RecordingRuntime, core_error};

#[test]
fn a_native_service_that_panics_records_unexpected_and_the_block_goes_on() {
    let mut chain = Chain::in_memory();
    let panics = chain.command("panic deliberately");
    let bump = chain.transaction([1; 32], COUNTER_ID, 0, &[]);
    let block = chain.block(&[panics, bump]);
    let error = &block.errors[&CallLocation::Transaction(0)];
    assert_eq!(error.kind, ErrorKind::Unexpected);
    assert_eq!(error.description, "the service panicked: deliberately");
    assert!(!block.errors.contains_key(&CallLocation::Transaction(1)));
    assert_eq!(chain.count(COUNTER_ID, "count"), 1, "the next transaction ran");
}

#[test]
fn an_artifact_this_node_cannot_deploy_stops_the_block_and_is_recorded_nowhere() {
    let mut chain = Chain::in_memory();
    // Registered by the chain (every validator reported it deployed), but
    // this node's deployment fails: the recording runtime deploys only
    // counters.
    let register = chain.command("register 5:broken:1.0.0");
    assert!(chain.block(&[register]).errors.is_empty());
    let add = chain.command("add 9 broken 5:broken:1.0.0");
    let error = chain.dispatcher.execute_proposal(&[add]).unwrap_err();
    match &error {
        NodeError::Deploy { artifact, description } => {
            assert_eq!(artifact, "5:broken:1.0.0");
            assert!(description.contains("not a counter"), "{description}");
        }
        other => panic!("expected a deploy failure, got {other:?}"),
    }
    assert!(error.to_string().contains("cannot be deployed on this node"), "{error}");

    // A runtime no node has is the same everywhere: recorded.
    let mut chain = Chain::in_memory();
    let register = chain.command("register 9:unknown:1.0.0");
    assert_eq!(core_error(&chain.block(&[register]), 0), Some(0), "IncorrectRuntime");
}

#[test]
fn a_node_without_a_runtime_the_chain_uses_refuses_to_resume_naming_it() {
    let database: Arc<dyn Database> = Arc::new(MemoryDatabase::new());
    let chain = Chain::start(Arc::clone(&database));
    chain.dispatcher.shutdown();
    // The same store, on a node that enabled only the counters' runtime:
    // the genesis uses the native runtime (id 0).
    let runtimes: Vec<Arc<dyn Runtime>> = vec![Arc::new(RecordingRuntime::default())];
    let mut dispatcher = Dispatcher::new(database, runtimes);
    let error = dispatcher.resume().unwrap_err();
    assert!(
        matches!(&error, NodeError::Runtime { runtime_id: 0, description } if description.contains("not enabled")),
        "{error:?}"
    );
}

#[test]
fn a_node_whose_migration_differs_from_the_agreed_root_stops_and_records_nothing() {
    let mut chain = Chain::in_memory();
    let setup: Vec<_> = ["register 5:counter:2.0.0", "freeze 1"]
        .iter()
        .map(|command| chain.command(command))
        .collect();
    assert!(chain.block(&setup).errors.is_empty());
    let migrate = chain.command("migrate counter-a 5:counter:2.0.0");
    assert!(chain.block(&[migrate]).errors.is_empty());
    // The validators agreed on a root this node's migration does not give.
    let agreed = chain.command("commit-migration-hash counter-a 7");
    assert!(chain.block(&[agreed]).errors.is_empty());
    let flush = chain.command("flush counter-a");
    let error = chain.dispatcher.execute_proposal(&[flush]).unwrap_err();
    assert!(
        matches!(&error, NodeError::Divergence(text) if text.contains("differs from the result every validator agreed on")),
        "{error:?}"
    );
}
