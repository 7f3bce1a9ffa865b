//! `bun.lock`, Bun's text lockfile: JSON with comments and trailing commas (JSONC).
//! `packages` maps an install key to `[ident, ...]` where `ident` is `name@version`
//! (or `name@workspace:path`, `name@github:...`, ...).

use crate::CatalogError;
use bulwark_core::{Ecosystem, Package};
use serde_json::Value;
use std::collections::{HashSet, VecDeque};

/// Cataloger id.
pub const ID: &str = "bun-lock";
const FORMAT: &str = "bun.lock";

/// Rewrites JSONC to JSON: drops `//` and `/* */` comments and commas before `}`/`]`,
/// outside strings, keeping every newline so parser line numbers stay right.
pub fn jsonc_to_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    // Byte index in `out` of a comma that may turn out to be trailing.
    let mut pending_comma: Option<usize> = None;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                pending_comma = None;
                out.push(c);
                while let Some(s) = chars.next() {
                    out.push(s);
                    if s == '\\' {
                        if let Some(e) = chars.next() {
                            out.push(e);
                        }
                    } else if s == '"' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                for s in chars.by_ref() {
                    if s == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for s in chars.by_ref() {
                    if s == '\n' {
                        out.push('\n');
                    }
                    if prev == '*' && s == '/' {
                        break;
                    }
                    prev = s;
                }
            }
            ',' => {
                pending_comma = Some(out.len());
                out.push(c);
            }
            '}' | ']' => {
                if let Some(i) = pending_comma.take() {
                    out.replace_range(i..i + 1, " ");
                }
                out.push(c);
            }
            c if c.is_whitespace() => out.push(c),
            c => {
                pending_comma = None;
                out.push(c);
            }
        }
    }
    out
}

/// `name@rest` → (name, rest); a scope's leading `@` is not the separator.
fn split_ident(ident: &str) -> Option<(&str, &str)> {
    let at = ident.get(1..)?.find('@')? + 1;
    Some((ident.get(..at)?, ident.get(at + 1..)?))
}

/// Parses a `bun.lock`.
///
/// Workspace members are reported with the version their workspace entry gives.
/// Git, GitHub, file, link and tarball sources are skipped (no registry version).
/// Packages reachable from a workspace's dependencies, optional or peer dependencies
/// are runtime; the rest (only reachable from `devDependencies`) are dev.
pub fn parse_bun_lock(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let text = crate::python::utf8(FORMAT, data)?;
    let doc: Value =
        serde_json::from_str(&jsonc_to_json(text)).map_err(|e| CatalogError::Parse {
            format: FORMAT,
            line: Some(e.line()),
            message: e.to_string(),
        })?;
    let empty = serde_json::Map::new();
    let packages = doc
        .get("packages")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let workspaces = doc
        .get("workspaces")
        .and_then(Value::as_object)
        .unwrap_or(&empty);

    let mut runtime: HashSet<&str> = HashSet::new();
    let mut queue: VecDeque<&str> = VecDeque::new();
    let sections = ["dependencies", "optionalDependencies", "peerDependencies"];
    for ws in workspaces.values() {
        for s in sections {
            for name in ws
                .get(s)
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(k, _)| k)
            {
                if let Some((k, _)) = packages.get_key_value(name) {
                    if runtime.insert(k) {
                        queue.push_back(k);
                    }
                }
            }
        }
    }
    // Iterative walk; a nested install key `parent/name` shadows the hoisted `name`.
    while let Some(key) = queue.pop_front() {
        let Some(meta) = packages
            .get(key)
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find(|v| v.is_object()))
        else {
            continue;
        };
        for s in sections {
            for name in meta
                .get(s)
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(k, _)| k)
            {
                let nested = format!("{key}/{name}");
                let found = packages
                    .get_key_value(&nested)
                    .or_else(|| packages.get_key_value(name));
                if let Some((k, _)) = found {
                    if runtime.insert(k) {
                        queue.push_back(k);
                    }
                }
            }
        }
    }

    let mut out = Vec::new();
    for (key, entry) in packages {
        let Some(ident) = entry.get(0).and_then(Value::as_str) else {
            continue;
        };
        let Some((name, rest)) = split_ident(ident) else {
            continue;
        };
        let version = if let Some(path) = rest.strip_prefix("workspace:") {
            match workspaces
                .get(path)
                .and_then(|w| w.get("version"))
                .and_then(Value::as_str)
            {
                Some(v) => v,
                None => continue,
            }
        } else if rest.contains(':') {
            continue;
        } else {
            rest
        };
        let mut p = Package::new(Ecosystem::Npm, name, version, ID);
        // Without workspace roots there is nothing to tell dev from runtime by.
        p.dev = !workspaces.is_empty()
            && !rest.starts_with("workspace:")
            && !runtime.contains(key.as_str());
        out.push(p);
    }
    Ok(super::npm::dedup(out))
}
