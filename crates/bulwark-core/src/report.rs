//! The stable, versioned JSON report that every output format renders and the server
//! stores. Its schema is documented in `docs/report-schema.md`; bump
//! [`REPORT_SCHEMA_VERSION`] on any incompatible change.

use crate::{Misconfiguration, OsInfo, Package, SecretFinding, VulnFinding};
use serde::{Deserialize, Serialize};

/// Version of the JSON report schema.
///
/// 2: `incomplete` and `not_checked` (a report without them was complete by assumption; a
/// consumer that gates on a report must now look at `incomplete`, so one written for
/// version 1 must not accept a version 2 report silently).
pub const REPORT_SCHEMA_VERSION: u32 = 2;

/// What kind of thing was scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    /// A container image (any source: archive, layout, registry, daemon).
    Image,
    /// A root filesystem or source directory.
    Directory,
    /// A single file (lock file, binary).
    File,
    /// An SBOM document read back as a target.
    Sbom,
}

/// One layer of an image as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerMeta {
    /// Digest of the (possibly compressed) layer blob.
    pub digest: String,
    /// Digest of the uncompressed tar (the config's `rootfs.diff_ids` entry).
    pub diff_id: String,
    /// Blob size in bytes.
    #[serde(default)]
    pub size: u64,
    /// The history `created_by` line that made this layer, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

/// Image metadata, present when the target is an image.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ImageMeta {
    /// Image id: digest of the config blob.
    pub id: String,
    /// Manifest digest when known (registry, OCI layout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_digest: Option<String>,
    /// Tags the image was known by (`repo:tag`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repo_tags: Vec<String>,
    /// `repo@sha256:...` digests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repo_digests: Vec<String>,
    /// `os/arch[/variant]` from the config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Layers, bottom first.
    #[serde(default)]
    pub layers: Vec<LayerMeta>,
    /// The raw image config JSON (for misconfiguration checks of the image itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
}

/// The scanned target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportTarget {
    /// What the user typed (image reference or path).
    pub name: String,
    /// Target kind.
    pub kind: TargetKind,
    /// Image metadata when the target is an image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageMeta>,
}

/// A problem that did not stop the scan: one unreadable package file in a good image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// Path inside the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Layer digest, for images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// What went wrong.
    pub message: String,
}

/// Why a scan did not see or check everything it was asked to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IncompleteKind {
    /// A package database, lock file or manifest could not be read (malformed, too big).
    UnreadableFile,
    /// A wanted file was skipped (over a size limit, could not be opened).
    SkippedFile,
    /// Records inside a package database or SBOM were malformed and skipped.
    SkippedRecords,
    /// Packages were found whose OS or ecosystem has no advisory source.
    NotChecked,
    /// The target was accepted although nothing recognised it (`--allow-unknown`).
    UnknownTarget,
}

/// One reason a report is incomplete. A report with any is never "clean".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncompleteReason {
    /// What kind of gap.
    pub kind: IncompleteKind,
    /// Path inside the target, when the gap is one file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Layer digest, for images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// What was missed and why.
    pub message: String,
}

impl IncompleteReason {
    /// One line for logs and the table header: `path (layer l): message`.
    pub fn describe(&self) -> String {
        match (&self.path, &self.layer) {
            (Some(p), Some(l)) => format!("{p} (layer {l}): {}", self.message),
            (Some(p), None) => format!("{p}: {}", self.message),
            _ => self.message.clone(),
        }
    }
}

/// A package that was found but not matched against any advisory source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotChecked {
    /// Package name.
    pub name: String,
    /// Installed version.
    pub version: String,
    /// Package URL.
    pub purl: String,
    /// Why it was not checked (`no advisory source for amazon 2023 (rpm)`).
    pub reason: String,
}

/// The whole result of a scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`REPORT_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `bulwark <version>`.
    pub tool: String,
    /// RFC 3339 time the report was made.
    pub created_at: String,
    /// What was scanned.
    pub target: ReportTarget,
    /// The detected operating system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<OsInfo>,
    /// Every package found, sorted by ecosystem, name, version, first path.
    #[serde(default)]
    pub packages: Vec<Package>,
    /// Vulnerabilities found (vuln scanner).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vulnerabilities: Vec<VulnFinding>,
    /// Misconfigurations found (misconfig scanner).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub misconfigurations: Vec<Misconfiguration>,
    /// Secrets found (secret scanner).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretFinding>,
    /// Problems that did not stop the scan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
    /// Packages found but not checked for vulnerabilities, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_checked: Vec<NotChecked>,
    /// Why the scan is incomplete; empty when it saw and checked everything.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incomplete: Vec<IncompleteReason>,
}

impl Report {
    /// A report with nothing found yet.
    pub fn new(target: ReportTarget, created_at: String) -> Self {
        Report {
            schema_version: REPORT_SCHEMA_VERSION,
            tool: format!("bulwark {}", env!("CARGO_PKG_VERSION")),
            created_at,
            target,
            os: None,
            packages: Vec::new(),
            vulnerabilities: Vec::new(),
            misconfigurations: Vec::new(),
            secrets: Vec::new(),
            warnings: Vec::new(),
            not_checked: Vec::new(),
            incomplete: Vec::new(),
        }
    }

    /// Whether the scan missed something (see [`Report::incomplete`]).
    pub fn is_incomplete(&self) -> bool {
        !self.incomplete.is_empty()
    }

    /// Records a reason the scan is incomplete (deduplicated).
    pub fn mark_incomplete(&mut self, reason: IncompleteReason) {
        if !self.incomplete.contains(&reason) {
            self.incomplete.push(reason);
        }
    }

    /// Sorts packages into the report's stable order.
    pub fn sort(&mut self) {
        self.packages.sort_by(|a, b| {
            (a.ecosystem, &a.name, &a.version, a.locations.first()).cmp(&(
                b.ecosystem,
                &b.name,
                &b.version,
                b.locations.first(),
            ))
        });
    }
}
