//! `network`: four validators on loopback agreeing on blocks with the
//! consensus engine.
//!
//! Four `wasmvisor run` processes (the release binary beside this one)
//! are set up with the documented commands (`generate-template`,
//! `generate-config`, `finalize`) with the native token as a system
//! service, block interval [`BLOCK_INTERVAL_MS`] and the default block
//! size (1,000). After [`WALLETS`] wallets are created and funded (not
//! timed), four client threads — one per validator — submit [`TRANSFERS`]
//! signed transfers over HTTP to their validator's public API, in batches
//! of `--submit-batch` (`POST /api/explorer/v1/transactions/batch`), or
//! one per request with `--submit-batch 1` (what a full mempool refuses
//! is retried); each validator relays what it admits to the others, in
//! batches of what its relay queue holds. A watcher polls validator 0 every 10 ms for new blocks and
//! checks each block's error root to be that of no errors: a failed
//! transfer stops the run instead of flattering it.
//!
//! Figures: committed transfers per second (transfers over the time from
//! the first submission to the block that holds the last of them);
//! the interval between consecutive blocks under that load (p50, p99), and
//! with no load; and the latency of a single transfer from submission to
//! its block, submitted alone ([`LATENCY_SAMPLES`] of them, round robin
//! over the validators), p50 and p99. All four processes share this
//! machine's two cores with the clients.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail, ensure};
use wasmvisor_node::NodeConfig;
use wasmvisor_node::operator::Client;
use wasmvisor_node::system::{SystemServiceConfig, SystemServicesConfig};

use crate::Options;
use crate::report::{Figure, note, percentile};
use crate::workload;

/// Wallets created for the run.
pub const WALLETS: usize = 2_000;
/// Transfers per run.
pub const TRANSFERS: usize = 40_000;
/// Transfers submitted alone for the latency figure.
pub const LATENCY_SAMPLES: usize = 40;
/// The template's block interval (the least time between blocks).
pub const BLOCK_INTERVAL_MS: u64 = 100;

const TOKEN_INSTANCE: u32 = 1;

struct Validator {
    child: Child,
    public: Client,
}

impl Drop for Validator {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wasmvisor(binary: &Path, args: &[&str]) -> anyhow::Result<()> {
    let output = Command::new(binary).args(args).output()?;
    ensure!(
        output.status.success(),
        "wasmvisor {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// Configures four validators in `dir`; answers their configurations and
/// public API addresses.
fn configure(binary: &Path, dir: &Path, block_size: u32) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let interval = BLOCK_INTERVAL_MS.to_string();
    let block_size = block_size.to_string();
    // The validators' keys are sealed with a passphrase, as in production
    // (a file only its user may read).
    let passphrase = path("passphrase");
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&passphrase)?
            .write_all(b"the benchmark network's passphrase\n")?;
    }
    wasmvisor(
        binary,
        &[
            "generate-template",
            &path("template.toml"),
            "--validators-count",
            "4",
            "--block-interval-ms",
            &interval,
            "--transactions-per-block-max",
            &block_size,
        ],
    )?;
    let mut publics = Vec::new();
    for index in 0..4 {
        let public = format!("127.0.0.1:{}", free_port()?);
        wasmvisor(
            binary,
            &[
                "generate-config",
                &path("template.toml"),
                &path(&format!("v{index}")),
                "--public-api",
                &public,
                "--private-api",
                &format!("127.0.0.1:{}", free_port()?),
                "--peer-address",
                &format!("127.0.0.1:{}", free_port()?),
                "--passphrase-file",
                &passphrase,
            ],
        )?;
        publics.push(public);
    }
    let public_configs: Vec<String> = (0..4).map(|index| path(&format!("v{index}/public.toml"))).collect();
    let mut validators = Vec::new();
    for (index, public) in publics.into_iter().enumerate() {
        let config = path(&format!("v{index}/node.toml"));
        let mut args = vec![
            "finalize",
            &path(&format!("v{index}/private.toml")),
            &config,
            "--public-configs",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
        args.extend(public_configs.iter().cloned());
        wasmvisor(binary, &args.iter().map(String::as_str).collect::<Vec<_>>())?;
        // The same system service on every validator (one genesis).
        let mut node = NodeConfig::load(Path::new(&config)).map_err(|error| anyhow!("{error}"))?;
        node.system_services = SystemServicesConfig {
            enable: None,
            services: [(
                "token".to_owned(),
                SystemServiceConfig {
                    artifact: format!("native:{}:1.0.0", wasmvisor_native::TOKEN_ARTIFACT_NAME),
                    component: None,
                    params: String::new(),
                },
            )]
            .into(),
        };
        std::fs::write(&config, toml::to_string_pretty(&node)?)?;
        validators.push((PathBuf::from(config), format!("http://{public}")));
    }
    Ok(validators)
}

fn start(binary: &Path, config: &Path, public: String) -> anyhow::Result<Validator> {
    let child = Command::new(binary)
        .args(["run", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting wasmvisor")?;
    let validator = Validator {
        child,
        public: Client::new(&public, None),
    };
    let started = Instant::now();
    while validator.public.get("/api/system/v1/info").is_err() {
        ensure!(started.elapsed() < Duration::from_secs(60), "{public} does not answer");
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(validator)
}

fn height(client: &Client) -> anyhow::Result<u64> {
    client.get("/api/system/v1/info").map_err(|error| anyhow!(error))?["height"]
        .as_u64()
        .context("no height")
}

/// The transactions of block `height`, which must have recorded no error
/// (its error root is that of no errors): a failed transfer would make the
/// figure meaningless.
fn tx_count(client: &Client, height: u64) -> anyhow::Result<u64> {
    let block = client
        .get(&format!("/api/explorer/v1/block?height={height}"))
        .map_err(|error| anyhow!(error))?;
    let no_errors = hex::encode(wasmvisor_dispatcher::error_root(&Default::default()));
    ensure!(
        block["error_hash"].as_str() == Some(no_errors.as_str()),
        "block {height} recorded errors: the workload must succeed"
    );
    block["tx_count"].as_u64().context("no tx_count")
}

/// Submits `signed`, retrying while the mempool is full.
fn submit(client: &Client, signed: &[u8]) -> anyhow::Result<String> {
    loop {
        match client.post_protobuf("/api/explorer/v1/transactions", signed) {
            Ok(reply) => return reply["tx_hash"].as_str().map(str::to_owned).context("no hash"),
            Err(error) if error.contains("mempool is full") => std::thread::sleep(Duration::from_millis(5)),
            Err(error) => bail!("a transaction was refused: {error}"),
        }
    }
}

/// Submits `signed` in one batch request, retrying what a full mempool
/// refuses.
fn submit_batch(client: &Client, signed: &[&[u8]]) -> anyhow::Result<()> {
    let mut waiting = signed.to_vec();
    while !waiting.is_empty() {
        let body = wasmvisor_node::batch::encode(&waiting);
        let reply = client
            .post_protobuf("/api/explorer/v1/transactions/batch", &body)
            .map_err(|error| anyhow!("a batch was refused: {error}"))?;
        let results = reply["results"].as_array().context("no results")?;
        ensure!(results.len() == waiting.len(), "a result per transaction");
        let mut refused = Vec::new();
        for (transaction, result) in waiting.into_iter().zip(results) {
            match result["status"].as_u64() {
                None => {}
                Some(503) => refused.push(transaction),
                Some(_) => bail!("a transaction was refused: {result}"),
            }
        }
        if !refused.is_empty() {
            std::thread::sleep(Duration::from_millis(5));
        }
        waiting = refused;
    }
    Ok(())
}

fn wait_committed(client: &Client, hash: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        // Unknown (404) until the transaction is relayed to this node.
        let outcome = client
            .get_optional(&format!("/api/explorer/v1/transactions?hash={hash}"))
            .map_err(|error| anyhow!(error))?
            .unwrap_or_default();
        match outcome["status"].as_str() {
            Some("committed") => return Ok(()),
            Some("failed") => bail!("transaction {hash} failed: {outcome}"),
            _ => {}
        }
        ensure!(started.elapsed() < Duration::from_secs(300), "{hash} is not committed");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Block intervals (ms) seen on `client` until `done` says stop.
fn watch_blocks(client: &Client, mut done: impl FnMut(u64) -> bool) -> anyhow::Result<Vec<(Instant, u64)>> {
    let mut seen = vec![(Instant::now(), height(client)?)];
    loop {
        let now = height(client)?;
        if now > seen.last().expect("one entry").1 {
            seen.push((Instant::now(), now));
            if done(now) {
                return Ok(seen);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn intervals_ms(seen: &[(Instant, u64)]) -> Vec<f64> {
    seen.windows(2)
        .map(|pair| {
            let blocks = (pair[1].1 - pair[0].1) as f64;
            (pair[1].0 - pair[0].0).as_secs_f64() * 1000.0 / blocks
        })
        .collect()
}

/// Runs the scenario.
pub fn run(options: Options) -> anyhow::Result<()> {
    let batch = options.submit_batch;
    let binary = std::env::current_exe()?.with_file_name("wasmvisor");
    ensure!(
        binary.exists(),
        "{} is missing: build it with `cargo build --release -p wasmvisor-node`",
        binary.display()
    );
    let dir = tempfile::tempdir()?;
    let configs = configure(&binary, dir.path(), options.block_size)?;
    note("network: starting 4 validators");
    let validators = configs
        .into_iter()
        .map(|(config, public)| start(&binary, &config, public))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let watcher = &validators[0].public;
    let started = height(watcher)?;
    let idle = watch_blocks(watcher, |now| now >= started + 20)?;
    let chain_id: [u8; 32] = hex::decode(
        watcher
            .get("/api/explorer/v1/block?height=0")
            .map_err(|error| anyhow!(error))?["hash"]
            .as_str()
            .context("no hash")?,
    )?
    .try_into()
    .map_err(|_| anyhow!("a 32-byte hash"))?;

    note(format!("network: creating and funding {WALLETS} wallets"));
    let keys: Vec<_> = (0..WALLETS).map(workload::wallet_key).collect();
    let setup = workload::setup_transactions(&chain_id, TOKEN_INSTANCE, &keys);
    let mut last = String::new();
    for (index, signed) in setup.iter().enumerate() {
        last = submit(&validators[index % 4].public, signed)?;
    }
    wait_committed(watcher, &last)?;
    for validator in &validators {
        wait_committed(&validator.public, &last)?;
    }

    note(format!(
        "network: latency of {LATENCY_SAMPLES} transfers submitted alone"
    ));
    let samples = workload::transfers(&chain_id, TOKEN_INSTANCE, &keys, LATENCY_SAMPLES, 1 << 40);
    let mut latencies = Vec::new();
    for (index, signed) in samples.iter().enumerate() {
        let client = &validators[index % 4].public;
        let began = Instant::now();
        let hash = submit(client, signed)?;
        wait_committed(client, &hash)?;
        latencies.push(began.elapsed().as_secs_f64() * 1000.0);
    }

    note(format!("network: {TRANSFERS} transfers through 4 validators"));
    let transfers = workload::transfers(&chain_id, TOKEN_INSTANCE, &keys, TRANSFERS, 0);
    let from = height(watcher)?;
    let began = Instant::now();
    let (loaded, ended) = std::thread::scope(|scope| -> anyhow::Result<_> {
        let clients: Vec<_> = (0..4)
            .map(|index| {
                let (validators, transfers) = (&validators, &transfers);
                scope.spawn(move || -> anyhow::Result<()> {
                    let mine: Vec<&[u8]> = transfers.iter().skip(index).step_by(4).map(Vec::as_slice).collect();
                    for signed in mine.chunks(batch) {
                        if batch == 1 {
                            submit(&validators[index].public, signed[0])?;
                        } else {
                            submit_batch(&validators[index].public, signed)?;
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        let mut committed = 0u64;
        let mut counted = from;
        let mut failure = None;
        let seen = watch_blocks(watcher, |now| {
            for height in counted + 1..=now {
                match tx_count(watcher, height) {
                    Ok(count) => committed += count,
                    Err(error) => failure = Some(error),
                }
            }
            counted = now;
            committed >= TRANSFERS as u64 || failure.is_some()
        })?;
        let ended = seen.last().expect("one entry").0;
        if let Some(error) = failure {
            return Err(error);
        }
        for client in clients {
            client.join().map_err(|_| anyhow!("a client panicked"))??;
        }
        Ok((seen, ended))
    })?;
    let seconds = (ended - began).as_secs_f64();
    Figure::new("network", "transfers_per_s", TRANSFERS as f64 / seconds, "1/s")
        .with("validators", 4)
        .with("transfers", TRANSFERS)
        .with("submit_batch", batch)
        .with("block_size", options.block_size)
        .print();
    let loaded = intervals_ms(&loaded);
    let idle = intervals_ms(&idle);
    for (metric, values, p) in [
        ("block_interval_loaded_p50_ms", &loaded, 50.0),
        ("block_interval_loaded_p99_ms", &loaded, 99.0),
        ("block_interval_idle_p50_ms", &idle, 50.0),
        ("commit_latency_p50_ms", &latencies, 50.0),
        ("commit_latency_p99_ms", &latencies, 99.0),
    ] {
        Figure::new("network", metric, percentile(values, p), "ms")
            .with("validators", 4)
            .with("block_interval_ms", BLOCK_INTERVAL_MS)
            .print();
    }
    drop(validators);
    Ok(())
}
