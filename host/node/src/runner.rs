//! Running a node as a process: both APIs, and block production alone or
//! through the consensus engine, until Ctrl-C / SIGTERM.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::{NodeConfig, api, engine, gossip, http, node::Node};

/// Runs a node until it is asked to stop. Prints one line per API with the
/// address it actually bound (so port 0 can be used), then serves.
pub fn run(config: NodeConfig) -> Result<(), String> {
    config.validate().map_err(|error| error.to_string())?;
    let node = Node::open(config.clone()).map_err(|error| error.to_string())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the async runtime: {error}"))?;
    let stopping = Arc::new(AtomicBool::new(false));
    // Several validators agree on blocks through the consensus engine;
    // a node alone produces them itself.
    let (producer, engine) = match &config.consensus {
        Some(settings) => {
            let peers: Vec<String> = settings.peers.iter().map(|peer| peer.public_api.clone()).collect();
            node.set_gossip(gossip::Gossip::start(&peers)?);
            (None, Some(engine::start(Arc::clone(&node), settings, &runtime)?))
        }
        None => (Some(spawn_producer(Arc::clone(&node), Arc::clone(&stopping))?), None),
    };
    let served = runtime.block_on(async {
        let public = tokio::net::TcpListener::bind(config.public_api)
            .await
            .map_err(|error| format!("cannot bind the public API to {}: {error}", config.public_api))?;
        let private = tokio::net::TcpListener::bind(config.private_api)
            .await
            .map_err(|error| format!("cannot bind the private API to {}: {error}", config.private_api))?;
        let addresses = (public.local_addr(), private.local_addr());
        if let (Ok(public), Ok(private)) = addresses {
            // Whoever started the node may have stopped reading stdout.
            let mut stdout = std::io::stdout();
            let _ = writeln!(stdout, "public API listening on http://{public}");
            let _ = writeln!(stdout, "private API listening on http://{private}");
            let _ = stdout.flush();
        }
        let shutdown = async {
            let interrupt = tokio::signal::ctrl_c();
            #[cfg(unix)]
            {
                let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("signal handlers install");
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            #[cfg(not(unix))]
            {
                let _ = interrupt.await;
            }
        };
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let public_server = http::serve(public, api::public_router(Arc::clone(&node)), stop_rx.clone());
        let private_server = http::serve(private, api::private_router(Arc::clone(&node)), stop_rx);
        let servers = tokio::spawn(async move {
            tokio::join!(public_server, private_server);
        });
        shutdown.await;
        tracing::info!("stopping");
        let _ = stop_tx.send(true);
        servers.await.map_err(|error| error.to_string())
    });
    stopping.store(true, Ordering::SeqCst);
    if let Some(producer) = producer {
        let _ = producer.join();
    }
    if let Some(engine) = engine {
        engine.stop(&runtime);
    }
    node.shutdown();
    tracing::info!("stopped");
    served
}

/// The single validator's block producer: a block every block interval.
fn spawn_producer(node: Arc<Node>, stopping: Arc<AtomicBool>) -> Result<std::thread::JoinHandle<()>, String> {
    std::thread::Builder::new()
        .name("block-producer".into())
        .spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                std::thread::sleep(node.block_interval());
                match node.produce_block() {
                    Ok(header) => tracing::debug!(height = header.height, txs = header.tx_count, "block"),
                    Err(error) => {
                        tracing::error!("block production stopped: {error}");
                        break;
                    }
                }
            }
        })
        .map_err(|error| format!("cannot start the block producer: {error}"))
}
