//! Instance transitions: every allowed one, and every forbidden one with
//! its error code; hooks and routing follow the statuses.

use wasmvisor_runtime::{CallLocation, ErrorKind, InstanceStatus};

use crate::support::{COUNTER_ID, Chain, core_error};

#[test]
fn allowed_transitions_take_effect_at_commit() {
    let mut chain = Chain::in_memory();
    assert_eq!(chain.status(COUNTER_ID), Some(InstanceStatus::Active));

    let freeze = chain.command("freeze 1");
    let proposal = chain.dispatcher.execute_proposal(&[freeze]).unwrap();
    assert_eq!(
        chain.status(COUNTER_ID),
        Some(InstanceStatus::Active),
        "nothing changes before the commit"
    );
    chain.dispatcher.commit(proposal).unwrap();
    assert_eq!(
        chain.status(COUNTER_ID),
        Some(InstanceStatus::Frozen),
        "Active -> Frozen"
    );

    let stop = chain.command("stop 1");
    assert!(chain.block(&[stop]).errors.is_empty());
    assert_eq!(
        chain.status(COUNTER_ID),
        Some(InstanceStatus::Stopped),
        "Frozen -> Stopped"
    );

    let resume = chain.command("resume 1");
    assert!(chain.block(&[resume]).errors.is_empty());
    assert_eq!(
        chain.status(COUNTER_ID),
        Some(InstanceStatus::Active),
        "Stopped -> Active"
    );

    let stop = chain.command("stop 1");
    chain.block(&[stop]);
    assert_eq!(
        chain.status(COUNTER_ID),
        Some(InstanceStatus::Stopped),
        "Active -> Stopped"
    );

    let add = chain.command("add 3 counter-b 5:counter:1.0.0");
    assert!(chain.block(&[add]).errors.is_empty());
    assert_eq!(chain.status(3), Some(InstanceStatus::Active), "new -> Active");
    let freeze = chain.command("freeze 3");
    chain.block(&[freeze]);
    let resume = chain.command("resume 3");
    chain.block(&[resume]);
    assert_eq!(chain.status(3), Some(InstanceStatus::Active), "Frozen -> Active");
}

#[test]
fn forbidden_transitions_fail_with_their_codes_and_change_nothing() {
    let mut chain = Chain::in_memory();
    let root_before = chain.dispatcher.state_root().unwrap();
    let commands = [
        ("resume 1", 10),                       // Active -> Active
        ("stop 99", 7),                         // IncorrectInstanceId
        ("add 4 counter-a 5:counter:1.0.0", 4), // ServiceNameExists
        ("add 1 counter-z 5:counter:1.0.0", 5), // ServiceIdExists
        ("add 4 counter-z 5:counter:9.0.0", 1), // UnknownArtifactId
        ("register 5:counter:1.0.0", 2),        // ArtifactAlreadyDeployed
        ("register 9:counter:1.0.0", 0),        // IncorrectRuntime
        ("unload 5:counter:1.0.0", 15),         // CannotUnloadArtifact: in use
        ("unload 5:counter:3.0.0", 1),          // UnknownArtifactId
    ];
    let transactions: Vec<_> = commands.iter().map(|(command, _)| chain.command(command)).collect();
    let block = chain.block(&transactions);
    for (position, (command, code)) in commands.iter().enumerate() {
        assert_eq!(core_error(&block, position as u32), Some(*code), "{command}");
    }
    assert_eq!(
        chain.dispatcher.state_root().unwrap(),
        root_before,
        "failed transitions leave no trace"
    );

    // Stopped cannot be frozen; a second transition in one block is pending.
    let stop = chain.command("stop 1");
    chain.block(&[stop]);
    let freeze = chain.command("freeze 1");
    let resume = chain.command("resume 1");
    let stop_again = chain.command("stop 1");
    let block = chain.block(&[freeze, resume, stop_again]);
    assert_eq!(core_error(&block, 0), Some(10), "Stopped -> Frozen");
    assert_eq!(core_error(&block, 1), None, "Stopped -> Active is allowed");
    assert_eq!(core_error(&block, 2), Some(9), "ServicePending: resume already staged");
    assert_eq!(chain.status(COUNTER_ID), Some(InstanceStatus::Active));

    // An artifact that is not used can be unloaded; then it is unknown.
    let register = chain.command("register 5:counter:2.0.0");
    chain.block(&[register]);
    let add_unregistered = chain.command("add 5 counter-c 5:counter:2.0.0");
    let unload = chain.command("unload 5:counter:2.0.0");
    let block = chain.block(&[unload, add_unregistered]);
    assert_eq!(core_error(&block, 0), None);
    assert_eq!(core_error(&block, 1), Some(3), "ArtifactNotDeployed: it is unloading");
}

#[test]
fn only_the_supervisor_reaches_the_lifecycle_and_calls_are_depth_limited() {
    let mut chain = Chain::in_memory();
    let privileged = chain.transaction([1; 32], COUNTER_ID, 2, &[]);
    let recursive = chain.transaction([1; 32], COUNTER_ID, 3, &[]);
    let block = chain.block(&[privileged, recursive]);
    assert_eq!(core_error(&block, 0), Some(14), "IncorrectCall for a non-supervisor");
    assert_eq!(core_error(&block, 1), Some(8), "StackOverflow past the depth limit");
}

#[test]
fn a_service_added_in_a_block_gets_no_hooks_or_transactions_in_it() {
    let mut chain = Chain::in_memory();
    chain.recorder.clear();
    let add = chain.command("add 3 counter-b 5:counter:1.0.0");
    let early = chain.transaction([1; 32], 3, 0, &[]);
    let block = chain.block(&[add, early]);
    assert_eq!(
        core_error(&block, 1),
        Some(6),
        "ServiceNotActive in the block that adds it"
    );
    assert_eq!(chain.recorder.hooked('b'), vec![COUNTER_ID]);
    assert_eq!(chain.recorder.hooked('t'), vec![COUNTER_ID]);
    assert_eq!(chain.count(3, "constructed"), 1, "its constructor ran");

    chain.recorder.clear();
    let now = chain.transaction([1; 32], 3, 0, &[]);
    let block = chain.block(&[now]);
    assert!(block.errors.is_empty());
    assert_eq!(chain.recorder.hooked('b'), vec![COUNTER_ID, 3]);
    assert_eq!(chain.count(3, "count"), 1);
}

#[test]
fn stopped_and_frozen_instances_get_nothing_and_a_failed_call_rolls_back() {
    let mut chain = Chain::in_memory();
    let failing = chain.transaction([1; 32], COUNTER_ID, 1, &[]);
    let block = chain.block(&[failing]);
    assert_eq!(block.errors[&CallLocation::Transaction(0)].kind, ErrorKind::Service(7));
    assert_eq!(
        chain.count(COUNTER_ID, "count"),
        0,
        "the failing call's write was rolled back"
    );
    assert_eq!(
        chain.count(COUNTER_ID, "before"),
        1,
        "the hook ran once: genesis runs no hooks"
    );
    assert_eq!(chain.count(COUNTER_ID, "after"), 1);

    let freeze = chain.command("freeze 1");
    chain.block(&[freeze]);
    chain.recorder.clear();
    let bump = chain.transaction([1; 32], COUNTER_ID, 0, &[]);
    let block = chain.block(&[bump]);
    assert_eq!(core_error(&block, 0), Some(6));
    assert!(chain.recorder.hooked('b').is_empty(), "a frozen instance gets no hooks");
    assert_ne!(block.error_root, wasmvisor_dispatcher::error_root(&Default::default()));
}
