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
    let fatal = Arc::new(Fatal::default());
    // Several validators agree on blocks through the consensus engine;
    // a node alone produces them itself.
    let (producer, engine) = match &config.consensus {
        Some(settings) => {
            let peers: Vec<String> = settings.peers.iter().map(|peer| peer.public_api.clone()).collect();
            node.set_gossip(gossip::Gossip::start(&peers)?);
            let on_fatal: engine::OnFatal = {
                let fatal = Arc::clone(&fatal);
                Arc::new(move |cause| fatal.raise(cause))
            };
            (
                None,
                Some(engine::start(Arc::clone(&node), settings, &runtime, on_fatal)?),
            )
        }
        None => (
            Some(spawn_producer(
                Arc::clone(&node),
                Arc::clone(&stopping),
                Arc::clone(&fatal),
            )?),
            None,
        ),
    };
    let served = runtime.block_on(async {
        // Signal handlers first: a SIGTERM that comes as soon as the
        // addresses are printed must stop the node cleanly, not kill it.
        #[cfg(unix)]
        let (mut interrupt, mut terminate) = {
            use tokio::signal::unix::{SignalKind, signal};
            let install = |kind| signal(kind).map_err(|error| format!("cannot install a signal handler: {error}"));
            (install(SignalKind::interrupt())?, install(SignalKind::terminate())?)
        };
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
            #[cfg(unix)]
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
                _ = fatal.raised.notified() => {}
            }
            #[cfg(not(unix))]
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = fatal.raised.notified() => {}
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
    if let Some(producer) = producer
        && producer.join().is_err()
    {
        fatal.raise("the block producer panicked".into());
    }
    if let Some(engine) = engine {
        engine.stop(&runtime);
    }
    node.shutdown();
    if let Some(cause) = fatal.cause() {
        tracing::error!("stopped: {cause}");
        return Err(cause);
    }
    tracing::info!("stopped");
    served
}

/// A node-local failure that stops the node: the first cause is kept, and
/// raising it stops the APIs as Ctrl-C would; [`run`] then returns it (the
/// binary exits non-zero with it).
#[derive(Default)]
struct Fatal {
    cause: std::sync::Mutex<Option<String>>,
    raised: tokio::sync::Notify,
}

impl Fatal {
    fn raise(&self, cause: String) {
        // The one lock whose poisoning is passed over: the way out must
        // work whatever else failed, and it holds only the cause's text.
        let mut kept = self.cause.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if kept.is_none() {
            tracing::error!("fatal: {cause}; the node stops");
            *kept = Some(cause);
        }
        self.raised.notify_one();
    }

    fn cause(&self) -> Option<String> {
        self.cause
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// The single validator's block producer: a block every block interval.
/// A failure to make a block (the store cannot write it, a block cannot be
/// recorded) is fatal: [`Fatal::raise`].
fn spawn_producer(
    node: Arc<Node>,
    stopping: Arc<AtomicBool>,
    fatal: Arc<Fatal>,
) -> Result<std::thread::JoinHandle<()>, String> {
    std::thread::Builder::new()
        .name("block-producer".into())
        // Blocks execute here: room for the deepest call chain of guests.
        .stack_size(wasmvisor_limits::BLOCK_THREAD_STACK_BYTES)
        .spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                std::thread::sleep(node.block_interval());
                // Each committed block logs itself (`Node::after_block`).
                match node.produce_block() {
                    Ok(_) => {}
                    Err(error) => {
                        fatal.raise(format!("block production failed: {error}"));
                        break;
                    }
                }
            }
        })
        .map_err(|error| format!("cannot start the block producer: {error}"))
}
