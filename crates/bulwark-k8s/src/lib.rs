//! Cluster-wide Kubernetes analysis over many objects at once: RBAC escalation paths
//! ([`rbac`]), NetworkPolicy connectivity ([`netpol`]) and least-privilege policies
//! suggested from observed flows ([`suggest`]).
//!
//! How this differs from the Kubernetes checks of `bulwark-misconfig`: those look at one
//! object at a time ("this ClusterRole grants `*` on secrets", "this pod runs
//! privileged") and can be run on any single file. The analyses here need the whole set
//! of objects together — who is bound to which role through which binding, which service
//! accounts a namespace holds, which policies select which pods and what namespaces'
//! labels are — and answer questions about the cluster as a whole: "can this user reach
//! cluster-admin, and through what chain?", "can the internet-facing pod reach the
//! database?". Both read manifests with the same YAML reader
//! (`bulwark_misconfig::yaml`), so an object means the same thing to both.

pub mod load;
pub mod netpol;
pub mod rbac;
pub mod rbac_out;
pub mod selector;
pub mod suggest;

pub use load::{load_paths, Loaded, Object, Unreadable};
