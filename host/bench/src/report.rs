//! How figures are printed and summarised.
//!
//! Every figure is one JSON object on its own line of standard output:
//! `scenario`, `metric`, `value`, `unit`, then the parameters it was
//! measured with (`runtime`, `artifacts`, ...). Progress and notes go to
//! standard error, so standard output stays machine-readable.

use std::time::{Duration, Instant};

use serde_json::{Map, Value};

/// One printed figure.
pub struct Figure {
    scenario: &'static str,
    metric: &'static str,
    value: f64,
    unit: &'static str,
    params: Map<String, Value>,
}

impl Figure {
    /// A figure of `scenario` with no parameters yet.
    pub fn new(scenario: &'static str, metric: &'static str, value: f64, unit: &'static str) -> Self {
        Self {
            scenario,
            metric,
            value,
            unit,
            params: Map::new(),
        }
    }

    /// Adds a parameter the figure was measured with.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.params.insert(name.to_owned(), value.into());
        self
    }

    /// Prints the figure as one JSON line.
    pub fn print(self) {
        let mut object = Map::new();
        object.insert("scenario".into(), self.scenario.into());
        object.insert("metric".into(), self.metric.into());
        // Three significant decimals are more than these machines resolve.
        let rounded = (self.value * 1000.0).round() / 1000.0;
        object.insert(
            "value".into(),
            serde_json::Number::from_f64(rounded).map_or(Value::Null, Value::Number),
        );
        object.insert("unit".into(), self.unit.into());
        object.extend(self.params);
        println!("{}", Value::Object(object));
    }
}

/// A progress note on standard error.
pub fn note(message: impl AsRef<str>) {
    eprintln!("  {}", message.as_ref());
}

/// The median of `values` (the upper one of an even count); 0 for none.
pub fn median(values: &[f64]) -> f64 {
    percentile(values, 50.0)
}

/// The `p`-th percentile of `values` by the nearest-rank method; 0 for
/// none.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs `run` once to warm up (discarded), then `runs` times; the
/// durations of the measured runs.
pub fn repeat(runs: usize, mut run: impl FnMut() -> Duration) -> Vec<Duration> {
    run();
    (0..runs).map(|_| run()).collect()
}

/// The time `work` takes.
pub fn time(work: impl FnOnce()) -> Duration {
    let started = Instant::now();
    work();
    started.elapsed()
}

/// The median of `durations`, in seconds.
pub fn median_s(durations: &[Duration]) -> f64 {
    median(&durations.iter().map(Duration::as_secs_f64).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), 50.0);
        assert_eq!(percentile(&values, 99.0), 99.0);
        assert_eq!(percentile(&values, 100.0), 100.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[]), 0.0);
    }
}
