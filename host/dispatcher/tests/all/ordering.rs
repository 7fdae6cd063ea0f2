//! The exact call sequence a runtime sees, checked against the grammar.

use std::sync::Arc;

use regex::Regex;
use wasmvisor_dispatcher::Dispatcher;
use wasmvisor_runtime::NodeError;
use wasmvisor_storage::MemoryDatabase;

use crate::support::{COUNTER_ID, Chain, GRAMMAR, genesis_config, runtimes};

#[test]
fn genesis_blocks_discarded_proposals_restart_and_shutdown_follow_the_grammar() {
    let grammar = Regex::new(GRAMMAR).unwrap();
    let mut chain = Chain::in_memory();
    // Genesis: the counter artifact deployed, counter-a started and committed.
    assert_eq!(chain.recorder.letters(), "idsca");

    // A block with two proposals: the first is discarded.
    let bump = chain.transaction([1; 32], COUNTER_ID, 0, &[]);
    let discarded = chain
        .dispatcher
        .execute_proposal(&[bump.clone(), bump.clone()])
        .unwrap();
    drop(discarded);
    let committed = chain.dispatcher.execute_proposal(&[bump]).unwrap();
    chain.dispatcher.commit(committed).unwrap();
    assert_eq!(
        chain.count(COUNTER_ID, "count"),
        1,
        "only the committed proposal counts"
    );

    // A block that adds a service and stops another, then one resuming it.
    let add = chain.command("add 3 counter-b 5:counter:1.0.0");
    let stop = chain.command("stop 1");
    chain.block(&[add, stop]);
    let resume = chain.command("resume 1");
    chain.block(&[resume]);
    // An artifact registered and another unloaded.
    let register = chain.command("register 5:counter:2.0.0");
    chain.block(&[register]);
    let unload = chain.command("unload 5:counter:2.0.0");
    chain.block(&[unload]);

    let database = Arc::clone(&chain.database);
    let first_life = Arc::clone(&chain.recorder);
    chain.dispatcher.shutdown();
    let letters = first_life.letters();
    assert!(
        grammar.is_match(&letters),
        "first life {letters:?} does not follow the grammar"
    );
    assert!(letters.ends_with("x"));
    // Exact expectations for the first blocks: the discarded proposal's
    // hooks and executes, then the committed proposal, then the commit.
    assert!(letters.starts_with("idscabeetbeta"), "{letters}");

    // Restart on the same storage: RESUME, one more block, shutdown.
    let (recorder, runtimes) = runtimes();
    let mut dispatcher = Dispatcher::new(database, runtimes);
    dispatcher.resume().unwrap();
    let proposal = dispatcher.execute_proposal(&[]).unwrap();
    dispatcher.commit(proposal).unwrap();
    dispatcher.shutdown();
    let letters = recorder.letters();
    assert!(
        grammar.is_match(&letters),
        "second life {letters:?} does not follow the grammar"
    );
    assert!(
        letters.starts_with("idccr"),
        "artifact redeployed, both counters re-committed, then on_resume: {letters}"
    );
}

#[test]
fn out_of_order_calls_are_refused() {
    let (_, runtimes_a) = runtimes();
    let mut dispatcher = Dispatcher::new(Arc::new(MemoryDatabase::new()), runtimes_a);
    assert!(
        matches!(dispatcher.execute_proposal(&[]), Err(NodeError::Lifecycle(_))),
        "a block before genesis"
    );
    assert!(
        matches!(dispatcher.resume(), Err(NodeError::Lifecycle(_))),
        "resume without a genesis block"
    );

    let mut chain = Chain::in_memory();
    assert!(
        matches!(chain.dispatcher.genesis(genesis_config()), Err(NodeError::Lifecycle(_))),
        "genesis twice"
    );
    let first = chain.dispatcher.execute_proposal(&[]).unwrap();
    let second = chain.dispatcher.execute_proposal(&[]).unwrap();
    chain.dispatcher.commit(first).unwrap();
    assert!(
        matches!(chain.dispatcher.commit(second), Err(NodeError::Lifecycle(_))),
        "two commits at one height"
    );
}

#[test]
fn block_records_commit_with_the_block_but_cannot_change_its_state_root() {
    use wasmvisor_storage::{IndexAddress, Namespace};
    let mut chain = Chain::in_memory();
    let log = IndexAddress::new(Namespace::Core, "block-log").unwrap();
    let mut proposal = chain.dispatcher.execute_proposal(&[]).unwrap();
    proposal
        .record(|fork| fork.list(&log)?.push(b"block 1").map(drop))
        .unwrap();
    let committed = chain.dispatcher.commit(proposal).unwrap();
    assert_eq!(chain.dispatcher.state_root().unwrap(), committed.state_root);
    assert_eq!(
        chain.dispatcher.read_fork().list(&log).unwrap().get(0).unwrap(),
        Some(b"block 1".to_vec())
    );

    let committed_index = IndexAddress::new(Namespace::Core, "sneaky").unwrap();
    let mut proposal = chain.dispatcher.execute_proposal(&[]).unwrap();
    proposal
        .record(|fork| fork.proof_entry(&committed_index)?.set(b"x"))
        .unwrap();
    assert!(matches!(
        chain.dispatcher.commit(proposal),
        Err(NodeError::Lifecycle(_))
    ));
    assert_eq!(
        chain
            .dispatcher
            .read_fork()
            .proof_entry(&committed_index)
            .unwrap()
            .get()
            .unwrap(),
        None
    );
}
