//! Prometheus metrics of the webhook, in the text exposition format, served over plain
//! HTTP at `GET /metrics` on their own address ([`crate::Config::metrics_listen`]; off
//! unless asked for).
//!
//! The review path only increments atomics ([`Metrics::reviewed`],
//! [`Metrics::evaluated`]): every label set is fixed (phase × outcome, phase × path,
//! phase × latency bucket), so nothing is allocated and no lock is taken. A histogram
//! keeps one counter per bucket (not cumulative) and the sum in nanoseconds; the scrape
//! adds the buckets up, so `_count` and the `+Inf` bucket always agree. Counters kept by
//! other parts (the dependencies' cache and registry counters, the decision sink's and
//! the reporter's) are read at scrape time.
//!
//! Same conventions as the server's `/metrics` (`bulwark-server/src/metrics.rs`):
//! hand-written, `# HELP` and `# TYPE` before every family, `_total` counters, seconds.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bulwark_policy::Phase;

/// Latency bucket upper bounds in seconds: a warm review takes tens of microseconds, a
/// cold one waits on registries up to the deadline (default 8 s).
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The phases, in label order.
pub const PHASES: [Phase; 2] = [Phase::Validate, Phase::Mutate];

fn phase_index(p: Phase) -> usize {
    match p {
        Phase::Validate => 0,
        Phase::Mutate => 1,
    }
}

fn phase_label(p: Phase) -> &'static str {
    match p {
        Phase::Validate => "validate",
        Phase::Mutate => "mutate",
    }
}

/// How one review ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Allowed by the rules.
    Allowed,
    /// Denied by the rules.
    Denied,
    /// Allowed without checks: the request matched the policy's exemptions.
    Exempt,
    /// A readable review whose request could not be read (malformed, or a kind that
    /// carries no pod): denied.
    Invalid,
    /// Not an AdmissionReview with a `request.uid`: HTTP 400, no decision.
    BadRequest,
    /// The evaluation passed the deadline or its task failed: denied (fail closed); or
    /// the webhook could not read its policy (HTTP 500).
    Failed,
}

impl Outcome {
    /// Every outcome, in label order.
    pub const ALL: [Outcome; 6] = [
        Outcome::Allowed,
        Outcome::Denied,
        Outcome::Exempt,
        Outcome::Invalid,
        Outcome::BadRequest,
        Outcome::Failed,
    ];

    /// The `outcome` label value.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
            Outcome::Exempt => "exempt",
            Outcome::Invalid => "invalid",
            Outcome::BadRequest => "bad_request",
            Outcome::Failed => "failed",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Where a review was evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// Decided from the caches on the request's own task.
    Warm,
    /// Evaluated on the blocking pool under the deadline (a registry, scan or Rego rule
    /// was needed).
    Blocking,
}

impl Path {
    /// Both paths, in label order.
    pub const ALL: [Path; 2] = [Path::Warm, Path::Blocking];

    /// The `path` label value.
    pub fn label(self) -> &'static str {
        match self {
            Path::Warm => "warm",
            Path::Blocking => "blocking",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A lock-free histogram over [`LATENCY_BUCKETS`].
#[derive(Default)]
struct Histogram {
    /// Observations per bucket (not cumulative); the last one is past every bound.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_ns: AtomicU64,
}

impl Histogram {
    fn observe(&self, took: Duration) {
        let secs = took.as_secs_f64();
        let i = LATENCY_BUCKETS.partition_point(|b| *b < secs);
        if let Some(b) = self.buckets.get(i) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }
}

/// Whether a reload put something new in service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reload {
    /// The new file is in service.
    Ok,
    /// The new file was refused; the previous one stays in service.
    Failed,
}

/// The webhook's own counters (see the module doc).
#[derive(Default)]
pub struct Metrics {
    reviews: [[AtomicU64; Outcome::ALL.len()]; PHASES.len()],
    latency: [Histogram; PHASES.len()],
    evaluations: [[AtomicU64; Path::ALL.len()]; PHASES.len()],
    policy_reloads: [AtomicU64; 2],
    cert_reloads: [AtomicU64; 2],
}

fn reload_index(r: Reload) -> usize {
    match r {
        Reload::Ok => 0,
        Reload::Failed => 1,
    }
}

impl Metrics {
    /// Records one review: its outcome and the handler's elapsed time (two counter
    /// increments and one add).
    pub fn reviewed(&self, phase: Phase, outcome: Outcome, took: Duration) {
        let p = phase_index(phase);
        if let Some(c) = self.reviews.get(p).and_then(|r| r.get(outcome.index())) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(h) = self.latency.get(p) {
            h.observe(took);
        }
    }

    /// Records where one review was evaluated.
    pub fn evaluated(&self, phase: Phase, path: Path) {
        if let Some(c) = self
            .evaluations
            .get(phase_index(phase))
            .and_then(|r| r.get(path.index()))
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records a policy reload.
    pub fn policy_reload(&self, r: Reload) {
        self.policy_reloads[reload_index(r)].fetch_add(1, Ordering::Relaxed);
    }

    /// Records a certificate reload.
    pub fn cert_reload(&self, r: Reload) {
        self.cert_reloads[reload_index(r)].fetch_add(1, Ordering::Relaxed);
    }

    /// Reviews so far with this phase and outcome.
    pub fn reviews(&self, phase: Phase, outcome: Outcome) -> u64 {
        self.reviews[phase_index(phase)][outcome.index()].load(Ordering::Relaxed)
    }

    /// Renders this process's own families (the webhook adds the read-at-scrape ones).
    pub fn render(&self, out: &mut String) {
        family(
            out,
            "bulwark_admit_reviews_total",
            "counter",
            "Admission reviews answered, by phase (validate, mutate) and outcome (allowed, denied, exempt, invalid, bad_request, failed).",
        );
        for phase in PHASES {
            for o in Outcome::ALL {
                let _ = writeln!(
                    out,
                    "bulwark_admit_reviews_total{{phase=\"{}\",outcome=\"{}\"}} {}",
                    phase_label(phase),
                    o.label(),
                    self.reviews(phase, o)
                );
            }
        }
        family(
            out,
            "bulwark_admit_review_duration_seconds",
            "histogram",
            "Time the webhook's handler took per review (body read to answer built), by phase.",
        );
        for phase in PHASES {
            let h = &self.latency[phase_index(phase)];
            let label = phase_label(phase);
            let mut cumulative = 0u64;
            for (i, b) in h.buckets.iter().enumerate() {
                cumulative += b.load(Ordering::Relaxed);
                let le = match LATENCY_BUCKETS.get(i) {
                    Some(bound) => bound.to_string(),
                    None => "+Inf".to_string(),
                };
                let _ = writeln!(
                    out,
                    "bulwark_admit_review_duration_seconds_bucket{{phase=\"{label}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let sum = h.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(
                out,
                "bulwark_admit_review_duration_seconds_sum{{phase=\"{label}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "bulwark_admit_review_duration_seconds_count{{phase=\"{label}\"}} {cumulative}"
            );
        }
        family(
            out,
            "bulwark_admit_evaluations_total",
            "counter",
            "Policy evaluations by phase and path: warm (decided from the caches on the request's task) or blocking (on the blocking pool under the deadline).",
        );
        for phase in PHASES {
            for path in Path::ALL {
                let n = self.evaluations[phase_index(phase)][path.index()].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "bulwark_admit_evaluations_total{{phase=\"{}\",path=\"{}\"}} {n}",
                    phase_label(phase),
                    path.label()
                );
            }
        }
        for (name, help, counts) in [
            (
                "bulwark_admit_policy_reloads_total",
                "Policy file reloads after a change on disk, by result (ok: in service; failed: refused, the last good policy stays).",
                &self.policy_reloads,
            ),
            (
                "bulwark_admit_certificate_reloads_total",
                "Certificate/key reloads after a change on disk, by result (ok: in service; failed: refused, the previous pair stays).",
                &self.cert_reloads,
            ),
        ] {
            family(out, name, "counter", help);
            for (result, c) in ["ok", "failed"].iter().zip(counts.iter()) {
                let _ = writeln!(
                    out,
                    "{name}{{result=\"{result}\"}} {}",
                    c.load(Ordering::Relaxed)
                );
            }
        }
    }
}

/// Writes the `# HELP` and `# TYPE` lines of a family.
pub fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Writes a family with one unlabelled sample.
pub fn single(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    family(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Observations land in the first bucket whose bound is at least the value, the
    /// rendered buckets are cumulative, and `+Inf` equals `_count`.
    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.reviewed(Phase::Validate, Outcome::Allowed, Duration::from_micros(50));
        m.reviewed(
            Phase::Validate,
            Outcome::Allowed,
            Duration::from_micros(100),
        );
        m.reviewed(Phase::Validate, Outcome::Denied, Duration::from_millis(3));
        m.reviewed(Phase::Validate, Outcome::Failed, Duration::from_secs(20));
        let mut out = String::new();
        m.render(&mut out);
        let get = |series: &str| -> String {
            out.lines()
                .find_map(|l| l.strip_prefix(series).map(|v| v.trim().to_string()))
                .unwrap_or_else(|| panic!("{series} missing in\n{out}"))
        };
        let b = "bulwark_admit_review_duration_seconds_bucket{phase=\"validate\",le=";
        assert_eq!(get(&format!("{b}\"0.0001\"}}")), "2");
        assert_eq!(get(&format!("{b}\"0.0025\"}}")), "2");
        assert_eq!(get(&format!("{b}\"0.005\"}}")), "3");
        assert_eq!(get(&format!("{b}\"10\"}}")), "3");
        assert_eq!(get(&format!("{b}\"+Inf\"}}")), "4");
        assert_eq!(
            get("bulwark_admit_review_duration_seconds_count{phase=\"validate\"}"),
            "4"
        );
        assert_eq!(
            get("bulwark_admit_review_duration_seconds_count{phase=\"mutate\"}"),
            "0"
        );
        assert_eq!(
            get("bulwark_admit_reviews_total{phase=\"validate\",outcome=\"allowed\"}"),
            "2"
        );
        assert_eq!(
            get("bulwark_admit_reviews_total{phase=\"validate\",outcome=\"failed\"}"),
            "1"
        );
        let sum: f64 = get("bulwark_admit_review_duration_seconds_sum{phase=\"validate\"}")
            .parse()
            .unwrap();
        assert!((sum - 20.00315).abs() < 1e-9, "{sum}");
    }
}
