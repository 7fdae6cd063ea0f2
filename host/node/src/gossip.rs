//! Transaction gossip: a transaction admitted to this node's pool from a
//! client (or signed by this node: broadcasts, system-service steps) is
//! relayed to every other validator's public API, so whichever validator
//! proposes the next block has it.
//!
//! Each peer has its own sender thread and a queue bounded in count and in
//! bytes ([`RELAY_QUEUE_ITEMS_MAX`], [`RELAY_QUEUE_BYTES_MAX`]; one copy of
//! a transaction is shared by every queue): a slow or stopped peer never
//! slows admission; when its queue is full, relays to it are dropped (and
//! counted in the log) — the transaction stays in this node's pool and is proposed when
//! this node's turn comes. The sender takes whatever its queue holds, up to
//! a batch's limits ([`SUBMIT_BATCH_ITEMS_MAX`], [`SUBMIT_BATCH_BYTES_MAX`]),
//! and posts it as one batch (`/api/explorer/v1/transactions/batch`): it
//! never waits for a batch to fill, so a lone transaction goes at once and
//! under load one request carries many. Relayed transactions carry
//! [`RELAYED_HEADER`] and are not relayed again, so a transaction crosses
//! the network once per peer. A peer that does not take batches at all
//! (one running an older version during a rolling upgrade: 404, 405, 413
//! or 415 for the whole batch) is sent the batch's transactions one
//! request each (`/api/explorer/v1/transactions`) instead of losing them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::Duration;

pub use wasmvisor_limits::{
    RELAY_QUEUE_BYTES_MAX, RELAY_QUEUE_ITEMS_MAX, SUBMIT_BATCH_BYTES_MAX, SUBMIT_BATCH_ITEMS_MAX,
};

use crate::batch;

/// The header marking a transaction relayed by another validator.
pub const RELAYED_HEADER: &str = "x-wasmvisor-relayed";
/// How long one relay request (a batch) may take.
pub const RELAY_TIMEOUT: Duration = Duration::from_secs(10);
/// How many times a batch a busy peer refused (408, 429, 503) is sent
/// again, after [`RELAY_RETRY_PAUSE`] times the attempt.
pub const RELAY_RETRIES: u32 = 2;
/// The pause before sending a refused batch again (times the attempt).
pub const RELAY_RETRY_PAUSE: Duration = Duration::from_millis(100);

/// One peer's queue.
struct Peer {
    public_api: String,
    sender: SyncSender<Arc<[u8]>>,
    /// Bytes of the transactions waiting in the queue.
    queued_bytes: Arc<AtomicUsize>,
}

/// Relays transactions to the other validators' public APIs.
pub struct Gossip {
    peers: Vec<Peer>,
}

impl Gossip {
    /// Bytes waiting in the queues to every peer.
    pub fn queued_bytes(&self) -> usize {
        self.peers
            .iter()
            .map(|peer| peer.queued_bytes.load(Ordering::Relaxed))
            .sum()
    }

    /// The peers it relays to.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Starts one sender thread per peer public API (`http://host:port`).
    pub fn start(public_apis: &[String]) -> Result<Self, String> {
        let mut peers = Vec::with_capacity(public_apis.len());
        for base in public_apis {
            let (sender, receiver) = std::sync::mpsc::sync_channel(RELAY_QUEUE_ITEMS_MAX);
            let single = format!("{}/api/explorer/v1/transactions", base.trim_end_matches('/'));
            let queued_bytes = Arc::new(AtomicUsize::new(0));
            let drained = Arc::clone(&queued_bytes);
            std::thread::Builder::new()
                .name("gossip".into())
                .spawn(move || relay_loop(&single, &receiver, &drained))
                .map_err(|error| format!("cannot start the transaction gossip: {error}"))?;
            peers.push(Peer {
                public_api: base.clone(),
                sender,
                queued_bytes,
            });
        }
        Ok(Self { peers })
    }

    /// Queues `signed` for every peer whose queue has room for it.
    pub fn relay(&self, signed: &[u8]) {
        let shared: Arc<[u8]> = Arc::from(signed);
        for peer in &self.peers {
            let size = shared.len();
            let reserved = reserve(&peer.queued_bytes, size);
            let refused = if reserved {
                match peer.sender.try_send(Arc::clone(&shared)) {
                    Ok(()) => None,
                    Err(TrySendError::Full(_)) => Some("the relay queue to this peer is full"),
                    Err(TrySendError::Disconnected(_)) => Some("the relay to this peer stopped"),
                }
            } else {
                Some("the relay queue to this peer is full (bytes)")
            };
            if let Some(reason) = refused {
                if reserved {
                    peer.queued_bytes.fetch_sub(size, Ordering::SeqCst);
                }
                tracing::warn!(peer = peer.public_api, "{reason}; a transaction was not relayed");
            }
        }
    }
}

/// Whether a peer's answer to a whole batch says it does not take batches
/// (no such endpoint or method, a batch over its limits, not its type),
/// rather than that it is busy or judged the transactions.
fn refuses_batches(status: u16) -> bool {
    matches!(status, 404 | 405 | 413 | 415)
}

/// Posts each of `transactions` alone to `single` (a peer that does not
/// take batches); answers how many it did not answer with a success or a
/// verdict on the transaction itself.
fn relay_one_by_one(agent: &ureq::Agent, single: &str, transactions: &[Arc<[u8]>]) -> usize {
    transactions
        .iter()
        .filter(|transaction| {
            let sent = agent
                .post(single)
                .header("content-type", "application/octet-stream")
                .header(RELAYED_HEADER, "1")
                .send(&transaction[..]);
            // 4xx: the peer judged the transaction (it has it, or refuses
            // it) — it had its chance, as with a batch's verdicts.
            !matches!(sent, Ok(response) if response.status().is_success() || response.status().is_client_error())
        })
        .count()
}

/// Relays what `queue` holds to one peer: batches to `{single}/batch`,
/// or each transaction to `single` when the peer does not take batches.
fn relay_loop(single: &str, queue: &Receiver<Arc<[u8]>>, queued_bytes: &AtomicUsize) {
    let url = format!("{single}/batch");
    let url = url.as_str();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(RELAY_TIMEOUT))
        .build()
        .into();
    // Whether the peer's being unreachable has been reported.
    let mut reported = false;
    // A transaction taken from the queue that did not fit the last batch.
    let mut carried = None;
    // Ends when the node drops its `Gossip` (the senders).
    while let Some(transactions) = next_batch(queue, queued_bytes, &mut carried) {
        let body = batch::encode(&transactions);
        let mut attempts = 0;
        let outcome = loop {
            attempts += 1;
            let sent = agent
                .post(url)
                .header("content-type", "application/x-protobuf")
                .header(RELAYED_HEADER, "1")
                .send(&body[..]);
            let refusal = match sent {
                // Answered, one verdict per transaction: each admitted, or
                // refused because the peer has it already (409) or judges
                // it otherwise; either way the peer has had its chance.
                Ok(response) if response.status().is_success() => break Ok(()),
                Ok(response) => (
                    Some(response.status().as_u16()),
                    format!("answered {}", response.status()),
                ),
                Err(error) => (None, error.to_string()),
            };
            if refusal.0.is_some_and(refuses_batches) {
                let unsent = relay_one_by_one(&agent, single, &transactions);
                break if unsent == 0 {
                    Ok(())
                } else {
                    Err(format!("{}; one by one, {unsent} were not taken", refusal.1))
                };
            }
            // A busy peer (too many large bodies at once, a timeout) is
            // asked again, a little later.
            let busy = matches!(refusal.0, Some(408 | 429 | 503));
            if !busy || attempts > RELAY_RETRIES {
                break Err(refusal.1);
            }
            std::thread::sleep(RELAY_RETRY_PAUSE * attempts);
        };
        match outcome {
            Ok(()) => reported = false,
            Err(reason) => {
                // A stopped or refusing peer: report once, keep draining
                // (a peer that comes back gets the transactions submitted
                // after; these stay in this node's pool).
                if !reported {
                    tracing::warn!(
                        url,
                        transactions = transactions.len(),
                        "cannot relay transactions ({reason}); the batch is dropped"
                    );
                    reported = true;
                }
            }
        }
    }
}

/// Waits for a transaction (or takes `carried`, left over from the last
/// batch), then takes as many more as are queued, within a batch's limits:
/// `None` once the queue is closed and empty.
fn next_batch(
    queue: &Receiver<Arc<[u8]>>,
    queued_bytes: &AtomicUsize,
    carried: &mut Option<Arc<[u8]>>,
) -> Option<Vec<Arc<[u8]>>> {
    let first = match carried.take() {
        Some(first) => first,
        None => {
            let first = queue.recv().ok()?;
            queued_bytes.fetch_sub(first.len(), Ordering::SeqCst);
            first
        }
    };
    // A transaction always fits a batch alone (`wasmvisor-limits` checks
    // it), so the first is taken whatever its size.
    let mut bytes = batch::item_bytes(first.len());
    let mut transactions = vec![first];
    while transactions.len() < SUBMIT_BATCH_ITEMS_MAX {
        let Ok(next) = queue.try_recv() else { break };
        queued_bytes.fetch_sub(next.len(), Ordering::SeqCst);
        let size = batch::item_bytes(next.len());
        if bytes + size > SUBMIT_BATCH_BYTES_MAX {
            // Opens the next batch.
            *carried = Some(next);
            break;
        }
        bytes += size;
        transactions.push(next);
    }
    Some(transactions)
}

/// Adds `size` bytes to a peer's queued bytes if the sum stays within
/// [`RELAY_QUEUE_BYTES_MAX`]; answers whether it did.
fn reserve(queued_bytes: &AtomicUsize, size: usize) -> bool {
    let mut queued = queued_bytes.load(Ordering::SeqCst);
    loop {
        let Some(next) = queued.checked_add(size).filter(|next| *next <= RELAY_QUEUE_BYTES_MAX) else {
            return false;
        };
        match queued_bytes.compare_exchange_weak(queued, next, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return true,
            Err(now) => queued = now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Queues `transactions` as `Gossip::relay` does (bytes counted).
    fn queued(transactions: &[Arc<[u8]>]) -> (Receiver<Arc<[u8]>>, AtomicUsize) {
        let (sender, receiver) = std::sync::mpsc::sync_channel(RELAY_QUEUE_ITEMS_MAX);
        let bytes = AtomicUsize::new(0);
        for transaction in transactions {
            assert!(reserve(&bytes, transaction.len()));
            sender.send(Arc::clone(transaction)).unwrap();
        }
        (receiver, bytes)
    }

    #[test]
    fn the_relay_sends_what_is_queued_in_batches_within_their_limits() {
        let small: Arc<[u8]> = Arc::from(vec![1u8; 100]);
        // One transaction over a batch's count: two batches, nothing lost.
        let transactions = vec![Arc::clone(&small); SUBMIT_BATCH_ITEMS_MAX + 1];
        let (queue, bytes) = queued(&transactions);
        let mut carried = None;
        let first = next_batch(&queue, &bytes, &mut carried).unwrap();
        assert_eq!(first.len(), SUBMIT_BATCH_ITEMS_MAX);
        assert!(carried.is_none());
        assert_eq!(bytes.load(Ordering::SeqCst), 100, "the one not yet taken");
        let second = next_batch(&queue, &bytes, &mut carried).unwrap();
        assert_eq!(second.len(), 1);
        assert_eq!(bytes.load(Ordering::SeqCst), 0);

        // Bytes: two transactions whose batch would pass the byte limit go
        // in two batches, the second opening the next one.
        let half = SUBMIT_BATCH_BYTES_MAX / 2;
        let large: Arc<[u8]> = Arc::from(vec![2u8; half]);
        let (queue, bytes) = queued(&[Arc::clone(&large), Arc::clone(&large), Arc::clone(&small)]);
        let mut carried = None;
        let first = next_batch(&queue, &bytes, &mut carried).unwrap();
        assert_eq!(first.len(), 1);
        assert!(batch::encode(&first).len() <= SUBMIT_BATCH_BYTES_MAX);
        assert!(carried.is_some());
        let second = next_batch(&queue, &bytes, &mut carried).unwrap();
        assert_eq!(second.iter().map(|t| t.len()).collect::<Vec<_>>(), [half, 100]);
        assert!(batch::encode(&second).len() <= SUBMIT_BATCH_BYTES_MAX);
        assert_eq!(bytes.load(Ordering::SeqCst), 0);
    }

    /// Each single submission a peer received: its body, and whether it
    /// carried the relayed header.
    type Received = Arc<std::sync::Mutex<Vec<(Vec<u8>, bool)>>>;

    /// A peer without the batch endpoint (an older version): it answers a
    /// batch 404 and records each single submission's body and header.
    fn older_peer() -> (String, Received) {
        use axum::routing::post;
        let received = Arc::new(std::sync::Mutex::new(Vec::new()));
        let recorder = Arc::clone(&received);
        let router = axum::Router::new().route(
            "/api/explorer/v1/transactions",
            post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let recorder = Arc::clone(&recorder);
                async move {
                    let relayed = headers.contains_key(RELAYED_HEADER);
                    recorder.lock().unwrap().push((body.to_vec(), relayed));
                    "{}"
                }
            }),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, router).await.unwrap();
            });
        });
        (format!("http://{address}"), received)
    }

    #[test]
    fn a_peer_that_does_not_take_batches_gets_each_transaction_alone() {
        let (peer, received) = older_peer();
        let gossip = Gossip::start(std::slice::from_ref(&peer)).unwrap();
        let transactions: Vec<Vec<u8>> = (0..5u8).map(|byte| vec![byte; 40]).collect();
        for transaction in &transactions {
            gossip.relay(transaction);
        }
        let start = std::time::Instant::now();
        while received.lock().unwrap().len() < transactions.len() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{:?}",
                received.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let received = received.lock().unwrap();
        let mut bodies: Vec<Vec<u8>> = received.iter().map(|(body, _)| body.clone()).collect();
        bodies.sort();
        assert_eq!(bodies, transactions, "each transaction once, as sent");
        assert!(received.iter().all(|(_, relayed)| *relayed), "marked as relayed");
        assert!(refuses_batches(404) && !refuses_batches(409) && !refuses_batches(503));
    }

    #[test]
    fn the_relay_stops_when_its_queue_is_closed_and_empty() {
        let small: Arc<[u8]> = Arc::from(vec![1u8; 10]);
        let (sender, queue) = std::sync::mpsc::sync_channel(4);
        sender.send(Arc::clone(&small)).unwrap();
        drop(sender);
        let bytes = AtomicUsize::new(10);
        let mut carried = None;
        assert_eq!(next_batch(&queue, &bytes, &mut carried).unwrap().len(), 1);
        assert!(next_batch(&queue, &bytes, &mut carried).is_none());
    }
}
