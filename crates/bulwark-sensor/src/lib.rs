//! bulwark's runtime sensor: eBPF programs on classic tracepoints (process exec, exit
//! and fork; open, connect, accept, mount, namespaces, ptrace, modules, bpf, memfd,
//! setuid-bit chmods, capset, setuid/setgid) feed a ring buffer; user space attributes
//! each event to a container (cgroup and namespace ids, metadata from the
//! Docker-compatible API), evaluates a Falco-like rules language and acts: alert (JSON
//! lines), kill (SIGKILL, in the kernel where the rule allows), pause the container.
//!
//! `unsafe` is denied in this crate except at its FFI edge: [`sys`] (raw libc calls)
//! and the BPF skeleton libbpf-cargo generates (inside [`probe`]). The rest of bulwark
//! has no `unsafe`; a BPF loader cannot avoid it.
#![deny(unsafe_code)]

pub mod attrib;
pub mod cond;
pub mod event;
pub mod fields;
pub mod flows;
pub mod output;
pub mod outputs;
pub mod placements;
pub mod podman;
pub mod probe;
pub mod profile;
pub mod rules;
pub mod sensor;
pub mod sys;

pub use rules::{LoadError, RuleSet};
pub use sensor::{run, Config, Stats};
