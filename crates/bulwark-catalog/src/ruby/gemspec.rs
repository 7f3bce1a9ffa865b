//! Installed gem specifications (`<gem home>/specifications/<name>-<version>.gemspec`).
//!
//! These are Ruby source files that RubyGems generates with a fixed shape:
//! `Gem::Specification.new do |s|` followed by one `s.attr = literal` per line. Ruby is
//! not evaluated; each line is matched against that shape, with string literals that may
//! carry `.freeze` and versions that may be wrapped in `Gem::Version.new(...)`.

use crate::other::support::utf8;
use crate::CatalogError;
use bulwark_core::{Ecosystem, Package};

const FORMAT: &str = "gemspec";

/// Parses an installed gemspec into its one package.
pub fn parse(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let text = utf8(data, FORMAT)?;
    let receiver = block_variable(text);
    let mut name: Option<String> = None;
    let mut version: Option<String> = None;
    let mut licenses: Option<Vec<String>> = None;
    for (idx, line) in text.lines().enumerate() {
        let Some((attr, value)) = assignment(line.trim(), receiver.as_deref()) else {
            continue;
        };
        let lineno = idx + 1;
        let literal = |what: &str| {
            string_expr(value).ok_or_else(|| CatalogError::Parse {
                format: FORMAT,
                line: Some(lineno),
                message: format!("{what} is not a string literal: {value:?}"),
            })
        };
        match attr {
            "name" if name.is_none() => name = Some(literal("name")?),
            "version" if version.is_none() => version = Some(literal("version")?),
            // `license = "MIT"` is one licence; `licenses` must be an array. A plain
            // string assigned to `licenses` is a spec error and is ignored, as RubyGems'
            // own loader would reject it.
            "license" if licenses.is_none() => {
                licenses = string_expr(value).map(|l| vec![l]);
            }
            "licenses" if licenses.is_none() => licenses = string_array(value),
            _ => {}
        }
    }
    let missing = |what: &str| CatalogError::parse(FORMAT, format!("no `{what}` assignment found"));
    let name = name.ok_or_else(|| missing("name"))?;
    let version = version.ok_or_else(|| missing("version"))?;
    if name.is_empty() || version.is_empty() {
        return Err(CatalogError::parse(FORMAT, "empty name or version"));
    }
    let mut pkg = Package::new(Ecosystem::Gem, name, version, "gemspec");
    pkg.licenses = licenses
        .unwrap_or_default()
        .into_iter()
        .filter(|l| !l.is_empty())
        .collect();
    Ok(vec![pkg])
}

/// The block parameter of `Gem::Specification.new do |s|`, if the file has one.
fn block_variable(text: &str) -> Option<String> {
    let line = text
        .lines()
        .find(|l| l.contains("Gem::Specification.new"))?;
    let (_, after) = line.split_once('|')?;
    let (var, _) = after.split_once('|')?;
    let var = var.trim();
    is_ident(var).then(|| var.to_string())
}

fn is_ident(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Splits `recv.attr = value`, requiring `recv` to be the block variable when known.
fn assignment<'a>(line: &'a str, receiver: Option<&str>) -> Option<(&'a str, &'a str)> {
    let (recv, rest) = line.split_once('.')?;
    if !is_ident(recv) || receiver.is_some_and(|r| r != recv) {
        return None;
    }
    let attr_len = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    let (attr, rest) = rest.split_at(attr_len);
    let rest = rest.trim_start().strip_prefix('=')?;
    if rest.starts_with('=') || rest.starts_with('~') {
        return None;
    }
    Some((attr, rest.trim()))
}

/// Reads a string literal at the start of `s`, returning it and the rest.
fn string_literal(s: &str) -> Option<(String, &str)> {
    let mut chars = s.char_indices();
    let (_, quote) = chars.next()?;
    if quote != '"' && quote != '\'' {
        return None;
    }
    let mut out = String::new();
    let mut escaped = false;
    for (i, c) in chars {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == quote {
            return Some((out, s.get(i + 1..).unwrap_or_default()));
        } else if quote == '"' && c == '#' && s.get(i + 1..).is_some_and(|r| r.starts_with('{')) {
            // Interpolation cannot be resolved without running Ruby.
            return None;
        } else {
            out.push(c);
        }
    }
    None
}

/// A string literal with an optional `.freeze`, optionally wrapped in
/// `Gem::Version.new(...)`, followed by nothing, a comment or a statement modifier.
fn string_expr(s: &str) -> Option<String> {
    let (value, rest) = one_string(s.trim())?;
    trailing_ok(rest).then_some(value)
}

fn one_string(s: &str) -> Option<(String, &str)> {
    if let Some(inner) = s.strip_prefix("Gem::Version.new(") {
        let (v, rest) = one_string(inner.trim_start())?;
        let rest = rest.trim_start().strip_prefix(')')?;
        return Some((v, rest));
    }
    let (v, rest) = string_literal(s)?;
    let rest = rest.strip_prefix(".freeze").unwrap_or(rest);
    Some((v, rest))
}

fn trailing_ok(rest: &str) -> bool {
    let rest = rest.trim();
    rest.is_empty()
        || rest.starts_with('#')
        || rest.starts_with("if ")
        || rest.starts_with("unless ")
}

/// `["MIT".freeze, "Ruby".freeze]`.
fn string_array(s: &str) -> Option<Vec<String>> {
    let mut rest = s.trim().strip_prefix('[')?.trim_start();
    let mut out = Vec::new();
    loop {
        if let Some(after) = rest.strip_prefix(']') {
            return trailing_ok(after).then_some(out);
        }
        let (v, after) = one_string(rest)?;
        out.push(v);
        let after = after.trim_start();
        rest = match after.strip_prefix(',') {
            Some(a) => a.trim_start(),
            None if after.starts_with(']') => after,
            None => return None,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::other::expected::*;

    fn check(rel: &str) {
        let pkgs = parse(&fixture(rel)).expect("parses");
        let want = expected_packages(rel);
        assert_eq!(our_nv(&pkgs), nv(&want), "{rel}");
        assert_eq!(our_name_licenses(&pkgs), name_licenses(&want), "{rel}");
    }

    #[test]
    fn gemspec_fixtures_match_expected() {
        let _fixtures = bulwark_fixtures::fixtures_or_skip!();
        for f in ["license", "multiple_licenses", "normal00", "normal01"] {
            check(&format!("ruby/gemspec/{f}.gemspec"));
        }
    }

    #[test]
    fn gemspec_wrong_receiver_is_an_error() {
        let _fixtures = bulwark_fixtures::fixtures_or_skip!();
        // Trivy expects "failed to parse gemspec": `s.name` inside `do |spec|`.
        assert_eq!(
            cases("ruby/gemspec/malformed00.gemspec")[0]["wantErr"],
            "failed to parse gemspec"
        );
        let err = parse(&fixture("ruby/gemspec/malformed00.gemspec")).unwrap_err();
        assert!(matches!(err, CatalogError::Parse { .. }), "{err}");
    }

    #[test]
    fn gemspec_version_wrappers_and_errors() {
        let src = b"Gem::Specification.new do |s|\n  s.name = 'json'.freeze\n  s.version = Gem::Version.new(\"2.6.2\".freeze) # x\n  s.licenses = [\"Ruby\".freeze, 'BSD-2-Clause'.freeze]\nend\n";
        let p = parse(src).unwrap();
        assert_eq!(
            (p[0].name.as_str(), p[0].version.as_str()),
            ("json", "2.6.2")
        );
        assert_eq!(p[0].licenses, ["Ruby", "BSD-2-Clause"]);

        let err = parse(
            b"Gem::Specification.new do |s|\n  s.name = \"x\"\n  s.version = Foo::VERSION\nend\n",
        )
        .unwrap_err();
        assert!(
            matches!(err, CatalogError::Parse { line: Some(3), .. }),
            "{err}"
        );
        assert!(parse(b"\xff\xfe").is_err());
    }
}
