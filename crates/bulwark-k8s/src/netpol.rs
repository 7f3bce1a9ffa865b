//! NetworkPolicy connectivity: which workload may open a connection to which, on which
//! protocols and ports, given the NetworkPolicies, pods and namespaces of a cluster
//! dump or a manifest set.
//!
//! The semantics are the NetworkPolicy API's (networking.k8s.io/v1):
//! - a pod is isolated for ingress (egress) when some policy of its namespace selects it
//!   and has `Ingress` (`Egress`) among its policy types; a non-isolated direction allows
//!   everything. `policyTypes` defaults as the API server defaults it: `Ingress`, plus
//!   `Egress` when the policy has a non-empty `egress` list;
//! - a connection is allowed when the source's egress allows it **and** the
//!   destination's ingress allows it; each side is the union of the rules of every
//!   policy selecting the pod;
//! - a rule without `from`/`to` peers matches every source/destination (the outside
//!   included); without `ports`, every port. A peer with only `podSelector` selects pods
//!   of the policy's namespace; with `namespaceSelector` (matched against namespace
//!   labels, `kubernetes.io/metadata.name` included) pods of the matching namespaces;
//!   `ipBlock` (with `except`) addresses outside the cluster. Pod IPs are not known to a
//!   static analysis, so ipBlocks are applied to external addresses only;
//! - ports are numbers, names (resolved against the destination pod's named container
//!   ports with the same protocol; a named port never matches an external destination),
//!   or `port`..`endPort` ranges; protocol defaults to TCP.
//!
//! The outside is split into the address ranges the policies' ipBlocks distinguish, so
//! "allowed from 0.0.0.0/0 except 10.0.0.0/8" shows up as the ranges it really allows.
//! Pods are the Pod objects and the pod templates of workloads (one entry per workload);
//! connections from a workload to itself are not listed.
//! Written by hand: no Rust crate implements NetworkPolicy semantics.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::net::IpAddr;

use bulwark_misconfig::yaml::Node;
use serde::Serialize;

use crate::load::{pod_template, string_map, Loaded, Object, POD_KINDS};
use crate::selector::Selector;

/// A transport protocol of NetworkPolicy ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Proto {
    /// TCP.
    #[serde(rename = "TCP")]
    Tcp,
    /// UDP.
    #[serde(rename = "UDP")]
    Udp,
    /// SCTP.
    #[serde(rename = "SCTP")]
    Sctp,
}

impl Proto {
    /// Every protocol.
    pub const ALL: [Proto; 3] = [Proto::Tcp, Proto::Udp, Proto::Sctp];

    /// Parses `TCP`/`UDP`/`SCTP`.
    pub fn parse(s: &str) -> Option<Proto> {
        match s {
            "TCP" => Some(Proto::Tcp),
            "UDP" => Some(Proto::Udp),
            "SCTP" => Some(Proto::Sctp),
            _ => None,
        }
    }

    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "TCP",
            Proto::Udp => "UDP",
            Proto::Sctp => "SCTP",
        }
    }
}

/// A set of (protocol, port) pairs, as sorted disjoint inclusive ranges per protocol.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conns(BTreeMap<Proto, Vec<(u16, u16)>>);

fn normalise(mut v: Vec<(u16, u16)>) -> Vec<(u16, u16)> {
    v.sort_unstable();
    let mut out: Vec<(u16, u16)> = Vec::new();
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if u32::from(a) <= u32::from(last.1) + 1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

impl Conns {
    /// Every port of every protocol.
    pub fn all() -> Conns {
        Conns(Proto::ALL.iter().map(|p| (*p, vec![(1, 65535)])).collect())
    }

    /// Nothing.
    pub fn none() -> Conns {
        Conns::default()
    }

    /// One protocol, one range.
    pub fn range(p: Proto, a: u16, b: u16) -> Conns {
        let mut c = Conns::default();
        c.0.insert(p, vec![(a, b)]);
        c
    }

    /// Whether nothing is allowed.
    pub fn is_empty(&self) -> bool {
        self.0.values().all(Vec::is_empty)
    }

    /// Whether everything is allowed.
    pub fn is_all(&self) -> bool {
        *self == Conns::all()
    }

    /// Union.
    pub fn union(&self, o: &Conns) -> Conns {
        let mut out = self.0.clone();
        for (p, r) in &o.0 {
            let e = out.entry(*p).or_default();
            e.extend(r.iter().copied());
            *e = normalise(std::mem::take(e));
        }
        out.retain(|_, v| !v.is_empty());
        Conns(out)
    }

    /// Intersection.
    pub fn intersect(&self, o: &Conns) -> Conns {
        let mut out = BTreeMap::new();
        for (p, a) in &self.0 {
            let Some(b) = o.0.get(p) else { continue };
            let mut v = Vec::new();
            for &(x1, x2) in a {
                for &(y1, y2) in b {
                    let (lo, hi) = (x1.max(y1), x2.min(y2));
                    if lo <= hi {
                        v.push((lo, hi));
                    }
                }
            }
            let v = normalise(v);
            if !v.is_empty() {
                out.insert(*p, v);
            }
        }
        Conns(out)
    }

    /// What `self` allows and `o` does not.
    pub fn minus(&self, o: &Conns) -> Conns {
        let mut out = BTreeMap::new();
        for (p, a) in &self.0 {
            let mut cur: Vec<(u16, u16)> = a.clone();
            for &(y1, y2) in o.0.get(p).map(Vec::as_slice).unwrap_or(&[]) {
                let mut next = Vec::new();
                for (x1, x2) in cur {
                    if y2 < x1 || y1 > x2 {
                        next.push((x1, x2));
                        continue;
                    }
                    if y1 > x1 {
                        next.push((x1, y1 - 1));
                    }
                    if y2 < x2 {
                        next.push((y2 + 1, x2));
                    }
                }
                cur = next;
            }
            if !cur.is_empty() {
                out.insert(*p, cur);
            }
        }
        Conns(out)
    }

    /// `(protocol, first, last)` ranges.
    pub fn ranges(&self) -> impl Iterator<Item = (Proto, u16, u16)> + '_ {
        self.0
            .iter()
            .flat_map(|(p, v)| v.iter().map(move |(a, b)| (*p, *a, *b)))
    }

    /// Whether `port` on `proto` is allowed.
    pub fn allows(&self, proto: Proto, port: u16) -> bool {
        self.0
            .get(&proto)
            .is_some_and(|v| v.iter().any(|(a, b)| *a <= port && port <= *b))
    }

    /// `all`, or `TCP/80,TCP/8000-8080,UDP/53`.
    pub fn display(&self) -> String {
        if self.is_all() {
            return "all".into();
        }
        if self.is_empty() {
            return "none".into();
        }
        let mut parts = Vec::new();
        for (p, v) in &self.0 {
            for (a, b) in v {
                parts.push(match (a, b) {
                    (1, 65535) => format!("{}/all", p.as_str()),
                    (a, b) if a == b => format!("{}/{a}", p.as_str()),
                    (a, b) => format!("{}/{a}-{b}", p.as_str()),
                });
            }
        }
        parts.join(",")
    }
}

impl Serialize for Conns {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.display())
    }
}

/// An address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    fn max(self) -> u128 {
        match self {
            Family::V4 => u128::from(u32::MAX),
            Family::V6 => u128::MAX,
        }
    }
    fn bits(self) -> u32 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }
}

/// A CIDR block as an inclusive address range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    /// Family.
    pub family: Family,
    /// First address.
    pub start: u128,
    /// Last address.
    pub end: u128,
}

impl Cidr {
    /// Parses `a.b.c.d/n` or `x::/n` (host bits are masked, as the API's parser does).
    pub fn parse(s: &str) -> Option<Cidr> {
        let (ip, len) = s.trim().split_once('/')?;
        let len: u32 = len.parse().ok()?;
        let (family, v) = match ip.parse::<IpAddr>().ok()? {
            IpAddr::V4(a) => (Family::V4, u128::from(u32::from(a))),
            IpAddr::V6(a) => (Family::V6, u128::from(a)),
        };
        if len > family.bits() {
            return None;
        }
        let host = family.bits() - len;
        let mask: u128 = if host == 128 {
            u128::MAX
        } else {
            (1u128 << host) - 1
        };
        let start = v & !mask & family.max();
        Some(Cidr {
            family,
            start,
            end: start | (mask & family.max()),
        })
    }

    fn contains(&self, o: &Cidr) -> bool {
        self.family == o.family && self.start <= o.start && o.end <= self.end
    }

    fn overlaps(&self, o: &Cidr) -> bool {
        self.family == o.family && self.start <= o.end && o.start <= self.end
    }

    /// The range as the fewest CIDR blocks, comma-separated.
    pub fn display(&self) -> String {
        let bits = self.family.bits();
        let mut out = Vec::new();
        let mut cur = self.start;
        loop {
            // Largest block starting at `cur` that fits in the range.
            let mut size_bits = if cur == 0 {
                bits
            } else {
                cur.trailing_zeros().min(bits)
            };
            loop {
                let last = if size_bits >= 128 {
                    u128::MAX
                } else {
                    cur + ((1u128 << size_bits) - 1)
                };
                if last <= self.end {
                    break;
                }
                size_bits -= 1;
            }
            out.push(format!("{}/{}", fmt_ip(self.family, cur), bits - size_bits));
            let last = if size_bits >= 128 {
                u128::MAX
            } else {
                cur + ((1u128 << size_bits) - 1)
            };
            if last >= self.end {
                break;
            }
            cur = last + 1;
        }
        out.join(",")
    }
}

fn fmt_ip(f: Family, v: u128) -> String {
    match f {
        Family::V4 => std::net::Ipv4Addr::from(u32::try_from(v).unwrap_or(u32::MAX)).to_string(),
        Family::V6 => std::net::Ipv6Addr::from(v).to_string(),
    }
}

/// A named container port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedPort {
    /// Name.
    pub name: String,
    /// containerPort.
    pub port: u16,
    /// Protocol.
    pub protocol: Proto,
}

/// A workload's pods: a Pod, or a workload's pod template.
#[derive(Debug, Clone, Serialize)]
pub struct Pod {
    /// `namespace/Kind/name`.
    pub id: String,
    /// Namespace.
    pub namespace: String,
    /// Pod labels.
    pub labels: BTreeMap<String, String>,
    /// Named container ports.
    pub ports: Vec<NamedPort>,
    /// `file:line`.
    pub location: String,
}

/// A namespace and its labels.
#[derive(Debug, Clone, Serialize)]
pub struct Namespace {
    /// Name.
    pub name: String,
    /// Labels, `kubernetes.io/metadata.name` included.
    pub labels: BTreeMap<String, String>,
}

/// A port of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortRef {
    /// A number or range.
    Range(u16, u16),
    /// A named port.
    Name(String),
    /// Every port.
    Any,
}

/// One `ports` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    /// Protocol.
    pub protocol: Proto,
    /// Port.
    pub port: PortRef,
}

/// A rule peer.
#[derive(Debug, Clone)]
pub enum Peer {
    /// Pods chosen by selectors (`None` namespace selector: the policy's namespace).
    Pods {
        /// namespaceSelector.
        namespaces: Option<Selector>,
        /// podSelector (`None`: every pod).
        pods: Option<Selector>,
    },
    /// External addresses.
    IpBlock {
        /// cidr.
        cidr: Cidr,
        /// except.
        except: Vec<Cidr>,
    },
}

/// One ingress or egress rule.
#[derive(Debug, Clone)]
pub struct PolicyRule {
    /// Peers (empty: everything).
    pub peers: Vec<Peer>,
    /// Ports (empty: every port).
    pub ports: Vec<PortSpec>,
    /// `file:line`.
    pub location: String,
}

/// A NetworkPolicy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// podSelector.
    pub pod_selector: Selector,
    /// Ingress rules when the policy isolates ingress.
    pub ingress: Option<Vec<PolicyRule>>,
    /// Egress rules when the policy isolates egress.
    pub egress: Option<Vec<PolicyRule>>,
    /// `file:line`.
    pub location: String,
}

/// A Service's exposure of pods outside the cluster.
#[derive(Debug, Clone, Serialize)]
pub struct Exposure {
    /// `Service/ns/name type LoadBalancer`, `Ingress/ns/name -> Service/ns/name`.
    pub via: String,
    /// Target ports (numbers or names) the exposure forwards to.
    pub ports: Vec<String>,
    /// `file:line`.
    pub location: String,
}

/// Everything the connectivity analysis reads.
#[derive(Debug, Clone, Default)]
pub struct Model {
    /// Namespaces.
    pub namespaces: BTreeMap<String, Namespace>,
    /// Pods (one per workload).
    pub pods: Vec<Pod>,
    /// Policies.
    pub policies: Vec<Policy>,
    /// Exposures by pod index.
    pub exposures: BTreeMap<usize, Vec<Exposure>>,
}

type Bad = (u32, String);

fn parse_port(n: &Node, protocol: Proto) -> Result<PortSpec, Bad> {
    let end = n.get("endPort").and_then(Node::as_i64);
    let port = match n.get("port") {
        None => PortRef::Any,
        Some(p) if p.is_null() => PortRef::Any,
        Some(p) => match p.as_i64() {
            Some(v) => {
                let a = u16::try_from(v)
                    .ok()
                    .filter(|v| *v > 0)
                    .ok_or((p.line, format!("port {v} out of range")))?;
                let b = match end {
                    Some(e) => u16::try_from(e).ok().filter(|e| *e >= a).ok_or((
                        p.line,
                        format!("endPort {e} must be at least port {a} and at most 65535"),
                    ))?,
                    None => a,
                };
                PortRef::Range(a, b)
            }
            None => {
                let name = p.as_str().unwrap_or("").to_string();
                if name.is_empty() {
                    return Err((p.line, "port is neither a number nor a name".into()));
                }
                if end.is_some() {
                    return Err((p.line, "endPort needs a numeric port".into()));
                }
                PortRef::Name(name)
            }
        },
    };
    if end.is_some() && port == PortRef::Any {
        return Err((n.line, "endPort needs a port".into()));
    }
    Ok(PortSpec { protocol, port })
}

/// A field that must be a list when present (anything else would read as empty, which
/// for peers and ports means "everything").
fn list_field<'a>(n: &'a Node, key: &str) -> Result<&'a [Node], Bad> {
    match n.get(key) {
        None => Ok(&[]),
        Some(v) if v.is_null() => Ok(&[]),
        Some(v) => match &v.value {
            bulwark_misconfig::yaml::Value::Seq(items) => Ok(items),
            _ => Err((v.line, format!("{key} is not a list"))),
        },
    }
}

fn parse_rule(n: &Node, peers_key: &str, file: &str) -> Result<PolicyRule, Bad> {
    if !n.is_map() {
        return Err((n.line, "rule is not a mapping".into()));
    }
    list_field(n, peers_key)?;
    list_field(n, "ports")?;
    let mut peers = Vec::new();
    for p in n.get(peers_key).map(Node::items).unwrap_or(&[]) {
        if let Some(ib) = p.get("ipBlock") {
            let text = ib.get("cidr").and_then(Node::as_str).unwrap_or("");
            let cidr =
                Cidr::parse(text).ok_or((ib.line, format!("invalid ipBlock cidr {text:?}")))?;
            let mut except = Vec::new();
            for e in ib.get("except").map(Node::items).unwrap_or(&[]) {
                let t = e.as_str().unwrap_or("");
                let c = Cidr::parse(t).ok_or((e.line, format!("invalid ipBlock except {t:?}")))?;
                if !cidr.contains(&c) {
                    return Err((e.line, format!("except {t} is not inside cidr {text}")));
                }
                except.push(c);
            }
            if p.get("podSelector").is_some() || p.get("namespaceSelector").is_some() {
                return Err((p.line, "ipBlock cannot be combined with selectors".into()));
            }
            peers.push(Peer::IpBlock { cidr, except });
            continue;
        }
        let ns = match p.get("namespaceSelector").filter(|x| !x.is_null()) {
            Some(s) => Some(Selector::parse(s)?),
            None => None,
        };
        let pods = match p.get("podSelector").filter(|x| !x.is_null()) {
            Some(s) => Some(Selector::parse(s)?),
            None => None,
        };
        if ns.is_none() && pods.is_none() {
            return Err((
                p.line,
                "peer needs podSelector, namespaceSelector or ipBlock".into(),
            ));
        }
        peers.push(Peer::Pods {
            namespaces: ns,
            pods,
        });
    }
    let mut ports = Vec::new();
    for p in n.get("ports").map(Node::items).unwrap_or(&[]) {
        let proto_text = p
            .get("protocol")
            .and_then(Node::as_string_value)
            .unwrap_or("TCP");
        let protocol =
            Proto::parse(proto_text).ok_or((p.line, format!("unknown protocol {proto_text:?}")))?;
        ports.push(parse_port(p, protocol)?);
    }
    Ok(PolicyRule {
        peers,
        ports,
        location: format!("{file}:{}", n.line),
    })
}

fn parse_policy(o: &Object) -> Result<Policy, Bad> {
    let spec = o
        .node
        .get("spec")
        .ok_or((o.line, "NetworkPolicy without spec".to_string()))?;
    let pod_selector = match spec.get("podSelector").filter(|x| !x.is_null()) {
        Some(s) => Selector::parse(s)?,
        None => Selector::default(),
    };
    let mut types: Vec<String> = crate::load::strings(spec.get("policyTypes"));
    let egress_rules = list_field(spec, "egress")?;
    list_field(spec, "ingress")?;
    if types.is_empty() {
        types.push("Ingress".into());
        if !egress_rules.is_empty() {
            types.push("Egress".into());
        }
    }
    for t in &types {
        if t != "Ingress" && t != "Egress" {
            return Err((
                spec.key_line("policyTypes").unwrap_or(o.line),
                format!("unknown policy type {t:?}"),
            ));
        }
    }
    let rules = |key: &str, peers: &str| -> Result<Vec<PolicyRule>, Bad> {
        list_field(spec, key)?
            .iter()
            .map(|r| parse_rule(r, peers, &o.file))
            .collect()
    };
    Ok(Policy {
        namespace: o.namespace.clone().unwrap_or_else(|| "default".into()),
        name: o.name.clone(),
        pod_selector,
        ingress: if types.iter().any(|t| t == "Ingress") {
            Some(rules("ingress", "from")?)
        } else {
            None
        },
        egress: if types.iter().any(|t| t == "Egress") {
            Some(rules("egress", "to")?)
        } else {
            None
        },
        location: o.location(),
    })
}

fn ns_entry(m: &mut BTreeMap<String, Namespace>, name: &str) {
    m.entry(name.to_string()).or_insert_with(|| Namespace {
        name: name.to_string(),
        labels: [("kubernetes.io/metadata.name".to_string(), name.to_string())]
            .into_iter()
            .collect(),
    });
}

impl Model {
    /// Builds the model from loaded objects; an object the API server would refuse (bad
    /// selector, port or CIDR) is recorded in `loaded.unreadable` with its line.
    pub fn build(loaded: &mut Loaded) -> Model {
        let mut m = Model::default();
        let mut bad: Vec<(usize, Bad)> = Vec::new();
        let mut services: Vec<&Object> = Vec::new();
        let mut host_exposed: Vec<(usize, Vec<Exposure>)> = Vec::new();
        let mut ingresses: Vec<&Object> = Vec::new();
        for (i, o) in loaded.objects.iter().enumerate() {
            let ns = o.namespace.clone().unwrap_or_else(|| "default".into());
            match o.kind.as_str() {
                "Namespace" if o.group().is_empty() => {
                    let mut labels = o.labels.clone();
                    labels.insert("kubernetes.io/metadata.name".into(), o.name.clone());
                    m.namespaces.insert(
                        o.name.clone(),
                        Namespace {
                            name: o.name.clone(),
                            labels,
                        },
                    );
                }
                "NetworkPolicy" if matches!(o.group(), "networking.k8s.io" | "extensions") => {
                    ns_entry(&mut m.namespaces, &ns);
                    match parse_policy(o) {
                        Ok(p) => m.policies.push(p),
                        Err(e) => bad.push((i, e)),
                    }
                }
                "Service" if o.group().is_empty() => services.push(o),
                "Ingress" if matches!(o.group(), "networking.k8s.io" | "extensions") => {
                    ingresses.push(o)
                }
                k if POD_KINDS.contains(&k) && builtin_pod_group(o) => {
                    let Some((meta, spec)) = pod_template(o) else {
                        continue;
                    };
                    // A Pod's labels are its own; a template's are the template's.
                    let labels = string_map(meta.and_then(|m| m.get("labels")));
                    let mut ports = Vec::new();
                    let mut host = Vec::new();
                    if spec.get("hostNetwork").and_then(Node::as_bool) == Some(true) {
                        host.push(Exposure {
                            via: "hostNetwork: the node's own addresses; NetworkPolicies do not apply to host-network pods".into(),
                            ports: Vec::new(),
                            location: format!("{}:{}", o.file, spec.key_line("hostNetwork").unwrap_or(o.line)),
                        });
                    }
                    for field in ["initContainers", "containers"] {
                        for c in spec.get(field).map(Node::items).unwrap_or(&[]) {
                            for p in c.get("ports").map(Node::items).unwrap_or(&[]) {
                                if let Some(hp) =
                                    p.get("hostPort").and_then(Node::as_i64).filter(|v| *v > 0)
                                {
                                    host.push(Exposure {
                                        via: format!("hostPort {hp} on its node"),
                                        ports: p
                                            .get("containerPort")
                                            .and_then(Node::as_str)
                                            .map(|x| vec![x.to_string()])
                                            .unwrap_or_default(),
                                        location: format!("{}:{}", o.file, p.line),
                                    });
                                }
                                let Some(name) = p.get("name").and_then(Node::as_string_value)
                                else {
                                    continue;
                                };
                                let Some(port) = p
                                    .get("containerPort")
                                    .and_then(Node::as_i64)
                                    .and_then(|v| u16::try_from(v).ok())
                                else {
                                    continue;
                                };
                                let proto = p
                                    .get("protocol")
                                    .and_then(Node::as_string_value)
                                    .and_then(Proto::parse)
                                    .unwrap_or(Proto::Tcp);
                                ports.push(NamedPort {
                                    name: name.to_string(),
                                    port,
                                    protocol: proto,
                                });
                            }
                        }
                    }
                    ns_entry(&mut m.namespaces, &ns);
                    if !host.is_empty() {
                        host_exposed.push((m.pods.len(), host));
                    }
                    m.pods.push(Pod {
                        id: format!("{ns}/{}/{}", o.kind, o.name),
                        namespace: ns,
                        labels,
                        ports,
                        location: o.location(),
                    });
                }
                _ => {}
            }
        }
        let mut exposures: BTreeMap<usize, Vec<Exposure>> = host_exposed.into_iter().collect();
        let svc_pods = |svc: &Object, m: &Model| -> Vec<usize> {
            let sel = string_map(svc.node.path(&["spec", "selector"]));
            if sel.is_empty() {
                return Vec::new();
            }
            let ns = svc.namespace.as_deref().unwrap_or("default");
            m.pods
                .iter()
                .enumerate()
                .filter(|(_, p)| {
                    p.namespace == ns && sel.iter().all(|(k, v)| p.labels.get(k) == Some(v))
                })
                .map(|(i, _)| i)
                .collect()
        };
        let target_ports = |svc: &Object| -> Vec<String> {
            svc.node
                .path(&["spec", "ports"])
                .map(Node::items)
                .unwrap_or(&[])
                .iter()
                .filter_map(|p| {
                    p.get("targetPort")
                        .or_else(|| p.get("port"))
                        .and_then(Node::as_str)
                        .map(str::to_string)
                })
                .collect()
        };
        for svc in &services {
            let ty = svc
                .node
                .path(&["spec", "type"])
                .and_then(Node::as_str)
                .unwrap_or("ClusterIP");
            let external_ips = crate::load::strings(svc.node.path(&["spec", "externalIPs"]));
            let ty = if external_ips.is_empty() {
                ty.to_string()
            } else {
                format!("{ty} with externalIPs {}", external_ips.join(","))
            };
            if !ty.starts_with("LoadBalancer")
                && !ty.starts_with("NodePort")
                && external_ips.is_empty()
            {
                continue;
            }
            for pi in svc_pods(svc, &m) {
                exposures.entry(pi).or_default().push(Exposure {
                    via: format!(
                        "Service/{}/{} type {ty}",
                        svc.namespace.as_deref().unwrap_or("default"),
                        svc.name
                    ),
                    ports: target_ports(svc),
                    location: svc.location(),
                });
            }
        }
        for ing in &ingresses {
            let ns = ing.namespace.as_deref().unwrap_or("default");
            let mut backends = BTreeSet::new();
            let mut add = |b: Option<&Node>| {
                if let Some(b) = b {
                    if let Some(n) = b
                        .path(&["service", "name"])
                        .or_else(|| b.get("serviceName"))
                        .and_then(Node::as_str)
                    {
                        backends.insert(n.to_string());
                    }
                }
            };
            add(ing.node.path(&["spec", "defaultBackend"]));
            add(ing.node.path(&["spec", "backend"]));
            for r in ing
                .node
                .path(&["spec", "rules"])
                .map(Node::items)
                .unwrap_or(&[])
            {
                for p in r.path(&["http", "paths"]).map(Node::items).unwrap_or(&[]) {
                    add(p.get("backend"));
                }
            }
            for b in backends {
                let Some(svc) = services
                    .iter()
                    .find(|s| s.name == b && s.namespace.as_deref().unwrap_or("default") == ns)
                else {
                    continue;
                };
                for pi in svc_pods(svc, &m) {
                    exposures.entry(pi).or_default().push(Exposure {
                        via: format!("Ingress/{ns}/{} -> Service/{ns}/{b}", ing.name),
                        ports: target_ports(svc),
                        location: ing.location(),
                    });
                }
            }
        }
        m.exposures = exposures;
        // The same workload defined twice (overlays, copies) is analysed twice; say so.
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        let mut dups = Vec::new();
        for p in &m.pods {
            if let Some(first) = seen.insert(&p.id, &p.location) {
                dups.push(crate::load::Unreadable {
                    file: p
                        .location
                        .rsplit_once(':')
                        .map(|(f, _)| f)
                        .unwrap_or("")
                        .to_string(),
                    line: p
                        .location
                        .rsplit_once(':')
                        .and_then(|(_, l)| l.parse().ok())
                        .unwrap_or(0),
                    message: format!("{} is also defined at {first}; both are analysed", p.id),
                });
            }
        }
        loaded.warnings.extend(dups);
        for (i, (line, msg)) in bad {
            if let Some(o) = loaded.objects.get(i).cloned() {
                loaded.invalid(&o, line, msg);
            }
        }
        m
    }
}

fn builtin_pod_group(o: &Object) -> bool {
    match o.kind.as_str() {
        "Pod" | "ReplicationController" => o.group().is_empty(),
        "Deployment" | "ReplicaSet" | "DaemonSet" => matches!(o.group(), "apps" | "extensions"),
        "StatefulSet" => o.group() == "apps",
        "Job" | "CronJob" => o.group() == "batch",
        _ => false,
    }
}

/// An endpoint of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// A pod, by index into [`Model::pods`].
    Pod(usize),
    /// An external address range, by index into [`Connectivity::external`].
    External(usize),
}

/// Allowed connections between endpoints.
#[derive(Debug, Clone, Default)]
pub struct Connectivity {
    /// The external address ranges the policies distinguish.
    pub external: Vec<Cidr>,
    /// Allowed connections (pairs with nothing allowed are absent).
    pub allowed: BTreeMap<(Endpoint, Endpoint), Conns>,
}

impl Model {
    fn selects(&self, pol: &Policy, pod: &Pod) -> bool {
        pol.namespace == pod.namespace && pol.pod_selector.matches(&pod.labels)
    }

    fn peer_matches_pod(&self, peer: &Peer, pol: &Policy, pod: &Pod) -> bool {
        match peer {
            Peer::IpBlock { .. } => false,
            Peer::Pods { namespaces, pods } => {
                let ns_ok = match namespaces {
                    None => pod.namespace == pol.namespace,
                    Some(sel) => self
                        .namespaces
                        .get(&pod.namespace)
                        .is_some_and(|n| sel.matches(&n.labels)),
                };
                ns_ok && pods.as_ref().is_none_or(|s| s.matches(&pod.labels))
            }
        }
    }

    fn ports_to(&self, ports: &[PortSpec], dst: Option<&Pod>) -> Conns {
        if ports.is_empty() {
            return Conns::all();
        }
        let mut c = Conns::none();
        for p in ports {
            match &p.port {
                PortRef::Any => c = c.union(&Conns::range(p.protocol, 1, 65535)),
                PortRef::Range(a, b) => c = c.union(&Conns::range(p.protocol, *a, *b)),
                PortRef::Name(n) => {
                    if let Some(pod) = dst {
                        for np in &pod.ports {
                            if &np.name == n && np.protocol == p.protocol {
                                c = c.union(&Conns::range(p.protocol, np.port, np.port));
                            }
                        }
                    }
                }
            }
        }
        c
    }

    /// What `pod`'s side allows with the external range `range` (ingress: from it;
    /// egress: to it), given the indices of the policies selecting it. Named ports never
    /// match an external address.
    fn side_ext(&self, pod: &Pod, selecting: &[usize], ingress: bool, range: &Cidr) -> Conns {
        let mut isolated = false;
        let mut c = Conns::none();
        for pol in selecting.iter().filter_map(|&i| self.policies.get(i)) {
            let rules = if ingress { &pol.ingress } else { &pol.egress };
            let Some(rules) = rules else { continue };
            isolated = true;
            for r in rules {
                let peer_ok = r.peers.is_empty()
                    || r.peers.iter().any(|p| match p {
                        Peer::IpBlock { cidr, except } => {
                            cidr.contains(range) && !except.iter().any(|e| e.overlaps(range))
                        }
                        Peer::Pods { .. } => false,
                    });
                if peer_ok {
                    c = c.union(&self.ports_to(&r.ports, if ingress { Some(pod) } else { None }));
                }
            }
        }
        if isolated {
            c
        } else {
            Conns::all()
        }
    }

    /// Whether some policy isolates `pod` for ingress (or egress).
    pub fn isolated(&self, pod: &Pod, ingress: bool) -> bool {
        self.policies.iter().any(|p| {
            self.selects(p, pod)
                && if ingress {
                    p.ingress.is_some()
                } else {
                    p.egress.is_some()
                }
        })
    }

    /// Allowed connections from `src` to `dst`, where an endpoint is a pod id
    /// (`namespace/Kind/name`) or an IP address (the external range holding it).
    pub fn between(&self, c: &Connectivity, src: &str, dst: &str) -> Option<Conns> {
        let find = |s: &str| -> Option<Endpoint> {
            if let Some(i) = self.pods.iter().position(|p| p.id == s) {
                return Some(Endpoint::Pod(i));
            }
            let ip = Cidr::parse(&format!("{s}/{}", if s.contains(':') { 128 } else { 32 }))?;
            c.external
                .iter()
                .position(|e| e.contains(&ip))
                .map(Endpoint::External)
        };
        let (s, d) = (find(src)?, find(dst)?);
        Some(c.allowed.get(&(s, d)).cloned().unwrap_or_default())
    }

    /// Every ipBlock CIDR (and except) of the policies.
    pub fn cidrs(&self) -> Vec<Cidr> {
        let mut out = Vec::new();
        for pol in &self.policies {
            for rules in [&pol.ingress, &pol.egress].into_iter().flatten() {
                for r in rules {
                    for p in &r.peers {
                        if let Peer::IpBlock { cidr, except } = p {
                            out.push(*cidr);
                            out.extend(except.iter().copied());
                        }
                    }
                }
            }
        }
        out
    }

    /// Computes allowed connectivity; `extra` CIDRs are added to the split of the outside
    /// (a diff splits both sides the same way).
    pub fn connectivity(&self, extra: &[Cidr]) -> Connectivity {
        let external = partition(self.cidrs().iter().chain(extra.iter()));
        let mut allowed = BTreeMap::new();
        // The policies selecting each pod, found once.
        let sel: Vec<Vec<usize>> = self
            .pods
            .iter()
            .map(|p| {
                (0..self.policies.len())
                    .filter(|&i| self.selects(&self.policies[i], p))
                    .collect()
            })
            .collect();
        // Per policy, direction and rule: which pods its peers match, and its ports when
        // they hold no name (then the same for every destination). Pairs are many and
        // rules few, so this is computed once instead of per pair.
        let caches: Vec<[Vec<RuleCache>; 2]> = self
            .policies
            .iter()
            .map(|pol| {
                let cache = |rules: &Option<Vec<PolicyRule>>| -> Vec<RuleCache> {
                    rules
                        .iter()
                        .flatten()
                        .map(|r| RuleCache {
                            pods: self
                                .pods
                                .iter()
                                .map(|o| {
                                    r.peers.is_empty()
                                        || r.peers.iter().any(|p| self.peer_matches_pod(p, pol, o))
                                })
                                .collect(),
                            ext: external
                                .iter()
                                .map(|e| {
                                    r.peers.is_empty()
                                        || r.peers.iter().any(|p| match p {
                                            Peer::IpBlock { cidr, except } => {
                                                cidr.contains(e)
                                                    && !except.iter().any(|x| x.overlaps(e))
                                            }
                                            Peer::Pods { .. } => false,
                                        })
                                })
                                .collect(),
                            conns: (!r.ports.iter().any(|p| matches!(p.port, PortRef::Name(_))))
                                .then(|| self.ports_to(&r.ports, None)),
                        })
                        .collect()
                };
                [cache(&pol.ingress), cache(&pol.egress)]
            })
            .collect();
        let side = |pod: usize, ingress: bool, other: usize| -> Conns {
            let mut isolated = false;
            let mut c = Conns::none();
            for &pi in &sel[pod] {
                let pol = &self.policies[pi];
                let rules = if ingress { &pol.ingress } else { &pol.egress };
                let Some(rules) = rules else { continue };
                isolated = true;
                let cache = &caches[pi][usize::from(!ingress)];
                for (ri, r) in rules.iter().enumerate() {
                    if !cache[ri].pods[other] {
                        continue;
                    }
                    let conns = match &cache[ri].conns {
                        Some(x) => x.clone(),
                        // Named ports resolve on the destination.
                        None => self.ports_to(
                            &r.ports,
                            Some(&self.pods[if ingress { pod } else { other }]),
                        ),
                    };
                    c = c.union(&conns);
                    if c.is_all() {
                        return c;
                    }
                }
            }
            if isolated {
                c
            } else {
                Conns::all()
            }
        };
        // Which destinations each pod's egress can reach at all: the pairs outside it
        // are skipped without evaluating anything.
        let n = self.pods.len();
        let reach_out: Vec<Vec<bool>> = (0..n)
            .map(|si| {
                let mut isolated = false;
                let mut v = vec![false; n];
                for &pi in &sel[si] {
                    if self.policies[pi].egress.is_none() {
                        continue;
                    }
                    isolated = true;
                    for rc in &caches[pi][1] {
                        for (d, m) in v.iter_mut().zip(&rc.pods) {
                            *d |= *m;
                        }
                    }
                }
                if isolated {
                    v
                } else {
                    vec![true; n]
                }
            })
            .collect();
        for (si, s) in self.pods.iter().enumerate() {
            for (di, reachable) in reach_out[si].iter().enumerate() {
                if si == di || !reachable {
                    continue;
                }
                let out = side(si, false, di);
                if out.is_empty() {
                    continue;
                }
                let c = out.intersect(&side(di, true, si));
                if !c.is_empty() {
                    allowed.insert((Endpoint::Pod(si), Endpoint::Pod(di)), c);
                }
            }
            // The external ranges some rule of the pod can match, per direction (all of
            // them when the direction is not isolated); only those are evaluated.
            let candidates = |dir: usize| -> Vec<bool> {
                let mut isolated = false;
                let mut v = vec![false; external.len()];
                for &pi in &sel[si] {
                    let pol = &self.policies[pi];
                    if (if dir == 0 { &pol.ingress } else { &pol.egress }).is_none() {
                        continue;
                    }
                    isolated = true;
                    for rc in &caches[pi][dir] {
                        for (x, m) in v.iter_mut().zip(&rc.ext) {
                            *x |= *m;
                        }
                    }
                }
                if isolated {
                    v
                } else {
                    vec![true; external.len()]
                }
            };
            let (cand_in, cand_out) = (candidates(0), candidates(1));
            for (ei, e) in external.iter().enumerate() {
                if cand_out[ei] {
                    let out = self.side_ext(s, &sel[si], false, e);
                    if !out.is_empty() {
                        allowed.insert((Endpoint::Pod(si), Endpoint::External(ei)), out);
                    }
                }
                if cand_in[ei] {
                    let inn = self.side_ext(s, &sel[si], true, e);
                    if !inn.is_empty() {
                        allowed.insert((Endpoint::External(ei), Endpoint::Pod(si)), inn);
                    }
                }
            }
        }
        Connectivity { external, allowed }
    }

    /// The display name of an endpoint.
    pub fn name(&self, c: &Connectivity, e: Endpoint) -> String {
        match e {
            Endpoint::Pod(i) => self.pods.get(i).map(|p| p.id.clone()).unwrap_or_default(),
            Endpoint::External(i) => c
                .external
                .get(i)
                .map(|r| format!("external {}", r.display()))
                .unwrap_or_default(),
        }
    }
}

/// What one rule's peers and ports come to, computed once per analysis.
struct RuleCache {
    /// Which pods the rule's peers match.
    pods: Vec<bool>,
    /// Which external ranges the rule's peers match.
    ext: Vec<bool>,
    /// The rule's ports, when none is named.
    conns: Option<Conns>,
}

/// Splits each address family into the ranges that `cidrs` do not cut further.
fn partition<'a>(cidrs: impl Iterator<Item = &'a Cidr>) -> Vec<Cidr> {
    let mut points: BTreeMap<Family, BTreeSet<u128>> = BTreeMap::new();
    for f in [Family::V4, Family::V6] {
        points.entry(f).or_default().insert(0);
    }
    for c in cidrs {
        let e = points.entry(c.family).or_default();
        e.insert(c.start);
        if c.end < c.family.max() {
            e.insert(c.end + 1);
        }
    }
    let mut out = Vec::new();
    for (f, pts) in points {
        let v: Vec<u128> = pts.into_iter().collect();
        for (i, start) in v.iter().enumerate() {
            let end = v.get(i + 1).map(|n| n - 1).unwrap_or(f.max());
            out.push(Cidr {
                family: f,
                start: *start,
                end,
            });
        }
    }
    out
}

/// Which workloads are sensitive: by namespace or by label.
#[derive(Debug, Clone, Default)]
pub struct Sensitive {
    /// Namespaces whose pods are sensitive.
    pub namespaces: Vec<String>,
    /// `key=value` labels that make a pod sensitive.
    pub labels: Vec<(String, String)>,
}

impl Sensitive {
    /// Adds one `--sensitive` value: `namespace:NAME` / `ns:NAME`, or `KEY=VALUE`.
    pub fn add(&mut self, spec: &str) -> Result<(), String> {
        if let Some(ns) = spec
            .strip_prefix("namespace:")
            .or_else(|| spec.strip_prefix("ns:"))
        {
            self.namespaces.push(ns.to_string());
            return Ok(());
        }
        match spec.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                self.labels.push((k.to_string(), v.to_string()));
                Ok(())
            }
            _ => Err(format!(
                "--sensitive {spec:?}: expected namespace:NAME or KEY=VALUE"
            )),
        }
    }

    /// Reads a config file: `sensitive: {namespaces: [..], labels: {k: v} or ["k=v"]}`.
    pub fn from_config(file: &str, bytes: &[u8]) -> Result<Sensitive, String> {
        let text = bulwark_misconfig::yaml::decode(file, bytes).map_err(|e| e.to_string())?;
        let docs = bulwark_misconfig::yaml::parse_str(file, text).map_err(|e| e.to_string())?;
        let mut s = Sensitive::default();
        let Some(root) = docs.first().and_then(|d| d.root.as_ref()) else {
            return Ok(s);
        };
        let Some(sens) = root.get("sensitive") else {
            return Err(format!("{file}: no `sensitive` key"));
        };
        s.namespaces = crate::load::strings(sens.get("namespaces"));
        if let Some(l) = sens.get("labels") {
            if l.is_map() {
                s.labels.extend(string_map(Some(l)));
            } else {
                for item in crate::load::strings(Some(l)) {
                    s.add(&item).map_err(|e| format!("{file}: {e}"))?;
                }
            }
        }
        Ok(s)
    }

    /// Whether `pod` is sensitive.
    pub fn matches(&self, pod: &Pod) -> bool {
        self.namespaces.contains(&pod.namespace)
            || self
                .labels
                .iter()
                .any(|(k, v)| pod.labels.get(k) == Some(v))
    }

    /// Whether nothing is marked sensitive.
    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty() && self.labels.is_empty()
    }
}

/// A pod reachable from outside the cluster.
#[derive(Debug, Clone, Serialize)]
pub struct Reachable {
    /// The pod.
    pub pod: String,
    /// Why the network lets the outside in.
    pub reasons: Vec<String>,
    /// External ranges and what they may open.
    pub from: Vec<(String, Conns)>,
    /// Services and Ingresses that route outside traffic to it.
    pub exposed_by: Vec<Exposure>,
    /// Whether it is an entry point for the lateral-movement search.
    pub entry_point: bool,
}

/// A hop of a lateral-movement path.
#[derive(Debug, Clone, Serialize)]
pub struct Hop {
    /// Source pod.
    pub from: String,
    /// Destination pod.
    pub to: String,
    /// What is allowed.
    pub conns: Conns,
}

/// A path from an exposed pod to a sensitive one.
#[derive(Debug, Clone, Serialize)]
pub struct Lateral {
    /// The exposed pod.
    pub entry: String,
    /// The sensitive pod.
    pub target: String,
    /// Hops (shortest path).
    pub hops: Vec<Hop>,
}

/// One allowed connection (for the matrix).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Allowed {
    /// Source.
    pub src: String,
    /// Destination.
    pub dst: String,
    /// What is allowed.
    pub conns: Conns,
}

/// The NetworkPolicy report.
#[derive(Debug, Clone, Serialize)]
pub struct NetpolReport {
    /// Namespaces without any NetworkPolicy (everything allowed in and out).
    pub namespaces_without_policy: Vec<String>,
    /// Pods no policy isolates for ingress.
    pub pods_without_ingress_policy: Vec<String>,
    /// Pods no policy isolates for egress.
    pub pods_without_egress_policy: Vec<String>,
    /// Pods reachable from outside the cluster.
    pub reachable_from_outside: Vec<Reachable>,
    /// Paths from exposed pods to sensitive pods.
    pub lateral_movement: Vec<Lateral>,
    /// The connectivity matrix (every allowed connection).
    pub matrix: Vec<Allowed>,
    /// Pods analysed.
    pub pods: usize,
    /// Policies analysed.
    pub policies: usize,
}

fn is_world(c: &Cidr) -> bool {
    c.start == 0 && c.end == c.family.max()
}

impl Model {
    /// The allowed connections as a list.
    pub fn matrix(&self, c: &Connectivity) -> Vec<Allowed> {
        c.allowed
            .iter()
            .map(|((s, d), conns)| Allowed {
                src: self.name(c, *s),
                dst: self.name(c, *d),
                conns: conns.clone(),
            })
            .collect()
    }

    /// The whole report.
    pub fn report(&self, sensitive: &Sensitive) -> NetpolReport {
        let c = self.connectivity(&[]);
        let with_policy: BTreeSet<&str> =
            self.policies.iter().map(|p| p.namespace.as_str()).collect();
        let namespaces_without_policy = self
            .namespaces
            .keys()
            .filter(|n| !with_policy.contains(n.as_str()))
            .cloned()
            .collect();
        let pods_without_ingress_policy = self
            .pods
            .iter()
            .filter(|p| !self.isolated(p, true))
            .map(|p| p.id.clone())
            .collect();
        let pods_without_egress_policy = self
            .pods
            .iter()
            .filter(|p| !self.isolated(p, false))
            .map(|p| p.id.clone())
            .collect();
        let mut reachable = Vec::new();
        let mut entries = Vec::new();
        // What each pod accepts from outside, by external range (in range order).
        let mut ext_in: BTreeMap<usize, Vec<(usize, &Conns)>> = BTreeMap::new();
        for ((s, d), v) in c.allowed.range((Endpoint::External(0), Endpoint::Pod(0))..) {
            if let (Endpoint::External(ei), Endpoint::Pod(pi)) = (s, d) {
                ext_in.entry(*pi).or_default().push((*ei, v));
            }
        }
        for (pi, pod) in self.pods.iter().enumerate() {
            // Adjacent ranges allowed the same ports are shown as one.
            let mut merged: Vec<(Cidr, Conns)> = Vec::new();
            for &(ei, conns) in ext_in.get(&pi).map(Vec::as_slice).unwrap_or(&[]) {
                let Some(e) = c.external.get(ei) else {
                    continue;
                };
                match merged.last_mut() {
                    Some((last, lc))
                        if last.family == e.family
                            && last.end.checked_add(1) == Some(e.start)
                            && lc == conns =>
                    {
                        last.end = e.end;
                    }
                    _ => merged.push((*e, conns.clone())),
                }
            }
            let from: Vec<(String, Conns)> =
                merged.into_iter().map(|(r, c)| (r.display(), c)).collect();
            if from.is_empty() {
                continue;
            }
            let mut reasons = Vec::new();
            let mut explicit_world = false;
            if !self.isolated(pod, true) {
                reasons.push("no NetworkPolicy isolates its ingress".to_string());
            }
            for pol in &self.policies {
                if !self.selects(pol, pod) {
                    continue;
                }
                for r in pol.ingress.iter().flatten() {
                    if r.peers.is_empty() {
                        reasons.push(format!(
                            "NetworkPolicy {}/{} allows from anywhere ({})",
                            pol.namespace, pol.name, r.location
                        ));
                        explicit_world = true;
                    }
                    for p in &r.peers {
                        if let Peer::IpBlock { cidr, except } = p {
                            let except: Vec<String> = except.iter().map(Cidr::display).collect();
                            reasons.push(format!(
                                "NetworkPolicy {}/{} allows ipBlock {}{} ({})",
                                pol.namespace,
                                pol.name,
                                cidr.display(),
                                if except.is_empty() {
                                    String::new()
                                } else {
                                    format!(" except {}", except.join(","))
                                },
                                r.location
                            ));
                            explicit_world |= is_world(cidr);
                        }
                    }
                }
            }
            let exposed_by = self.exposures.get(&pi).cloned().unwrap_or_default();
            let entry_point = !exposed_by.is_empty() || explicit_world;
            if entry_point {
                entries.push(pi);
            }
            reachable.push(Reachable {
                pod: pod.id.clone(),
                reasons,
                from,
                exposed_by,
                entry_point,
            });
        }
        let mut lateral = Vec::new();
        if !sensitive.is_empty() {
            // Pod-to-pod edges, once.
            let mut next: Vec<Vec<usize>> = vec![Vec::new(); self.pods.len()];
            for (s, d) in c.allowed.keys() {
                if let (Endpoint::Pod(s), Endpoint::Pod(d)) = (s, d) {
                    next[*s].push(*d);
                }
            }
            for &e in &entries {
                // Breadth-first over pod-to-pod edges: the shortest path to each target.
                let mut prev: BTreeMap<usize, usize> = BTreeMap::new();
                let mut seen = BTreeSet::from([e]);
                let mut q = VecDeque::from([e]);
                while let Some(u) = q.pop_front() {
                    for &v in &next[u] {
                        if !seen.contains(&v) {
                            seen.insert(v);
                            prev.insert(v, u);
                            q.push_back(v);
                        }
                    }
                }
                for (t, pod) in self.pods.iter().enumerate() {
                    if t == e || !sensitive.matches(pod) || !seen.contains(&t) {
                        continue;
                    }
                    let mut chain = vec![t];
                    let mut cur = t;
                    while let Some(&p) = prev.get(&cur) {
                        chain.push(p);
                        cur = p;
                    }
                    chain.reverse();
                    let hops = chain
                        .windows(2)
                        .map(|w| Hop {
                            from: self.pods[w[0]].id.clone(),
                            to: self.pods[w[1]].id.clone(),
                            conns: c
                                .allowed
                                .get(&(Endpoint::Pod(w[0]), Endpoint::Pod(w[1])))
                                .cloned()
                                .unwrap_or_default(),
                        })
                        .collect();
                    lateral.push(Lateral {
                        entry: self.pods[e].id.clone(),
                        target: pod.id.clone(),
                        hops,
                    });
                }
            }
        }
        NetpolReport {
            namespaces_without_policy,
            pods_without_ingress_policy,
            pods_without_egress_policy,
            reachable_from_outside: reachable,
            lateral_movement: lateral,
            matrix: self.matrix(&c),
            pods: self.pods.len(),
            policies: self.policies.len(),
        }
    }
}

/// One change between two manifest sets.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Change {
    /// `opens` or `closes`.
    pub change: &'static str,
    /// Source.
    pub src: String,
    /// Destination.
    pub dst: String,
    /// What changed.
    pub conns: Conns,
}

impl Change {
    /// `this change opens X -> Y on TCP/5432`.
    pub fn sentence(&self) -> String {
        format!(
            "this change {} {} -> {} on {}",
            self.change,
            self.src,
            self.dst,
            self.conns.display()
        )
    }
}

/// What `new` allows that `old` did not, and the reverse. Endpoints are matched by
/// name (`namespace/Kind/name`, external ranges split the same way on both sides).
pub fn diff(old: &Model, new: &Model) -> Vec<Change> {
    let mut cidrs = old.cidrs();
    cidrs.extend(new.cidrs());
    let named = |m: &Model| -> BTreeMap<(String, String), Conns> {
        let c = m.connectivity(&cidrs);
        c.allowed
            .iter()
            .map(|((s, d), v)| ((m.name(&c, *s), m.name(&c, *d)), v.clone()))
            .collect()
    };
    let (a, b) = (named(old), named(new));
    let keys: BTreeSet<&(String, String)> = a.keys().chain(b.keys()).collect();
    let mut out = Vec::new();
    for k in keys {
        let none = Conns::none();
        let (x, y) = (a.get(k).unwrap_or(&none), b.get(k).unwrap_or(&none));
        for (change, d) in [("opens", y.minus(x)), ("closes", x.minus(y))] {
            if !d.is_empty() {
                out.push(Change {
                    change,
                    src: k.0.clone(),
                    dst: k.1.clone(),
                    conns: d,
                });
            }
        }
    }
    out
}

/// The report as text.
pub fn table(r: &NetpolReport, with_matrix: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} pods/workloads, {} NetworkPolicies",
        r.pods, r.policies
    );
    let list = |out: &mut String, title: &str, v: &[String]| {
        if !v.is_empty() {
            let _ = writeln!(out, "\n{title} ({}):", v.len());
            for x in v {
                let _ = writeln!(out, "  {x}");
            }
        }
    };
    list(
        &mut out,
        "Namespaces without any NetworkPolicy (default allow)",
        &r.namespaces_without_policy,
    );
    list(
        &mut out,
        "Pods without ingress policy (any source allowed)",
        &r.pods_without_ingress_policy,
    );
    list(
        &mut out,
        "Pods without egress policy (any destination allowed)",
        &r.pods_without_egress_policy,
    );
    if !r.reachable_from_outside.is_empty() {
        let _ = writeln!(
            out,
            "\nReachable from outside the cluster ({}):",
            r.reachable_from_outside.len()
        );
        for x in &r.reachable_from_outside {
            let _ = writeln!(
                out,
                "  {}{}",
                x.pod,
                if x.entry_point { "  [entry point]" } else { "" }
            );
            for e in &x.exposed_by {
                let _ = writeln!(out, "    exposed by {} ({})", e.via, e.location);
            }
            for reason in &x.reasons {
                let _ = writeln!(out, "    {reason}");
            }
            for (range, conns) in &x.from {
                let _ = writeln!(out, "    from {range}: {}", conns.display());
            }
        }
    }
    if !r.lateral_movement.is_empty() {
        let _ = writeln!(
            out,
            "\nLateral movement to sensitive workloads ({}):",
            r.lateral_movement.len()
        );
        for l in &r.lateral_movement {
            let hops: Vec<String> = l
                .hops
                .iter()
                .map(|h| format!("-> {} ({})", h.to, h.conns.display()))
                .collect();
            let _ = writeln!(out, "  {} {}", l.entry, hops.join(" "));
        }
    }
    if with_matrix {
        let _ = writeln!(out, "\nAllowed connections ({}):", r.matrix.len());
        for a in &r.matrix {
            let _ = writeln!(out, "  {} -> {}: {}", a.src, a.dst, a.conns.display());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conns_algebra() {
        let a = Conns::range(Proto::Tcp, 80, 90).union(&Conns::range(Proto::Tcp, 91, 100));
        assert_eq!(a.display(), "TCP/80-100");
        let b = a.minus(&Conns::range(Proto::Tcp, 85, 85));
        assert_eq!(b.display(), "TCP/80-84,TCP/86-100");
        assert_eq!(
            b.intersect(&Conns::range(Proto::Tcp, 84, 86)).display(),
            "TCP/84,TCP/86"
        );
        assert!(Conns::all().is_all());
        assert!(Conns::all().minus(&Conns::all()).is_empty());
    }

    #[test]
    fn cidr_partition_and_display() {
        let world = Cidr::parse("0.0.0.0/0").unwrap();
        let ten = Cidr::parse("10.0.0.0/8").unwrap();
        let parts = partition([world, ten].iter());
        let v4: Vec<String> = parts
            .iter()
            .filter(|c| c.family == Family::V4)
            .map(Cidr::display)
            .collect();
        assert_eq!(
            v4,
            [
                "0.0.0.0/5,8.0.0.0/7",
                "10.0.0.0/8",
                "11.0.0.0/8,12.0.0.0/6,16.0.0.0/4,32.0.0.0/3,64.0.0.0/2,128.0.0.0/1"
            ]
        );
        assert_eq!(
            Cidr::parse("172.17.1.1/16").unwrap().display(),
            "172.17.0.0/16"
        );
        assert!(Cidr::parse("10.0.0.0/33").is_none());
    }
}
