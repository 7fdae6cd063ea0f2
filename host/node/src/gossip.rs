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
//! this node's turn comes. Relayed transactions carry [`RELAYED_HEADER`]
//! and are not relayed again, so a transaction crosses the network once
//! per peer.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::Duration;

pub use wasmvisor_limits::{RELAY_QUEUE_BYTES_MAX, RELAY_QUEUE_ITEMS_MAX};

/// The header marking a transaction relayed by another validator.
pub const RELAYED_HEADER: &str = "x-wasmvisor-relayed";
/// How long one relay request may take.
pub const RELAY_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// Starts one sender thread per peer public API (`http://host:port`).
    pub fn start(public_apis: &[String]) -> Result<Self, String> {
        let mut peers = Vec::with_capacity(public_apis.len());
        for base in public_apis {
            let (sender, receiver) = std::sync::mpsc::sync_channel(RELAY_QUEUE_ITEMS_MAX);
            let url = format!("{}/api/explorer/v1/transactions", base.trim_end_matches('/'));
            let queued_bytes = Arc::new(AtomicUsize::new(0));
            let drained = Arc::clone(&queued_bytes);
            std::thread::Builder::new()
                .name("gossip".into())
                .spawn(move || relay_loop(&url, &receiver, &drained))
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

fn relay_loop(url: &str, queue: &Receiver<Arc<[u8]>>, queued_bytes: &AtomicUsize) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(RELAY_TIMEOUT))
        .build()
        .into();
    // Whether the peer's being unreachable has been reported.
    let mut reported = false;
    // Ends when the node drops its `Gossip` (the senders).
    while let Ok(signed) = queue.recv() {
        queued_bytes.fetch_sub(signed.len(), Ordering::SeqCst);
        let sent = agent
            .post(url)
            .header("content-type", "application/x-protobuf")
            .header(RELAYED_HEADER, "1")
            .send(&signed[..]);
        match sent {
            // Admitted, or refused because the peer has it already (409) or
            // judges it otherwise: either way the peer has had its chance.
            Ok(_) => reported = false,
            Err(error) => {
                // A stopped peer: report once, keep draining (a peer that
                // comes back gets the transactions submitted after).
                if !reported {
                    tracing::warn!(url, "cannot relay transactions: {error}");
                    reported = true;
                }
            }
        }
    }
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
