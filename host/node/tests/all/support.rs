//! What the tests of this binary share: the real `wasmvisor` binary on
//! loopback ports, and small HTTP helpers.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running `wasmvisor run-dev` with the API addresses it printed.
pub struct RunningNode {
    pub child: Child,
    pub public: String,
    pub private: String,
    /// Its data directory (where it keeps its keys and, unless configured,
    /// the private API's token).
    pub data_dir: PathBuf,
}

/// The private API's token of every node these tests started, by the
/// private API's address: [`get`] and [`post`] send it with a request to
/// that address, as the operator's CLI does on the node's machine.
static TOKENS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

fn token_for(url: &str) -> Option<String> {
    let tokens = TOKENS.lock().unwrap();
    tokens
        .iter()
        .find(|(base, _)| url.starts_with(base.as_str()) && url[base.len()..].starts_with('/'))
        .map(|(_, token)| token.clone())
}

/// The command `wasmvisor run-dev` on free loopback ports with `data_dir`.
pub fn run_dev(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wasmvisor"));
    command
        .args([
            "run-dev",
            "--public-api",
            "127.0.0.1:0",
            "--private-api",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data_dir);
    command
}

impl RunningNode {
    /// `wasmvisor run-dev` on free loopback ports.
    pub fn start(data_dir: &Path) -> Self {
        Self::spawn(run_dev(data_dir).stderr(Stdio::null()), data_dir.to_owned(), None)
    }

    /// `wasmvisor run --config <file>`.
    pub fn run(config: &Path) -> Self {
        Self::run_with(config, |command| {
            command.stderr(Stdio::null());
        })
    }

    /// `wasmvisor run --config <file>`, its command set up by `setup`
    /// (environment, where its log goes).
    pub fn run_with(config: &Path, setup: impl FnOnce(&mut Command)) -> Self {
        let text = std::fs::read_to_string(config).unwrap();
        let table: toml::Table = toml::from_str(&text).unwrap();
        let data_dir = config
            .parent()
            .unwrap()
            .join(table["data_dir"].as_str().expect("a data directory"));
        let token = table
            .get("private_api_token")
            .and_then(|token| token.as_str())
            .map(str::to_owned);
        let mut command = Command::new(env!("CARGO_BIN_EXE_wasmvisor"));
        command.args(["run", "--config", config.to_str().unwrap()]);
        setup(&mut command);
        Self::spawn(&mut command, data_dir, token)
    }

    /// Starts the node and reads the addresses it prints; its private
    /// API's token is `token`, or the one it keeps in `data_dir`.
    /// (Its stderr goes where `command` sends it.)
    pub fn spawn(command: &mut Command, data_dir: PathBuf, token: Option<String>) -> Self {
        let mut child = command.stdout(Stdio::piped()).spawn().expect("the binary starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut address = |prefix: &str| {
            let line = lines.next().expect("the node prints its addresses").unwrap();
            line.strip_prefix(prefix)
                .unwrap_or_else(|| panic!("unexpected line {line:?}"))
                .to_owned()
        };
        let public = address("public API listening on ");
        let private = address("private API listening on ");
        let token = token.unwrap_or_else(|| {
            std::fs::read_to_string(data_dir.join("private-api-token"))
                .expect("the node keeps its private API token in its data directory")
                .trim()
                .to_owned()
        });
        let mut tokens = TOKENS.lock().unwrap();
        tokens.retain(|(base, _)| *base != private);
        tokens.push((private.clone(), token));
        drop(tokens);
        Self {
            child,
            public,
            private,
            data_dir,
        }
    }

    /// Stops the node with SIGTERM and waits for a clean exit.
    pub fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "the node stops cleanly: {exit:?}");
    }
}

impl RunningNode {
    /// Kills the node with SIGKILL (no shutdown of any kind) and waits.
    pub fn kill(mut self) {
        self.child.kill().expect("the node is running");
        let exit = self.child.wait().unwrap();
        assert!(!exit.success(), "the node was killed: {exit:?}");
    }
}

impl Drop for RunningNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The operator's CLI against `node`, with its APIs and its data
/// directory, which holds its token unless its configuration names one
/// (then given with `--token`); piped, so nothing is on a terminal.
pub fn cli(node: &RunningNode, args: &[&str]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wasmvisor"));
    command
        .args(args)
        .args(["--public-api", &node.public, "--private-api", &node.private])
        .arg("--data-dir")
        .arg(&node.data_dir);
    if !node.data_dir.join("private-api-token").exists()
        && let Some(token) = token_for(&format!("{}/", node.private))
    {
        command.args(["--token", &token]);
    }
    command.output().unwrap()
}

/// [`cli`], which must succeed: its standard output as JSON (or text).
pub fn cli_ok(node: &RunningNode, args: &[&str]) -> Value {
    let output = cli(node, args);
    assert!(
        output.status.success(),
        "wasmvisor {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&output.stdout).into()))
}

/// The private API token of a node these tests started.
pub fn private_token(node: &RunningNode) -> String {
    token_for(&format!("{}/", node.private)).expect("a node these tests started")
}

/// A file of the repository's `deploy/` directory.
pub fn deploy_file(name: &str) -> PathBuf {
    // Read at run time: a target directory shared between clones may hold
    // a test binary compiled in another one.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    Path::new(&manifest_dir).join("../../deploy").join(name)
}

/// Runs Debian's `promtool` (package `prometheus`, which
/// `scripts/setup.sh` installs) with `args` and `stdin`; it must succeed.
pub fn promtool_ok(args: &[&str], stdin: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (Debian's prometheus package: scripts/setup.sh installs it)");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let output = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?}: {text}");
    text
}

/// The metric names (`wasmvisor_...`) `text` mentions.
pub fn metric_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("wasmvisor_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

/// The passphrase the tests seal validators' keys with.
pub const PASSPHRASE: &str = "a test network's passphrase";

/// A passphrase file (mode 0600) holding [`PASSPHRASE`] in `dir`, made on
/// first use: its path.
pub fn passphrase_file(dir: &Path) -> String {
    let path = dir.join("passphrase");
    if !path.exists() {
        write_secret(&path, &format!("{PASSPHRASE}\n"));
    }
    path.to_str().unwrap().to_owned()
}

/// Writes `text` to a new file only its user may read.
pub fn write_secret(path: &Path, text: &str) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// `GET` (with the node's token if `url` is a private API's).
pub fn get(url: &str) -> (u16, Value) {
    let mut request = agent().get(url);
    if let Some(token) = token_for(url) {
        request = request.header("authorization", &format!("Bearer {token}"));
    }
    let mut response = request.call().expect("the request is answered");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// `GET` that may find no server: `None` if the request is not answered.
pub fn try_get(url: &str) -> Option<(u16, Value)> {
    let mut response = agent().get(url).call().ok()?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().ok()?;
    Some((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
}

/// `POST` (with the node's token if `url` is a private API's).
pub fn post(url: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let mut request = agent().post(url);
    if let Some(token) = token_for(url) {
        request = request.header("authorization", &format!("Bearer {token}"));
    }
    let mut response = request
        .header("content-type", content_type)
        .send(&body[..])
        .expect("the request is answered");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

pub fn answer(value: &Value) -> Vec<u8> {
    hex::decode(value["answer"].as_str().expect("an answer")).unwrap()
}

pub fn wait_for(what: &str, done: impl FnMut() -> bool) {
    wait_for_within(what, Duration::from_secs(120), done);
}

/// Waits until `done`, at most `limit`; how long it took.
pub fn wait_for_within(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
    start.elapsed()
}

pub fn chain_id(node: &RunningNode) -> [u8; 32] {
    chain_id_at(&node.public)
}

/// The chain id as the public API at `public` tells it.
pub fn chain_id_at(public: &str) -> [u8; 32] {
    // The chain id is the genesis block's hash.
    let (_, block) = get(&format!("{public}/api/explorer/v1/block?height=0"));
    hex::decode(block["hash"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

/// A node configuration on free loopback ports with `system_services`.
pub fn write_config(dir: &Path, system_services: &str) -> std::path::PathBuf {
    let path = dir.join("node.toml");
    let text = format!(
        "data_dir = \"data\"\npublic_api = \"127.0.0.1:0\"\nprivate_api = \"127.0.0.1:0\"\nblock_interval_ms = 100\n\n{system_services}"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs the binary with `args` and waits for it.
pub fn wasmvisor(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_wasmvisor"))
        .args(args)
        .output()
        .unwrap()
}

/// Submits signed transaction bytes to the public API: the status and the
/// answer.
pub fn submit(node: &RunningNode, signed: Vec<u8>) -> (u16, Value) {
    post(
        &format!("{}/api/explorer/v1/transactions", node.public),
        "application/octet-stream",
        signed,
    )
}

/// Waits until the transaction is in a block (committed or failed): its
/// status answer.
pub fn outcome(node: &RunningNode, hash: &str) -> Value {
    let mut answer = Value::Null;
    wait_for("the transaction's block", || {
        answer = get(&format!("{}/api/explorer/v1/transactions?hash={hash}", node.public)).1;
        answer["status"] == "committed" || answer["status"] == "failed"
    });
    answer
}

/// A small tmpfs the test mounted (as root), unmounted when dropped.
pub struct Mounted(PathBuf);

/// Whether the tests run as root.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

impl Mounted {
    /// Mounts a 64 MiB tmpfs on `dir` (created); `None`, with the reason
    /// printed, where that cannot be done (not root, no tmpfs).
    pub fn tmpfs(dir: &Path) -> Option<Self> {
        if !is_root() {
            eprintln!("skipped: mounting a tmpfs needs root");
            return None;
        }
        std::fs::create_dir_all(dir).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64m", "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|status| status.success());
        if !mounted {
            eprintln!("skipped: this machine cannot mount a tmpfs");
            return None;
        }
        Some(Self(dir.to_owned()))
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the filesystem of `dir` with a file until no byte is left; the
/// file, to remove when space is wanted again.
pub fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let filler = dir.join("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 1 << 20];
    while file.write_all(&chunk).is_ok() {}
    while file.write_all(&[0u8; 512]).is_ok() {}
    let _ = file.sync_all();
    filler
}

/// Runs the binary with `args`, which must succeed; its standard output.
pub fn wasmvisor_ok(args: &[&str]) -> String {
    let output = wasmvisor(args);
    assert!(
        output.status.success(),
        "wasmvisor {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `wasmvisor replay` of a stopped node's stored chain, which must replay
/// identically (the replay oracle); the blocks and transactions it
/// re-executed.
pub fn replays(config: &Path) -> (u64, u64) {
    let output = wasmvisor_ok(&["replay", "--config", config.to_str().unwrap()]);
    let report: Value = serde_json::from_str(&output).unwrap_or_else(|_| panic!("a replay report: {output}"));
    assert_eq!(report["result"], "every block replayed identically", "{report}");
    (
        report["blocks"].as_u64().unwrap(),
        report["transactions"].as_u64().unwrap(),
    )
}

/// Waits for `child` to exit on its own within `limit` (else kills it and
/// fails, saying `what` it did instead); its status, which must not be a
/// success.
pub fn exits_non_zero(child: &mut Child, limit: Duration, what: &str) -> std::process::ExitStatus {
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("{what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success(), "the node must stop with a failure: {status:?}");
    status
}

/// Runs a node that must refuse to start; what it said on standard error.
pub fn refused_to_start(command: &mut Command) -> String {
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    exits_non_zero(&mut child, Duration::from_secs(60), "the node started");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    stderr
}

/// Reads the TOML file `from`, changes it with `edit` and writes it to `to`.
pub fn edit_toml(from: &Path, to: &Path, edit: impl FnOnce(&mut toml::Table)) {
    let mut table: toml::Table = toml::from_str(&std::fs::read_to_string(from).unwrap()).unwrap();
    edit(&mut table);
    std::fs::write(to, toml::to_string(&table).unwrap()).unwrap();
}
