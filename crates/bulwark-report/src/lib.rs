//! Output formats for bulwark reports (CycloneDX 1.6, SPDX 2.3, the JSON report, tables)
//! and SBOM input (reading CycloneDX/SPDX back as a target).
