//! Migrations: fast-forward, data migration committed and flushed, rolled
//! back, and every forbidden case with its code.

use wasmvisor_runtime::InstanceStatus;

use crate::support::{COUNTER_ID, Chain, artifact, core_error};

fn run(chain: &mut Chain, commands: &[&str]) -> wasmvisor_dispatcher::CommittedBlock {
    let transactions: Vec<_> = commands.iter().map(|command| chain.command(command)).collect();
    chain.block(&transactions)
}

fn state(chain: &Chain) -> wasmvisor_dispatcher::InstanceState {
    chain.dispatcher.instance(COUNTER_ID).unwrap().unwrap()
}

#[test]
fn a_fast_forward_migration_swaps_the_artifact_and_keeps_the_data() {
    let mut chain = Chain::in_memory();
    let bump = chain.transaction([1; 32], COUNTER_ID, 0, &[]);
    chain.block(&[bump]);
    let block = run(&mut chain, &["register 5:counter:1.1.0", "stop 1"]);
    assert!(block.errors.is_empty());
    let block = run(&mut chain, &["migrate counter-a 5:counter:1.1.0"]);
    assert!(block.errors.is_empty(), "{:?}", block.errors);
    assert_eq!(state(&chain).spec.artifact, artifact("5:counter:1.1.0"));
    assert_eq!(state(&chain).status, Some(InstanceStatus::Stopped));
    assert!(run(&mut chain, &["resume 1"]).errors.is_empty());
    assert_eq!(chain.count(COUNTER_ID, "count"), 1, "the data is untouched");
}

#[test]
fn a_data_migration_is_committed_flushed_and_then_upgraded() {
    let mut chain = Chain::in_memory();
    run(&mut chain, &["register 5:counter:2.0.0", "freeze 1"]);
    assert!(
        run(&mut chain, &["migrate counter-a 5:counter:2.0.0"])
            .errors
            .is_empty()
    );
    assert!(
        matches!(state(&chain).status, Some(InstanceStatus::Migrating(_))),
        "Frozen -> Migrating"
    );

    // The 2.0.0 artifact is in use by the migration: it cannot be unloaded.
    let block = run(&mut chain, &["unload 5:counter:2.0.0", "flush counter-a", "resume 1"]);
    assert_eq!(core_error(&block, 0), Some(15));
    assert_eq!(core_error(&block, 1), Some(10), "flush before commit");
    assert_eq!(core_error(&block, 2), Some(10), "a migrating instance cannot resume");

    let block = run(&mut chain, &["commit-migration counter-a 1"]);
    assert!(block.errors.is_empty(), "{:?}", block.errors);
    match state(&chain).status {
        Some(InstanceStatus::Migrating(migration)) => assert!(migration.completed_hash.is_some()),
        other => panic!("expected a committed migration, got {other:?}"),
    }
    let block = run(&mut chain, &["commit-migration counter-a 1", "flush counter-a"]);
    assert_eq!(core_error(&block, 0), Some(10), "committed twice");
    assert_eq!(core_error(&block, 1), None);
    let flushed = state(&chain);
    assert_eq!(flushed.status, Some(InstanceStatus::Stopped));
    assert_eq!(flushed.data_version.as_deref(), Some("2.0.0"));
    assert_eq!(
        chain.count(COUNTER_ID, "count"),
        42,
        "the migrated data replaced the old"
    );

    // Data 2.0.0 under artifact 1.0.0: resume refused until the artifact is
    // fast-forwarded to 2.0.0.
    let block = run(&mut chain, &["resume 1"]);
    assert_eq!(core_error(&block, 0), Some(13), "CannotResumeService");
    assert!(
        run(&mut chain, &["migrate counter-a 5:counter:2.0.0"])
            .errors
            .is_empty()
    );
    assert_eq!(state(&chain).spec.artifact, artifact("5:counter:2.0.0"));
    assert!(run(&mut chain, &["resume 1"]).errors.is_empty());
    assert_eq!(chain.status(COUNTER_ID), Some(InstanceStatus::Active));
}

#[test]
fn a_rolled_back_migration_discards_its_shadow_data() {
    let mut chain = Chain::in_memory();
    run(&mut chain, &["register 5:counter:2.0.0", "stop 1"]);
    let count = chain.count(COUNTER_ID, "count");
    run(&mut chain, &["migrate counter-a 5:counter:2.0.0"]);
    let block = run(&mut chain, &["rollback counter-a"]);
    assert!(block.errors.is_empty());
    assert_eq!(chain.status(COUNTER_ID), Some(InstanceStatus::Stopped));
    assert_eq!(
        chain.count(COUNTER_ID, "count"),
        count,
        "the script's result never lands"
    );
    let fork = chain.dispatcher.read_fork();
    assert!(
        fork.indexes_in(wasmvisor_storage::Namespace::Migration(COUNTER_ID))
            .unwrap()
            .is_empty()
    );
    assert_eq!(state(&chain).spec.artifact, artifact("5:counter:1.0.0"));
}

#[test]
fn forbidden_migrations_fail_with_their_codes() {
    let mut chain = Chain::in_memory();
    run(
        &mut chain,
        &[
            "register 5:counter:2.0.0",
            "register 5:counter:4.0.0",
            "register 5:other:2.0.0",
        ],
    );
    let block = run(&mut chain, &["migrate counter-a 5:counter:2.0.0"]);
    assert_eq!(core_error(&block, 0), Some(10), "an Active instance cannot migrate");
    run(&mut chain, &["stop 1"]);
    let block = run(
        &mut chain,
        &[
            "migrate counter-a 5:counter:1.0.0",
            "migrate counter-a 5:other:2.0.0",
            "migrate counter-a 5:counter:9.0.0",
            "migrate nobody 5:counter:2.0.0",
            "migrate counter-a 5:counter:4.0.0",
            "commit-migration counter-a 1",
            "rollback counter-a",
        ],
    );
    assert_eq!(core_error(&block, 0), Some(11), "not a newer version");
    assert_eq!(core_error(&block, 1), Some(11), "another artifact name");
    assert_eq!(core_error(&block, 2), Some(1), "unknown artifact");
    assert_eq!(core_error(&block, 3), Some(7), "unknown instance");
    assert_eq!(core_error(&block, 4), Some(12), "NoMigration across two major versions");
    assert_eq!(core_error(&block, 5), Some(10), "commit without a migration");
    assert_eq!(core_error(&block, 6), Some(10), "rollback without a migration");
}
