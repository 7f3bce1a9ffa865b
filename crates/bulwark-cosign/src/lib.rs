//! `bulwark-cosign`: cosign-compatible signatures and attestations on images in
//! registries and OCI layouts — store, find, verify.
//!
//! The cryptography (keys, payloads, DSSE, bundles, offline verification) lives in
//! `bulwark-sign`; registry and layout I/O in `bulwark-image`. This crate joins them:
//!
//! * [`location`] — one view of "where the image lives": a registry repository or an
//!   OCI layout directory, resolved once to the image's manifest digest;
//! * [`store`] — writing signatures and attestations in both layouts cosign uses: the
//!   legacy `sha256-<hex>.sig` / `.att` tags and Sigstore bundles v0.3 attached as
//!   OCI 1.1 referrers;
//! * [`verify`] — finding every signature or attestation in both layouts and verifying
//!   each one, with a reason for each that fails;
//! * [`integrity`] — re-hashing every blob of an image against its manifest;
//! * [`policy`] — Rego policies over verified attestation predicates.
//!
//! Storage layout (see `docs/signing.md`): the legacy tag holds an OCI manifest whose
//! layers are the signed payloads (`application/vnd.dev.cosign.simplesigning.v1+json`
//! with the `dev.cosignproject.cosign/signature` annotation, or DSSE envelopes
//! `application/vnd.dsse.envelope.v1+json` with a `predicateType` annotation); new
//! signatures are appended to an existing manifest, as cosign does. The referrer is an
//! OCI 1.1 artifact manifest (`artifactType` = the bundle v0.3 media type, empty
//! config, `subject` = the image) whose first layer is the bundle.

pub mod error;
pub mod integrity;
pub mod location;
pub mod policy;
pub mod store;
pub mod verify;

pub use error::{Error, Result};
pub use location::{Image, Location};
