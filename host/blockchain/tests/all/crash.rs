//! Crash consistency of the commit path: the chain (genesis, then blocks
//! executed through the dispatcher and committed with their records and
//! precommits) runs on a fault-injecting store that crashes at every write
//! position in turn. Reopened, the chain always resumes at the last block
//! committed whole, with the reference run's header, and goes on to the
//! reference run's final block.

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use wasmvisor_blockchain::blocks::block_hash;
use wasmvisor_blockchain::{BlockError, BlockHeader, Blockchain, sign};
use wasmvisor_proto::Message;
use wasmvisor_proto::token::{CreateWallet, Issue, Transfer};
use wasmvisor_runtime::CallInfo;
use wasmvisor_storage::{Database, FaultMode, FaultyDatabase};

use crate::blocks::{VALIDATORS, genesis, precommits, runtimes};

const BLOCKS: u64 = 5;

/// Block `height`'s signed transactions: new wallets, issues, a transfer,
/// and one that fails (a wallet created twice).
fn block_transactions(chain_id: &[u8; 32], height: u64) -> Vec<Vec<u8>> {
    let call = |method_id| CallInfo {
        instance_id: 2,
        method_id,
    };
    let key = |seed: u64| SigningKey::from_bytes(&[seed as u8; 32]);
    let mut transactions = Vec::new();
    for wallet in 0..3 {
        let seed = height * 10 + wallet;
        transactions.push(sign(
            &key(seed),
            chain_id,
            call(0),
            CreateWallet {
                name: format!("w{seed}"),
            }
            .encode_to_vec(),
        ));
        transactions.push(sign(
            &key(seed),
            chain_id,
            call(1),
            Issue { amount: 50, seed }.encode_to_vec(),
        ));
    }
    transactions.push(sign(
        &key(height * 10),
        chain_id,
        call(2),
        Transfer {
            to: key(height * 10 + 1).verifying_key().to_bytes().to_vec(),
            amount: 20,
            seed: height,
        }
        .encode_to_vec(),
    ));
    transactions.push(sign(
        &key(height * 10),
        chain_id,
        call(0),
        CreateWallet { name: "again".into() }.encode_to_vec(),
    ));
    transactions
}

/// Opens (genesis or resume) and commits blocks up to `BLOCKS`; answers
/// the headers it committed, and the first error.
fn run(database: Arc<dyn Database>, headers: &mut Vec<BlockHeader>) -> Result<(), BlockError> {
    let (mut chain, _) = Blockchain::open(database, runtimes(), genesis, None)?;
    let chain_id = chain.chain_id();
    let result = (|| {
        for height in chain.last_header()?.height + 1..=BLOCKS {
            let transactions: Vec<_> = block_transactions(&chain_id, height)
                .iter()
                .map(|signed| chain.verify(signed).expect("the transactions verify"))
                .collect();
            let block = chain.execute(&transactions)?;
            let voters: Vec<u8> = (0..VALIDATORS).collect();
            let signatures = precommits(&chain.chain_id(), height, &block.hash, &voters);
            headers.push(chain.commit(block, signatures)?);
        }
        Ok(())
    })();
    chain.shutdown();
    result
}

#[test]
fn a_crash_at_any_write_of_the_commit_path_resumes_at_the_last_whole_block() {
    // The reference: every header, and how many keys the run writes.
    let reference_disk = Arc::new(FaultyDatabase::new(u64::MAX, FaultMode::Crash));
    let mut reference = Vec::new();
    run(Arc::clone(&reference_disk) as Arc<dyn Database>, &mut reference).unwrap();
    let total_writes = reference_disk.writes_made();
    let reopened = Arc::new(reference_disk.reopen()) as Arc<dyn Database>;
    let (chain, _) = Blockchain::open(reopened, runtimes(), genesis, None).unwrap();
    let genesis_header = {
        let mut fork = chain.read_fork();
        wasmvisor_blockchain::blocks::header(&mut fork, 0).unwrap().unwrap()
    };
    chain.shutdown();
    assert_eq!(reference.len() as u64, BLOCKS);
    assert!(total_writes > 200, "a long enough run: {total_writes} writes");
    let mut expected = vec![genesis_header];
    expected.extend(reference.iter().cloned());

    let mut resumed_heights = std::collections::BTreeSet::new();
    for crash_at in 0..=total_writes {
        let faulty = Arc::new(FaultyDatabase::new(crash_at, FaultMode::Crash));
        let mut committed = Vec::new();
        let outcome = run(Arc::clone(&faulty) as Arc<dyn Database>, &mut committed);
        assert_eq!(
            outcome.is_err(),
            crash_at < total_writes,
            "crash at {crash_at}: {outcome:?}"
        );

        // Reopen what survived: the chain resumes at the last whole block
        // (or starts over if not even the genesis state was written).
        let disk: Arc<dyn Database> = Arc::new(faulty.reopen());
        let (chain, created) = Blockchain::open(Arc::clone(&disk), runtimes(), genesis, None)
            .unwrap_or_else(|error| panic!("crash at {crash_at}: the chain does not reopen: {error}"));
        let last = chain.last_header().unwrap();
        chain.shutdown();
        let height = last.height;
        assert!(
            committed.last().is_none_or(|header| header.height <= height),
            "crash at {crash_at}: block {} was reported committed but is lost",
            committed.last().unwrap().height
        );
        assert_eq!(
            block_hash(&last),
            block_hash(&expected[height as usize]),
            "crash at {crash_at}: block {height} differs from the reference"
        );
        assert!(!created || height == 0);
        resumed_heights.insert(height);

        // And it goes on to the reference's last block.
        let mut rest = Vec::new();
        run(disk, &mut rest).unwrap_or_else(|error| panic!("crash at {crash_at}: resuming failed: {error}"));
        let final_header = rest.last().unwrap_or(&last);
        assert_eq!(
            block_hash(final_header),
            block_hash(expected.last().unwrap()),
            "crash at {crash_at}: the resumed chain ends elsewhere"
        );
    }
    // Every height was a resume point for some crash.
    assert_eq!(resumed_heights.len() as u64, BLOCKS + 1, "{resumed_heights:?}");
}
