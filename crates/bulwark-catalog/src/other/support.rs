//! Plumbing shared by the Ruby, PHP, .NET and small-ecosystem catalogers: a cataloger
//! built from a path test and a pure byte parser, bounded JSON/YAML/TOML/XML decoding
//! that reports line numbers, and small string helpers.
//!
//! Every format here is a single text file parsed in memory, so one generic
//! [`Cataloger`] implementation serves them all; the parsers stay plain functions over
//! bytes so they can be fuzzed directly.

use crate::{CatalogError, Cataloger, ScanMode};
use bulwark_core::Package;
use serde::de::DeserializeOwned;

/// Default cap on a lock file or manifest. Real ones are well under 10 MiB.
pub const DEFAULT_LIMIT: u64 = 32 * 1024 * 1024;

pub use crate::util::ParseFn;

/// Builds the shared whole-file cataloger from an id, a path predicate and a parser.
pub struct FnCataloger;

impl FnCataloger {
    /// A cataloger with the [`DEFAULT_LIMIT`].
    pub fn boxed(id: &'static str, wants: fn(&str) -> bool, parse: ParseFn) -> Box<dyn Cataloger> {
        Box::new(crate::util::WholeFileCataloger {
            id,
            limit: DEFAULT_LIMIT,
            wants: move |p: &str, _: ScanMode| wants(p),
            parse,
        })
    }
}

/// Decodes UTF-8 (dropping a byte-order mark), or says where the first bad byte is.
pub fn utf8<'a>(data: &'a [u8], format: &'static str) -> Result<&'a str, CatalogError> {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    std::str::from_utf8(data).map_err(|e| {
        let upto = data.get(..e.valid_up_to()).unwrap_or_default();
        CatalogError::Parse {
            format,
            line: Some(line_of_offset(upto, upto.len())),
            message: format!("invalid UTF-8 at byte {}", e.valid_up_to()),
        }
    })
}

/// 1-based line number of a byte offset.
pub fn line_of_offset(data: &[u8], offset: usize) -> usize {
    let end = offset.min(data.len());
    data.get(..end)
        .map(|d| d.iter().filter(|&&b| b == b'\n').count())
        .unwrap_or(0)
        + 1
}

/// Deserialises JSON, mapping errors to [`CatalogError::Parse`] with serde_json's line.
/// serde_json itself limits nesting depth to 128.
pub fn json<T: DeserializeOwned>(data: &[u8], format: &'static str) -> Result<T, CatalogError> {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    serde_json::from_slice(data).map_err(|e| CatalogError::Parse {
        format,
        line: Some(e.line()).filter(|&l| l > 0),
        message: e.to_string(),
    })
}

/// Deserialises YAML. serde_yaml_ng refuses excessive alias expansion ("billion laughs")
/// and nesting deeper than 128 levels; the caller has already capped the input size.
pub fn yaml<T: DeserializeOwned>(data: &[u8], format: &'static str) -> Result<T, CatalogError> {
    let text = utf8(data, format)?;
    serde_yaml_ng::from_str(text).map_err(|e| CatalogError::Parse {
        format,
        line: e.location().map(|l| l.line()),
        message: e.to_string(),
    })
}

/// Deserialises TOML. The toml crate limits table/array nesting depth.
pub fn toml<T: DeserializeOwned>(data: &[u8], format: &'static str) -> Result<T, CatalogError> {
    let text = utf8(data, format)?;
    ::toml::from_str(text).map_err(|e| CatalogError::Parse {
        format,
        line: e.span().map(|s| line_of_offset(text.as_bytes(), s.start)),
        message: e.message().to_string(),
    })
}

/// Removes duplicate packages (same ecosystem, name and version), keeping the first
/// occurrence; lock files list a package once per target framework or platform. A
/// package that is a development dependency in one place and not in another is kept as a
/// normal dependency, since it ships.
pub fn dedup(pkgs: Vec<Package>) -> Vec<Package> {
    let mut index: std::collections::HashMap<(bulwark_core::Ecosystem, String, String), usize> =
        std::collections::HashMap::new();
    let mut out: Vec<Package> = Vec::with_capacity(pkgs.len());
    for p in pkgs {
        let key = (p.ecosystem, p.name.clone(), p.version.clone());
        match index.get(&key).and_then(|&i| out.get_mut(i)) {
            Some(existing) => existing.dev &= p.dev,
            None => {
                index.insert(key, out.len());
                out.push(p);
            }
        }
    }
    out
}

/// Splits a licence string that joins alternatives with ` or ` (Composer allows
/// `"MIT or BSD-2-Clause"` as shorthand for the array form, which also means "any of").
pub fn split_or(s: &str) -> Vec<String> {
    let lower = s.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut start = 0;
    let mut search = 0;
    while let Some(pos) = lower.get(search..).and_then(|t| t.find(" or ")) {
        let at = search + pos;
        if let Some(part) = s.get(start..at) {
            push_trimmed(&mut out, part);
        }
        start = at + 4;
        search = start;
    }
    if let Some(part) = s.get(start..) {
        push_trimmed(&mut out, part);
    }
    out
}

fn push_trimmed(out: &mut Vec<String>, s: &str) {
    let t = s
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim();
    if !t.is_empty() {
        out.push(t.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulwark_core::Ecosystem;

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = |open: &str, n: usize| open.repeat(n).into_bytes();
        let e = json::<serde_json::Value>(&deep("[", 100_000), "t").unwrap_err();
        assert!(e.to_string().contains("recursion limit"), "{e}");
        let e = yaml::<serde_yaml_ng::Value>(&deep("[", 100_000), "t").unwrap_err();
        assert!(e.to_string().contains("recursion limit"), "{e}");
        let mut t = b"a = ".to_vec();
        t.extend(deep("[", 100_000));
        assert!(toml::<::toml::Table>(&t, "t").is_err());
        let x = deep("<a>", 10_000);
        let e = crate::dotnet::xml::walk(&x, "t", |_| Ok(())).unwrap_err();
        assert!(e.to_string().contains("nested deeper"), "{e}");
    }

    #[test]
    fn parse_errors_carry_lines() {
        let e = json::<serde_json::Value>(b"{\n\n  \"a\": ,\n}", "t").unwrap_err();
        assert!(
            matches!(e, CatalogError::Parse { line: Some(3), .. }),
            "{e}"
        );
        let e = toml::<::toml::Table>(b"a = 1\nb = \n", "t").unwrap_err();
        assert!(
            matches!(e, CatalogError::Parse { line: Some(2), .. }),
            "{e}"
        );
        let e = utf8(b"ok\nok\n\xff", "t").unwrap_err();
        assert!(
            matches!(e, CatalogError::Parse { line: Some(3), .. }),
            "{e}"
        );
    }

    #[test]
    fn split_or_and_dedup() {
        assert_eq!(split_or("MIT or BSD-2-Clause"), ["MIT", "BSD-2-Clause"]);
        assert_eq!(split_or("(GPL-2.0 OR MIT)"), ["GPL-2.0", "MIT"]);
        assert_eq!(split_or("Apache-2.0"), ["Apache-2.0"]);
        let mut a = Package::new(Ecosystem::Gem, "x", "1", "t");
        a.dev = true;
        let b = Package::new(Ecosystem::Gem, "x", "1", "t");
        let out = dedup(vec![a, b]);
        assert_eq!(out.len(), 1);
        assert!(!out[0].dev, "a package that also ships is not dev-only");
    }
}
