//! Crash consistency: the fault-injecting backend stops at every write
//! position of a multi-block run; reopening always yields exactly the last
//! fully committed block's state and root, never a partial block.

use wasmvisor_storage::{Database, FaultMode, FaultyDatabase, Fork, Hash, IndexAddress, MemoryDatabase, Namespace};

const BLOCKS: u64 = 6;

fn height_address() -> IndexAddress {
    IndexAddress::new(Namespace::Core, "height").unwrap()
}

/// The committed height, or `None` before the first block.
fn committed_height(database: &dyn Database) -> Option<u64> {
    let mut fork = Fork::new(database.snapshot());
    let bytes = fork.entry(&height_address()).unwrap().get().unwrap()?;
    Some(u64::from_le_bytes(bytes.try_into().unwrap()))
}

/// Everything a block at `height` writes: wallets updated, a history item,
/// a config entry, some removals, and the height itself. Transactions run
/// between checkpoints; one per block fails and is rolled back.
fn execute_block(fork: &mut Fork, height: u64) {
    let wallets = IndexAddress::new(Namespace::Service(1), "wallets").unwrap();
    let history = IndexAddress::new(Namespace::Service(1), "history").unwrap();
    let config = IndexAddress::new(Namespace::Service(1), "config").unwrap();
    for transaction in 0..5u64 {
        let mut map = fork.proof_map(&wallets).unwrap();
        map.put(&(height * 3 + transaction).to_le_bytes(), &height.to_le_bytes())
            .unwrap();
        if transaction == 2 {
            map.remove(&(height.saturating_sub(1) * 3).to_le_bytes()).unwrap();
        }
        fork.proof_list(&history)
            .unwrap()
            .push(format!("{height}/{transaction}").as_bytes())
            .unwrap();
        if transaction == 3 {
            // A failing transaction: its changes roll back.
            fork.proof_entry(&config).unwrap().set(b"never").unwrap();
            fork.rollback();
        } else {
            fork.flush();
        }
    }
    fork.proof_entry(&config).unwrap().set(&height.to_le_bytes()).unwrap();
    fork.entry(&height_address())
        .unwrap()
        .set(&height.to_le_bytes())
        .unwrap();
    fork.flush();
}

/// Runs blocks from the database's committed height on; returns the state
/// root after each block it committed, and stops at the first failed merge.
fn run_blocks(database: &dyn Database, roots: &mut Vec<Hash>) -> Result<(), wasmvisor_storage::StorageError> {
    let start = committed_height(database).map_or(0, |height| height + 1);
    for height in start..BLOCKS {
        let mut fork = Fork::new(database.snapshot());
        execute_block(&mut fork, height);
        let root = fork.state_root().unwrap();
        database.merge(fork.into_patch().unwrap())?;
        roots.push(root);
    }
    Ok(())
}

fn state_root(database: &dyn Database) -> Hash {
    Fork::new(database.snapshot()).state_root().unwrap()
}

/// The reference run: roots after every block and the total number of key
/// writes (the write positions to crash at).
fn reference() -> (Vec<Hash>, u64) {
    let database = MemoryDatabase::new();
    let mut roots = Vec::new();
    let mut writes = 0;
    for height in 0..BLOCKS {
        let mut fork = Fork::new(database.snapshot());
        execute_block(&mut fork, height);
        roots.push(fork.state_root().unwrap());
        let patch = fork.into_patch().unwrap();
        writes += patch.len() as u64;
        database.merge(patch).unwrap();
    }
    (roots, writes)
}

#[test]
fn a_crash_at_any_write_position_leaves_the_last_committed_block() {
    let (reference_roots, total_writes) = reference();
    assert!(total_writes > 100, "the run should be long enough to be interesting");
    let empty_root = state_root(&MemoryDatabase::new());
    for crash_at in 0..=total_writes {
        let faulty = FaultyDatabase::new(crash_at, FaultMode::Crash);
        let mut roots = Vec::new();
        let outcome = run_blocks(&faulty, &mut roots);
        assert_eq!(outcome.is_err(), crash_at < total_writes, "crash at {crash_at}");

        let reopened = faulty.reopen();
        let height = committed_height(&reopened);
        let expected_root = match height {
            None => empty_root,
            Some(height) => reference_roots[height as usize],
        };
        assert_eq!(
            height.map_or(0, |height| height + 1),
            roots.len() as u64,
            "crash at {crash_at}"
        );
        assert_eq!(
            state_root(&reopened),
            expected_root,
            "crash at {crash_at}: root after reopening"
        );

        // The chain continues from there to the same final state.
        let mut resumed = Vec::new();
        run_blocks(&reopened, &mut resumed).unwrap();
        assert_eq!(
            state_root(&reopened),
            reference_roots[BLOCKS as usize - 1],
            "crash at {crash_at}: resumed run"
        );
    }
}

#[test]
fn a_failed_write_loses_only_that_block_and_the_database_stays_usable() {
    let (reference_roots, total_writes) = reference();
    for fail_at in (0..total_writes).step_by(7) {
        let faulty = FaultyDatabase::new(fail_at, FaultMode::Fail);
        let mut roots = Vec::new();
        run_blocks(&faulty, &mut roots).unwrap_err();
        assert!(!faulty.has_crashed());
        let height = committed_height(&faulty);
        assert_eq!(height.map_or(0, |height| height + 1), roots.len() as u64);
        // The same database, healthy again: retry from the committed height.
        let healthy = faulty.reopen();
        run_blocks(&healthy, &mut roots).unwrap();
        assert_eq!(roots, reference_roots, "fail at {fail_at}");
    }
}
