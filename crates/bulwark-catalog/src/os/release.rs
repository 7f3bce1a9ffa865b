//! OS detection from release files: `os-release` (freedesktop format), the distribution
//! specific `*-release` one-liners of the Red Hat family and Amazon Linux,
//! `alpine-release`, `lsb-release` and `debian_version`.
//!
//! Families are normalised to the names documented on [`OsInfo::family`]. A file naming an
//! OS bulwark does not know, or one missing the ID or version, yields no OS and no error:
//! another release file in the image may still identify it.

use crate::{read_bounded, CatalogError, CatalogInput, CatalogOutput, Cataloger, ScanMode};
use bulwark_core::OsInfo;

/// Release files are a few hundred bytes; anything larger is not one.
const MAX_RELEASE_SIZE: u64 = 64 * 1024;

/// The OS-detection files this module reads, with their priority (lower wins).
const RELEASE_FILES: &[(&str, u8)] = &[
    ("etc/os-release", 0),
    ("usr/lib/os-release", 1),
    ("etc/alpine-release", 2),
    ("etc/centos-release", 2),
    ("etc/rocky-release", 2),
    ("etc/almalinux-release", 2),
    ("etc/fedora-release", 2),
    ("etc/oracle-release", 2),
    ("etc/redhat-release", 3),
    ("etc/system-release", 3),
    ("etc/lsb-release", 4),
    ("etc/debian_version", 5),
];

/// `os-release` `ID` (or lowercased `lsb-release` `DISTRIB_ID`) → normalised family.
/// IDs missing here are not recognised: detection returns no OS for them.
const ID_FAMILIES: &[(&str, &str)] = &[
    ("debian", "debian"),
    ("ubuntu", "ubuntu"),
    ("alpine", "alpine"),
    ("rhel", "rhel"),
    ("centos", "centos"),
    ("rocky", "rocky"),
    ("almalinux", "almalinux"),
    ("fedora", "fedora"),
    ("ol", "oracle"),
    ("amzn", "amazon"),
    ("sles", "sles"),
    ("opensuse-leap", "opensuse-leap"),
    // openSUSE Leap 42.x still used the plain `opensuse` ID.
    ("opensuse", "opensuse-leap"),
    ("opensuse-tumbleweed", "opensuse-tumbleweed"),
    ("sle-micro", "sle-micro"),
    ("sle-micro-rancher", "sle-micro"),
    ("sl-micro", "sle-micro"),
    ("photon", "photon"),
    ("mariner", "mariner"),
    ("azurelinux", "azurelinux"),
    ("wolfi", "wolfi"),
    ("chainguard", "chainguard"),
    ("echo", "echo"),
    ("minimos", "minimos"),
    ("bottlerocket", "bottlerocket"),
    ("coreos", "coreos"),
    ("activestate", "activestate"),
];

/// The priority of an OS-detection path (see [`super::os_release_priority`]).
pub fn priority(path: &str) -> Option<u8> {
    RELEASE_FILES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, prio)| *prio)
}

/// Detects the OS from release files.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsReleaseCataloger;

impl Cataloger for OsReleaseCataloger {
    fn id(&self) -> &'static str {
        "os-release"
    }

    fn wants(&self, path: &str, _size: u64, _mode: u32, _scan: ScanMode) -> bool {
        priority(path).is_some()
    }

    fn catalog(&self, input: CatalogInput<'_>) -> Result<CatalogOutput, CatalogError> {
        let data = read_bounded(input.reader, MAX_RELEASE_SIZE, "os-release")?;
        Ok(CatalogOutput {
            packages: Vec::new(),
            os: detect(input.path, &data),
            ..Default::default()
        })
    }
}

/// Detects the OS from the content of the release file at `path` (relative, as in
/// [`priority`]). Unknown paths and unrecognised content give `None`.
pub fn detect(path: &str, data: &[u8]) -> Option<OsInfo> {
    let name = crate::util::file_name(path);
    match name {
        "os-release" => parse_os_release(data),
        "lsb-release" => parse_lsb_release(data),
        "alpine-release" => first_line(data).map(|v| os("alpine", v)),
        "debian_version" => first_line(data).map(|v| os("debian", v)),
        _ if priority(path).is_some() => parse_release_line(data),
        _ => None,
    }
}

fn os(family: &str, version: &str) -> OsInfo {
    OsInfo {
        family: family.to_string(),
        version: version.to_string(),
        ..Default::default()
    }
}

fn first_line(data: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(data).ok()?;
    let line = text.lines().next()?.trim();
    (!line.is_empty()).then_some(line)
}

/// Parses shell-style `KEY=value` lines as in os-release(5): optional single or double
/// quotes, backslash escapes inside double quotes, `#` comments.
pub fn parse_key_values(data: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = line.split_once('=') else {
            continue;
        };
        out.push((key.trim().to_string(), unquote(raw.trim())));
    }
    out
}

fn unquote(raw: &str) -> String {
    let mut chars = raw.chars();
    match chars.next() {
        Some(q @ ('"' | '\'')) => {
            let mut out = String::new();
            let mut escaped = false;
            for c in chars {
                if escaped {
                    out.push(c);
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    break;
                } else {
                    out.push(c);
                }
            }
            out
        }
        _ => raw.to_string(),
    }
}

fn lookup<'a>(kv: &'a [(String, String)], key: &str) -> Option<&'a str> {
    // The last assignment wins, as when the file is sourced by a shell.
    kv.iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// Parses an `os-release` file. `None` when `ID` or `VERSION_ID` is missing or the ID is
/// not a known distribution.
pub fn parse_os_release(data: &[u8]) -> Option<OsInfo> {
    let kv = parse_key_values(data);
    let id = lookup(&kv, "ID")?.to_ascii_lowercase();
    let version = lookup(&kv, "VERSION_ID")?;
    let mut family = ID_FAMILIES
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, f)| *f)?;
    let name = lookup(&kv, "NAME").unwrap_or_default();
    // CentOS Stream reuses the `centos` ID; its advisories are not CentOS Linux's.
    if family == "centos" && name.contains("Stream") {
        family = "centos-stream";
    }
    Some(OsInfo {
        family: family.to_string(),
        version: version.to_string(),
        pretty_name: lookup(&kv, "PRETTY_NAME").map(str::to_string),
        codename: lookup(&kv, "VERSION_CODENAME")
            .or_else(|| lookup(&kv, "UBUNTU_CODENAME"))
            .map(str::to_string),
        inferred: false,
    })
}

/// Parses `/etc/lsb-release` (`DISTRIB_ID`, `DISTRIB_RELEASE`, `DISTRIB_CODENAME`).
pub fn parse_lsb_release(data: &[u8]) -> Option<OsInfo> {
    let kv = parse_key_values(data);
    let id = lookup(&kv, "DISTRIB_ID")?.to_ascii_lowercase();
    let version = lookup(&kv, "DISTRIB_RELEASE")?;
    let family = ID_FAMILIES
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, f)| *f)?;
    Some(OsInfo {
        family: family.to_string(),
        version: version.to_string(),
        pretty_name: lookup(&kv, "DISTRIB_DESCRIPTION").map(str::to_string),
        codename: lookup(&kv, "DISTRIB_CODENAME").map(str::to_string),
        inferred: false,
    })
}

/// Distribution-name prefixes of `<Name> release <version> (<codename>)` lines, most
/// specific first.
const RELEASE_LINE_FAMILIES: &[(&str, &str)] = &[
    ("centos stream", "centos-stream"),
    ("centos", "centos"),
    ("rocky", "rocky"),
    ("almalinux", "almalinux"),
    ("fedora", "fedora"),
    ("oracle", "oracle"),
    ("red hat", "rhel"),
    ("amazon", "amazon"),
];

/// Parses a one-line `*-release` file such as `CentOS Linux release 7.6.1810 (Core)` or
/// `Amazon Linux release 2 (Karoo)`.
pub fn parse_release_line(data: &[u8]) -> Option<OsInfo> {
    let line = first_line(data)?;
    let lower = line.to_ascii_lowercase();
    let family = RELEASE_LINE_FAMILIES
        .iter()
        .find(|(prefix, _)| lower.starts_with(prefix))
        .map(|(_, f)| *f)?;
    let (_, after) = line.split_once(" release ")?;
    let mut rest = after.split_whitespace();
    let version = rest.next()?;
    let codename = line
        .rsplit_once('(')
        .and_then(|(_, c)| c.strip_suffix(')'))
        .map(str::to_string);
    Some(OsInfo {
        family: family.to_string(),
        version: version.to_string(),
        pretty_name: Some(line.to_string()),
        codename,
        inferred: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_and_comments() {
        let kv = parse_key_values(b"# c\nA=\"x \\\"y\\\"\"\nB='z'\nC=plain\n");
        assert_eq!(lookup(&kv, "A"), Some("x \"y\""));
        assert_eq!(lookup(&kv, "B"), Some("z"));
        assert_eq!(lookup(&kv, "C"), Some("plain"));
    }

    #[test]
    fn amazon_system_release() {
        let o =
            detect("etc/system-release", b"Amazon Linux release 2 (Karoo)\n").unwrap_or_default();
        assert_eq!((o.family.as_str(), o.version.as_str()), ("amazon", "2"));
        assert_eq!(o.codename.as_deref(), Some("Karoo"));
    }

    #[test]
    fn priorities_order() {
        let os_rel = priority("etc/os-release");
        assert!(os_rel < priority("etc/rocky-release"));
        assert!(priority("etc/rocky-release") < priority("etc/redhat-release"));
        assert!(priority("etc/redhat-release") < priority("etc/lsb-release"));
        assert!(priority("etc/lsb-release") < priority("etc/debian_version"));
        assert_eq!(priority("etc/passwd"), None);
    }
}
