//! Restart: every artifact deployed again, every instance re-committed,
//! then on_resume; state and state root identical to before.

use std::sync::Arc;

use wasmvisor_dispatcher::Dispatcher;
use wasmvisor_runtime::InstanceStatus;
use wasmvisor_storage::{Database, RocksDatabase};

use crate::support::{COUNTER_ID, Chain, runtimes};

#[test]
fn a_restarted_node_resumes_with_the_same_state_and_keeps_going() {
    let directory = tempfile::tempdir().unwrap();
    let (root, height) = {
        let database: Arc<dyn Database> = Arc::new(RocksDatabase::open(directory.path()).unwrap());
        let mut chain = Chain::start(database);
        let bump = chain.transaction([1; 32], COUNTER_ID, 0, &[]);
        let freeze_later = chain.command("add 3 counter-b 5:counter:1.0.0");
        chain.block(&[bump, freeze_later]);
        let freeze = chain.command("freeze 3");
        chain.block(&[freeze]);
        let root = chain.dispatcher.state_root().unwrap();
        let height = chain.dispatcher.height();
        chain.dispatcher.shutdown();
        (root, height)
    };

    let database: Arc<dyn Database> = Arc::new(RocksDatabase::open(directory.path()).unwrap());
    let (recorder, runtimes) = runtimes();
    let mut dispatcher = Dispatcher::new(database, runtimes);
    assert!(dispatcher.has_genesis().unwrap());
    dispatcher.resume().unwrap();
    assert_eq!(dispatcher.height(), height);
    assert_eq!(dispatcher.state_root().unwrap(), root);
    assert_eq!(
        dispatcher.instance(3).unwrap().unwrap().status,
        Some(InstanceStatus::Frozen)
    );
    assert_eq!(
        recorder.letters(),
        "idccr",
        "the counter artifact redeployed, both instances re-committed"
    );

    // Blocks continue on top of the restored state.
    let proposal = dispatcher.execute_proposal(&[]).unwrap();
    assert_eq!(proposal.height, height.unwrap() + 1);
    dispatcher.commit(proposal).unwrap();
    assert_eq!(
        recorder.hooked('b'),
        vec![COUNTER_ID],
        "only the active counter gets hooks"
    );
}
