//! Prometheus metrics: request counts and latency histograms by route, method and
//! status, rendered in the text exposition format at `GET /metrics`.
//!
//! Also the re-match (duration histogram, events by kind), webhook deliveries (by
//! result: delivered, retry, dead; failures are retry + dead), the job queue (depth and
//! jobs by state, read from the store at each scrape) and this process's job attempts
//! and layer-cache use.
//!
//! Hand-written instead of a metrics crate: a few counter families and two histograms.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Histogram bucket upper bounds, in seconds.
const BUCKETS: [f64; 11] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Re-match duration buckets, in seconds.
const REMATCH_BUCKETS: [f64; 11] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

/// The server's metrics.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), Series>>,
    rematch: Mutex<Series>,
    events: Mutex<BTreeMap<String, u64>>,
    deliveries: Mutex<BTreeMap<&'static str, u64>>,
    jobs: Mutex<BTreeMap<&'static str, u64>>,
    layer_cache: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    /// Records one finished request.
    pub fn observe(&self, route: &str, method: &str, status: u16, took: Duration) {
        let secs = took.as_secs_f64();
        if let Ok(mut m) = self.requests.lock() {
            let s = m
                .entry((route.to_string(), method.to_string(), status))
                .or_default();
            s.count += 1;
            s.sum += secs;
            for (i, b) in BUCKETS.iter().enumerate() {
                if secs <= *b {
                    s.buckets[i] += 1;
                }
            }
        }
    }

    /// Records one re-match: its duration and the events it recorded by kind.
    pub fn rematch(&self, took: Duration, events: &BTreeMap<String, usize>) {
        let secs = took.as_secs_f64();
        if let Ok(mut s) = self.rematch.lock() {
            s.count += 1;
            s.sum += secs;
            for (i, b) in REMATCH_BUCKETS.iter().enumerate() {
                if secs <= *b {
                    s.buckets[i] += 1;
                }
            }
        }
        if let Ok(mut m) = self.events.lock() {
            for (k, n) in events {
                *m.entry(k.clone()).or_insert(0) += *n as u64;
            }
        }
    }

    /// Records one webhook delivery attempt's result (`delivered`, `retry`, `dead`).
    pub fn webhook(&self, result: &'static str) {
        if let Ok(mut m) = self.deliveries.lock() {
            *m.entry(result).or_insert(0) += 1;
        }
    }

    /// Records one job attempt's end in this process (`done`, `retry`, `failed`, `lost`).
    pub fn job(&self, result: &'static str) {
        if let Ok(mut m) = self.jobs.lock() {
            *m.entry(result).or_insert(0) += 1;
        }
    }

    /// Records the layers of one finished job: analysed (`miss`) or served by the
    /// layer-result cache (`hit`).
    pub fn layer_cache(&self, hits: usize, misses: usize) {
        if let Ok(mut m) = self.layer_cache.lock() {
            *m.entry("hit").or_insert(0) += hits as u64;
            *m.entry("miss").or_insert(0) += misses as u64;
        }
    }

    /// The job gauges, from the store's counts by state (rendered by the `/metrics`
    /// handler, which reads them).
    pub fn render_job_counts(counts: &BTreeMap<&'static str, i64>, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP bulwark_jobs_queued Job queue depth: jobs due or waiting to be claimed (state queued)."
        );
        let _ = writeln!(out, "# TYPE bulwark_jobs_queued gauge");
        let _ = writeln!(
            out,
            "bulwark_jobs_queued {}",
            counts.get("queued").copied().unwrap_or(0)
        );
        let _ = writeln!(out, "# HELP bulwark_jobs Jobs in the store by state.");
        let _ = writeln!(out, "# TYPE bulwark_jobs gauge");
        for (state, n) in counts {
            let _ = writeln!(out, "bulwark_jobs{{state=\"{state}\"}} {n}");
        }
    }

    fn render_jobs(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP bulwark_job_attempts_total Job attempts run by this process's workers, by result (done, retry, failed, lost).");
        let _ = writeln!(out, "# TYPE bulwark_job_attempts_total counter");
        if let Ok(m) = self.jobs.lock() {
            for r in ["done", "retry", "failed", "lost"] {
                let n = m.get(r).copied().unwrap_or(0);
                let _ = writeln!(out, "bulwark_job_attempts_total{{result=\"{r}\"}} {n}");
            }
        }
        let _ = writeln!(out, "# HELP bulwark_job_layers_total Image layers of finished jobs in this process: analysed (miss) or taken from the layer-result cache (hit).");
        let _ = writeln!(out, "# TYPE bulwark_job_layers_total counter");
        if let Ok(m) = self.layer_cache.lock() {
            for r in ["hit", "miss"] {
                let n = m.get(r).copied().unwrap_or(0);
                let _ = writeln!(out, "bulwark_job_layers_total{{cache=\"{r}\"}} {n}");
            }
        }
    }

    fn render_background(&self, out: &mut String) {
        self.render_jobs(out);
        let _ = writeln!(out, "# HELP bulwark_rematch_duration_seconds Re-match runs (one per DB generation) by duration.");
        let _ = writeln!(out, "# TYPE bulwark_rematch_duration_seconds histogram");
        if let Ok(s) = self.rematch.lock() {
            for (b, n) in REMATCH_BUCKETS.iter().zip(s.buckets.iter()) {
                let _ = writeln!(
                    out,
                    "bulwark_rematch_duration_seconds_bucket{{le=\"{b}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "bulwark_rematch_duration_seconds_bucket{{le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(out, "bulwark_rematch_duration_seconds_sum {}", s.sum);
            let _ = writeln!(out, "bulwark_rematch_duration_seconds_count {}", s.count);
        }
        let _ = writeln!(
            out,
            "# HELP bulwark_rematch_events_total Events recorded by re-matches, by kind."
        );
        let _ = writeln!(out, "# TYPE bulwark_rematch_events_total counter");
        if let Ok(m) = self.events.lock() {
            for (k, n) in m.iter() {
                let _ = writeln!(out, "bulwark_rematch_events_total{{kind=\"{k}\"}} {n}");
            }
        }
        let _ = writeln!(out, "# HELP bulwark_webhook_deliveries_total Webhook delivery attempts by result (delivered, retry, dead).");
        let _ = writeln!(out, "# TYPE bulwark_webhook_deliveries_total counter");
        let mut failures = 0;
        if let Ok(m) = self.deliveries.lock() {
            for r in ["delivered", "retry", "dead"] {
                let n = m.get(r).copied().unwrap_or(0);
                if r != "delivered" {
                    failures += n;
                }
                let _ = writeln!(
                    out,
                    "bulwark_webhook_deliveries_total{{result=\"{r}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP bulwark_webhook_failures_total Failed webhook delivery attempts."
        );
        let _ = writeln!(out, "# TYPE bulwark_webhook_failures_total counter");
        let _ = writeln!(out, "bulwark_webhook_failures_total {failures}");
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_background(&mut out);
        let _ = writeln!(
            out,
            "# HELP bulwark_http_requests_total HTTP requests by route, method and status."
        );
        let _ = writeln!(out, "# TYPE bulwark_http_requests_total counter");
        let Ok(m) = self.requests.lock() else {
            return out;
        };
        for ((route, method, status), s) in m.iter() {
            let _ = writeln!(
                out,
                "bulwark_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {}",
                s.count
            );
        }
        let _ = writeln!(out, "# HELP bulwark_http_request_duration_seconds HTTP request latency by route and method.");
        let _ = writeln!(
            out,
            "# TYPE bulwark_http_request_duration_seconds histogram"
        );
        let mut by_route: BTreeMap<(&str, &str), Series> = BTreeMap::new();
        for ((route, method, _), s) in m.iter() {
            let agg = by_route.entry((route, method)).or_default();
            agg.count += s.count;
            agg.sum += s.sum;
            for (a, b) in agg.buckets.iter_mut().zip(s.buckets.iter()) {
                *a += b;
            }
        }
        for ((route, method), s) in by_route {
            let labels = format!("route=\"{route}\",method=\"{method}\"");
            for (b, n) in BUCKETS.iter().zip(s.buckets.iter()) {
                let _ = writeln!(
                    out,
                    "bulwark_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "bulwark_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "bulwark_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "bulwark_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        out
    }
}
