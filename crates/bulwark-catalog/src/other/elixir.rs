//! Elixir's `mix.lock`: an Elixir map literal with one dependency per line,
//! `"name": {:hex, :package, "version", "checksum", [...], [...], "repo", "checksum"},`.
//! Only the leading fields of each tuple are needed, so lines are scanned rather than
//! evaluating the Elixir term.

use super::support::{dedup, utf8};
use crate::CatalogError;
use bulwark_core::{Ecosystem, Package};

const FORMAT: &str = "mix.lock";

/// Parses a `mix.lock`. Dependencies fetched from git or a path (`{:git, ...}`) have no
/// registry version and are skipped.
pub fn parse(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let text = utf8(data, FORMAT)?;
    let mut out = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || matches!(line, "%{" | "}") || line.starts_with('#') {
            continue;
        }
        let err = |msg: &str| CatalogError::Parse {
            format: FORMAT,
            line: Some(idx + 1),
            message: msg.to_string(),
        };
        let Some((_key, rest)) = line.split_once("\": {") else {
            return Err(err("expected `\"name\": {...}`"));
        };
        let mut fields = rest.splitn(4, ',').map(str::trim);
        let scm = fields.next().unwrap_or_default();
        if scm != ":hex" {
            continue;
        }
        let name = fields
            .next()
            .and_then(|a| a.strip_prefix(':'))
            .map(|a| a.trim_matches('"'))
            .filter(|a| !a.is_empty())
            .ok_or_else(|| err("hex entry without a package atom"))?;
        let version = fields
            .next()
            .and_then(|v| v.strip_prefix('"')?.strip_suffix('"'))
            .filter(|v| !v.is_empty())
            .ok_or_else(|| err("hex entry without a version string"))?;
        out.push(Package::new(Ecosystem::Hex, name, version, "mix-lock"));
    }
    Ok(dedup(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::other::expected::*;

    #[test]
    fn mix_lock_matches_expected() {
        let _fixtures = bulwark_fixtures::fixtures_or_skip!();
        let rel = "elixir/happy.mix.lock";
        let pkgs = parse(&fixture(rel)).unwrap();
        assert_eq!(our_nv(&pkgs), nv(&expected_packages(rel)));
    }

    #[test]
    fn mix_lock_errors_have_lines() {
        let err = parse(b"%{\n  \"a\": {:hex, :a, 1.0},\n}\n").unwrap_err();
        assert!(
            matches!(err, CatalogError::Parse { line: Some(2), .. }),
            "{err}"
        );
        let err = parse(b"%{\n\n  garbage\n}\n").unwrap_err();
        assert!(
            matches!(err, CatalogError::Parse { line: Some(3), .. }),
            "{err}"
        );
    }
}
