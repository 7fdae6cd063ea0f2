//! What a service may do only on its node, only in after-commit: broadcast
//! transactions signed by the node, and read the node's settings.

use wasmvisor_artifacts::NOTEBOOK;
use wasmvisor_runtime::QueryError;
use wasmvisor_testkit::{TestKit, TestKitBuilder};

const BOOK: u32 = 1;

fn notebook(announce: Option<&str>) -> TestKit {
    notebook_with(announce.map(|text| ("announce", text)))
}

fn notebook_with(setting: Option<(&str, &str)>) -> TestKit {
    let builder = TestKitBuilder::new(1).with_wasm_service(BOOK, "book", "notebook", NOTEBOOK.bytes, vec![]);
    match setting {
        Some((key, value)) => builder.with_service_setting("book", key, value),
        None => builder,
    }
    .build()
}

#[test]
fn an_ordinary_service_broadcasts_a_few_small_transactions_at_most() {
    // The notebook tries one broadcast over the size limit and eight small
    // ones from one after-commit: the node keeps the first four small ones.
    let mut testkit = notebook_with(Some(("flood", "1")));
    let counts: Vec<u32> = (0..4).map(|_| testkit.create_block().header.tx_count).collect();
    assert_eq!(
        counts.iter().sum::<u32>(),
        u32::try_from(wasmvisor_limits::SERVICE_BROADCASTS_PER_BLOCK_ITEMS_MAX).unwrap(),
        "{counts:?}"
    );
    assert_eq!(count(&testkit), 4);
}

fn count(testkit: &TestKit) -> u64 {
    let answer = testkit.query("book", "count", &[]).unwrap();
    u64::from_le_bytes(answer.try_into().unwrap())
}

#[test]
fn an_ordinary_service_broadcasts_from_after_commit_what_its_node_setting_says() {
    let mut testkit = notebook(Some("hello from the node"));
    let mut announced = None;
    for _ in 0..3 {
        let block = testkit.create_block();
        if block.header.tx_count > 0 {
            announced = Some(block);
        }
    }
    let block = announced.expect("the node's broadcast is committed");
    assert_eq!(block.header.tx_count, 1, "one transaction, signed by the node");
    assert!(block.errors.is_empty(), "{:?}", block.errors);
    assert_eq!(count(&testkit), 1, "the note is written");
    // Once: the service sees its note and broadcasts nothing more.
    for _ in 0..3 {
        assert_eq!(testkit.create_block().header.tx_count, 0);
    }
    assert_eq!(count(&testkit), 1);
    testkit.replay().unwrap();
}

#[test]
fn node_settings_are_seen_in_after_commit_only() {
    // A query runs on the same node with the same settings, and cannot
    // read them: what answers queries could otherwise differ by node.
    let mut testkit = notebook(Some("hello from the node"));
    testkit.create_block();
    match testkit.query("book", "announcement", &[]) {
        Err(QueryError::BadRequest(message)) => {
            assert!(message.contains("only available in after-commit"), "{message}")
        }
        other => panic!("a query must not read the node's settings: {other:?}"),
    }
    // Without the setting nothing is broadcast.
    let mut quiet = notebook(None);
    for _ in 0..3 {
        assert_eq!(quiet.create_block().header.tx_count, 0);
    }
    assert_eq!(count(&quiet), 0);
}
