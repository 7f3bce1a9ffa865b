//! Bundler's `Gemfile.lock`: the `specs:` lists of the `GEM`, `GIT` and `PATH` sections
//! name every resolved gem as `name (version)` at four spaces of indentation; six-space
//! lines below them are that gem's own requirements and are not packages.

use crate::other::support::{dedup, utf8};
use crate::CatalogError;
use bulwark_core::{Ecosystem, Package};

const FORMAT: &str = "Gemfile.lock";

/// Parses a `Gemfile.lock`.
///
/// Unknown sections and lines outside `specs:` lists are ignored (Bundler adds sections
/// over time); a spec line that is not `name (version)` is an error.
pub fn parse(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let text = utf8(data, FORMAT)?;
    let mut in_source_section = false;
    let mut in_specs = false;
    let mut pkgs = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start_matches(' ').len();
        if indent == 0 {
            in_source_section = matches!(line.trim(), "GEM" | "GIT" | "PATH");
            in_specs = false;
            continue;
        }
        if !in_source_section {
            continue;
        }
        if indent == 2 {
            in_specs = line.trim() == "specs:";
            continue;
        }
        if indent != 4 || !in_specs {
            continue;
        }
        let lineno = idx + 1;
        let (name, version) = spec_line(line.trim()).ok_or_else(|| CatalogError::Parse {
            format: FORMAT,
            line: Some(lineno),
            message: format!(
                "expected `name (version)` in specs, found {:?}",
                line.trim()
            ),
        })?;
        pkgs.push(Package::new(Ecosystem::Gem, name, version, "gemfile-lock"));
    }
    Ok(dedup(pkgs))
}

/// Splits `name (version)`, dropping a platform suffix (`1.13.1-x86_64-linux` is gem
/// 1.13.1 built for a platform; RubyGems versions never contain `-` themselves).
fn spec_line(s: &str) -> Option<(&str, &str)> {
    let (name, rest) = s.split_once(' ')?;
    let version = rest.trim().strip_prefix('(')?.strip_suffix(')')?.trim();
    let version = version.split('-').next().unwrap_or(version);
    if name.is_empty() || version.is_empty() || version.contains(char::is_whitespace) {
        return None;
    }
    Some((name, version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::other::expected::*;

    fn check(rel: &str) {
        let pkgs = parse(&fixture(rel)).expect("parses");
        assert_eq!(our_nv(&pkgs), nv(&expected_packages(rel)), "{rel}");
        assert!(pkgs.iter().all(|p| p.found_by == "gemfile-lock" && !p.dev));
    }

    #[test]
    fn gemfile_lock_normal_matches_expected() {
        let _fixtures = bulwark_fixtures::fixtures_or_skip!();
        check("ruby/bundler/Gemfile_normal.lock");
    }

    #[test]
    fn gemfile_lock_bundler2_matches_expected() {
        let _fixtures = bulwark_fixtures::fixtures_or_skip!();
        check("ruby/bundler/Gemfile_bundler2.lock");
    }

    #[test]
    fn gemfile_lock_malformed_yields_nothing() {
        let _fixtures = bulwark_fixtures::fixtures_or_skip!();
        // Trivy expects no error and no packages for this file; so do we.
        check("ruby/bundler/Gemfile_malformed.lock");
        assert!(expected_packages("ruby/bundler/Gemfile_malformed.lock").is_empty());
    }

    #[test]
    fn gemfile_lock_platform_suffix_git_and_bad_spec() {
        let lock = b"GIT\n  remote: https://x\n  specs:\n    mygem (0.1.0)\n\nGEM\n  specs:\n    nokogiri (1.13.1-x86_64-linux)\n    nokogiri (1.13.1-arm64-darwin)\n      racc (~> 1.4)\n\nDEPENDENCIES\n  nokogiri\n";
        let pkgs = parse(lock).unwrap();
        let got: Vec<_> = pkgs
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(got, [("mygem", "0.1.0"), ("nokogiri", "1.13.1")]);

        let err = parse(b"GEM\n  specs:\n    broken\n").unwrap_err();
        assert!(
            matches!(err, CatalogError::Parse { line: Some(3), .. }),
            "{err}"
        );
    }
}
