//! Flow export: observed outbound connections of containers, aggregated and written in
//! the flow format `bulwark k8s netpol suggest` reads (docs/k8s-analysis.md, version 1).
//!
//! A container maps to a pod end: with the labels CRI runtimes set
//! (`io.kubernetes.pod.namespace`, `io.kubernetes.pod.name`), namespace from the first
//! and the remaining non-`io.kubernetes.*` labels as the pod labels; a plain podman or
//! Docker container maps to namespace `bulwark.namespace` (label) or `podman`, and its
//! labels less image-build metadata. A container with no usable label gets
//! `bulwark.container: NAME`, so a NetworkPolicy can still be written (and edited).
//! The destination is another container seen by the sensor when its address is one of
//! theirs, else the external address. Accepted connections (accept's exit) from an
//! address that is not a container the sensor sees are flows into the container (a
//! container's connection is recorded once, at its connect). Written atomically (temp
//! + rename).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

use crate::event::{Kind, SockAddr};
use crate::fields::Event;
use crate::podman::ContainerMeta;
use crate::profile::{outbound_peer, write_atomic, Proto};

/// Label prefixes that describe how an image was built, not what a workload is.
const BUILD_LABEL_PREFIXES: &[&str] = &[
    "org.opencontainers.",
    "io.buildah.",
    "io.containers.",
    "io.podman.",
    "com.docker.",
    "maintainer",
    "annotation.",
];
/// Bound on distinct flows kept (further new flows are counted as dropped).
const MAX_FLOWS: usize = 100_000;

/// A flow end as the format has it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Endpoint {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
}

/// The peer, local port and protocol of an accepted connection (`None` for other
/// events, loopback and unspecified peers).
fn accepted_peer(ev: &Event) -> Option<(IpAddr, u16, Proto)> {
    if ev.raw.kind != Kind::Accepted {
        return None;
    }
    let SockAddr::Inet(ip, _) = ev.raw.sockaddr()? else {
        return None;
    };
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    let port = u16::try_from(ev.raw.args[1]).ok().filter(|p| *p != 0)?;
    if ip.is_loopback() || ip.is_unspecified() {
        return None;
    }
    Some((ip, port, Proto::from_ipproto(ev.raw.args[2])))
}

/// The pod end a container maps to.
pub fn endpoint_of(m: &ContainerMeta) -> Endpoint {
    let k8s_ns = m.labels.get("io.kubernetes.pod.namespace");
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in &m.labels {
        if k.starts_with("io.kubernetes.")
            || k == "bulwark.namespace"
            || BUILD_LABEL_PREFIXES.iter().any(|p| k.starts_with(p))
        {
            continue;
        }
        labels.insert(k.clone(), v.clone());
    }
    let (namespace, workload) = match k8s_ns {
        Some(ns) => (
            ns.clone(),
            m.labels
                .get("io.kubernetes.pod.name")
                .map(|p| format!("Pod/{p}")),
        ),
        None => (
            m.labels
                .get("bulwark.namespace")
                .cloned()
                .unwrap_or_else(|| "podman".into()),
            (!m.name.is_empty()).then(|| format!("Container/{}", m.name)),
        ),
    };
    if labels.is_empty() {
        let name = m
            .labels
            .get("io.kubernetes.pod.name")
            .cloned()
            .unwrap_or_else(|| m.name.clone());
        labels.insert("bulwark.container".into(), name);
    }
    Endpoint {
        namespace: Some(namespace),
        workload,
        labels: Some(labels),
        ip: None,
    }
}

/// One end of a recorded flow: a container, or an address (resolved to a container the
/// sensor has seen when the file is written).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum End {
    Pod(Arc<Endpoint>),
    Ip(IpAddr),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    source: End,
    dest: End,
    port: u16,
    proto: Proto,
}

struct Agg {
    first: SystemTime,
    last: SystemTime,
    count: u64,
}

#[derive(Serialize)]
struct FlowOut {
    source: Endpoint,
    destination: Endpoint,
    port: u16,
    protocol: &'static str,
    first_seen: String,
    last_seen: String,
    count: u64,
}

#[derive(Serialize)]
struct FileOut {
    version: u32,
    flows: Vec<FlowOut>,
}

/// Aggregated flows since the start, and where to write them.
pub struct FlowRecorder {
    path: PathBuf,
    flows: HashMap<Key, Agg>,
    /// Container id → its pod end (cached; forgotten with the metadata cache bound).
    ends: HashMap<String, Arc<Endpoint>>,
    /// Container address → its pod end (destinations that are containers).
    by_ip: HashMap<IpAddr, Arc<Endpoint>>,
    dirty: bool,
    /// New flows not kept because [`MAX_FLOWS`] was reached.
    pub dropped: u64,
    /// Times the file was written.
    pub writes: u64,
}

impl FlowRecorder {
    /// Flows written to `path`.
    pub fn new(path: PathBuf) -> FlowRecorder {
        FlowRecorder {
            path,
            flows: HashMap::new(),
            ends: HashMap::new(),
            by_ip: HashMap::new(),
            dirty: true,
            dropped: 0,
            writes: 0,
        }
    }

    /// Records a connect event of a container; any event of a container registers the
    /// container's addresses, so connections to it name it as the destination.
    pub fn observe(&mut self, ev: &Event) {
        let Some(m) = ev.meta.as_deref() else {
            return;
        };
        let source = match self.ends.get(&m.id) {
            Some(e) => e.clone(),
            None => {
                if self.ends.len() >= 4096 {
                    self.ends.clear();
                    self.by_ip.clear();
                }
                let e = Arc::new(endpoint_of(m));
                self.ends.insert(m.id.clone(), e.clone());
                for a in &m.ips {
                    self.by_ip.insert(*a, e.clone());
                }
                e
            }
        };
        let key = if let Some((ip, port, proto)) = outbound_peer(ev) {
            Key {
                source: End::Pod(source),
                dest: End::Ip(ip),
                port,
                proto,
            }
        } else if let Some((peer, port, proto)) = accepted_peer(ev) {
            // A connection from a container the sensor sees is recorded at its connect.
            if self.by_ip.contains_key(&peer) {
                return;
            }
            Key {
                source: End::Ip(peer),
                dest: End::Pod(source),
                port,
                proto,
            }
        } else {
            return;
        };
        if let Some(a) = self.flows.get_mut(&key) {
            a.count += 1;
            a.last = a.last.max(ev.time);
        } else if self.flows.len() >= MAX_FLOWS {
            self.dropped += 1;
            return;
        } else {
            self.flows.insert(
                key,
                Agg {
                    first: ev.time,
                    last: ev.time,
                    count: 1,
                },
            );
        }
        self.dirty = true;
    }

    /// The flow file's JSON.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        let end = |e: &End| -> Endpoint {
            match e {
                End::Pod(p) => (**p).clone(),
                End::Ip(ip) => match self.by_ip.get(ip) {
                    Some(p) => (**p).clone(),
                    None => Endpoint {
                        namespace: None,
                        workload: None,
                        labels: None,
                        ip: Some(ip.to_string()),
                    },
                },
            }
        };
        let mut flows: Vec<FlowOut> = self
            .flows
            .iter()
            .map(|(k, a)| FlowOut {
                source: end(&k.source),
                destination: end(&k.dest),
                port: k.port,
                protocol: k.proto.name(),
                first_seen: crate::output::rfc3339(a.first),
                last_seen: crate::output::rfc3339(a.last),
                count: a.count,
            })
            .collect();
        flows.sort_by(|a, b| {
            (&a.source, &a.destination, a.port, a.protocol).cmp(&(
                &b.source,
                &b.destination,
                b.port,
                b.protocol,
            ))
        });
        let mut v = serde_json::to_vec_pretty(&FileOut { version: 1, flows })?;
        v.push(b'\n');
        Ok(v)
    }

    /// The file's bytes when something changed since the last write (marked written).
    pub fn take_changes(&mut self) -> Result<Option<Vec<u8>>, serde_json::Error> {
        if !self.dirty {
            return Ok(None);
        }
        let b = self.to_json()?;
        self.dirty = false;
        self.writes += 1;
        Ok(Some(b))
    }

    /// Writes the file when something changed since the last write (`force`: always).
    pub fn save(&mut self, force: bool) -> std::io::Result<()> {
        if !self.dirty && !force {
            return Ok(());
        }
        let bytes = self.to_json().map_err(std::io::Error::other)?;
        write_atomic(&self.path, &bytes)?;
        self.dirty = false;
        self.writes += 1;
        Ok(())
    }

    /// The file written to.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Distinct flows so far.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// No flows so far.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::RawEvent;

    fn connect(meta: &Arc<ContainerMeta>, ip: [u8; 4], port: u16, proto: u64) -> Event {
        let mut sa = vec![0u8; 16];
        sa[0..2].copy_from_slice(&2u16.to_le_bytes());
        sa[2..4].copy_from_slice(&port.to_be_bytes());
        sa[4..8].copy_from_slice(&ip);
        Event {
            raw: RawEvent {
                ts_ns: 0,
                cap_eff: 0,
                args: [3, 16, proto, 0],
                kind: Kind::Connect,
                pid: 10,
                tid: 10,
                ppid: 1,
                vpid: 2,
                uid: 0,
                gid: 0,
                mntns: 5,
                pidns: 5,
                flags: 0,
                comm: "app".into(),
                pcomm: "sh".into(),
                str1: String::new(),
                str2: sa,
                str3: String::new(),
            },
            time: SystemTime::now(),
            origin: crate::attrib::Origin::Container(meta.id.clone()),
            meta: Some(meta.clone()),
            proc: None,
            path: String::new(),
        }
    }

    #[test]
    fn aggregates_and_names_container_destinations() {
        let meta = |id: &str, name: &str, app: &str, ip: [u8; 4]| {
            let mut m = ContainerMeta {
                id: id.into(),
                name: name.into(),
                ips: vec![IpAddr::from(ip)],
                ..Default::default()
            };
            m.labels.insert("app".into(), app.into());
            Arc::new(m)
        };
        let web = meta("a", "web", "web", [10, 88, 0, 5]);
        let db = meta("b", "db", "pg", [10, 88, 0, 6]);
        let d = tempfile::tempdir().unwrap();
        let mut f = FlowRecorder::new(d.path().join("flows.json"));
        // the database container is seen (any event), then web connects to it twice,
        // resolves a name over UDP, and reaches out to the internet once
        let mut seen = connect(&db, [127, 0, 0, 1], 5432, 6);
        seen.raw.kind = Kind::Openat;
        f.observe(&seen);
        f.observe(&connect(&web, [10, 88, 0, 6], 5432, 6));
        f.observe(&connect(&web, [10, 88, 0, 6], 5432, 6));
        f.observe(&connect(&web, [10, 88, 0, 1], 53, 17));
        f.observe(&connect(&web, [203, 0, 113, 9], 443, 0));
        f.observe(&connect(&web, [127, 0, 0, 1], 8080, 6)); // loopback: not a flow
                                                            // accepted by the database: from web (a container: recorded at its connect,
                                                            // not again) and from an outside address
        let mut acc = connect(&db, [10, 88, 0, 5], 40000, 6);
        acc.raw.kind = Kind::Accepted;
        acc.raw.args[1] = 5432;
        f.observe(&acc);
        acc.raw.str2[4..8].copy_from_slice(&[198, 51, 100, 7]);
        f.observe(&acc);
        assert_eq!(f.len(), 4);
        f.save(true).unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.path().join("flows.json")).unwrap()).unwrap();
        assert_eq!(v["version"], 1);
        let flows = v["flows"].as_array().unwrap();
        let from_out = flows
            .iter()
            .find(|x| x["source"]["ip"] == "198.51.100.7")
            .unwrap();
        assert_eq!(from_out["port"], 5432);
        assert_eq!(from_out["destination"]["labels"]["app"], "pg");
        let to_db = flows
            .iter()
            .find(|x| x["port"] == 5432 && x["source"]["labels"]["app"] == "web")
            .unwrap();
        assert_eq!(to_db["count"], 2);
        assert_eq!(to_db["protocol"], "TCP");
        assert_eq!(to_db["source"]["labels"]["app"], "web");
        assert_eq!(to_db["destination"]["namespace"], "podman");
        assert_eq!(to_db["destination"]["labels"]["app"], "pg");
        assert_eq!(to_db["destination"]["workload"], "Container/db");
        let dns = flows.iter().find(|x| x["port"] == 53).unwrap();
        assert_eq!(dns["protocol"], "UDP");
        assert_eq!(dns["destination"]["ip"], "10.88.0.1");
        let out = flows.iter().find(|x| x["port"] == 443).unwrap();
        assert_eq!(out["protocol"], "TCP", "unknown protocol is taken as TCP");
        assert_eq!(out["destination"]["ip"], "203.0.113.9");
    }

    #[test]
    fn containers_map_to_pod_ends() {
        let mut m = ContainerMeta {
            name: "web".into(),
            ..Default::default()
        };
        let e = endpoint_of(&m);
        assert_eq!(e.namespace.as_deref(), Some("podman"));
        assert_eq!(e.workload.as_deref(), Some("Container/web"));
        assert_eq!(
            e.labels
                .unwrap()
                .get("bulwark.container")
                .map(String::as_str),
            Some("web")
        );
        m.labels.insert("app".into(), "shop".into());
        m.labels.insert("bulwark.namespace".into(), "prod".into());
        m.labels
            .insert("org.opencontainers.image.version".into(), "1".into());
        let e = endpoint_of(&m);
        assert_eq!(e.namespace.as_deref(), Some("prod"));
        let l = e.labels.unwrap();
        assert_eq!(l.len(), 1, "{l:?}");
        assert_eq!(l["app"], "shop");
        let mut k = ContainerMeta::default();
        for (a, b) in [
            ("io.kubernetes.pod.namespace", "shop"),
            ("io.kubernetes.pod.name", "web-7d9c-x2"),
            ("io.kubernetes.container.name", "web"),
            ("app", "web"),
        ] {
            k.labels.insert(a.into(), b.into());
        }
        let e = endpoint_of(&k);
        assert_eq!(e.namespace.as_deref(), Some("shop"));
        assert_eq!(e.workload.as_deref(), Some("Pod/web-7d9c-x2"));
        assert_eq!(
            e.labels.unwrap().into_iter().collect::<Vec<_>>(),
            vec![("app".to_string(), "web".to_string())]
        );
    }
}
