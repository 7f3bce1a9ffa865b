//! bulwark's vulnerability database: OSV records imported from files, zips or an
//! osv.dev-layout mirror into an embedded store that scans open read-only, and the
//! matching of packages against those records with each ecosystem's own version rules.

pub mod cvss;
pub mod delta;
pub mod enrich;
pub mod error;
pub mod import;
pub mod matching;
pub mod osv;
pub mod severity;
pub mod store;
pub mod update;

pub use delta::{Delta, DeltaKind, DeltaRecord};
pub use error::{Result, VulnDbError};
pub use import::{export, import_export, import_paths, ExportManifest, ImportOptions, ImportStats};
pub use store::{current_generation, DbInfo, EpssScore, KevEntry, SourceInfo, VulnDb};
