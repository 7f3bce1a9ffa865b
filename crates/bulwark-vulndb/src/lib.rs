//! bulwark's vulnerability database: OSV records imported from files, zips or an
//! osv.dev-layout mirror into an embedded store that scans open read-only, and the
//! matching of packages against those records with each ecosystem's own version rules.

pub mod cvss;
pub mod matching;
pub mod osv;
pub mod severity;
