//! Admission policies for bulwark: the one engine behind the admission webhook
//! (`bulwark admit serve`, crate `bulwark-admit`) and `bulwark policy test`.
//!
//! - [`schema`]: the policy file (YAML, documented in docs/admission.md), validated on
//!   load with errors naming the file and field;
//! - [`input`]: the request (from an AdmissionReview v1 or a manifest) and the pod of
//!   every pod-owning kind;
//! - [`eval`]: evaluation of the rules (registry allow-list, digest pinning as a JSON
//!   patch, required labels and resources, Pod Security Standards through
//!   `bulwark-misconfig`, signatures and attestations through `bulwark-cosign`'s
//!   verification cache, vulnerability gates, Rego), exemptions, audit mode;
//! - [`deps`]: the registries, caches and scans rules depend on, each call within a time
//!   budget, each rule failing the way its `onError` says when one is down;
//! - [`offline`]: reading manifests and AdmissionReview files for `policy test`;
//! - [`glob`]: the `*`/`?` globs of selectors.

pub mod deps;
pub mod eval;
pub mod glob;
pub mod input;
pub mod offline;
pub mod schema;

pub use deps::{CachedOnly, Dependencies, Live, Offline, VulnNeeds};
pub use eval::{admit, evaluate, evaluate_warm, Decision, Phase};
pub use input::Request;
pub use schema::{load, Policy, PolicyError};
