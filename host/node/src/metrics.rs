//! The node's Prometheus metrics (`GET /metrics` on the private API), in
//! the OpenMetrics text format through the `prometheus-client` crate.
//!
//! Two kinds: what the node observes as it goes — block interval,
//! execution and commit times (histograms), the consensus round, blocks
//! committed without this validator's precommit — kept in [`NodeMetrics`];
//! and what is read when scraped — height, readiness, mempool, relay
//! queue, runtime counters — put into a registry made for each scrape
//! ([`NodeMetrics::encode`]).

use prometheus_client::encoding::EncodeMetric;
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// The prefix of every metric's name.
pub const PREFIX: &str = "wasmvisor";

/// Buckets of the time histograms, in seconds: 1 ms doubling to about 33 s.
fn time_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.001, 2.0, 16)
}

/// What the node observes as it runs (cheap to clone: shared counters).
#[derive(Clone, Debug)]
pub struct NodeMetrics {
    /// Time between two blocks this process committed.
    pub block_interval: Histogram,
    /// Time to execute a block (proposed, checked or produced).
    pub block_execution: Histogram,
    /// Time to commit a block to the store.
    pub block_commit: Histogram,
    /// The consensus round running (0 without the engine).
    pub consensus_round: Gauge,
    /// Blocks committed whose precommits lack this validator's.
    pub blocks_without_own_precommit: Counter,
    /// Per service instance (by id): committed transactions calling it and
    /// its failed calls, for at most [`SERVICES_ITEMS_MAX`] instances.
    services: std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<u32, wasmvisor_blockchain::ServiceOutcome>>>,
}

/// The most service instances the metrics count separately; those beyond
/// are counted under instance id `u32::MAX` (`service="other"`).
pub const SERVICES_ITEMS_MAX: usize = 1024;

/// The id the instances beyond [`SERVICES_ITEMS_MAX`] are counted under.
pub const OTHER_SERVICES: u32 = u32::MAX;

impl Default for NodeMetrics {
    fn default() -> Self {
        Self {
            block_interval: Histogram::new(time_buckets()),
            block_execution: Histogram::new(time_buckets()),
            block_commit: Histogram::new(time_buckets()),
            consensus_round: Gauge::default(),
            blocks_without_own_precommit: Counter::default(),
            services: Default::default(),
        }
    }
}

/// What is read when the metrics are scraped.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Height of the last committed block.
    pub height: u64,
    /// Whether the node is ready (as `Node::readiness` says).
    pub ready: bool,
    /// Seconds since this process committed its last block (`None`: no
    /// block since it started).
    pub last_block_age_seconds: Option<f64>,
    /// The most seconds without a block that still count as ready.
    pub ready_block_age_max_seconds: f64,
    /// Transactions committed since the node started.
    pub transactions_committed: u64,
    /// Transactions waiting in the mempool, and its limit.
    pub mempool_transactions: u64,
    /// Bytes they hold, and the limit.
    pub mempool_bytes: u64,
    /// The mempool's limits.
    pub mempool_transactions_max: u64,
    /// The mempool's byte limit.
    pub mempool_bytes_max: u64,
    /// Bytes waiting in the relay queues to the other validators.
    pub relay_queue_bytes: u64,
    /// Peers the relay sends to.
    pub relay_peers: u64,
    /// Each runtime's counters, by its name.
    pub runtimes: Vec<(&'static str, wasmvisor_runtime::RuntimeMetrics)>,
    /// Names of the service instances the metrics count, by id.
    pub service_names: std::collections::BTreeMap<u32, String>,
}

/// `text` as a label value the exposition cannot misread: characters
/// other than ASCII letters, digits and `_.:-` become `_` (the encoder
/// writes label values as they are, and a service's name is chosen by
/// governance).
fn label_value(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.:-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Counters read when scraped, one per label set (a runtime, a service
/// instance).
#[derive(Debug)]
struct LabelledCounters(Vec<(Vec<(&'static str, String)>, u64)>);

impl EncodeMetric for LabelledCounters {
    fn encode(&self, mut encoder: prometheus_client::encoding::MetricEncoder) -> Result<(), std::fmt::Error> {
        for (labels, value) in &self.0 {
            let labels: Vec<(&str, &str)> = labels.iter().map(|(name, value)| (*name, value.as_str())).collect();
            encoder
                .encode_family(&labels)?
                .encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(value, None)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

impl NodeMetrics {
    /// Counts a committed block's outcomes per service instance.
    pub fn count_services(&self, outcomes: &std::collections::BTreeMap<u32, wasmvisor_blockchain::ServiceOutcome>) {
        let mut services = self
            .services
            .lock()
            .expect("a lock is poisoned only by a panic, and a panic stops the node");
        for (id, outcome) in outcomes {
            let id = if services.contains_key(id) || services.len() < SERVICES_ITEMS_MAX {
                *id
            } else {
                OTHER_SERVICES
            };
            let counted = services.entry(id).or_default();
            counted.transactions += outcome.transactions;
            counted.errors += outcome.errors;
        }
    }

    /// Whether service instance `id` is counted under its own id (not as
    /// one of the others).
    pub fn counts_service(&self, id: u32) -> bool {
        id != OTHER_SERVICES
            && self
                .services
                .lock()
                .expect("a lock is poisoned only by a panic, and a panic stops the node")
                .contains_key(&id)
    }

    /// The service instances counted, by id.
    pub fn counted_services(&self) -> Vec<u32> {
        self.services
            .lock()
            .expect("a lock is poisoned only by a panic, and a panic stops the node")
            .keys()
            .copied()
            .collect()
    }

    /// The metrics in the OpenMetrics text format: those observed and
    /// `snapshot`.
    pub fn encode(&self, snapshot: &Snapshot) -> Result<String, std::fmt::Error> {
        let mut registry = Registry::with_prefix(PREFIX);
        let gauge = |value: u64| ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
        registry.register(
            "block_height",
            "Height of the last committed block",
            gauge(snapshot.height),
        );
        registry.register(
            "ready",
            "Whether this node makes or follows blocks (1) or not (0), as /readyz answers",
            gauge(u64::from(snapshot.ready)),
        );
        if let Some(age) = snapshot.last_block_age_seconds {
            registry.register_with_unit(
                "last_block_age",
                "Time since this process committed its last block",
                Unit::Seconds,
                ConstGauge::new(age),
            );
        }
        registry.register_with_unit(
            "ready_block_age_max",
            "The most time without a block after which the node is not ready",
            Unit::Seconds,
            ConstGauge::new(snapshot.ready_block_age_max_seconds),
        );
        registry.register(
            "transactions_committed",
            "Transactions committed in blocks since the node started",
            ConstCounter::new(snapshot.transactions_committed),
        );
        registry.register(
            "mempool_transactions",
            "Transactions waiting in the mempool",
            gauge(snapshot.mempool_transactions),
        );
        registry.register(
            "mempool_transactions_max",
            "The most transactions the mempool holds (mempool_size_max)",
            gauge(snapshot.mempool_transactions_max),
        );
        registry.register_with_unit(
            "mempool",
            "Bytes the waiting transactions hold",
            Unit::Bytes,
            gauge(snapshot.mempool_bytes),
        );
        registry.register_with_unit(
            "mempool_max",
            "The most bytes the mempool holds (mempool_bytes_max)",
            Unit::Bytes,
            gauge(snapshot.mempool_bytes_max),
        );
        registry.register_with_unit(
            "relay_queue",
            "Bytes of transactions waiting to be relayed to the other validators",
            Unit::Bytes,
            gauge(snapshot.relay_queue_bytes),
        );
        registry.register(
            "relay_peers",
            "Validators this node relays transactions to",
            gauge(snapshot.relay_peers),
        );
        let per_runtime = |value: fn(&wasmvisor_runtime::RuntimeMetrics) -> u64| {
            LabelledCounters(
                snapshot
                    .runtimes
                    .iter()
                    .map(|(name, metrics)| (vec![("runtime", (*name).to_owned())], value(metrics)))
                    .collect(),
            )
        };
        registry.register(
            "runtime_calls",
            "Calls into services, per runtime",
            per_runtime(|metrics| metrics.calls),
        );
        registry.register(
            "runtime_fuel_consumed",
            "Fuel burned by service calls, per runtime",
            per_runtime(|metrics| metrics.fuel_consumed),
        );
        registry.register(
            "runtime_compilations",
            "Artifacts compiled from their bytes, per runtime",
            per_runtime(|metrics| metrics.compilations),
        );
        registry.register(
            "runtime_compile_cache_hits",
            "Artifacts loaded from the compiled cache, per runtime",
            per_runtime(|metrics| metrics.cache_hits),
        );
        let services: Vec<(u32, wasmvisor_blockchain::ServiceOutcome)> = self
            .services
            .lock()
            .expect("a lock is poisoned only by a panic, and a panic stops the node")
            .iter()
            .map(|(id, outcome)| (*id, *outcome))
            .collect();
        let per_service = |value: fn(&wasmvisor_blockchain::ServiceOutcome) -> u64| {
            LabelledCounters(
                services
                    .iter()
                    .map(|(id, outcome)| {
                        let name = match snapshot.service_names.get(id) {
                            Some(name) => label_value(name),
                            None if *id == OTHER_SERVICES => "other".to_owned(),
                            None => String::new(),
                        };
                        (vec![("service", name), ("instance_id", id.to_string())], value(outcome))
                    })
                    .collect(),
            )
        };
        registry.register(
            "service_transactions",
            "Committed transactions calling a service instance",
            per_service(|outcome| outcome.transactions),
        );
        registry.register(
            "service_errors",
            "A service instance's failed transactions and block hooks in committed blocks",
            per_service(|outcome| outcome.errors),
        );
        registry.register_with_unit(
            "block_interval",
            "Time between two blocks this process committed",
            Unit::Seconds,
            self.block_interval.clone(),
        );
        registry.register_with_unit(
            "block_execution",
            "Time to execute a block (proposed, checked or produced)",
            Unit::Seconds,
            self.block_execution.clone(),
        );
        registry.register_with_unit(
            "block_commit",
            "Time to commit a block to the store",
            Unit::Seconds,
            self.block_commit.clone(),
        );
        registry.register(
            "consensus_round",
            "The consensus round running at this height (0 without the consensus engine)",
            self.consensus_round.clone(),
        );
        registry.register(
            "blocks_without_own_precommit",
            "Blocks committed whose precommits lack this validator's (it missed or was late to the vote)",
            self.blocks_without_own_precommit.clone(),
        );
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry)?;
        Ok(text)
    }
}

/// The content type of [`NodeMetrics::encode`]'s text.
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The content type of [`to_prometheus_text`]'s text.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// OpenMetrics text as the older Prometheus text format (what a scraper
/// that does not ask for OpenMetrics, and `promtool check metrics`, read):
/// a counter family is named with its `_total` suffix, and there are no
/// `# UNIT` or `# EOF` lines. Samples are unchanged.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut text = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let described = ["# HELP ", "# TYPE "].into_iter().find_map(|kind| {
            let rest = line.strip_prefix(kind)?;
            let (name, tail) = rest.split_once(' ')?;
            counters.contains(name).then(|| format!("{kind}{name}_total {tail}"))
        });
        match described {
            Some(line) => text.push_str(&line),
            None => text.push_str(line),
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observed_and_scraped_values_are_in_the_text() {
        let metrics = NodeMetrics::default();
        metrics.block_interval.observe(0.25);
        metrics.consensus_round.set(2);
        metrics.blocks_without_own_precommit.inc();
        let snapshot = Snapshot {
            height: 7,
            ready: true,
            last_block_age_seconds: Some(0.5),
            mempool_transactions: 3,
            runtimes: vec![(
                "wasm",
                wasmvisor_runtime::RuntimeMetrics {
                    calls: 11,
                    ..Default::default()
                },
            )],
            ..Snapshot::default()
        };
        let text = metrics.encode(&snapshot).unwrap();
        for line in [
            "wasmvisor_block_height 7",
            "wasmvisor_ready 1",
            "wasmvisor_last_block_age_seconds 0.5",
            "wasmvisor_mempool_transactions 3",
            "wasmvisor_runtime_calls_total{runtime=\"wasm\"} 11",
            "wasmvisor_block_interval_seconds_count 1",
            "wasmvisor_block_interval_seconds_bucket{le=\"0.256\"} 1",
            "wasmvisor_consensus_round 2",
            "wasmvisor_blocks_without_own_precommit_total 1",
            "# EOF",
        ] {
            assert!(text.lines().any(|found| found == line), "{line:?} not in\n{text}");
        }
        // The older text format: counter families named as their samples,
        // no OpenMetrics-only lines.
        let older = to_prometheus_text(&text);
        for line in [
            "# TYPE wasmvisor_blocks_without_own_precommit_total counter",
            "# TYPE wasmvisor_runtime_calls_total counter",
            "# TYPE wasmvisor_block_height gauge",
            "wasmvisor_runtime_calls_total{runtime=\"wasm\"} 11",
        ] {
            assert!(older.lines().any(|found| found == line), "{line:?} not in\n{older}");
        }
        assert!(!older.contains("# EOF") && !older.contains("# UNIT"), "{older}");
        assert!(
            older
                .lines()
                .any(|line| line.starts_with("# HELP wasmvisor_runtime_calls_total "))
        );
        // Per service, by name, the ones beyond the limit together.
        let outcome = |transactions, errors| wasmvisor_blockchain::ServiceOutcome { transactions, errors };
        metrics.count_services(&[(5, outcome(3, 1))].into_iter().collect());
        metrics.count_services(&[(5, outcome(2, 0)), (6, outcome(1, 1))].into_iter().collect());
        let named = Snapshot {
            service_names: [(5, "coins".to_owned()), (6, "a\"b\n{c}".to_owned())]
                .into_iter()
                .collect(),
            ..Snapshot::default()
        };
        let text = metrics.encode(&named).unwrap();
        for line in [
            "wasmvisor_service_transactions_total{service=\"coins\",instance_id=\"5\"} 5",
            "wasmvisor_service_errors_total{service=\"coins\",instance_id=\"5\"} 1",
            "wasmvisor_service_errors_total{service=\"a_b__c_\",instance_id=\"6\"} 1",
        ] {
            assert!(text.lines().any(|found| found == line), "{line:?} not in\n{text}");
        }
        let many = NodeMetrics::default();
        let each: std::collections::BTreeMap<u32, _> =
            (0..=SERVICES_ITEMS_MAX as u32).map(|id| (id, outcome(1, 0))).collect();
        many.count_services(&each);
        many.count_services(&each);
        let counted = many.counted_services();
        assert_eq!(counted.len(), SERVICES_ITEMS_MAX + 1);
        assert_eq!(counted.last(), Some(&OTHER_SERVICES));
        let text = many.encode(&Snapshot::default()).unwrap();
        assert!(
            text.lines()
                .any(|line| line
                    == "wasmvisor_service_transactions_total{service=\"other\",instance_id=\"4294967295\"} 2"),
            "{text}"
        );
        // No block yet: no age at all, rather than a made-up one.
        let text = metrics.encode(&Snapshot::default()).unwrap();
        assert!(!text.contains("last_block_age_seconds "), "{text}");
    }
}
