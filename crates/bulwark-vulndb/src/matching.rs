//! Matching installed packages against OSV records, with OSV's exact range semantics,
//! and merging the findings that name the same vulnerability.
//!
//! Decisions (see also `docs/severity.md` and the brief's research notes):
//! - Distro packages are looked up by SOURCE package for Debian, Ubuntu, Alpine, Wolfi
//!   and Chainguard (their advisories are keyed by source/origin), by BINARY name for the
//!   RPM family (Red Hat and AlmaLinux OSV data lists binary RPM names).
//! - Debian/Ubuntu compare the SOURCE version (dpkg `Source: name (version)`), as Trivy
//!   does: binary versions can differ from the source version completely (`bpftool`
//!   `7.1.0+6.1.192-3` from `linux 6.1.192-3`) or only by an epoch (`bsdutils`), and
//!   advisories give source versions. Alpine sub-packages share their origin's version,
//!   so the installed version is used. RPM compares the binary EVR with its epoch.
//! - Distro records apply only to the detected release: `Debian:11` does not apply to
//!   Debian 12; a bare ecosystem (`Debian`, `AlmaLinux`) applies to every release since it
//!   makes no release claim. `Ubuntu:22.04:LTS` and `Ubuntu:Pro:22.04:LTS` apply to Ubuntu
//!   22.04: a Pro (ESM) record still says the installed package is affected — on releases
//!   past standard support it is the only record there is — its fix just needs Ubuntu Pro.
//!   FIPS variants apply only to versions that carry `fips`; other variants
//!   (`Realtime:Kernel`) never, as they describe differently built packages. Red Hat records
//!   apply when the CPE's product version has the detected major version (the exact
//!   product stream — EUS, AUS, E4S — cannot be told from `os-release`).
//! - `fixed_versions` lists the `fixed` events above the installed version of the ranges
//!   that matched (lowest first): fixes of other, unaffected branches are not offered.
//! - GIT ranges and ranges of unknown type are skipped and counted; an installed version
//!   or event that does not parse under its scheme makes that range unevaluable, is
//!   counted and logged, and never matches.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::time::SystemTime;

use bulwark_core::purl::normalize_pypi_name;
use bulwark_core::{Ecosystem, FixStatus, OsInfo, Package, Severity, VulnFinding};
use bulwark_version::{parse, Scheme, Version};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::osv::{Affected, Event, OsvRecord, Range, RangeType};
use crate::severity::{self, is_distro_source};

/// Longest description kept in a finding, in bytes.
pub const MAX_DESCRIPTION: usize = 4096;

/// The result of matching one package against a set of records.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatchOutcome {
    /// One finding per matching record (not yet merged across aliases).
    pub findings: Vec<VulnFinding>,
    /// GIT (and unknown-type) ranges that could not be evaluated.
    pub skipped_git: usize,
    /// Versions (installed or in events) that did not parse under the range's scheme.
    pub unparsable: usize,
    /// Withdrawn records that were ignored.
    pub withdrawn: usize,
}

/// Where to look a package up: OSV ecosystem base, release, name, and the version to
/// compare.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    base: String,
    release: Option<String>,
    name: String,
    version: String,
}

/// Which OSV ecosystem (base, e.g. `Debian`), release filter (`12`, `22.04`, `v3.19`,
/// `9`, `15 SP5`) and package name a package is looked up under; `None` when OSV has no
/// ecosystem for it (or the OS is unknown for an OS package).
pub fn osv_ecosystem_for(
    pkg: &Package,
    os: Option<&OsInfo>,
) -> Option<(String, Option<String>, String)> {
    target(pkg, os).map(|t| (t.base, t.release, t.name))
}

/// OS families bulwark detects but has no advisory mapping for: their packages are
/// listed as not checked rather than silently getting zero vulnerabilities.
const DETECTED_WITHOUT_ADVISORIES: &[(&str, &str)] = &[
    ("amazon", "Amazon Linux"),
    ("amzn", "Amazon Linux"),
    ("oracle", "Oracle Linux"),
    ("ol", "Oracle Linux"),
    ("fedora", "Fedora"),
];

/// Why `pkg` is not matched against any advisory source; `None` when it is looked up.
pub fn not_checked_reason(pkg: &Package, os: Option<&OsInfo>) -> Option<String> {
    if target(pkg, os).is_some() {
        return None;
    }
    let eco = pkg.ecosystem.purl_type();
    if !pkg.ecosystem.is_os() {
        return Some(format!("no advisory source for {eco} packages"));
    }
    let Some(os) = os else {
        return Some(format!(
            "operating system not detected, so {eco} packages have no advisory source"
        ));
    };
    let fam = os.family.to_ascii_lowercase();
    let shown = format!("{} {}", os.family, os.version).trim().to_string();
    if let Some((_, name)) = DETECTED_WITHOUT_ADVISORIES.iter().find(|(f, _)| *f == fam) {
        return Some(format!(
            "{name} ({shown}) is detected but bulwark has no advisory source for it"
        ));
    }
    // The package type this family's advisories are for, as the matcher itself decides.
    let known = [Ecosystem::Deb, Ecosystem::Apk, Ecosystem::Rpm]
        .into_iter()
        .find(|e| os_target(&Package::new(*e, "-", "0", "-"), os).is_some())
        .map(Ecosystem::purl_type);
    Some(match known {
        Some(e) => {
            format!("{eco} packages on {shown} have no advisory source ({shown} uses {e})")
        }
        None if fam.is_empty() => {
            format!("unknown distribution: no advisory source for {eco} packages")
        }
        None => format!("unknown distribution {shown}: no advisory source for {eco} packages"),
    })
}

/// The packages of a report that no advisory source covers, and one
/// [`IncompleteReason`](bulwark_core::IncompleteReason) per distinct reason (with a count),
/// for the report's `not_checked` and `incomplete` lists. `in_db`, when given, names
/// the ecosystems (OSV base names) the DB holds advisories for: a package whose
/// ecosystem is mapped but absent from the DB (a DB imported from npm records only,
/// scanning a Debian image) was not checked either.
pub fn coverage_gaps(
    packages: &[Package],
    os: Option<&OsInfo>,
    in_db: Option<&std::collections::BTreeSet<String>>,
) -> (
    Vec<bulwark_core::NotChecked>,
    Vec<bulwark_core::IncompleteReason>,
) {
    let mut listed = Vec::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for p in packages {
        let missing_in_db = || {
            let (base, _, _) = osv_ecosystem_for(p, os)?;
            in_db.filter(|have| !have.contains(&base)).map(|_| {
                format!("the vulnerability DB holds no {base} advisories (import or update that source)")
            })
        };
        if let Some(reason) = not_checked_reason(p, os).or_else(missing_in_db) {
            *counts.entry(reason.clone()).or_default() += 1;
            listed.push(bulwark_core::NotChecked {
                name: p.name.clone(),
                version: p.version.clone(),
                purl: p.purl.clone(),
                reason,
            });
        }
    }
    let reasons = counts
        .into_iter()
        .map(|(reason, n)| bulwark_core::IncompleteReason {
            kind: bulwark_core::IncompleteKind::NotChecked,
            path: None,
            layer: None,
            message: format!("{n} package(s) not checked for vulnerabilities: {reason}"),
        })
        .collect();
    (listed, reasons)
}

fn major(v: &str) -> Option<String> {
    let m = v.split('.').next()?.trim();
    (!m.is_empty() && m.bytes().all(|b| b.is_ascii_digit())).then(|| m.to_string())
}

fn major_minor(v: &str) -> Option<String> {
    let mut it = v.split('.');
    let (a, b) = (it.next()?, it.next()?);
    let ok = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    (ok(a) && ok(b)).then(|| format!("{a}.{b}"))
}

/// Go versions in OSV have no `v`; the standard library's are Go releases without `go`
/// and with a full `major.minor.patch` (`go1.21` → `1.21.0`, `go1.21rc2` → `1.21.0-rc.2`).
fn go_version(name: &str, v: &str) -> String {
    let v = v.trim();
    if name != "stdlib" && name != "toolchain" {
        return v.strip_prefix('v').unwrap_or(v).to_string();
    }
    let v = v
        .strip_prefix("go")
        .or_else(|| v.strip_prefix('v'))
        .unwrap_or(v);
    let (core, pre) = match v.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (v.get(..i).unwrap_or(v), v.get(i..).unwrap_or("")),
        None => (v, ""),
    };
    let core = core.trim_end_matches('.');
    let mut parts: Vec<&str> = core.split('.').collect();
    while parts.len() < 3 {
        parts.push("0");
    }
    let mut out = parts.join(".");
    if !pre.is_empty() {
        let tag: String = pre
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        let num: String = pre.chars().skip(tag.len()).collect();
        out.push('-');
        out.push_str(&tag);
        if !num.is_empty() {
            out.push('.');
            out.push_str(&num);
        }
    }
    out
}

fn target(pkg: &Package, os: Option<&OsInfo>) -> Option<Target> {
    let lang = |base: &str, name: String, version: String| Target {
        base: base.to_string(),
        release: None,
        name,
        version,
    };
    Some(match pkg.ecosystem {
        Ecosystem::Pypi => lang("PyPI", normalize_pypi_name(&pkg.name), pkg.version.clone()),
        Ecosystem::Npm => lang("npm", pkg.name.clone(), pkg.version.clone()),
        Ecosystem::Cargo => lang("crates.io", pkg.name.clone(), pkg.version.clone()),
        Ecosystem::Golang => lang("Go", pkg.name.clone(), go_version(&pkg.name, &pkg.version)),
        Ecosystem::Maven => lang("Maven", pkg.name.clone(), pkg.version.clone()),
        Ecosystem::Gem => lang("RubyGems", pkg.name.clone(), pkg.version.clone()),
        Ecosystem::Nuget => lang("NuGet", pkg.name.clone(), pkg.version.clone()),
        Ecosystem::Composer => lang(
            "Packagist",
            pkg.name.to_ascii_lowercase(),
            pkg.version.clone(),
        ),
        Ecosystem::Pub => lang("Pub", pkg.name.clone(), pkg.version.clone()),
        Ecosystem::Hex => lang("Hex", pkg.name.clone(), pkg.version.clone()),
        Ecosystem::Swift => lang("SwiftURL", pkg.name.clone(), pkg.version.clone()),
        Ecosystem::Deb | Ecosystem::Apk | Ecosystem::Rpm => return os_target(pkg, os?),
        _ => return None,
    })
}

fn os_target(pkg: &Package, os: &OsInfo) -> Option<Target> {
    let src = pkg.source.as_ref().filter(|s| !s.name.is_empty());
    let src_name = src.map_or_else(|| pkg.name.clone(), |s| s.name.clone());
    let fam = os.family.to_ascii_lowercase();
    let (base, release, name, version) = match pkg.ecosystem {
        Ecosystem::Deb => {
            let version = src
                .filter(|s| !s.version.is_empty())
                .map_or_else(|| pkg.version.clone(), |s| s.version.clone());
            match fam.as_str() {
                "debian" => ("Debian", major(&os.version), src_name, version),
                "ubuntu" => ("Ubuntu", major_minor(&os.version), src_name, version),
                _ => return None,
            }
        }
        Ecosystem::Apk => match fam.as_str() {
            "alpine" => (
                "Alpine",
                major_minor(&os.version).map(|r| format!("v{r}")),
                src_name,
                pkg.version.clone(),
            ),
            "wolfi" => ("Wolfi", None, src_name, pkg.version.clone()),
            "chainguard" => ("Chainguard", None, src_name, pkg.version.clone()),
            _ => return None,
        },
        Ecosystem::Rpm => {
            let version = match pkg.epoch {
                Some(e) if !pkg.version.contains(':') => format!("{e}:{}", pkg.version),
                _ => pkg.version.clone(),
            };
            let name = pkg.name.clone();
            let (base, release) = match fam.as_str() {
                "rhel" | "centos" | "redhat" => ("Red Hat", major(&os.version)),
                "rocky" => ("Rocky Linux", major(&os.version)),
                "almalinux" | "alma" => ("AlmaLinux", major(&os.version)),
                "sles" | "sled" | "sle" | "sle-micro" | "suse" => {
                    let rel = match os.version.split_once('.') {
                        Some((m, sp)) if sp != "0" => format!("{m} SP{sp}"),
                        Some((m, _)) => m.to_string(),
                        None => os.version.clone(),
                    };
                    ("SUSE", Some(rel))
                }
                "opensuse-leap" => ("openSUSE", Some(format!("Leap {}", os.version))),
                "opensuse-tumbleweed" => ("openSUSE", Some("Tumbleweed".to_string())),
                "openeuler" => ("openEuler", Some(os.version.clone())),
                "photon" => (
                    "Photon OS",
                    major_minor(&os.version).or_else(|| major(&os.version)),
                ),
                "azurelinux" => (
                    "Azure Linux",
                    major_minor(&os.version).or_else(|| major(&os.version)),
                ),
                "mariner" | "cbl-mariner" => ("CBL-Mariner", major_minor(&os.version)),
                _ => return None,
            };
            (base, release, name, version)
        }
        _ => return None,
    };
    Some(Target {
        base: base.to_string(),
        release,
        name,
        version,
    })
}

/// Whether a record's `affected[].package.ecosystem` applies to the target's release.
fn ecosystem_applies(record_eco: &str, t: &Target) -> bool {
    let (rbase, rest) = match record_eco.split_once(':') {
        Some((b, r)) => (b, Some(r)),
        None => (record_eco, None),
    };
    if rbase != t.base {
        return false;
    }
    let Some(rest) = rest.filter(|r| !r.is_empty()) else {
        return true; // A bare ecosystem makes no release claim.
    };
    let Some(release) = t.release.as_deref() else {
        // Language ecosystems: the suffix names a repository (`Maven:https://…`).
        return !matches!(
            t.base.as_str(),
            "Debian"
                | "Ubuntu"
                | "Alpine"
                | "Red Hat"
                | "Rocky Linux"
                | "AlmaLinux"
                | "SUSE"
                | "openSUSE"
        );
    };
    match t.base.as_str() {
        "Ubuntu" => {
            let tokens: Vec<&str> = rest.split(':').collect();
            let fips = tokens.iter().any(|t| t.starts_with("FIPS"));
            let rel_ok = tokens.contains(&release);
            let other = tokens.iter().any(|tok| {
                !matches!(*tok, "Pro" | "LTS") && !tok.starts_with("FIPS") && *tok != release
            });
            let v = t.version.to_ascii_lowercase();
            rel_ok && !other && (!fips || v.contains("fips"))
        }
        "Red Hat" => rest
            .split(':')
            .nth(1)
            .and_then(major)
            .is_some_and(|m| m == release),
        "Rocky Linux" | "AlmaLinux" => major(rest).is_some_and(|m| m == release),
        "SUSE" | "openSUSE" => rest == release || rest.ends_with(&format!(" {release}")),
        _ => rest == release,
    }
}

/// Whether a record's package name names the target. PyPI compares PEP 503 names;
/// NuGet and Packagist ids are case-insensitive. Go module paths are case-sensitive,
/// but bulwark compares them ignoring ASCII case: SBOM writers that follow the old purl
/// rule lower-case the namespace (`github.com/0xjacky/Nginx-UI`), and the hosts that
/// serve modules (GitHub, GitLab) treat paths that differ only in case as one
/// repository.
fn names_equal(base: &str, record_name: &str, name: &str) -> bool {
    match base {
        "PyPI" => normalize_pypi_name(record_name) == name,
        "NuGet" | "Packagist" | "Go" => record_name.eq_ignore_ascii_case(name),
        _ => record_name == name,
    }
}

/// Whether a record is withdrawn at `now`. OSV's `withdrawn` is the time the record
/// stops being in force: a time in the future leaves it in force until then. A value
/// that is not an RFC 3339 time still says the record was withdrawn, so it hides it.
pub fn is_withdrawn(record: &OsvRecord, now: SystemTime) -> bool {
    let Some(w) = record.withdrawn.as_deref() else {
        return false;
    };
    match OffsetDateTime::parse(w.trim(), &Rfc3339) {
        Ok(t) => t <= OffsetDateTime::from(now),
        Err(e) => {
            tracing::debug!(record = %record.id, "withdrawn time {w:?} does not parse ({e}); treated as withdrawn");
            true
        }
    }
}

/// Counters gathered while evaluating one package.
#[derive(Default)]
struct Tally {
    skipped_git: usize,
    unparsable: usize,
}

/// The installed version parsed under a scheme, cached per scheme.
struct Installed<'a> {
    raw: &'a str,
    cache: BTreeMap<Scheme, Option<Version>>,
}

impl Installed<'_> {
    fn get(&mut self, scheme: Scheme, tally: &mut Tally) -> Option<Version> {
        let raw = self.raw;
        if let Some(v) = self.cache.get(&scheme) {
            return v.clone();
        }
        // SEMVER ranges hold bare SemVer; installed versions may carry a `v` (Go, loose
        // npm) that plain SemVer rejects.
        let text = if scheme == Scheme::Semver {
            raw.trim().trim_start_matches(['=', 'v'])
        } else {
            raw
        };
        let parsed = match parse(scheme, text) {
            Ok(v) => Some(v),
            Err(e) => {
                tally.unparsable += 1;
                tracing::debug!("installed version does not parse: {e}");
                None
            }
        };
        self.cache.insert(scheme, parsed.clone());
        parsed
    }
}

/// A parsed event: `None` version = `introduced: "0"` (below everything).
enum Ev {
    Introduced(Option<Version>),
    Fixed(Version, String),
    LastAffected(Version),
}

impl Ev {
    fn key(&self) -> Option<&Version> {
        match self {
            Ev::Introduced(v) => v.as_ref(),
            Ev::Fixed(v, _) | Ev::LastAffected(v) => Some(v),
        }
    }
}

/// Evaluates one range; `Some(fixes above installed)` when the version is inside it.
fn eval_range(
    range: &Range,
    scheme: Scheme,
    installed: &Version,
    record: &str,
    tally: &mut Tally,
) -> Option<Vec<(Version, String)>> {
    let mut events: Vec<Ev> = Vec::with_capacity(range.events.len());
    let mut limits: Vec<Version> = Vec::new();
    let mut unlimited = false;
    let parse_ev = |s: &str| -> Option<Version> {
        match parse(scheme, s.trim()) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!(record, "range event does not parse, range skipped: {e}");
                None
            }
        }
    };
    for e in &range.events {
        let ev = match e {
            Event::Introduced(s) if s.trim() == "0" => Ev::Introduced(None),
            Event::Introduced(s) => Ev::Introduced(Some(parse_ev(s).or_else(|| {
                tally.unparsable += 1;
                None
            })?)),
            Event::Fixed(s) => {
                let Some(v) = parse_ev(s) else {
                    tally.unparsable += 1;
                    return None;
                };
                Ev::Fixed(v, s.trim().to_string())
            }
            Event::LastAffected(s) => {
                let Some(v) = parse_ev(s) else {
                    tally.unparsable += 1;
                    return None;
                };
                Ev::LastAffected(v)
            }
            Event::Limit(s) if s.trim() == "*" => {
                unlimited = true;
                continue;
            }
            Event::Limit(s) => {
                let Some(v) = parse_ev(s) else {
                    tally.unparsable += 1;
                    return None;
                };
                limits.push(v);
                continue;
            }
        };
        events.push(ev);
    }
    // Every decision below asks the scheme's own pairwise answer (`native_cmp`);
    // only the sort uses the total order, since Maven's own comparison is not one
    // and Rust's sort may panic on a comparator that is not a total order.
    let below = |v: &Version| installed.native_cmp(v) == Ordering::Less;
    let before_limits = limits.is_empty() || unlimited || limits.iter().any(below);
    if !before_limits {
        return None;
    }
    events.sort_by(|a, b| match (a.key(), b.key()) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => x.cmp(y),
    });
    let mut vulnerable = false;
    for ev in &events {
        match ev {
            Ev::Introduced(None) => vulnerable = true,
            Ev::Introduced(Some(v)) if !below(v) => vulnerable = true,
            Ev::Fixed(v, _) if !below(v) => vulnerable = false,
            Ev::LastAffected(v) if installed.native_cmp(v) == Ordering::Greater => {
                vulnerable = false
            }
            _ => {}
        }
    }
    if !vulnerable {
        return None;
    }
    Some(
        events
            .into_iter()
            .filter_map(|ev| match ev {
                Ev::Fixed(v, s) if below(&v) => Some((v, s)),
                _ => None,
            })
            .collect(),
    )
}

/// Result of one affected entry.
struct EntryHit {
    fixes: Vec<(Version, String)>,
}

fn eval_entry(
    entry: &Affected,
    eco_scheme: Option<Scheme>,
    installed: &mut Installed<'_>,
    record: &str,
    tally: &mut Tally,
) -> Option<EntryHit> {
    let mut hit: Option<EntryHit> = None;
    for range in &entry.ranges {
        let scheme = match range.kind {
            RangeType::Ecosystem => match eco_scheme {
                Some(s) => s,
                None => {
                    tally.unparsable += 1;
                    continue;
                }
            },
            RangeType::Semver => Scheme::Semver,
            RangeType::Git | RangeType::Other => {
                tally.skipped_git += 1;
                continue;
            }
        };
        let Some(inst) = installed.get(scheme, tally) else {
            continue;
        };
        if let Some(fixes) = eval_range(range, scheme, &inst, record, tally) {
            hit.get_or_insert(EntryHit { fixes: Vec::new() })
                .fixes
                .extend(fixes);
        }
    }
    if hit.is_none() && !entry.versions.is_empty() {
        let raw = installed.raw;
        let listed = entry.versions.iter().any(|v| v == raw)
            || eco_scheme.is_some_and(|s| {
                let inst = installed.get(s, tally);
                inst.is_some_and(|i| {
                    entry
                        .versions
                        .iter()
                        .any(|v| parse(s, v).is_ok_and(|p| p.native_cmp(&i) == Ordering::Equal))
                })
            });
        if listed {
            hit = Some(EntryHit { fixes: Vec::new() });
        }
    }
    hit
}

/// The status a distro states for an unfixed entry (`end-of-life` urgency, `will not
/// fix`, `deferred`…), when it states one.
fn distro_status(entries: &[&Affected]) -> Option<FixStatus> {
    for e in entries {
        for v in [e.ecosystem_specific.as_ref(), e.database_specific.as_ref()]
            .into_iter()
            .flatten()
        {
            for key in ["urgency", "status", "fix_state", "state"] {
                let Some(s) = v.get(key).and_then(|s| s.as_str()) else {
                    continue;
                };
                let s = s.to_ascii_lowercase().replace(['_', '-'], " ");
                let st = match s.trim() {
                    "end of life" => FixStatus::EndOfLife,
                    "will not fix" | "wont fix" | "ignored" | "out of support scope" => {
                        FixStatus::WillNotFix
                    }
                    "fix deferred" | "deferred" | "postponed" => FixStatus::FixDeferred,
                    "under investigation" | "needs triage" => FixStatus::UnderInvestigation,
                    _ => continue,
                };
                return Some(st);
            }
        }
    }
    None
}

/// The CVE an id embeds (`DEBIAN-CVE-2024-1`, `UBUNTU-CVE-…`, `ALPINE-CVE-…`).
fn embedded_cve(id: &str) -> Option<&str> {
    let i = id.find("CVE-")?;
    (i > 0).then(|| id.get(i..)).flatten()
}

/// Ids that name the same vulnerability as the record: its id, `aliases`, and the CVE of
/// `upstream` when it names exactly one CVE (a DSA fixing five CVEs is not any one of
/// them). `related` is deliberately not used: related ids are different vulnerabilities.
pub fn identity_ids(record: &OsvRecord) -> Vec<String> {
    let mut ids = vec![record.id.clone()];
    ids.extend(record.aliases.iter().cloned());
    let up_cves: Vec<&String> = record
        .upstream
        .iter()
        .filter(|u| u.starts_with("CVE-"))
        .collect();
    if up_cves.len() <= 1 {
        ids.extend(record.upstream.iter().cloned());
    } else {
        ids.extend(
            record
                .upstream
                .iter()
                .filter(|u| !u.starts_with("CVE-"))
                .cloned(),
        );
    }
    if let Some(c) = embedded_cve(&record.id) {
        ids.push(c.to_string());
    }
    let mut seen = std::collections::BTreeSet::new();
    ids.retain(|i| seen.insert(i.clone()));
    ids
}

/// The CVE among ids when there is exactly one, else the first id.
fn primary_of(ids: &[String]) -> String {
    let cves: std::collections::BTreeSet<&String> =
        ids.iter().filter(|i| i.starts_with("CVE-")).collect();
    if cves.len() == 1 {
        if let Some(c) = cves.into_iter().next() {
            return c.clone();
        }
    }
    ids.first().cloned().unwrap_or_default()
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", s.get(..end).unwrap_or(""))
}

/// Matches one package against candidate records (normally those the store returned for
/// its ecosystem and name) with OSV's semantics; see the module docs for the decisions.
pub fn match_package(pkg: &Package, os: Option<&OsInfo>, records: &[OsvRecord]) -> MatchOutcome {
    match_package_at(pkg, os, records, SystemTime::now())
}

/// [`match_package`] at a given time: records withdrawn at or before `now` are ignored
/// ([`is_withdrawn`]).
pub fn match_package_at(
    pkg: &Package,
    os: Option<&OsInfo>,
    records: &[OsvRecord],
    now: SystemTime,
) -> MatchOutcome {
    let mut out = MatchOutcome::default();
    let Some(t) = target(pkg, os) else {
        return out;
    };
    let mut tally = Tally::default();
    let mut installed = Installed {
        raw: t.version.as_str(),
        cache: BTreeMap::new(),
    };
    for record in records {
        if is_withdrawn(record, now) {
            out.withdrawn += 1;
            continue;
        }
        let mut entries: Vec<&Affected> = Vec::new();
        let mut fixes: Vec<(Version, String)> = Vec::new();
        for entry in &record.affected {
            let Some(p) = entry.package.as_ref() else {
                continue;
            };
            if !ecosystem_applies(&p.ecosystem, &t) || !names_equal(&t.base, &p.name, &t.name) {
                continue;
            }
            let scheme = Scheme::for_osv_ecosystem(&p.ecosystem);
            if let Some(hit) = eval_entry(entry, scheme, &mut installed, &record.id, &mut tally) {
                entries.push(entry);
                fixes.extend(hit.fixes);
            }
        }
        if entries.is_empty() {
            continue;
        }
        fixes.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        fixes.dedup_by(|a, b| a.0 == b.0);
        let fixed_versions: Vec<String> = fixes.into_iter().map(|(_, s)| s).collect();
        let status = if !fixed_versions.is_empty() {
            FixStatus::Fixed
        } else {
            distro_status(&entries).unwrap_or(FixStatus::Affected)
        };
        let assessment = severity::assess(record, &entries, pkg.is_os());
        let ids = identity_ids(record);
        let id = primary_of(&ids);
        let aliases = ids.into_iter().filter(|i| *i != id).collect();
        let title = record
            .summary
            .clone()
            .filter(|s| !s.trim().is_empty())
            .or_else(|| {
                record
                    .details
                    .as_deref()
                    .and_then(|d| d.lines().find(|l| !l.trim().is_empty()))
                    .map(|l| truncate(l.trim(), 200))
            })
            .unwrap_or_default();
        out.findings.push(VulnFinding {
            id,
            aliases,
            package: pkg.name.clone(),
            purl: pkg.purl.clone(),
            installed_version: pkg.version.clone(),
            fixed_versions,
            status,
            severity: assessment.severity,
            severity_source: assessment.source,
            cvss: assessment.cvss,
            title,
            description: record
                .details
                .as_deref()
                .map(|d| truncate(d, MAX_DESCRIPTION))
                .unwrap_or_default(),
            references: record.references.iter().map(|r| r.url.clone()).collect(),
            kev: false,
            epss: None,
            path: pkg.locations.first().map(|l| l.path.clone()),
            layer: pkg.locations.first().and_then(|l| l.layer_digest.clone()),
            suppressed: None,
        });
    }
    out.skipped_git = tally.skipped_git;
    out.unparsable = tally.unparsable;
    out
}

/// The version scheme of a purl type, for ordering merged fixed versions.
fn scheme_for_purl(purl: &str) -> Option<Scheme> {
    let ty = purl.strip_prefix("pkg:")?.split('/').next()?;
    Some(match ty {
        "deb" => Scheme::Dpkg,
        "rpm" => Scheme::Rpm,
        "apk" => Scheme::Apk,
        "pypi" => Scheme::Pep440,
        "npm" => Scheme::Npm,
        "cargo" => Scheme::Cargo,
        "golang" => Scheme::Semver,
        "maven" => Scheme::Maven,
        "gem" => Scheme::RubyGems,
        "nuget" => Scheme::NuGet,
        "composer" => Scheme::Composer,
        _ => return None,
    })
}

fn sort_versions(versions: &mut Vec<String>, scheme: Option<Scheme>) {
    versions.sort();
    versions.dedup();
    if let Some(s) = scheme {
        versions.sort_by(|a, b| match (parse(s, a), parse(s, b)) {
            (Ok(x), Ok(y)) => x.cmp(&y).then_with(|| a.cmp(b)),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            (Err(_), Err(_)) => a.cmp(b),
        });
    }
}

fn status_rank(s: FixStatus) -> u8 {
    match s {
        FixStatus::Fixed => 5,
        FixStatus::WillNotFix => 4,
        FixStatus::EndOfLife => 3,
        FixStatus::FixDeferred => 2,
        FixStatus::UnderInvestigation => 1,
        FixStatus::Affected => 0,
    }
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    // Iterative with path halving: no recursion on input-sized structures.
    while let Some(&p) = parent.get(i) {
        if p == i {
            break;
        }
        let gp = parent.get(p).copied().unwrap_or(p);
        if let Some(slot) = parent.get_mut(i) {
            *slot = gp;
        }
        i = gp;
    }
    i
}

/// Merges findings for the same package (purl + installed version) whose ids alias each
/// other (through `aliases` and single-CVE `upstream`, as carried in each finding's
/// `id`/`aliases`) into one finding: the CVE as primary id, all other ids as aliases,
/// fixed versions unioned (lowest first), the distro's severity kept when one finding has
/// it, else the most severe, CVSS and references unioned, KEV/EPSS combined.
pub fn merge_findings(findings: Vec<VulnFinding>) -> Vec<VulnFinding> {
    let n = findings.len();
    let mut parent: Vec<usize> = (0..n).collect();
    let mut owner: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for (i, f) in findings.iter().enumerate() {
        for id in std::iter::once(&f.id).chain(f.aliases.iter()) {
            let key = (f.purl.clone(), f.installed_version.clone(), id.clone());
            match owner.get(&key) {
                Some(&j) => {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    if let Some(slot) = parent.get_mut(a) {
                        *slot = b;
                    }
                }
                None => {
                    owner.insert(key, i);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<VulnFinding>> = BTreeMap::new();
    for (i, f) in findings.into_iter().enumerate() {
        let root = find(&mut parent, i);
        groups.entry(root).or_default().push(f);
    }
    let mut out: Vec<VulnFinding> = groups.into_values().filter_map(merge_group).collect();
    out.sort_by(|a, b| {
        (&a.purl, &a.installed_version, &a.id).cmp(&(&b.purl, &b.installed_version, &b.id))
    });
    out
}

fn merge_group(group: Vec<VulnFinding>) -> Option<VulnFinding> {
    let mut it = group.into_iter();
    let mut m = it.next()?;
    let mut ids: Vec<String> = std::iter::once(m.id.clone())
        .chain(m.aliases.drain(..))
        .collect();
    for f in it {
        ids.push(f.id);
        ids.extend(f.aliases);
        m.fixed_versions.extend(f.fixed_versions);
        if status_rank(f.status) > status_rank(m.status) {
            m.status = f.status;
        }
        let f_distro = is_distro_source(f.severity_source.as_deref());
        let m_distro = is_distro_source(m.severity_source.as_deref());
        let better = match (f_distro, m_distro) {
            (true, false) => true,
            (false, true) => false,
            _ => f.severity > m.severity,
        };
        if better {
            m.severity = f.severity;
            m.severity_source = f.severity_source;
        }
        for c in f.cvss {
            if !m.cvss.iter().any(|x| x.vector == c.vector) {
                m.cvss.push(c);
            }
        }
        if m.title.is_empty() {
            m.title = f.title;
        }
        if m.description.is_empty() {
            m.description = f.description;
        }
        for r in f.references {
            if !m.references.contains(&r) {
                m.references.push(r);
            }
        }
        m.kev |= f.kev;
        m.epss = match (m.epss, f.epss) {
            (Some(a), Some(b)) => Some(if b.0 > a.0 { b } else { a }),
            (a, b) => a.or(b),
        };
        if m.suppressed.is_none() {
            m.suppressed = f.suppressed;
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    ids.retain(|i| seen.insert(i.clone()));
    let id = {
        let cves: Vec<&String> = ids.iter().filter(|i| i.starts_with("CVE-")).collect();
        match cves.as_slice() {
            [one] => (*one).clone(),
            _ => m.id.clone(),
        }
    };
    let mut aliases: Vec<String> = ids.into_iter().filter(|i| *i != id).collect();
    aliases.sort();
    m.id = id;
    m.aliases = aliases;
    sort_versions(&mut m.fixed_versions, scheme_for_purl(&m.purl));
    if !m.fixed_versions.is_empty() {
        m.status = FixStatus::Fixed;
    }
    if m.severity == Severity::Unknown && m.severity_source.is_some() {
        m.severity_source = None;
    }
    Some(m)
}

/// Attaches CISA KEV membership and EPSS scores by CVE: `kev(cve)` and `epss(cve)` are
/// asked for the primary id and every CVE alias; any KEV hit sets `kev`, the highest EPSS
/// probability wins.
pub fn attach_enrichment(
    findings: &mut [VulnFinding],
    kev: impl Fn(&str) -> bool,
    epss: impl Fn(&str) -> Option<(f64, f64)>,
) {
    for f in findings {
        let cves: Vec<String> = std::iter::once(&f.id)
            .chain(f.aliases.iter())
            .filter(|i| i.starts_with("CVE-"))
            .cloned()
            .collect();
        for c in &cves {
            f.kev |= kev(c);
            if let Some(e) = epss(c) {
                if f.epss.is_none_or(|cur| e.0 > cur.0) {
                    f.epss = Some(e);
                }
            }
        }
    }
}

/// [`attach_enrichment`] from `db`'s KEV and EPSS tables. A failed lookup is logged and
/// leaves that finding unenriched: the findings themselves are complete without it.
pub fn enrich_from_db(db: &crate::VulnDb, findings: &mut [VulnFinding]) {
    attach_enrichment(
        findings,
        |cve| match db.kev(cve) {
            Ok(k) => k.is_some(),
            Err(e) => {
                tracing::warn!("KEV lookup for {cve}: {e}");
                false
            }
        },
        |cve| match db.epss(cve) {
            Ok(s) => s.map(|s| (s.score, s.percentile)),
            Err(e) => {
                tracing::warn!("EPSS lookup for {cve}: {e}");
                None
            }
        },
    );
}

/// Matches packages against a DB with a per-(ecosystem, name) record cache: the lookup
/// `bulwark scan` does ([`osv_ecosystem_for`], [`VulnDb::records_for`](crate::VulnDb::records_for),
/// [`match_package`], [`merge_findings`]), for callers that match package by package
/// (the server, on upload and on each feed delta).
pub struct Matcher<'a> {
    db: &'a crate::VulnDb,
    cache: std::collections::HashMap<(String, String), Vec<OsvRecord>>,
}

impl<'a> Matcher<'a> {
    /// A matcher reading `db`.
    pub fn new(db: &'a crate::VulnDb) -> Self {
        Matcher {
            db,
            cache: std::collections::HashMap::new(),
        }
    }

    /// The merged findings of one package, with KEV and EPSS attached (empty when OSV
    /// has no ecosystem for it).
    pub fn match_one(
        &mut self,
        pkg: &Package,
        os: Option<&OsInfo>,
    ) -> crate::Result<Vec<VulnFinding>> {
        let Some((base, _release, name)) = osv_ecosystem_for(pkg, os) else {
            return Ok(Vec::new());
        };
        let key = (base, name);
        if !self.cache.contains_key(&key) {
            let recs = self.db.records_for(&key.0, &key.1)?;
            self.cache.insert(key.clone(), recs);
        }
        let records = self.cache.get(&key).map(Vec::as_slice).unwrap_or(&[]);
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let mut merged = merge_findings(match_package(pkg, os, records).findings);
        enrich_from_db(self.db, &mut merged);
        Ok(merged)
    }
}
