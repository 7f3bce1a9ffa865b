//! Alert outputs beyond stdout and a file: syslog (RFC 5424 over a Unix datagram
//! socket, `/dev/log` by default), a webhook (HTTP(S) POST of the JSON line), and any
//! other [`Deliver`] (the CLI adds the bulwark server).
//!
//! Each output runs on its own thread behind a bounded queue: the event loop only
//! tries to enqueue, so a slow or dead receiver can never block it or grow memory. A
//! full queue drops the alert; an alert that still fails after its retries (with
//! exponential backoff) is dropped too; both are counted per output and reported at
//! exit. At shutdown each output gets a few seconds to drain; what is left is counted
//! as dropped.

use std::io::Read;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::output::Alert;
use crate::rules::Priority;

/// Alerts waiting per output.
pub const QUEUE: usize = 1024;
/// Delivery attempts per alert (the first and the retries).
pub const ATTEMPTS: u32 = 5;
/// First retry delay; doubled after each failure.
pub const BACKOFF: Duration = Duration::from_millis(200);
/// How long an output may take to drain its queue at shutdown.
pub const DRAIN: Duration = Duration::from_secs(5);
/// Largest CA file read.
const MAX_CA_FILE: u64 = 1 << 20;

/// One destination of alerts, driven by its own thread.
pub trait Deliver: Send {
    /// Delivers one alert (`line` is its JSON). An error is retried with backoff.
    fn deliver(&mut self, line: &str, alert: &Alert) -> Result<(), String>;
}

type Item = (Arc<str>, Arc<Alert>);

/// An output thread and its queue.
pub struct AsyncOutput {
    name: String,
    tx: Option<SyncSender<Item>>,
    dropped: Arc<AtomicU64>,
    closing: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl AsyncOutput {
    /// Starts the thread of output `name`.
    pub fn start(name: &str, mut d: Box<dyn Deliver>) -> AsyncOutput {
        AsyncOutput::start_with(name, QUEUE, ATTEMPTS, BACKOFF, move |l, a| d.deliver(l, a))
    }

    /// With explicit queue size, attempts and first backoff (tests).
    pub fn start_with(
        name: &str,
        queue: usize,
        attempts: u32,
        backoff: Duration,
        mut deliver: impl FnMut(&str, &Alert) -> Result<(), String> + Send + 'static,
    ) -> AsyncOutput {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Item>(queue);
        let dropped = Arc::new(AtomicU64::new(0));
        let closing = Arc::new(AtomicBool::new(false));
        let (d2, c2, n2) = (dropped.clone(), closing.clone(), name.to_string());
        let thread = std::thread::Builder::new()
            .name(format!("alerts-{name}"))
            .spawn(move || run(&n2, rx, &d2, &c2, attempts, backoff, &mut deliver))
            .ok();
        if thread.is_none() {
            tracing::error!(output = name, "could not start the output thread");
        }
        AsyncOutput {
            name: name.to_string(),
            tx: thread.as_ref().map(|_| tx),
            dropped,
            closing,
            thread,
        }
    }

    /// The output's name (`syslog`, `webhook`, `server`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Queues an alert without waiting; a full queue drops it (counted).
    pub fn send(&self, line: Arc<str>, alert: Arc<Alert>) {
        let Some(tx) = &self.tx else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        match tx.try_send((line, alert)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    tracing::warn!(output = %self.name, dropped = n, "alert output queue full: alerts dropped");
                }
            }
        }
    }

    /// Alerts dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Lets the queue drain (at most [`DRAIN`]) and stops the thread; returns the drops.
    pub fn close(&mut self) -> u64 {
        self.closing.store(true, Ordering::Relaxed);
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.dropped()
    }
}

impl Drop for AsyncOutput {
    fn drop(&mut self) {
        self.close();
    }
}

fn run(
    name: &str,
    rx: Receiver<Item>,
    dropped: &AtomicU64,
    closing: &AtomicBool,
    attempts: u32,
    backoff: Duration,
    deliver: &mut dyn FnMut(&str, &Alert) -> Result<(), String>,
) {
    let mut deadline: Option<Instant> = None;
    loop {
        let (line, alert) = match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(i) => i,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if closing.load(Ordering::Relaxed) {
            let d = *deadline.get_or_insert_with(|| Instant::now() + DRAIN);
            if Instant::now() >= d {
                dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        }
        let mut wait = backoff;
        let mut ok = false;
        for attempt in 1..=attempts.max(1) {
            match deliver(&line, &alert) {
                Ok(()) => {
                    ok = true;
                    break;
                }
                Err(e) => {
                    tracing::warn!(output = name, attempt, error = %e, "alert delivery failed");
                    let past_deadline = deadline.is_some_and(|d| Instant::now() >= d);
                    if attempt == attempts || past_deadline {
                        break;
                    }
                    std::thread::sleep(wait);
                    wait = wait.saturating_mul(2);
                }
            }
        }
        if !ok {
            dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Syslog facilities by name (RFC 5424 numbers).
pub const FACILITIES: &[(&str, u8)] = &[
    ("kern", 0),
    ("user", 1),
    ("mail", 2),
    ("daemon", 3),
    ("auth", 4),
    ("syslog", 5),
    ("authpriv", 10),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

/// The RFC 5424 severity of a priority (Falco's priorities are syslog's levels).
pub fn severity(p: Priority) -> u8 {
    match p {
        Priority::Emergency => 0,
        Priority::Alert => 1,
        Priority::Critical => 2,
        Priority::Error => 3,
        Priority::Warning => 4,
        Priority::Notice => 5,
        Priority::Informational => 6,
        Priority::Debug => 7,
    }
}

/// An RFC 5424 timestamp from the alert's RFC 3339 time: at most six fractional
/// digits (TIME-SECFRAC), `Z`.
fn syslog_time(t: &str) -> String {
    match t.split_once('.') {
        Some((secs, frac)) => {
            let digits: String = frac
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .take(6)
                .collect();
            format!("{secs}.{digits}Z")
        }
        None => t.to_string(),
    }
}

/// One RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME bulwark-sensor PROCID alert - MSG`
/// with the alert's JSON line as MSG.
pub fn rfc5424(facility: u8, hostname: &str, line: &str, a: &Alert) -> String {
    let pri = u16::from(facility) * 8 + u16::from(severity(a.priority));
    let host: String = hostname
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect();
    let host = if host.is_empty() { "-".into() } else { host };
    format!(
        "<{pri}>1 {} {host} bulwark-sensor {} alert - {line}",
        syslog_time(&a.time),
        std::process::id()
    )
}

/// Syslog over a Unix datagram socket.
pub struct Syslog {
    path: PathBuf,
    facility: u8,
    hostname: String,
    sock: Option<UnixDatagram>,
}

impl Syslog {
    /// To the socket at `path` (`/dev/log`), with `facility` (a number from
    /// [`FACILITIES`]). Connects at the first alert (and again after an error).
    pub fn new(path: &Path, facility: u8) -> Syslog {
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default();
        Syslog {
            path: path.to_path_buf(),
            facility,
            hostname,
            sock: None,
        }
    }
}

impl Deliver for Syslog {
    fn deliver(&mut self, line: &str, a: &Alert) -> Result<(), String> {
        if self.sock.is_none() {
            let s = UnixDatagram::unbound().map_err(|e| e.to_string())?;
            s.connect(&self.path)
                .map_err(|e| format!("connecting to {}: {e}", self.path.display()))?;
            s.set_write_timeout(Some(Duration::from_secs(2)))
                .map_err(|e| e.to_string())?;
            self.sock = Some(s);
        }
        let msg = rfc5424(self.facility, &self.hostname, line, a);
        let res = self
            .sock
            .as_ref()
            .map(|s| s.send(msg.as_bytes()))
            .unwrap_or_else(|| Err(std::io::Error::other("not connected")));
        if let Err(e) = res {
            self.sock = None;
            return Err(format!("sending to {}: {e}", self.path.display()));
        }
        Ok(())
    }
}

/// Why a webhook cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("webhook URL {0:?}: use http:// or https://")]
    Url(String),
    #[error("webhook CA file {path}: {message}")]
    Ca { path: PathBuf, message: String },
}

/// A webhook: each alert POSTed as `application/json` (the alert line); any 2xx is
/// delivered, anything else (and no answer within 10 s) is retried.
pub struct Webhook {
    url: String,
    agent: ureq::Agent,
}

fn load_ca(path: &Path) -> Result<Vec<ureq::tls::Certificate<'static>>, WebhookError> {
    let err = |message: String| WebhookError::Ca {
        path: path.to_path_buf(),
        message,
    };
    let mut pem = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_CA_FILE + 1).read_to_end(&mut pem))
        .map_err(|e| err(e.to_string()))?;
    if pem.len() as u64 > MAX_CA_FILE {
        return Err(err(format!("larger than {MAX_CA_FILE} bytes")));
    }
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => return Err(err(e.to_string())),
        }
    }
    if certs.is_empty() {
        return Err(err("no PEM certificate in it".into()));
    }
    Ok(certs)
}

impl Webhook {
    /// A webhook to `url`, trusting `ca_file` (PEM) instead of the system roots when
    /// given.
    pub fn new(url: &str, ca_file: Option<&Path>) -> Result<Webhook, WebhookError> {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(WebhookError::Url(url.to_string()));
        }
        let mut cfg = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(Duration::from_secs(10)))
            .user_agent(concat!("bulwark-sensor/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = ca_file {
            let certs = load_ca(ca)?;
            cfg = cfg.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                    .build(),
            );
        }
        Ok(Webhook {
            url: url.to_string(),
            agent: cfg.build().into(),
        })
    }
}

impl Deliver for Webhook {
    fn deliver(&mut self, line: &str, _a: &Alert) -> Result<(), String> {
        let resp = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .send(line.as_bytes())
            .map_err(|e| format!("POST {}: {e}", self.url))?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(format!("POST {} answered HTTP {status}", self.url))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(p: Priority) -> Alert {
        Alert {
            time: "2026-12-02T16:40:01.123456789Z".into(),
            rule: "R".into(),
            priority: p,
            output: "o".into(),
            tags: vec![],
            container_id: String::new(),
            container_name: String::new(),
            image: String::new(),
            image_digest: String::new(),
            proc_name: String::new(),
            pid: 1,
            ppid: 0,
            cmdline: String::new(),
            uid: 0,
            event: serde_json::Map::new(),
            actions: vec![],
        }
    }

    #[test]
    fn rfc5424_header() {
        let m = rfc5424(4, "node-1", "{\"rule\":\"R\"}", &alert(Priority::Critical));
        let pid = std::process::id();
        assert_eq!(
            m,
            format!("<34>1 2026-12-02T16:40:01.123456Z node-1 bulwark-sensor {pid} alert - {{\"rule\":\"R\"}}")
        );
        assert!(rfc5424(16, "", "x", &alert(Priority::Debug)).starts_with("<135>1 "));
        assert_eq!(syslog_time("2026-12-02T16:40:01Z"), "2026-12-02T16:40:01Z");
        assert_eq!(
            syslog_time("2026-12-02T16:40:01.5Z"),
            "2026-12-02T16:40:01.5Z"
        );
    }

    #[test]
    fn a_stuck_output_drops_instead_of_blocking_and_counts() {
        // Delivery blocks until released: the queue (4) fills, the rest is dropped at
        // once, and `send` never waits.
        let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
        let gate = std::sync::Mutex::new(gate_rx);
        let delivered = Arc::new(AtomicU64::new(0));
        let d2 = delivered.clone();
        let mut o = AsyncOutput::start_with("t", 4, 1, Duration::from_millis(1), move |_, _| {
            let _ = gate.lock().map(|g| g.recv());
            d2.fetch_add(1, Ordering::Relaxed);
            Ok(())
        });
        let a = Arc::new(alert(Priority::Notice));
        let t0 = Instant::now();
        for _ in 0..100 {
            o.send(Arc::from("x"), a.clone());
        }
        assert!(t0.elapsed() < Duration::from_millis(500));
        // one in delivery, four queued: at least 95 dropped
        assert!(o.dropped() >= 95, "{}", o.dropped());
        for _ in 0..10 {
            let _ = gate_tx.send(());
        }
        let drops = o.close();
        assert_eq!(delivered.load(Ordering::Relaxed) + drops, 100);
    }

    #[test]
    fn failures_are_retried_with_backoff_then_dropped() {
        let calls = Arc::new(AtomicU64::new(0));
        let c2 = calls.clone();
        let mut o = AsyncOutput::start_with("t", 8, 3, Duration::from_millis(10), move |_, _| {
            let n = c2.fetch_add(1, Ordering::Relaxed);
            // the first alert fails twice then goes through; the second always fails
            if n == 2 {
                Ok(())
            } else {
                Err("down".into())
            }
        });
        let a = Arc::new(alert(Priority::Notice));
        o.send(Arc::from("1"), a.clone());
        o.send(Arc::from("2"), a);
        let drops = o.close();
        assert_eq!(calls.load(Ordering::Relaxed), 6);
        assert_eq!(drops, 1);
    }
}
