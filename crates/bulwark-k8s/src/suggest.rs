//! Least-privilege NetworkPolicies from observed flows (`bulwark k8s netpol suggest`).
//!
//! The input is the flow file the runtime sensor writes (format in docs/k8s-analysis.md
//! and [`FlowFile`]): each flow names its source and destination — a pod by namespace and
//! labels (the workload name is informative), or an external address (`ip` or `cidr`) —
//! with port, protocol, first/last seen and a count.
//!
//! For every workload that appears in a flow one NetworkPolicy is written, isolating it
//! for ingress and egress, with one ingress rule per observed source and one egress rule
//! per observed destination, each with exactly the observed ports (adjacent ports merged
//! into `port`/`endPort` ranges). Workloads are selected by all their labels, plus
//! `DoesNotExist` for a label that tells apart another observed workload of the same
//! namespace whose labels include them, so the policies allow exactly the observed flows
//! among the observed workloads; two workloads with identical labels cannot be told apart
//! by any NetworkPolicy and are merged (with a warning). Peers in other namespaces are
//! selected through the `kubernetes.io/metadata.name` namespace label.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::netpol::{Cidr, Proto};

/// Largest flow file read.
pub const MAX_FLOW_BYTES: usize = 64 << 20;

/// The flow file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlowFile {
    /// Format version (1).
    pub version: u32,
    /// Observed flows.
    pub flows: Vec<Flow>,
}

/// One observed flow (connection attempts of one kind, aggregated).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flow {
    /// Who opened the connection.
    pub source: FlowEndpoint,
    /// Who accepted it.
    pub destination: FlowEndpoint,
    /// Destination port.
    pub port: u16,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// RFC 3339 time of the first connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    /// RFC 3339 time of the last connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    /// Connections seen.
    #[serde(default)]
    pub count: u64,
}

/// A flow endpoint: a pod (namespace + labels) or an external address.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FlowEndpoint {
    /// Pod namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `Kind/name` of the owning workload (informative; used to name policies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    /// Pod labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// An external address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// An external range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
}

/// Why a flow file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// Not JSON of the documented shape.
    #[error("{file}: line {line}, column {column}: {message}")]
    Json {
        /// File.
        file: String,
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// What serde_json said.
        message: String,
    },
    /// A flow that cannot be turned into a policy.
    #[error("{file}: flows[{index}]: {message}")]
    Flow {
        /// File.
        file: String,
        /// Index of the flow.
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// Larger than [`MAX_FLOW_BYTES`].
    #[error("{file}: larger than {MAX_FLOW_BYTES} bytes")]
    TooLarge {
        /// File.
        file: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum End {
    Pod(usize),
    Ext(String),
}

#[derive(Debug, Clone)]
struct Workload {
    namespace: String,
    labels: BTreeMap<String, String>,
    names: BTreeSet<String>,
}

/// The policies and notes.
#[derive(Debug, Clone)]
pub struct Suggestion {
    /// NetworkPolicy objects.
    pub policies: Vec<Value>,
    /// Notes (merged workloads).
    pub warnings: Vec<String>,
}

impl Suggestion {
    /// The policies as a multi-document YAML stream.
    pub fn to_yaml(&self) -> String {
        let mut out = String::from(
            "# Written by `bulwark k8s netpol suggest`: least-privilege NetworkPolicies\n# allowing exactly the observed flows.\n",
        );
        for p in &self.policies {
            out.push_str("---\n");
            out.push_str(&serde_yaml_ng::to_string(p).unwrap_or_default());
        }
        out
    }
}

/// Reads a flow file's bytes.
pub fn parse_flows(file: &str, bytes: &[u8]) -> Result<FlowFile, FlowError> {
    if bytes.len() > MAX_FLOW_BYTES {
        return Err(FlowError::TooLarge { file: file.into() });
    }
    let f: FlowFile = serde_json::from_slice(bytes).map_err(|e| FlowError::Json {
        file: file.into(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    if f.version != 1 {
        return Err(FlowError::Flow {
            file: file.into(),
            index: 0,
            message: format!("unsupported flow file version {}", f.version),
        });
    }
    Ok(f)
}

fn external(e: &FlowEndpoint) -> Option<Result<String, String>> {
    let text = e.ip.as_ref().map(|ip| {
        if ip.contains(':') {
            format!("{ip}/128")
        } else {
            format!("{ip}/32")
        }
    });
    let text = text.or_else(|| e.cidr.clone())?;
    Some(match Cidr::parse(&text) {
        Some(c) => Ok(c.display()),
        None => Err(format!("invalid address {text:?}")),
    })
}

fn policy_name(w: &Workload) -> String {
    let base = w
        .names
        .iter()
        .next()
        .and_then(|n| n.rsplit('/').next())
        .map(str::to_string)
        .unwrap_or_else(|| {
            w.labels
                .iter()
                .map(|(k, v)| format!("{}-{v}", k.rsplit('/').next().unwrap_or(k)))
                .collect::<Vec<_>>()
                .join("-")
        });
    let mut s: String = base
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    s.truncate(200);
    format!("bulwark-{}", s.trim_matches('-'))
}

/// Turns flows into policies.
pub fn suggest(file: &str, flows: &FlowFile) -> Result<Suggestion, FlowError> {
    let mut workloads: Vec<Workload> = Vec::new();
    let mut warnings = Vec::new();
    let mut edges: BTreeMap<(End, End), BTreeSet<(Proto, u16)>> = BTreeMap::new();
    let bad = |index: usize, message: String| FlowError::Flow {
        file: file.into(),
        index,
        message,
    };
    for (i, f) in flows.flows.iter().enumerate() {
        let protocol = Proto::parse(&f.protocol.to_ascii_uppercase())
            .ok_or_else(|| bad(i, format!("unknown protocol {:?}", f.protocol)))?;
        if f.port == 0 {
            return Err(bad(i, "port 0".into()));
        }
        let mut ends = Vec::new();
        for (side, e) in [("source", &f.source), ("destination", &f.destination)] {
            if let Some(x) = external(e) {
                ends.push(End::Ext(x.map_err(|m| bad(i, format!("{side}: {m}")))?));
                continue;
            }
            let (Some(ns), Some(labels)) = (&e.namespace, &e.labels) else {
                return Err(bad(
                    i,
                    format!("{side} needs namespace and labels, or ip/cidr"),
                ));
            };
            if labels.is_empty() {
                return Err(bad(
                    i,
                    format!("{side} has no labels: a NetworkPolicy cannot select it alone"),
                ));
            }
            let idx = match workloads
                .iter()
                .position(|w| &w.namespace == ns && &w.labels == labels)
            {
                Some(x) => x,
                None => {
                    workloads.push(Workload {
                        namespace: ns.clone(),
                        labels: labels.clone(),
                        names: BTreeSet::new(),
                    });
                    workloads.len() - 1
                }
            };
            if let Some(n) = &e.workload {
                workloads[idx].names.insert(n.clone());
            }
            ends.push(End::Pod(idx));
        }
        if let [s, d] = &ends[..] {
            if matches!((s, d), (End::Ext(_), End::Ext(_))) {
                return Err(bad(i, "both ends are external".into()));
            }
            edges
                .entry((s.clone(), d.clone()))
                .or_default()
                .insert((protocol, f.port));
        }
    }
    for w in &workloads {
        if w.names.len() > 1 {
            warnings.push(format!(
                "{} in {} have identical labels and share one policy",
                w.names.iter().cloned().collect::<Vec<_>>().join(", "),
                w.namespace
            ));
        }
    }
    let selector = |wi: usize| -> Value {
        let w = &workloads[wi];
        // Keys that set apart other workloads whose labels include all of w's.
        let mut excl = BTreeSet::new();
        for (oi, o) in workloads.iter().enumerate() {
            if oi != wi
                && o.namespace == w.namespace
                && w.labels.iter().all(|(k, v)| o.labels.get(k) == Some(v))
            {
                if let Some(k) = o.labels.keys().find(|k| !w.labels.contains_key(*k)) {
                    excl.insert(k.clone());
                }
            }
        }
        let mut sel = json!({ "matchLabels": w.labels });
        if !excl.is_empty() {
            sel["matchExpressions"] = excl
                .iter()
                .map(|k| json!({"key": k, "operator": "DoesNotExist"}))
                .collect();
        }
        sel
    };
    let peer = |e: &End| -> Value {
        match e {
            End::Ext(c) => json!({"ipBlock": {"cidr": c}}),
            End::Pod(i) => json!({
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": workloads[*i].namespace}},
                "podSelector": selector(*i),
            }),
        }
    };
    let ports = |set: &BTreeSet<(Proto, u16)>| -> Value {
        let mut out = Vec::new();
        let mut it = set.iter().peekable();
        while let Some(&(p, a)) = it.next() {
            let mut b = a;
            while let Some(&&(q, n)) = it.peek() {
                if q == p && u32::from(n) == u32::from(b) + 1 {
                    b = n;
                    it.next();
                } else {
                    break;
                }
            }
            let mut v = json!({"protocol": p.as_str(), "port": a});
            if b > a {
                v["endPort"] = json!(b);
            }
            out.push(v);
        }
        Value::Array(out)
    };
    let mut policies = Vec::new();
    let mut used_names: BTreeMap<String, usize> = BTreeMap::new();
    for (wi, w) in workloads.iter().enumerate() {
        let mut ingress = Vec::new();
        let mut egress = Vec::new();
        for ((s, d), set) in &edges {
            if *d == End::Pod(wi) {
                ingress.push(json!({"from": [peer(s)], "ports": ports(set)}));
            }
            if *s == End::Pod(wi) {
                egress.push(json!({"to": [peer(d)], "ports": ports(set)}));
            }
        }
        let mut name = policy_name(w);
        let n = used_names
            .entry(format!("{}/{name}", w.namespace))
            .or_insert(0);
        *n += 1;
        if *n > 1 {
            name = format!("{name}-{n}");
        }
        policies.push(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": w.namespace},
            "spec": {
                "podSelector": selector(wi),
                "policyTypes": ["Ingress", "Egress"],
                "ingress": ingress,
                "egress": egress,
            }
        }));
    }
    Ok(Suggestion { policies, warnings })
}
