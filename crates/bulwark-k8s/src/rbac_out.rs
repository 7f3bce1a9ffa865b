//! Output of the RBAC analysis: table, JSON, SARIF (through bulwark-report's writer: each
//! path becomes a misconfiguration-shaped finding pointing at the first binding of its
//! chain), and the subject → binding → role graph as DOT or Mermaid with escalation
//! edges to the service accounts a subject can act as.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use bulwark_core::{Misconfiguration, Report, ReportTarget, TargetKind};
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};

use crate::rbac::{EscalationPath, Graph, RbacReport, WhoCan};

/// The table of paths.
pub fn table(report: &RbacReport) -> String {
    let mut out = String::new();
    if report.paths.is_empty() {
        let _ = writeln!(
            out,
            "No escalation paths ({} roles, {} bindings, {} service accounts).",
            report.roles, report.bindings, report.service_accounts
        );
    } else {
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(200)
            .set_header(vec!["SEVERITY", "ADMIN", "SUBJECT", "PATH", "CHAIN"]);
        for p in &report.paths {
            t.add_row(vec![
                p.severity.as_str().to_string(),
                if p.cluster_admin { "yes" } else { "" }.to_string(),
                p.subject.clone(),
                format!("{} ({})", p.kind_title(), p.id),
                p.chain_text(),
            ]);
        }
        let _ = writeln!(out, "{t}");
        let _ = writeln!(
            out,
            "{} paths; cluster-admin equivalent: {}",
            report.paths.len(),
            if report.cluster_admin_subjects.is_empty() {
                "none".to_string()
            } else {
                report.cluster_admin_subjects.join(", ")
            }
        );
    }
    for d in &report.dangling_bindings {
        let _ = writeln!(out, "note: {d}");
    }
    out
}

impl EscalationPath {
    /// The kind's title.
    pub fn kind_title(&self) -> &'static str {
        self.kind.title()
    }
}

/// The `--who-can` answers as a table.
pub fn who_can_table(question: &str, answers: &[WhoCan]) -> String {
    if answers.is_empty() {
        return format!("Nobody can {question} (among the bindings read).\n");
    }
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(200)
        .set_header(vec!["SUBJECT", "SCOPE", "BINDING", "ROLE", "RULE"]);
    for a in answers {
        let get = |k: &str| {
            a.chain
                .iter()
                .filter(|s| s.kind == k)
                .map(|s| match &s.location {
                    Some(l) => format!("{} ({l})", s.name),
                    None => s.name.clone(),
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        t.add_row(vec![
            a.subject.clone(),
            a.scope.clone(),
            get("binding"),
            get("role"),
            get("rule"),
        ]);
    }
    format!("Who can {question}:\n{t}\n")
}

/// The paths as findings of a report, for the SARIF writer.
pub fn to_report(report: &RbacReport, target: &str) -> Report {
    let mut r = Report::new(
        ReportTarget {
            name: target.to_string(),
            kind: TargetKind::Directory,
            image: None,
        },
        String::new(),
    );
    for p in &report.paths {
        let loc = p
            .chain
            .iter()
            .find(|s| s.kind == "binding")
            .and_then(|s| s.location.clone())
            .unwrap_or_default();
        let (path, line) = match loc.rsplit_once(':') {
            Some((f, l)) => (f.to_string(), l.parse().ok()),
            None => (loc, None),
        };
        r.misconfigurations.push(Misconfiguration {
            check_id: p.id.to_string(),
            aliases: Vec::new(),
            title: format!("RBAC escalation: {}", p.kind.title()),
            severity: p.severity,
            message: format!(
                "{}{}: {}. Chain: {}",
                p.subject,
                if p.cluster_admin {
                    " (cluster-admin equivalent)"
                } else {
                    ""
                },
                p.message,
                p.chain_text()
            ),
            remediation: "Remove the binding or narrow the role's rule; see docs/k8s-analysis.md"
                .into(),
            path,
            start_line: line,
            end_line: None,
            resource: Some(p.subject.clone()),
            layer: None,
            references: vec![p.kind.why().to_string()],
            suppressed: None,
        });
    }
    r
}

/// The SARIF log of the paths.
pub fn sarif(report: &RbacReport, target: &str) -> serde_json::Value {
    bulwark_report::sarif::to_json(&to_report(report, target))
}

fn dot_id(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn mermaid_id(s: &str, ids: &mut Vec<String>) -> String {
    let i = match ids.iter().position(|x| x == s) {
        Some(i) => i,
        None => {
            ids.push(s.to_string());
            ids.len() - 1
        }
    };
    format!("n{i}")
}

/// (from, to, label).
type Edge = (String, String, String);

fn graph_edges(graph: &Graph, report: &RbacReport) -> (Vec<Edge>, Vec<Edge>) {
    let mut edges = BTreeSet::new();
    for b in &graph.bindings {
        let role = match &b.namespace {
            Some(ns) if b.role_kind == "Role" => format!("Role/{ns}/{}", b.role_name),
            _ => format!("ClusterRole/{}", b.role_name),
        };
        for s in &b.subjects {
            edges.insert((s.display(), b.display(), String::new()));
        }
        edges.insert((b.display(), role, String::new()));
    }
    let mut esc = BTreeSet::new();
    for p in &report.paths {
        let role = p
            .chain
            .iter()
            .find(|s| s.kind == "role")
            .map(|s| s.name.clone());
        let target = p
            .chain
            .iter()
            .find(|s| s.kind == "pivot")
            .and_then(|s| s.name.strip_prefix("acts as "))
            .map(str::to_string);
        if let Some(role) = role {
            let label = format!("{} {}", p.severity.as_str(), p.kind.title());
            match target {
                Some(t) => {
                    esc.insert((role, t, label));
                }
                None => {
                    let node = if p.cluster_admin {
                        "cluster-admin equivalent".to_string()
                    } else {
                        format!("{}: {}", p.kind.title(), p.scope)
                    };
                    esc.insert((role, node, label));
                }
            }
        }
    }
    (edges.into_iter().collect(), esc.into_iter().collect())
}

/// The graph in Graphviz DOT.
pub fn dot(graph: &Graph, report: &RbacReport) -> String {
    let (edges, esc) = graph_edges(graph, report);
    let mut out = String::from("digraph rbac {\n  rankdir=LR;\n  node [shape=box,fontsize=10];\n");
    for (a, b, _) in &edges {
        let _ = writeln!(out, "  {} -> {};", dot_id(a), dot_id(b));
    }
    for (a, b, l) in &esc {
        let _ = writeln!(
            out,
            "  {} -> {} [color=red,fontcolor=red,label={}];",
            dot_id(a),
            dot_id(b),
            dot_id(l)
        );
    }
    out.push_str("}\n");
    out
}

/// The graph as a Mermaid flowchart.
pub fn mermaid(graph: &Graph, report: &RbacReport) -> String {
    let (edges, esc) = graph_edges(graph, report);
    let mut ids = Vec::new();
    let mut body = String::new();
    let q = |s: &str| s.replace('"', "#quot;");
    for (a, b, _) in &edges {
        let (ia, ib) = (mermaid_id(a, &mut ids), mermaid_id(b, &mut ids));
        let _ = writeln!(body, "  {ia}[\"{}\"] --> {ib}[\"{}\"]", q(a), q(b));
    }
    for (a, b, l) in &esc {
        let (ia, ib) = (mermaid_id(a, &mut ids), mermaid_id(b, &mut ids));
        let _ = writeln!(
            body,
            "  {ia}[\"{}\"] -. \"{}\" .-> {ib}[\"{}\"]",
            q(a),
            q(l),
            q(b)
        );
    }
    format!("flowchart LR\n{body}")
}
