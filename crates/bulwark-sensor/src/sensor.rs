//! The sensor loop: BPF events in, attributed and enriched, evaluated against the
//! rules, and acted upon (alert, kill, pause), until stopped by a signal or a duration.

use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::attrib::{Attributor, Origin};
use crate::event::{Kind, RawEvent, FLAG_HELD, FLAG_KILLED};
use crate::fields::{Event, ProcInfo};
use crate::flows::FlowRecorder;
use crate::output::{ActionResult, Alert, Sink};
use crate::probe::{self, LoadOptions, StartError};
use crate::profile::Profiles;
use crate::rules::{Action, RuleSet};

/// How to run.
pub struct Config {
    pub rules: RuleSet,
    pub sink: Sink,
    /// Record what kill/pause would do without doing it.
    pub dry_run: bool,
    /// Drop host processes' events in the kernel.
    pub containers_only: bool,
    /// Stop after this long (else on SIGINT/SIGTERM).
    pub duration: Option<Duration>,
    /// The Docker-compatible API socket for container metadata and pause.
    pub api_socket: Option<PathBuf>,
    pub ringbuf_bytes: u32,
    /// Set to stop the loop (signal handlers set it too).
    pub stop: Arc<AtomicBool>,
    /// Called once the programs are attached (tests and scripts wait for it).
    pub on_ready: Option<Box<dyn FnOnce() + Send>>,
    /// Learned profiles (`--profiles DIR --learn D`), loaded by the caller.
    pub profiles: Option<Profiles>,
    /// Flow export (`--flows FILE`).
    pub flows: Option<FlowRecorder>,
    /// On a kernel without module support, still watch module-load attempts (on
    /// raw_syscalls:sys_enter, a program run on every syscall).
    pub module_attempts: bool,
    /// Told (`try_send`, never waited on) when a container's first process execs or
    /// exits: the placement reporter's nudger ([`crate::placements::Reporter::nudger`]).
    pub container_changes: Option<std::sync::mpsc::SyncSender<()>>,
}

/// What the run did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {
    /// Events the kernel submitted to the ring buffer.
    pub events: u64,
    /// Events lost because the ring buffer was full.
    pub drops: u64,
    /// Read-only opens the kernel filtered out because no rule can match their path
    /// (docs/sensor.md, "In-kernel filtering"); never sent, so neither events nor drops.
    pub filtered: u64,
    /// Events user space processed.
    pub processed: u64,
    pub alerts: u64,
    pub kills: u64,
    pub kernel_kills: u64,
    /// Kill latencies (kernel event to signal sent), microseconds, user-space kills.
    pub kill_latency_us: Vec<u64>,
    pub api_errors: u64,
    pub decode_errors: u64,
    pub write_errors: u64,
    /// Anomaly alerts (learned profiles).
    pub anomalies: u64,
    /// Profile files written.
    pub profile_writes: u64,
    /// Distinct flows recorded (`--flows`).
    pub flows: u64,
    /// Alerts an asynchronous output (syslog, webhook, server) dropped because its
    /// queue was full or it kept failing, by output.
    pub output_drops: std::collections::BTreeMap<String, u64>,
    pub seconds: f64,
}

/// Why a run failed after starting.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("polling the ring buffer")]
    Poll(#[source] libbpf_rs::Error),
    #[error("installing the signal handlers")]
    Signals(#[source] std::io::Error),
}

const MAX_PROCS: usize = 65536;
/// How often the flow file is rewritten (when flows changed), besides at exit.
pub const FLOW_WRITE_EVERY: Duration = Duration::from_secs(10);
/// How long user space waits for a wakeup before reading what is batched: the most an
/// alert of a kind without kill/pause rules is delayed.
const POLL: Duration = Duration::from_millis(20);

/// User-space processing of decoded events (everything after the ring buffer).
pub struct Processor {
    pub attrib: Attributor,
    rules: RuleSet,
    sink: Sink,
    dry_run: bool,
    procs: HashMap<u32, Arc<ProcInfo>>,
    pub profiles: Option<Profiles>,
    pub flows: Option<FlowRecorder>,
    /// Told when a container's first process execs or exits (see [`Config`]).
    pub container_changes: Option<std::sync::mpsc::SyncSender<()>>,
    /// wall clock = monotonic + offset
    wall_offset_ns: i128,
    last_flow_write: Instant,
    flow_writer: Option<std::thread::JoinHandle<()>>,
    pub stats: Stats,
}

fn read_small(p: &std::path::Path, max: u64) -> Option<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(p).ok()?;
    let mut v = Vec::new();
    f.take(max).read_to_end(&mut v).ok()?;
    Some(v)
}

impl Processor {
    /// A processor writing to `sink`.
    pub fn new(rules: RuleSet, sink: Sink, dry_run: bool, attrib: Attributor) -> Processor {
        let wall = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0);
        Processor {
            attrib,
            rules,
            sink,
            dry_run,
            procs: HashMap::new(),
            profiles: None,
            flows: None,
            container_changes: None,
            wall_offset_ns: wall - crate::sys::monotonic_ns() as i128,
            last_flow_write: Instant::now(),
            flow_writer: None,
            stats: Stats::default(),
        }
    }

    fn proc_info(&mut self, raw: &RawEvent) -> Option<Arc<ProcInfo>> {
        if let Some(p) = self.procs.get(&raw.pid) {
            return Some(p.clone());
        }
        // A process that started before the sensor: read it from /proc once.
        let base = PathBuf::from(format!("/proc/{}", raw.pid));
        let cmd = read_small(&base.join("cmdline"), 4096)?;
        let argv: Vec<String> = cmd
            .split(|&c| c == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect();
        let exe = std::fs::read_link(base.join("exe"))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let exe_file = exe
            .rsplit('/')
            .next()
            .unwrap_or("")
            .trim_end_matches(" (deleted)")
            .to_string();
        let p = Arc::new(ProcInfo {
            exe,
            argv,
            exe_file,
        });
        self.remember(raw.pid, p.clone());
        Some(p)
    }

    fn remember(&mut self, pid: u32, p: Arc<ProcInfo>) {
        if self.procs.len() >= MAX_PROCS {
            self.procs.clear();
        }
        self.procs.insert(pid, p);
    }

    /// `fd.name` of a path event: relative paths joined to the process's cwd (or the
    /// directory descriptor), then made canonical lexically (`//`, `.` and `..`
    /// components removed), so that `/etc//shadow` or `/tmp/../etc/shadow` is the
    /// `/etc/shadow` the rules name. Symbolic links are not followed (the event is taken
    /// before the kernel resolves the path).
    fn resolve_path(raw: &RawEvent) -> String {
        let p = &raw.str1;
        let relative_kind = matches!(raw.kind, Kind::Openat | Kind::Openat2 | Kind::Fchmodat);
        let path_kind =
            relative_kind || matches!(raw.kind, Kind::Chmod | Kind::Mount | Kind::Umount);
        if p.is_empty() || !path_kind {
            return p.clone();
        }
        if p.starts_with('/') {
            return normalize(p);
        }
        if !relative_kind {
            return p.clone();
        }
        let dfd = raw.args[0] as i64 as i32;
        let base = if dfd == -100 {
            std::fs::read_link(format!("/proc/{}/cwd", raw.pid))
        } else {
            std::fs::read_link(format!("/proc/{}/fd/{dfd}", raw.pid))
        };
        match base {
            Ok(b) => normalize(&format!("{}/{p}", b.to_string_lossy())),
            Err(_) => p.clone(),
        }
    }

    /// Handles one ring-buffer record.
    pub fn handle_bytes(&mut self, data: &[u8]) {
        match RawEvent::decode(data) {
            Ok(raw) => self.handle(raw),
            Err(e) => {
                self.stats.decode_errors += 1;
                tracing::warn!(error = %e, "undecodable event");
            }
        }
    }

    /// Handles one event.
    pub fn handle(&mut self, raw: RawEvent) {
        self.stats.processed += 1;
        let origin = self.attrib.origin(&raw);
        if raw.vpid == 1
            && raw.pid != 1
            && matches!(raw.kind, Kind::Exec | Kind::Exit)
            && matches!(origin, Origin::Container(_))
        {
            if let Some(tx) = &self.container_changes {
                // Full means a nudge is already waiting: nothing lost.
                let _ = tx.try_send(());
            }
        }
        match raw.kind {
            Kind::Exec => {
                let mut argv = raw.argv();
                if raw.args[0] as usize > raw.str2.len() {
                    // arguments longer than the BPF copy: take them from /proc if still there
                    if let Some(c) = read_small(
                        std::path::Path::new(&format!("/proc/{}/cmdline", raw.pid)),
                        16384,
                    ) {
                        argv = c
                            .split(|&ch| ch == 0)
                            .filter(|s| !s.is_empty())
                            .map(|s| String::from_utf8_lossy(s).into_owned())
                            .collect();
                    }
                }
                let p = Arc::new(ProcInfo {
                    exe: raw.str1.clone(),
                    argv,
                    exe_file: raw.str3.clone(),
                });
                self.remember(raw.pid, p);
            }
            Kind::Fork => {
                if let Some(p) = self.procs.get(&raw.pid).cloned() {
                    self.remember(raw.args[0] as u32, p);
                }
            }
            _ => {}
        }
        let proc = self.proc_info(&raw);
        let meta = match &origin {
            Origin::Container(id) => self.attrib.meta(id),
            _ => None,
        };
        let ts = self.wall_offset_ns + raw.ts_ns as i128;
        let time = SystemTime::UNIX_EPOCH + Duration::from_nanos(ts.max(0) as u64);
        let path = Self::resolve_path(&raw);
        let ev = Event {
            raw,
            time,
            origin: origin.clone(),
            meta,
            proc,
            path,
        };
        let mut fired = Vec::new();
        for r in self.rules.candidates(ev.raw.kind.code()) {
            if r.condition.eval(&ev) {
                fired.push(r.clone());
            }
        }
        let mut killed = false;
        for r in fired {
            let mut a = Alert::new(&r, &ev);
            for act in &r.actions {
                match act {
                    Action::Alert => {}
                    Action::Kill => {
                        let res = self.kill(&ev, killed);
                        killed |= res.result == "done" || res.result == "in-kernel";
                        a.actions.push(res);
                    }
                    Action::Pause => a.actions.push(self.pause(&ev)),
                }
            }
            self.stats.alerts += 1;
            if let Err(e) = self.sink.write(&a) {
                self.stats.write_errors += 1;
                tracing::error!(error = %e, "writing an alert failed");
            }
        }
        if ev.raw.flags & FLAG_HELD != 0 && !killed {
            // The kernel stopped it for us to decide: no kill matched, let it go on.
            if let Err(e) = crate::sys::cont(ev.raw.pid) {
                tracing::debug!(pid = ev.raw.pid, error = %e, "SIGCONT of a held process failed");
            }
        }
        // After a held process was let go: profiles and flows never delay it.
        if let Some(f) = self.flows.as_mut() {
            f.observe(&ev);
        }
        let anomaly = self.profiles.as_mut().and_then(|p| p.observe(&ev));
        if let Some(an) = anomaly {
            let a = Alert::build(an.rule.to_string(), an.priority, an.output, an.tags, &ev);
            self.stats.alerts += 1;
            self.stats.anomalies += 1;
            if let Err(e) = self.sink.write(&a) {
                self.stats.write_errors += 1;
                tracing::error!(error = %e, "writing an alert failed");
            }
        }
        if ev.raw.kind == Kind::Exit {
            self.procs.remove(&ev.raw.pid);
        }
        self.attrib.after(&ev.raw, &origin);
    }

    /// Once a second: closes learning windows, writes changed profiles, and writes the
    /// flow file every [`FLOW_WRITE_EVERY`].
    pub fn tick(&mut self) {
        if let Some(p) = self.profiles.as_mut() {
            for e in p.tick(crate::sys::monotonic_ns()) {
                tracing::error!(error = %e, "writing a profile failed");
            }
        }
        if let Some(f) = self.flows.as_mut() {
            let busy = self.flow_writer.as_ref().is_some_and(|h| !h.is_finished());
            if self.last_flow_write.elapsed() >= FLOW_WRITE_EVERY && !busy {
                self.last_flow_write = Instant::now();
                // Serialised here, written (with its fsync) on a thread of its own.
                match f.take_changes() {
                    Ok(None) => {}
                    Ok(Some(bytes)) => {
                        let path = f.path().to_path_buf();
                        self.flow_writer = Some(std::thread::spawn(move || {
                            if let Err(e) = crate::profile::write_atomic(&path, &bytes) {
                                tracing::error!(path = %path.display(), error = %e, "writing the flows failed");
                            }
                        }));
                    }
                    Err(e) => tracing::error!(error = %e, "serialising the flows failed"),
                }
            }
        }
    }

    /// At shutdown: writes every profile (also those still learning) and the flows.
    pub fn finish(&mut self) {
        if let Some(p) = self.profiles.as_mut() {
            for e in p.save(true) {
                tracing::error!(error = %e, "writing a profile failed");
            }
            self.stats.profile_writes = p.writes;
        }
        if let Some(h) = self.flow_writer.take() {
            let _ = h.join();
        }
        if let Some(f) = self.flows.as_mut() {
            if let Err(e) = f.save(true) {
                tracing::error!(path = %f.path().display(), error = %e, "writing the flows failed");
            }
            self.stats.flows = f.len() as u64;
        }
        self.stats.output_drops = self.sink.close();
    }

    fn kill(&mut self, ev: &Event, already: bool) -> ActionResult {
        let mut r = ActionResult {
            action: "kill",
            result: String::new(),
            latency_us: None,
            error: None,
        };
        if ev.raw.flags & FLAG_KILLED != 0 {
            self.stats.kernel_kills += u64::from(!already);
            r.result = "in-kernel".into();
            r.latency_us = Some(0);
            return r;
        }
        if self.dry_run {
            r.result = "dry-run".into();
            return r;
        }
        if ev.raw.pid == std::process::id() {
            r.result = "failed".into();
            r.error = Some("refusing to kill the sensor itself".into());
            return r;
        }
        match crate::sys::kill9(ev.raw.pid) {
            Ok(()) => {
                let lat = crate::sys::monotonic_ns().saturating_sub(ev.raw.ts_ns) / 1000;
                if !already {
                    self.stats.kills += 1;
                    self.stats.kill_latency_us.push(lat);
                }
                r.result = "done".into();
                r.latency_us = Some(lat);
            }
            Err(e) => {
                r.result = "failed".into();
                r.error = Some(e.to_string());
            }
        }
        r
    }

    fn pause(&mut self, ev: &Event) -> ActionResult {
        let mut r = ActionResult {
            action: "pause",
            result: String::new(),
            latency_us: None,
            error: None,
        };
        let Origin::Container(id) = &ev.origin else {
            r.result = "failed".into();
            r.error = Some("not a container process".into());
            return r;
        };
        if self.dry_run {
            r.result = "dry-run".into();
            return r;
        }
        match self.attrib.api() {
            None => {
                r.result = "failed".into();
                r.error = Some("no container API socket configured (--api-socket)".into());
            }
            Some(api) => match api.pause(id) {
                Ok(()) => r.result = "done".into(),
                Err(e) => {
                    r.result = "failed".into();
                    r.error = Some(e.to_string());
                }
            },
        }
        r
    }
}

/// An absolute path without empty, `.` and `..` components (`..` at the root stays at
/// the root, as the kernel resolves it); a trailing `/` is kept.
fn normalize(p: &str) -> String {
    // Most paths are canonical already: copied as they are, without splitting.
    if !p.contains("//")
        && !p.contains("/./")
        && !p.contains("/../")
        && !p.ends_with("/.")
        && !p.ends_with("/..")
    {
        return p.to_string();
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut out = String::with_capacity(p.len());
    for c in &parts {
        out.push('/');
        out.push_str(c);
    }
    if out.is_empty() || (p.ends_with('/') && !parts.is_empty()) {
        out.push('/');
    }
    out
}

/// Runs the sensor until stopped.
pub fn run(cfg: Config) -> Result<Stats, RunError> {
    probe::preflight()?;
    let host_mntns =
        probe::ns_inode(std::path::Path::new("/proc/self/ns/mnt")).map_err(StartError::SelfNs)?;
    let mut kernel_kill = Vec::new();
    let mut kernel_kill_comm = Vec::new();
    if !cfg.dry_run {
        for r in &cfg.rules.rules {
            if !r.kills() {
                continue;
            }
            match r.condition.kernel_kill_plan() {
                Some((kinds, None)) => kernel_kill.extend(kinds),
                Some((kinds, Some(names))) => {
                    for k in kinds {
                        kernel_kill_comm.extend(names.iter().map(|n| (k, n.clone())));
                    }
                }
                None => {}
            }
        }
        if !kernel_kill.is_empty() || !kernel_kill_comm.is_empty() {
            tracing::info!(
                kinds = kernel_kill.len(),
                names = kernel_kill_comm.len(),
                "rules killed in the kernel (bpf_send_signal)"
            );
        }
    }
    // Kinds with a kill or pause rule (any kind when the rule names none) wake user
    // space at every event; the others are batched (see sensor.bpf.c).
    let mut wake_now = Vec::new();
    for r in &cfg.rules.rules {
        if r.actions.iter().any(|a| *a != Action::Alert) {
            match &r.kinds {
                Some(k) => wake_now.extend(k.iter().copied()),
                None => wake_now.extend(crate::event::Kind::ALL.iter().map(|k| k.code())),
            }
        }
    }
    let opts = LoadOptions {
        containers_only: cfg.containers_only,
        host_mntns,
        ringbuf_bytes: cfg.ringbuf_bytes,
        kernel_kill,
        kernel_kill_comm,
        hold_urgent: !cfg.dry_run && !wake_now.is_empty(),
        wake_now,
        // With module support but no tracepoints for its syscalls (unusual), or when asked.
        raw_module_hook: cfg.module_attempts || std::path::Path::new("/proc/modules").exists(),
        // Learned profiles record every directory files are read in: no filtering then.
        read_need: if cfg.profiles.is_some() {
            None
        } else {
            cfg.rules.read_open_need()
        },
    };
    let stop = cfg.stop.clone();
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).map_err(RunError::Signals)?;
    }
    let mut obj = MaybeUninit::uninit();
    let (skel, links) = probe::load(&mut obj, &opts)?;
    let api = cfg.api_socket.clone().map(crate::podman::Client::new);
    if let Some(a) = &api {
        if let Err(e) = a.ping() {
            tracing::warn!(error = %e, "container API not answering: events will have no image metadata until it does");
        }
    }
    let attrib = Attributor::new(host_mntns, api);
    let mut proc = Processor::new(cfg.rules, cfg.sink, cfg.dry_run, attrib);
    proc.profiles = cfg.profiles;
    proc.flows = cfg.flows;
    proc.container_changes = cfg.container_changes;
    let start = Instant::now();
    let mut last_drops = 0u64;
    {
        // Both rings feed the same processor; `RefCell` because libbpf wants one
        // callback per ring. The urgent ring is added first: when both are ready it is
        // read first.
        let proc_cell = std::cell::RefCell::new(&mut proc);
        let mut b = libbpf_rs::RingBufferBuilder::new();
        b.add(&skel.maps.urgent, |d: &[u8]| {
            proc_cell.borrow_mut().handle_bytes(d);
            0
        })
        .map_err(StartError::RingBuf)?;
        b.add(&skel.maps.events, |d: &[u8]| {
            proc_cell.borrow_mut().handle_bytes(d);
            0
        })
        .map_err(StartError::RingBuf)?;
        let rb = b.build().map_err(StartError::RingBuf)?;
        tracing::info!(
            programs = links.len(),
            containers_only = cfg.containers_only,
            "sensor attached"
        );
        if let Some(f) = cfg.on_ready {
            f();
        }
        let mut last_check = Instant::now();
        loop {
            if stop.load(Ordering::Relaxed) || cfg.duration.is_some_and(|d| start.elapsed() >= d) {
                break;
            }
            match rb.poll(POLL) {
                Ok(()) => {}
                Err(e) if e.kind() == libbpf_rs::ErrorKind::Interrupted => {}
                Err(e) => return Err(RunError::Poll(e)),
            }
            // Ordinary events do not always wake us: read what is waiting.
            match rb.consume() {
                Ok(()) => {}
                Err(e) if e.kind() == libbpf_rs::ErrorKind::Interrupted => {}
                Err(e) => return Err(RunError::Poll(e)),
            }
            if last_check.elapsed() >= Duration::from_secs(1) {
                last_check = Instant::now();
                proc_cell.borrow_mut().tick();
                let (_, drops, _) = probe::counters(&skel);
                if drops > last_drops {
                    tracing::warn!(
                        dropped = drops - last_drops,
                        total = drops,
                        "ring buffer full: events dropped"
                    );
                    last_drops = drops;
                }
            }
        }
        // Detach first, then drain: no event (and no process held for a decision) can
        // arrive after the last read.
        drop(links);
        let _ = rb.consume();
    }
    proc.finish();
    let (events, drops, filtered) = probe::counters(&skel);
    let mut stats = proc.stats.clone();
    stats.events = events;
    stats.drops = drops;
    stats.filtered = filtered;
    stats.api_errors = proc.attrib.api_errors;
    stats.seconds = start.elapsed().as_secs_f64();
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn paths_are_made_canonical_lexically() {
        for (raw, want) in [
            ("/etc/shadow", "/etc/shadow"),
            ("/etc//shadow", "/etc/shadow"),
            ("/etc/./shadow", "/etc/shadow"),
            ("/tmp/../etc/shadow", "/etc/shadow"),
            ("/../../etc/shadow", "/etc/shadow"),
            ("//etc/shadow", "/etc/shadow"),
            ("/etc/", "/etc/"),
            ("/", "/"),
            ("/..", "/"),
            ("/a/b/..", "/a"),
            ("/.", "/"),
            ("/a/.b", "/a/.b"),
            ("/a/..b/c", "/a/..b/c"),
            ("/a/b.", "/a/b."),
        ] {
            assert_eq!(normalize(raw), want, "{raw}");
        }
    }
}
