//! Latency recording and the JSON summaries the driver prints.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{Map, Value, json};

/// Latencies in microseconds, from 1 µs to 10 minutes, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("fixed histogram bounds are valid")
}

/// Records one latency, clamped into the histogram's range.
pub fn record(histogram: &mut Histogram<u64>, latency: Duration) {
    let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    histogram.saturating_record(micros.max(1));
}

/// Microseconds to milliseconds (whole microseconds, so at most three decimals).
fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// `p50_ms`, `p99_ms` and `max_ms` of a histogram (all 0 when it is empty).
pub fn percentiles(histogram: &Histogram<u64>) -> Map<String, Value> {
    let mut out = Map::new();
    let empty = histogram.is_empty();
    let at = |q: f64| if empty { 0.0 } else { ms(histogram.value_at_quantile(q)) };
    out.insert("p50_ms".into(), json!(at(0.5)));
    out.insert("p99_ms".into(), json!(at(0.99)));
    out.insert("max_ms".into(), json!(if empty { 0.0 } else { ms(histogram.max()) }));
    out
}

/// What one load task counted after warmup; tasks' tallies are merged at the end.
pub struct Tally {
    pub histogram: Histogram<u64>,
    pub ok: u64,
    pub non2xx: u64,
    pub errors: u64,
    pub statuses: BTreeMap<u16, u64>,
}

impl Tally {
    pub fn new() -> Self {
        Tally { histogram: new_histogram(), ok: 0, non2xx: 0, errors: 0, statuses: BTreeMap::new() }
    }

    /// Counts an answered request: 2xx and 3xx are "ok", the rest "non2xx".
    pub fn answered(&mut self, status: u16, latency: Duration) {
        record(&mut self.histogram, latency);
        *self.statuses.entry(status).or_default() += 1;
        if (200..400).contains(&status) {
            self.ok += 1;
        } else {
            self.non2xx += 1;
        }
    }

    pub fn merge(&mut self, other: Tally) {
        // Both histograms have the same bounds, so adding cannot fail.
        self.histogram.add(&other.histogram).expect("histograms with equal bounds merge");
        self.ok += other.ok;
        self.non2xx += other.non2xx;
        self.errors += other.errors;
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
    }

    /// The `load` output line; `rps` counts only ok (2xx/3xx) answers over the measured seconds.
    pub fn to_json(&self, seconds: f64) -> Value {
        let mut out = Map::new();
        out.insert("requests".into(), json!(self.ok + self.non2xx + self.errors));
        out.insert("ok".into(), json!(self.ok));
        out.insert("non2xx".into(), json!(self.non2xx));
        out.insert("errors".into(), json!(self.errors));
        out.insert("seconds".into(), json!((seconds * 1000.0).round() / 1000.0));
        let rps = if seconds > 0.0 { self.ok as f64 / seconds } else { 0.0 };
        out.insert("rps".into(), json!((rps * 10.0).round() / 10.0));
        out.extend(percentiles(&self.histogram));
        let statuses: Map<String, Value> = self.statuses.iter().map(|(s, n)| (s.to_string(), json!(n))).collect();
        out.insert("status_counts".into(), Value::Object(statuses));
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_histogram_gives_zeros() {
        let p = percentiles(&new_histogram());
        assert_eq!(p["p50_ms"], json!(0.0));
        assert_eq!(p["p99_ms"], json!(0.0));
        assert_eq!(p["max_ms"], json!(0.0));
    }

    #[test]
    fn percentiles_are_in_milliseconds() {
        let mut h = new_histogram();
        for _ in 0..99 {
            record(&mut h, Duration::from_millis(2));
        }
        record(&mut h, Duration::from_millis(50));
        let p = percentiles(&h);
        assert!((p["p50_ms"].as_f64().unwrap() - 2.0).abs() < 0.01, "{p:?}");
        assert!((p["p99_ms"].as_f64().unwrap() - 2.0).abs() < 0.01, "{p:?}");
        assert!((p["max_ms"].as_f64().unwrap() - 50.0).abs() < 0.05, "{p:?}");
    }

    #[test]
    fn tally_merges_and_reports() {
        let mut a = Tally::new();
        a.answered(200, Duration::from_millis(1));
        a.answered(302, Duration::from_millis(1));
        let mut b = Tally::new();
        b.answered(401, Duration::from_millis(3));
        b.answered(200, Duration::from_millis(1));
        b.errors = 2;
        a.merge(b);
        let out = a.to_json(2.0);
        assert_eq!(out["requests"], json!(6));
        assert_eq!(out["ok"], json!(3));
        assert_eq!(out["non2xx"], json!(1));
        assert_eq!(out["errors"], json!(2));
        assert_eq!(out["rps"], json!(1.5));
        assert_eq!(out["status_counts"], json!({"200": 2, "302": 1, "401": 1}));
    }
}
