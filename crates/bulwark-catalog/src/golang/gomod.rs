//! `go.mod` manifests (`go-mod`) and the `go.sum` parser.
//!
//! Follows Trivy's defaults: the main module is reported without a version, every
//! `require` (direct and `// indirect`) with `replace` directives applied — a replacement
//! whose left side names a version applies only to that version; one that points at a
//! local directory removes the module, since no released version of it is built. `stdlib`
//! is not derived from the `go`/`toolchain` lines (Trivy does so only on request, as a
//! minimum version).
//!
//! go.mod files before Go 1.17 list only direct dependencies; Trivy then adds the rest
//! from the sibling `go.sum`. A cataloger here sees one file, so that merge is left to the
//! caller: [`GoMod::packages_with_go_sum`] does it given both files.

use crate::{read_bounded, CatalogError, CatalogInput, CatalogOutput, Cataloger, ScanMode};
use bulwark_core::{Ecosystem, Package};
use std::collections::{BTreeMap, BTreeSet};

const MAX_SIZE: u64 = 16 << 20;
const FORMAT: &str = "go.mod";

/// Finds modules required by `go.mod` files.
pub struct GoModCataloger;

impl Cataloger for GoModCataloger {
    fn id(&self) -> &'static str {
        "go-mod"
    }

    fn wants(&self, path: &str, _size: u64, _mode: u32, _scan: ScanMode) -> bool {
        crate::util::file_name(path) == "go.mod"
    }

    fn catalog(&self, input: CatalogInput<'_>) -> Result<CatalogOutput, CatalogError> {
        let data = read_bounded(input.reader, MAX_SIZE, self.id())?;
        let m = parse_go_mod(&data)?;
        Ok(CatalogOutput {
            packages: m.packages(),
            os: None,
            ..Default::default()
        })
    }
}

/// One `require` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Require {
    /// Module path.
    pub path: String,
    /// Required version.
    pub version: String,
    /// Marked `// indirect`.
    pub indirect: bool,
}

/// One `replace` directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replace {
    /// Replaced module path.
    pub old_path: String,
    /// Replaced version; `None` replaces every version.
    pub old_version: Option<String>,
    /// Replacement module path or local directory.
    pub new_path: String,
    /// Replacement version; `None` for a local directory.
    pub new_version: Option<String>,
}

/// The parts of a `go.mod` that matter for an inventory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoMod {
    /// `module` path.
    pub module: Option<String>,
    /// `go` directive.
    pub go: Option<String>,
    /// `toolchain` directive.
    pub toolchain: Option<String>,
    /// `require` entries.
    pub requires: Vec<Require>,
    /// `replace` entries.
    pub replaces: Vec<Replace>,
}

impl GoMod {
    /// Packages as Trivy reports them (see the module docs).
    pub fn packages(&self) -> Vec<Package> {
        let mut out = Vec::new();
        if let Some(m) = &self.module {
            out.push(Package::new(Ecosystem::Golang, m.clone(), "", "go-mod"));
        }
        let mut mods: BTreeMap<String, String> = BTreeMap::new();
        // Before Go 1.17 the `// indirect` list is incomplete; Trivy leaves it to go.sum.
        let skip_indirect = self.go.as_deref().is_some_and(before_go_1_17);
        for r in &self.requires {
            if skip_indirect && r.indirect {
                continue;
            }
            mods.insert(r.path.clone(), r.version.clone());
        }
        for rep in &self.replaces {
            let Some(cur) = mods.get(&rep.old_path).cloned() else {
                continue;
            };
            if rep.old_version.as_ref().is_some_and(|v| *v != cur) {
                continue;
            }
            mods.remove(&rep.old_path);
            if let Some(v) = &rep.new_version {
                mods.insert(rep.new_path.clone(), v.clone());
            }
        }
        for (path, version) in mods {
            out.push(Package::new(Ecosystem::Golang, path, version, "go-mod"));
        }
        out
    }
}

impl GoMod {
    /// [`GoMod::packages`] completed from the sibling `go.sum` the way Trivy's directory
    /// analyzer does: only for `go` < 1.17 (whose go.mod omits indirect dependencies),
    /// adding every module go.sum names that go.mod does not, one version per module
    /// (the last listed; go.sum is sorted, so that is the highest). For the lead to wire
    /// in where both files are at hand.
    pub fn packages_with_go_sum(&self, go_sum: &[u8]) -> Result<Vec<Package>, CatalogError> {
        let mut out = self.packages();
        if !self.go.as_deref().is_some_and(before_go_1_17) {
            return Ok(out);
        }
        let present: BTreeSet<String> = out.iter().map(|p| p.name.clone()).collect();
        let mut extra: BTreeMap<String, String> = BTreeMap::new();
        for p in parse_go_sum(go_sum)? {
            if !present.contains(&p.name) && self.module.as_deref() != Some(p.name.as_str()) {
                extra.insert(p.name, p.version);
            }
        }
        out.extend(
            extra
                .into_iter()
                .map(|(n, v)| Package::new(Ecosystem::Golang, n, v, "go-mod")),
        );
        Ok(out)
    }
}

/// Whether a `go` directive names a version older than 1.17.
fn before_go_1_17(v: &str) -> bool {
    let mut parts = v.split('.').map(|p| {
        p.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse::<u32>()
            .unwrap_or(0)
    });
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) < (1, 17)
}

/// Splits a line into tokens, honouring Go's quoted strings and `//` comments. Returns
/// the tokens and the comment text.
fn tokenize(line: &str, lineno: usize) -> Result<(Vec<String>, &str), CatalogError> {
    let mut tokens = Vec::new();
    let mut rest = line;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Ok((tokens, ""));
        }
        if let Some(c) = rest.strip_prefix("//") {
            return Ok((tokens, c.trim()));
        }
        if let Some(q) = rest.strip_prefix('"') {
            let end = q.find('"').ok_or_else(|| CatalogError::Parse {
                format: FORMAT,
                line: Some(lineno),
                message: "unterminated string".into(),
            })?;
            tokens.push(q.get(..end).unwrap_or_default().to_string());
            rest = q.get(end + 1..).unwrap_or_default();
        } else if let Some(q) = rest.strip_prefix('`') {
            let end = q.find('`').ok_or_else(|| CatalogError::Parse {
                format: FORMAT,
                line: Some(lineno),
                message: "unterminated string".into(),
            })?;
            tokens.push(q.get(..end).unwrap_or_default().to_string());
            rest = q.get(end + 1..).unwrap_or_default();
        } else {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '"')
                .unwrap_or(rest.len());
            let (tok, r) = rest.split_at(end);
            // "//" glued to a token still starts a comment.
            if let Some(pos) = tok.find("//") {
                if pos > 0 {
                    tokens.push(tok.get(..pos).unwrap_or_default().to_string());
                }
                return Ok((tokens, rest.get(pos + 2..).unwrap_or_default().trim()));
            }
            tokens.push(tok.to_string());
            rest = r;
        }
    }
}

/// Parses the bytes of a `go.mod`.
pub fn parse_go_mod(data: &[u8]) -> Result<GoMod, CatalogError> {
    let text = std::str::from_utf8(data)
        .map_err(|e| CatalogError::parse(FORMAT, format!("not UTF-8: {e}")))?;
    let mut m = GoMod::default();
    let mut block: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        let (mut tokens, comment) = tokenize(line, lineno)?;
        if tokens.is_empty() {
            continue;
        }
        let verb = if let Some(b) = &block {
            if tokens.len() == 1 && tokens.first().is_some_and(|t| t == ")") {
                block = None;
                continue;
            }
            b.clone()
        } else {
            let verb = tokens.remove(0);
            if tokens.len() == 1 && tokens.first().is_some_and(|t| t == "(") {
                block = Some(verb);
                continue;
            }
            verb
        };
        let err = |msg: &str| CatalogError::Parse {
            format: FORMAT,
            line: Some(lineno),
            message: format!("{verb}: {msg}"),
        };
        match verb.as_str() {
            "module" => m.module = tokens.first().cloned(),
            "go" => m.go = tokens.first().cloned(),
            "toolchain" => m.toolchain = tokens.first().cloned(),
            "require" => {
                let [path, version] = tokens.as_slice() else {
                    return Err(err("want module path and version"));
                };
                m.requires.push(Require {
                    path: path.clone(),
                    version: version.clone(),
                    indirect: comment.split(';').any(|c| c.trim() == "indirect"),
                });
            }
            "replace" => {
                let arrow = tokens
                    .iter()
                    .position(|t| t == "=>")
                    .ok_or_else(|| err("missing =>"))?;
                let (left, right) = tokens.split_at(arrow);
                let right = right.get(1..).unwrap_or_default();
                let (old_path, old_version) = match left {
                    [p] => (p.clone(), None),
                    [p, v] => (p.clone(), Some(v.clone())),
                    _ => return Err(err("bad left side")),
                };
                let (new_path, new_version) = match right {
                    [p] => (p.clone(), None),
                    [p, v] => (p.clone(), Some(v.clone())),
                    _ => return Err(err("bad right side")),
                };
                m.replaces.push(Replace {
                    old_path,
                    old_version,
                    new_path,
                    new_version,
                });
            }
            // exclude, retract, godebug, tool, ignore: nothing to inventory.
            _ => {}
        }
    }
    if block.is_some() {
        return Err(CatalogError::parse(FORMAT, "unterminated block"));
    }
    Ok(m)
}

/// Parses a `go.sum` into unique (module path, version) pairs, `/go.mod` suffixes
/// dropped, in file order.
pub fn parse_go_sum(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let text = std::str::from_utf8(data)
        .map_err(|e| CatalogError::parse("go.sum", format!("not UTF-8: {e}")))?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut f = line.split_whitespace();
        let (Some(path), Some(version)) = (f.next(), f.next()) else {
            if line.trim().is_empty() {
                continue;
            }
            return Err(CatalogError::Parse {
                format: "go.sum",
                line: Some(i + 1),
                message: "want module path, version and hash".into(),
            });
        };
        let version = version.strip_suffix("/go.mod").unwrap_or(version);
        if seen.insert((path.to_string(), version.to_string())) {
            out.push(Package::new(Ecosystem::Golang, path, version, "go-mod"));
        }
    }
    Ok(out)
}
