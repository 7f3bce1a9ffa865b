//! Alerts: one JSON object per line, on stdout or into a file, written and flushed as
//! each rule fires, and queued to the asynchronous outputs ([`crate::outputs`]).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

use crate::fields::{Event, FIELDS};
use crate::outputs::AsyncOutput;
use crate::rules::{Priority, Rule};

/// RFC 3339 UTC time with nanoseconds.
pub fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// What an action did.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ActionResult {
    pub action: &'static str,
    /// `done`, `dry-run`, `in-kernel` (bpf_send_signal), or `failed`.
    pub result: String,
    /// For kill: microseconds from the kernel event to the signal being sent (0 for
    /// in-kernel kills, which happen inside the hook).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One alert line.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub time: String,
    pub rule: String,
    pub priority: Priority,
    pub output: String,
    pub tags: Vec<String>,
    /// Full container id, `host`, or empty when unknown.
    pub container_id: String,
    pub container_name: String,
    pub image: String,
    pub image_digest: String,
    pub proc_name: String,
    pub pid: u32,
    pub ppid: u32,
    pub cmdline: String,
    pub uid: u32,
    /// Every field the event has (`evt.*`, `fd.*`, `proc.*`, `user.*`, `thread.*`).
    pub event: serde_json::Map<String, serde_json::Value>,
    pub actions: Vec<ActionResult>,
}

impl Alert {
    /// Builds the alert for `rule` matching `ev`.
    pub fn new(rule: &Rule, ev: &Event) -> Alert {
        let get = |f: &str| ev.field(f).map(|v| v.text());
        Alert::build(
            rule.name.clone(),
            rule.priority,
            rule.output.render(&get),
            rule.tags.clone(),
            ev,
        )
    }

    /// Builds an alert that no rule raised (a profile anomaly), in the same shape.
    pub fn build(
        rule: String,
        priority: Priority,
        output: String,
        tags: Vec<String>,
        ev: &Event,
    ) -> Alert {
        let get = |f: &str| ev.field(f).map(|v| v.text());
        let mut event = serde_json::Map::new();
        for (name, _, _) in FIELDS {
            if name.starts_with("container.") {
                continue;
            }
            if let Some(v) = ev.field(name) {
                event.insert((*name).to_string(), v.json());
            }
        }
        let m = ev.meta.as_deref();
        Alert {
            time: rfc3339(ev.time),
            rule,
            priority,
            output,
            tags,
            container_id: get("container.id").unwrap_or_default(),
            container_name: m.map(|m| m.name.clone()).unwrap_or_default(),
            image: m.map(|m| m.image.clone()).unwrap_or_default(),
            image_digest: m.map(|m| m.image_digest.clone()).unwrap_or_default(),
            proc_name: ev.raw.comm.clone(),
            pid: ev.raw.pid,
            ppid: ev.raw.ppid,
            cmdline: ev.cmdline(),
            uid: ev.raw.uid,
            event,
            actions: Vec::new(),
        }
    }
}

/// Where alerts go: the writer (stdout or the `--output` file, written in the event
/// loop), and the asynchronous outputs (syslog, webhook, server), each behind its own
/// bounded queue and thread ([`crate::outputs`]).
pub struct Sink {
    out: Box<dyn Write + Send>,
    asyncs: Vec<AsyncOutput>,
}

impl Sink {
    /// Alerts to a writer (stdout, a file).
    pub fn new(out: Box<dyn Write + Send>) -> Sink {
        Sink {
            out,
            asyncs: Vec::new(),
        }
    }

    /// Adds an asynchronous output.
    pub fn add(&mut self, o: AsyncOutput) {
        self.asyncs.push(o);
    }

    /// Writes one alert line and flushes it, and queues it to the asynchronous outputs
    /// (never waiting for them).
    pub fn write(&mut self, a: &Alert) -> std::io::Result<()> {
        let line = serde_json::to_string(a).map_err(std::io::Error::other)?;
        if !self.asyncs.is_empty() {
            let shared: Arc<str> = Arc::from(line.as_str());
            let alert = Arc::new(a.clone());
            for o in &self.asyncs {
                o.send(shared.clone(), alert.clone());
            }
        }
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }

    /// Flushes, lets the asynchronous outputs drain and stops them; returns what each
    /// dropped.
    pub fn close(&mut self) -> BTreeMap<String, u64> {
        let _ = self.out.flush();
        let mut m = BTreeMap::new();
        for o in &mut self.asyncs {
            let n = o.close();
            *m.entry(o.name().to_string()).or_insert(0) += n;
        }
        m
    }
}
