//! Transaction gossip: a transaction admitted to this node's pool from a
//! client (or signed by this node: broadcasts, system-service steps) is
//! relayed to every other validator's public API, so whichever validator
//! proposes the next block has it.
//!
//! Each peer has its own sender thread and a bounded queue
//! ([`RELAY_QUEUE_MAX`]): a slow or stopped peer never slows admission;
//! when its queue is full, relays to it are dropped (and counted in the
//! log) — the transaction stays in this node's pool and is proposed when
//! this node's turn comes. Relayed transactions carry [`RELAYED_HEADER`]
//! and are not relayed again, so a transaction crosses the network once
//! per peer.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::Duration;

/// The header marking a transaction relayed by another validator.
pub const RELAYED_HEADER: &str = "x-wasmvisor-relayed";
/// Most transactions waiting to be relayed to one peer.
pub const RELAY_QUEUE_MAX: usize = 10_000;
/// How long one relay request may take.
pub const RELAY_TIMEOUT: Duration = Duration::from_secs(10);

/// Relays transactions to the other validators' public APIs.
pub struct Gossip {
    peers: Vec<(String, SyncSender<Vec<u8>>)>,
}

impl Gossip {
    /// Starts one sender thread per peer public API (`http://host:port`).
    pub fn start(public_apis: &[String]) -> Result<Self, String> {
        let mut peers = Vec::with_capacity(public_apis.len());
        for base in public_apis {
            let (sender, receiver) = std::sync::mpsc::sync_channel(RELAY_QUEUE_MAX);
            let url = format!("{}/api/explorer/v1/transactions", base.trim_end_matches('/'));
            std::thread::Builder::new()
                .name("gossip".into())
                .spawn(move || relay_loop(&url, &receiver))
                .map_err(|error| format!("cannot start the transaction gossip: {error}"))?;
            peers.push((base.clone(), sender));
        }
        Ok(Self { peers })
    }

    /// Queues `signed` for every peer.
    pub fn relay(&self, signed: &[u8]) {
        for (peer, sender) in &self.peers {
            match sender.try_send(signed.to_vec()) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    tracing::warn!(
                        peer,
                        "the relay queue to this peer is full; a transaction was not relayed"
                    );
                }
                Err(TrySendError::Disconnected(_)) => {
                    tracing::warn!(peer, "the relay to this peer stopped");
                }
            }
        }
    }
}

fn relay_loop(url: &str, queue: &Receiver<Vec<u8>>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(RELAY_TIMEOUT))
        .build()
        .into();
    // Whether the peer's being unreachable has been reported.
    let mut reported = false;
    // Ends when the node drops its `Gossip` (the senders).
    while let Ok(signed) = queue.recv() {
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
