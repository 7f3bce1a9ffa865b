//! `bulwark k8s`: cluster-wide analysis of manifests or a `kubectl get -o yaml` dump —
//! `rbac` (escalation paths, `--who-can`), `netpol` (connectivity, exposure, lateral
//! movement; `netpol diff OLD NEW`; `netpol suggest FLOWS.json`) and `scan` (config
//! checks, RBAC, NetworkPolicies and the image list together). The analyses live in
//! `bulwark-k8s`; this module parses arguments, prints and maps results to exit codes:
//! 0 nothing at or above the threshold, 1 findings, 2 an input could not be read (the
//! analysis of the rest is still printed, and every unreadable file is named on stderr).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use bulwark_core::Severity;
use bulwark_k8s::load::{images, ImageRef};
use bulwark_k8s::netpol::{self, Model, Sensitive};
use bulwark_k8s::rbac::{Graph, Query};
use bulwark_k8s::{load_paths, rbac_out, suggest, Loaded};
use clap::{Args, Subcommand};

/// Arguments of `bulwark k8s`.
#[derive(Debug, Args)]
pub struct K8sArgs {
    #[command(subcommand)]
    command: K8sCommand,
}

#[derive(Debug, Subcommand)]
enum K8sCommand {
    /// RBAC escalation paths (exit 1 when a path at or above --severity exists).
    Rbac(RbacArgs),
    /// NetworkPolicy connectivity, exposure and lateral movement; `diff`, `suggest`.
    Netpol(NetpolArgs),
    /// Config checks, RBAC, NetworkPolicies and the image list over a cluster dump.
    Scan(ScanArgs),
}

#[derive(Debug, Args)]
struct RbacArgs {
    /// Manifest files, directories or `kubectl get -o yaml` dumps.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// table, json, sarif, dot or mermaid.
    #[arg(short, long, default_value = "table")]
    format: String,
    /// Write to this file instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Exit 1 when a path at or above this severity exists.
    #[arg(long, default_value = "HIGH")]
    severity: String,
    /// Answer "who can VERB RESOURCE" instead (RESOURCE may be `res.group` or `res/sub`).
    #[arg(long, num_args = 2, value_names = ["VERB", "RESOURCE"])]
    who_can: Option<Vec<String>>,
    /// Namespace of the --who-can question.
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// Subresource of the --who-can question.
    #[arg(long)]
    subresource: Option<String>,
    /// Object name of the --who-can question.
    #[arg(long)]
    name: Option<String>,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
struct NetpolArgs {
    #[command(subcommand)]
    command: Option<NetpolCommand>,
    /// Manifest files, directories or dumps.
    paths: Vec<PathBuf>,
    #[command(flatten)]
    opts: NetpolOpts,
}

#[derive(Debug, Args, Clone)]
struct NetpolOpts {
    /// table or json.
    #[arg(short, long, default_value = "table")]
    format: String,
    /// Write to this file instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Print the connectivity matrix (every allowed connection) too.
    #[arg(long)]
    matrix: bool,
    /// Sensitive workloads: `namespace:NAME` or `KEY=VALUE` (repeatable).
    #[arg(long)]
    sensitive: Vec<String>,
    /// YAML file with `sensitive: {namespaces: [...], labels: {k: v}}`.
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum NetpolCommand {
    /// What NEW allows that OLD did not, and the reverse (exit 1 when NEW opens something).
    Diff {
        /// The manifests before the change.
        old: PathBuf,
        /// The manifests after the change.
        new: PathBuf,
        /// table or json.
        #[arg(short, long, default_value = "table")]
        format: String,
        /// Write to this file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Write least-privilege NetworkPolicies (YAML) from observed flows.
    Suggest {
        /// The flow file (format in docs/k8s-analysis.md).
        flows: PathBuf,
        /// Write to this file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct ScanArgs {
    /// A cluster dump or manifest directory.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// table, json or images (the unique image references, one per line).
    #[arg(short, long, default_value = "table")]
    format: String,
    /// Write to this file instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Exit 1 when an RBAC path or a misconfiguration at or above this severity exists,
    /// or a lateral-movement path to a sensitive workload.
    #[arg(long, default_value = "HIGH")]
    severity: String,
    /// Sensitive workloads for the NetworkPolicy analysis (as for `netpol`).
    #[arg(long)]
    sensitive: Vec<String>,
}

/// Runs `bulwark k8s`; returns the exit code.
pub fn run(args: K8sArgs) -> Result<u8> {
    match args.command {
        K8sCommand::Rbac(a) => rbac(a),
        K8sCommand::Netpol(a) => match a.command {
            Some(NetpolCommand::Diff {
                old,
                new,
                format,
                output,
            }) => netpol_diff(&old, &new, &format, output),
            Some(NetpolCommand::Suggest { flows, output }) => netpol_suggest(&flows, output),
            None => {
                if a.paths.is_empty() {
                    bail!("bulwark k8s netpol needs manifest files or directories (or `diff`, `suggest`)");
                }
                netpol(&a.paths, &a.opts)
            }
        },
        K8sCommand::Scan(a) => scan(a),
    }
}

fn severity(s: &str) -> Result<Severity> {
    s.parse::<Severity>()
        .map_err(|e| anyhow::anyhow!("--severity {s}: {e}"))
}

/// Names every file that could not be read; true when there was one.
fn report_unreadable(loaded: &Loaded) -> bool {
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    for s in &loaded.skipped {
        eprintln!(
            "note: {}; skipped",
            bulwark_core::text::terminal_safe(&s.to_string())
        );
    }
    for u in &loaded.unreadable {
        eprintln!(
            "error: {}",
            bulwark_core::text::terminal_safe(&u.to_string())
        );
    }
    if !loaded.unreadable.is_empty() {
        eprintln!(
            "error: {} input(s) could not be read; the analysis above is incomplete",
            loaded.unreadable.len()
        );
    }
    !loaded.unreadable.is_empty()
}

fn write_json(out: &mut dyn Write, v: &serde_json::Value) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, v)?;
    writeln!(out)?;
    Ok(())
}

fn rbac(a: RbacArgs) -> Result<u8> {
    let threshold = severity(&a.severity)?;
    if !matches!(
        a.format.as_str(),
        "table" | "json" | "sarif" | "dot" | "mermaid"
    ) {
        bail!(
            "--format {}: bulwark k8s rbac writes table, json, sarif, dot or mermaid",
            a.format
        );
    }
    let mut loaded = load_paths(&a.paths);
    let graph = Graph::build(&mut loaded);
    let target = a
        .paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" ");
    if let Some(wc) = &a.who_can {
        let (verb, resource) = match wc.as_slice() {
            [v, r] => (v, r),
            _ => bail!("--who-can takes VERB RESOURCE"),
        };
        let mut q = Query::parse(verb, resource);
        if q.non_resource_url.is_some()
            && (a.namespace.is_some() || a.subresource.is_some() || a.name.is_some())
        {
            bail!(
                "--who-can {verb} {resource}: a non-resource URL is cluster-wide and has no namespace, subresource or name"
            );
        }
        if let Some(s) = &a.subresource {
            q.subresource = s.clone();
        }
        q.namespace = a.namespace.clone();
        q.name = a.name.clone().unwrap_or_default();
        let answers = graph.who_can(&q);
        let question = format!(
            "{verb} {resource}{}{}{}",
            a.subresource
                .as_ref()
                .map(|s| format!("/{s}"))
                .unwrap_or_default(),
            a.name.as_ref().map(|n| format!(" {n}")).unwrap_or_default(),
            a.namespace
                .as_ref()
                .map(|n| format!(" in namespace {n}"))
                .unwrap_or_default()
        );
        crate::write_output(a.output.as_deref(), |w| match a.format.as_str() {
            "json" => write_json(
                w,
                &serde_json::json!({"question": question, "answers": answers, "unreadable": loaded.unreadable, "skipped": loaded.skipped}),
            ),
            _ => Ok(w.write_all(rbac_out::who_can_table(&question, &answers).as_bytes())?),
        })?;
        return Ok(if report_unreadable(&loaded) { 2 } else { 0 });
    }
    let report = graph.analyse();
    crate::write_output(a.output.as_deref(), |w| {
        match a.format.as_str() {
            "json" => write_json(
                w,
                &serde_json::json!({"report": report, "unreadable": loaded.unreadable, "skipped": loaded.skipped}),
            )?,
            "sarif" => write_json(w, &rbac_out::sarif(&report, &target))?,
            "dot" => w.write_all(rbac_out::dot(&graph, &report).as_bytes())?,
            "mermaid" => w.write_all(rbac_out::mermaid(&graph, &report).as_bytes())?,
            _ => w.write_all(rbac_out::table(&report).as_bytes())?,
        }
        Ok(())
    })?;
    if report_unreadable(&loaded) {
        return Ok(2);
    }
    Ok(u8::from(
        report.paths.iter().any(|p| p.severity >= threshold),
    ))
}

fn sensitive(flags: &[String], config: Option<&PathBuf>) -> Result<Sensitive> {
    let mut s = match config {
        Some(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            Sensitive::from_config(&p.display().to_string(), &bytes).map_err(anyhow::Error::msg)?
        }
        None => Sensitive::default(),
    };
    for f in flags {
        s.add(f).map_err(anyhow::Error::msg)?;
    }
    Ok(s)
}

fn netpol(paths: &[PathBuf], o: &NetpolOpts) -> Result<u8> {
    if !matches!(o.format.as_str(), "table" | "json") {
        bail!(
            "--format {}: bulwark k8s netpol writes table or json",
            o.format
        );
    }
    let sens = sensitive(&o.sensitive, o.config.as_ref())?;
    let mut loaded = load_paths(paths);
    let model = Model::build(&mut loaded);
    let mut report = model.report(&sens);
    let with_matrix = o.matrix;
    if !with_matrix && o.format == "json" {
        report.matrix.clear();
    }
    crate::write_output(o.output.as_deref(), |w| {
        if o.format == "json" {
            write_json(
                w,
                &serde_json::json!({"report": report, "unreadable": loaded.unreadable, "skipped": loaded.skipped}),
            )
        } else {
            Ok(w.write_all(netpol::table(&report, with_matrix).as_bytes())?)
        }
    })?;
    if report_unreadable(&loaded) {
        return Ok(2);
    }
    Ok(u8::from(!report.lateral_movement.is_empty()))
}

fn netpol_diff(old: &PathBuf, new: &PathBuf, format: &str, output: Option<PathBuf>) -> Result<u8> {
    if !matches!(format, "table" | "json") {
        bail!("--format {format}: bulwark k8s netpol diff writes table or json");
    }
    let mut lo = load_paths(std::slice::from_ref(old));
    let mut ln = load_paths(std::slice::from_ref(new));
    let (mo, mn) = (Model::build(&mut lo), Model::build(&mut ln));
    let changes = netpol::diff(&mo, &mn);
    crate::write_output(output.as_deref(), |w| {
        if format == "json" {
            let mut unreadable = lo.unreadable.clone();
            unreadable.extend(ln.unreadable.iter().cloned());
            write_json(
                w,
                &serde_json::json!({"changes": changes, "unreadable": unreadable}),
            )
        } else {
            if changes.is_empty() {
                writeln!(w, "No connectivity change.")?;
            }
            for c in &changes {
                writeln!(w, "{}", c.sentence())?;
            }
            Ok(())
        }
    })?;
    let bad_old = report_unreadable(&lo);
    let bad_new = report_unreadable(&ln);
    if bad_old || bad_new {
        return Ok(2);
    }
    Ok(u8::from(changes.iter().any(|c| c.change == "opens")))
}

fn netpol_suggest(flows: &PathBuf, output: Option<PathBuf>) -> Result<u8> {
    let shown = flows.display().to_string();
    let file = std::fs::File::open(flows).with_context(|| format!("reading {shown}"))?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, suggest::MAX_FLOW_BYTES as u64 + 1),
        &mut bytes,
    )
    .with_context(|| format!("reading {shown}"))?;
    let parsed = suggest::parse_flows(&shown, &bytes)?;
    let s = suggest::suggest(&shown, &parsed)?;
    for w in &s.warnings {
        eprintln!("warning: {w}");
    }
    crate::write_output(output.as_deref(), |w| {
        Ok(w.write_all(s.to_yaml().as_bytes())?)
    })?;
    Ok(0)
}

fn unique_images(v: &[ImageRef]) -> Vec<String> {
    let mut s: Vec<String> = v.iter().map(|i| i.image.clone()).collect();
    s.sort();
    s.dedup();
    s
}

fn scan(a: ScanArgs) -> Result<u8> {
    let threshold = severity(&a.severity)?;
    if !matches!(a.format.as_str(), "table" | "json" | "images") {
        bail!(
            "--format {}: bulwark k8s scan writes table, json or images",
            a.format
        );
    }
    let sens = sensitive(&a.sensitive, None)?;
    // Config checks: the same engine call as `bulwark config`.
    let engine = bulwark_engine::Engine::new(bulwark_engine::EngineConfig::new(
        crate::env::default_cache_dir(),
    ))
    .context("starting the scan engine")?;
    let req = bulwark_engine::ConfigRequest {
        paths: a.paths.clone(),
        checks: Some("all".into()),
        pss_version: None,
        custom_checks: None,
        suppression: bulwark_engine::Suppression::default(),
        gate: bulwark_engine::Gate::default(),
    };
    let config = engine.check_config(&req, &bulwark_engine::Cancel::new())?;
    let mut loaded = load_paths(&a.paths);
    let graph = Graph::build(&mut loaded);
    let rbac = graph.analyse();
    let model = Model::build(&mut loaded);
    let mut net = model.report(&sens);
    net.matrix.clear();
    let imgs = images(&loaded);
    let misconf = &config.report.misconfigurations;
    crate::write_output(a.output.as_deref(), |w| {
        match a.format.as_str() {
            "images" => {
                for i in unique_images(&imgs) {
                    writeln!(w, "{i}")?;
                }
            }
            "json" => write_json(
                w,
                &serde_json::json!({
                    "misconfigurations": misconf,
                    "config_warnings": config.report.warnings,
                    "rbac": rbac,
                    "netpol": net,
                    "images": imgs,
                    "unique_images": unique_images(&imgs),
                    "unreadable": loaded.unreadable,
                    "skipped": loaded.skipped,
                }),
            )?,
            _ => {
                let at = |s: Severity| misconf.iter().filter(|m| m.severity == s).count();
                writeln!(
                    w,
                    "== Config checks: {} findings (CRITICAL {}, HIGH {}, MEDIUM {}, LOW {})",
                    misconf.len(),
                    at(Severity::Critical),
                    at(Severity::High),
                    at(Severity::Medium),
                    at(Severity::Low)
                )?;
                for m in misconf.iter().filter(|m| m.severity >= threshold) {
                    writeln!(
                        w,
                        "  {} {} {}:{} {}: {}",
                        m.severity.as_str(),
                        m.check_id,
                        m.path,
                        m.start_line.unwrap_or(0),
                        m.resource.as_deref().unwrap_or(""),
                        m.message
                    )?;
                }
                writeln!(w, "\n== RBAC")?;
                w.write_all(rbac_out::table(&rbac).as_bytes())?;
                writeln!(w, "\n== NetworkPolicies")?;
                w.write_all(netpol::table(&net, false).as_bytes())?;
                let u = unique_images(&imgs);
                writeln!(w, "\n== Images ({})", u.len())?;
                for i in u {
                    writeln!(w, "  {i}")?;
                }
            }
        }
        Ok(())
    })?;
    for warn in &config.report.warnings {
        tracing::warn!("{}: {}", warn.path.as_deref().unwrap_or(""), warn.message);
    }
    if report_unreadable(&loaded) {
        return Ok(2);
    }
    let fail = rbac.paths.iter().any(|p| p.severity >= threshold)
        || misconf
            .iter()
            .any(|m| m.severity >= threshold && m.suppressed.is_none())
        || !net.lateral_movement.is_empty();
    Ok(u8::from(fail))
}
