//! Swift Package Manager's `Package.resolved`: v1 (`object.pins` with `repositoryURL`)
//! and v2/v3 (`pins` with `location`). Packages are named by repository URL without
//! scheme or `.git` (`github.com/apple/swift-log`), the identity advisories use.

use super::support::json;
use crate::CatalogError;
use bulwark_core::{Ecosystem, Package};
use serde::Deserialize;

#[derive(Deserialize)]
struct Resolved {
    #[serde(default)]
    object: Option<Pins>,
    #[serde(default)]
    pins: Vec<Pin>,
}

#[derive(Deserialize)]
struct Pins {
    #[serde(default)]
    pins: Vec<Pin>,
}

#[derive(Deserialize)]
struct Pin {
    #[serde(rename = "repositoryURL", default)]
    repository_url: Option<String>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    state: State,
}

#[derive(Deserialize, Default)]
struct State {
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    branch: Option<String>,
}

/// `https://github.com/Quick/Nimble.git` → `github.com/Quick/Nimble`; also handles
/// `git@host:owner/repo` and `ssh://` forms.
pub fn repo_name(url: &str) -> String {
    let u = url.trim();
    let u = u.split_once("://").map_or(u, |(_, rest)| rest);
    let u = u.rsplit_once('@').map_or(u, |(_, rest)| rest);
    let u = u.trim_end_matches('/');
    let u = u.strip_suffix(".git").unwrap_or(u);
    // scp-like `host:owner/repo`; a `:port/` after a host in URL form is rare for SwiftPM.
    match u.split_once(':') {
        Some((host, path)) if !host.contains('/') => format!("{host}/{path}"),
        _ => u.to_string(),
    }
}

/// Parses a `Package.resolved`. A pin on a branch has no version; the branch name is used
/// instead (as Trivy does), and a pin on a bare revision gets an empty version.
pub fn parse(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let r: Resolved = json(data, "Package.resolved")?;
    let pins = r
        .object
        .map(|o| o.pins)
        .unwrap_or_default()
        .into_iter()
        .chain(r.pins);
    let mut out = Vec::new();
    for pin in pins {
        let Some(url) = pin
            .repository_url
            .or(pin.location)
            .filter(|u| !u.trim().is_empty())
        else {
            return Err(CatalogError::parse(
                "Package.resolved",
                "pin without a repository URL",
            ));
        };
        let version = pin.state.version.or(pin.state.branch).unwrap_or_default();
        out.push(Package::new(
            Ecosystem::Swift,
            repo_name(&url),
            version,
            "swift-resolved",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::other::expected::*;

    #[test]
    fn swift_resolved_fixtures_match_expected() {
        let _fixtures = bulwark_fixtures::fixtures_or_skip!();
        for f in ["happy-v1-Package.resolved", "happy-v2-Package.resolved"] {
            let rel = format!("swift/{f}");
            let pkgs = parse(&fixture(&rel)).unwrap();
            assert_eq!(our_nv(&pkgs), nv(&expected_packages(&rel)), "{rel}");
        }
    }

    #[test]
    fn swift_repo_names_and_errors() {
        assert_eq!(
            repo_name("git@github.com:apple/swift-log.git"),
            "github.com/apple/swift-log"
        );
        assert_eq!(
            repo_name("https://github.com/apple/swift-nio/"),
            "github.com/apple/swift-nio"
        );
        assert!(parse(br#"{"pins":[{"state":{}}]}"#).is_err());
        assert!(parse(b"{\"pins\": [").is_err());
    }
}
