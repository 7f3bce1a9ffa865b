//! `bulwark-sign`: keys, signing payloads, signatures, Sigstore bundles and their
//! offline verification. No network code: everything a verification needs (bundle,
//! trusted root, keys) is given by the caller.
//!
//! * [`keys`] — public/private keys, cosign's encrypted key format, key references;
//! * [`bundle`], [`trust`] — Sigstore bundle and trusted-root JSON;
//! * [`verify`] — offline bundle verification (keys or Fulcio identities), built on
//!   [`x509`] (chains, identities, SCTs), [`tlog`] (Rekor entries, inclusion proofs,
//!   checkpoints, SETs) and [`tsa`] (RFC 3161 timestamps);
//! * [`dsse`] — DSSE envelopes and in-toto statements;
//! * [`simple_signing`], [`cosign`] — cosign image-signature payloads and legacy
//!   signature layers;
//! * [`sign`] — signing images and attestations (payload, signature, bundle);
//! * [`cache`] — the verification cache for admission checks.

mod b64;
pub mod bundle;
pub mod cache;
pub mod cosign;
pub mod dsse;
pub mod error;
pub mod keys;
pub mod pem;
pub mod sign;
pub mod simple_signing;
pub mod time;
pub mod tlog;
pub mod trust;
pub mod tsa;
pub mod verify;
pub mod x509;

pub use bundle::Bundle;
pub use error::{Error, Result};
pub use keys::{Algorithm, HashAlg, KeyRef, PrivateKey, PublicKey};
pub use trust::TrustedRoot;
pub use verify::{verify_bundle, Artifact, Matcher, Outcome, Policy};
