//! Bounded YAML loading with line numbers, shared by every YAML-based check family
//! (Kubernetes manifests, docker-compose files).
//!
//! The event parser of `yaml-rust2` is driven by hand so that every node keeps the line
//! it started on (findings point at the offending field), and so that the three ways a
//! hostile file can exhaust memory or time are cut off with a typed error: input size,
//! nesting depth and alias expansion ("billion laughs").
//!
//! ## Reading YAML the way the consumer does
//!
//! A check is only as good as its agreement with the program that later reads the same
//! file. Two YAML libraries matter, and they disagree, so the parser takes a [`Dialect`]:
//!
//! * [`Dialect::Kubernetes`]: `kubectl` and the API server turn YAML into JSON with
//!   sigs.k8s.io/yaml, which decodes with go-yaml v2 (YAML 1.1 flavoured). There,
//!   - a mapping that repeats a key keeps the **last** value (non-strict decoding, what
//!     `kubectl apply` of a file does; only `fieldValidation=Strict` on a raw YAML body
//!     rejects it). bulwark keeps the last value too and reports a warning
//!     (a [`crate::CheckWarning`]) naming both lines, because a reader (or another tool) that takes the first value
//!     sees a different pod: `hostPID: false` then `hostPID: true` is a host-PID pod;
//!   - merge keys (`<<: *anchor`, or a sequence of anchors) are applied **in place**, in
//!     file order, so a merge after an explicit key overrides it (go-yaml v2 semantics,
//!     unlike YAML 1.2 libraries where explicit keys always win); that case is warned
//!     about too;
//!   - plain `y Y yes Yes YES on On ON true True TRUE` are booleans true and
//!     `n N no No NO off Off OFF false False FALSE` false (go-yaml v2's resolve table;
//!     quoted forms are strings, which the API server refuses for a boolean field); see
//!     [`Node::as_bool`]. Integers follow Go's base-prefix rules (`0x`, `0o`, `0b`,
//!     leading-zero octal, `_` separators), and an integral float such as `0.0` becomes
//!     the JSON number `0`; see [`Node::as_i64`].
//! * [`Dialect::Compose`]: Docker Compose (compose-go) decodes with go-yaml v4 and its
//!   loader **rejects** a repeated key ("mapping key already defined"), so bulwark refuses
//!   the file the same way; merge keys never override explicit keys. Compose then casts
//!   strings at known boolean fields case-insensitively (`yes`, `"on"`, `TRUE`...), which
//!   `compose.rs` handles with its own helper.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

use crate::{CheckWarning as ParseWarning, MisconfigError};

/// Which YAML reader a file is checked for; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// kubectl / the Kubernetes API server (sigs.k8s.io/yaml over go-yaml v2).
    #[default]
    Kubernetes,
    /// Docker Compose (compose-go over go-yaml v4).
    Compose,
}

/// A parsed YAML stream and the warnings parsing produced.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// The documents.
    pub docs: Vec<Document>,
    /// Repeated keys and order-dependent merges, in file order.
    pub warnings: Vec<ParseWarning>,
}

/// Largest YAML file accepted (16 MiB); larger files are refused, not truncated.
pub const MAX_YAML_BYTES: usize = 16 * 1024 * 1024;
/// Deepest nesting of collections accepted.
pub const MAX_DEPTH: usize = 128;
/// How many nodes alias expansion may create in one file, in total. Real manifests use
/// a handful of anchors; a billion-laughs file hits this long before memory matters.
pub const MAX_ALIAS_NODES: usize = 100_000;
/// How many nodes anchor definitions may copy in one file, in total (an anchored node is
/// kept as a copy for its aliases; anchors nested around a large subtree would otherwise
/// copy it once per level).
pub const MAX_ANCHOR_NODES: usize = 2_000_000;
/// Warnings kept per file; further ones are counted in one last line.
pub const MAX_PARSE_WARNINGS: usize = 100;

/// A YAML node and the 1-based line where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// 1-based line of the node's first character.
    pub line: u32,
    /// The value.
    pub value: Value,
}

/// The value of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar; `plain` is false for quoted and block scalars, which are always strings.
    Scalar {
        /// The text.
        text: String,
        /// Whether it was written unquoted (so `true` or `8080` are typed).
        plain: bool,
    },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, keys kept in file order with their own nodes (for key lines).
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// Value under `key` when this is a mapping with a scalar key `key`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// Key node and value node under `key`.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// Line of the key `key` in this mapping (where a finding about that field points).
    pub fn key_line(&self, key: &str) -> Option<u32> {
        self.entry(key).map(|(k, _)| k.line)
    }

    /// Follows a path of mapping keys.
    pub fn path(&self, keys: &[&str]) -> Option<&Node> {
        let mut cur = self;
        for k in keys {
            cur = cur.get(k)?;
        }
        Some(cur)
    }

    /// The scalar text, for any scalar (null included, as written).
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The scalar text unless it is a YAML null (`~`, `null`, empty plain scalar).
    pub fn as_string_value(&self) -> Option<&str> {
        if self.is_null() {
            None
        } else {
            self.as_str()
        }
    }

    /// True for a plain `null`, `Null`, `NULL`, `~` or empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// A boolean as Kubernetes reads it: a plain scalar in go-yaml v2's boolean table
    /// (`y`, `yes`, `on`, `true` and `n`, `no`, `off`, `false`, each in lower, Title and
    /// UPPER case; single-letter forms `y Y n N`). Quoted scalars are strings.
    pub fn as_bool(&self) -> Option<bool> {
        match &self.value {
            Value::Scalar { text, plain: true } => yaml11_bool(text),
            _ => None,
        }
    }

    /// An integer as Kubernetes reads it (go-yaml v2, then JSON): a plain scalar that
    /// go-yaml resolves to an integer (sign, `_` separators, `0x`/`0o`/`0b` prefixes,
    /// leading-zero octal), or to a float that JSON writes as an integer (`0.0`, `1e3`).
    pub fn as_i64(&self) -> Option<i64> {
        match &self.value {
            Value::Scalar { text, plain: true } => yaml11_int(text),
            _ => None,
        }
    }

    /// The items of a sequence (empty for anything else, so absent lists read as empty).
    pub fn items(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    /// The entries of a mapping (empty for anything else).
    pub fn entries(&self) -> &[(Node, Node)] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    /// True when this is a mapping.
    pub fn is_map(&self) -> bool {
        matches!(self.value, Value::Map(_))
    }

    /// The node for a JSON value, as the API server reads the same object sent as JSON
    /// (the admission webhook's input): strings become quoted scalars (never typed),
    /// numbers, booleans and null plain scalars; every node sits on line 0. Nesting
    /// deeper than [`MAX_DEPTH`] is cut to null, as the YAML loader refuses it.
    pub fn from_json(v: &serde_json::Value) -> Node {
        Self::from_json_at(v, 0)
    }

    fn from_json_at(v: &serde_json::Value, depth: usize) -> Node {
        use serde_json::Value as J;
        let scalar = |text: String, plain: bool| Value::Scalar { text, plain };
        let value = if depth > MAX_DEPTH {
            scalar("null".into(), true)
        } else {
            match v {
                J::Null => scalar("null".into(), true),
                J::Bool(b) => scalar(b.to_string(), true),
                J::Number(n) => scalar(n.to_string(), true),
                J::String(s) => scalar(s.clone(), false),
                J::Array(a) => {
                    Value::Seq(a.iter().map(|i| Self::from_json_at(i, depth + 1)).collect())
                }
                J::Object(o) => Value::Map(
                    o.iter()
                        .map(|(k, v)| {
                            (
                                Node {
                                    line: 0,
                                    value: scalar(k.clone(), false),
                                },
                                Self::from_json_at(v, depth + 1),
                            )
                        })
                        .collect(),
                ),
            }
        };
        Node { line: 0, value }
    }

    fn count(&self) -> usize {
        1 + match &self.value {
            Value::Scalar { .. } => 0,
            Value::Seq(items) => items.iter().map(Node::count).sum(),
            Value::Map(entries) => entries.iter().map(|(k, v)| k.count() + v.count()).sum(),
        }
    }
}

/// go-yaml v2's boolean table (resolve.go): exactly these plain spellings.
pub fn yaml11_bool(text: &str) -> Option<bool> {
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Some(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Some(false)
        }
        _ => None,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)` on text whose `_` were removed: optional sign, then
/// `0x`/`0o`/`0b` prefixes or a leading `0` for octal.
fn go_parse_int(plain: &str) -> Option<i64> {
    let (neg, rest) = match plain.as_bytes().first() {
        Some(b'-') => (true, &plain[1..]),
        Some(b'+') => (false, &plain[1..]),
        _ => (false, plain),
    };
    let lower = rest.get(..2).map(str::to_ascii_lowercase);
    let (radix, digits) = match lower.as_deref() {
        Some("0x") => (16, &rest[2..]),
        Some("0o") => (8, &rest[2..]),
        Some("0b") => (2, &rest[2..]),
        _ if rest.len() > 1 && rest.starts_with('0') => (8, &rest[1..]),
        _ => (10, rest),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let magnitude = i128::from(u64::from_str_radix(digits, radix).ok()?);
    i64::try_from(if neg { -magnitude } else { magnitude }).ok()
}

/// go-yaml v2's integer and float resolution for a plain scalar, as far as the result
/// reaches a Kubernetes integer field through JSON.
pub fn yaml11_int(text: &str) -> Option<i64> {
    let first = *text.as_bytes().first()?;
    // Only scalars starting with a digit, a sign or a dot are numbers in go-yaml v2.
    if !(first.is_ascii_digit() || first == b'+' || first == b'-' || first == b'.') {
        return None;
    }
    if first != b'.' {
        let plain = text.replace('_', "");
        if let Some(i) = go_parse_int(&plain) {
            return Some(i);
        }
        return float_as_json_int(&plain);
    }
    // A leading dot: Go's ParseFloat on the text as written.
    float_as_json_int(text)
}

/// A YAML-style float (`[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`) that Go's
/// JSON encoder writes without fraction or exponent (integral, below 1e21), which a
/// Kubernetes integer field then accepts.
fn float_as_json_int(s: &str) -> Option<i64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int_part, frac) = match mantissa.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (mantissa, None),
    };
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match frac {
        None => !int_part.is_empty() && digits(int_part),
        Some(f) if int_part.is_empty() => !f.is_empty() && digits(f),
        Some(f) => digits(int_part) && digits(f),
    };
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    if !(mantissa_ok && exp_ok) {
        return None;
    }
    let f: f64 = s.parse().ok()?;
    if !f.is_finite() || f.fract() != 0.0 || f.abs() >= 1e21 {
        return None;
    }
    // Go writes -0.0 as "-0", which decodes to 0.
    if f.abs() < 9.2e18 {
        // The conversion is exact for integral values in range.
        #[allow(clippy::cast_possible_truncation)]
        return Some(f as i64);
    }
    None
}

/// One YAML document of a stream.
#[derive(Debug, Clone)]
pub struct Document {
    /// The root node (`None` for an empty document).
    pub root: Option<Node>,
}

/// Decodes `bytes` as UTF-8 YAML text, refusing oversized and binary input.
pub fn decode<'a>(path: &str, bytes: &'a [u8]) -> Result<&'a str, MisconfigError> {
    if bytes.len() > MAX_YAML_BYTES {
        return Err(MisconfigError::TooLarge {
            path: path.to_string(),
            size: bytes.len(),
            limit: MAX_YAML_BYTES,
        });
    }
    // A NUL byte never occurs in YAML text; it is the cheapest reliable binary signal.
    if bytes.contains(&0) {
        return Err(MisconfigError::NotText {
            path: path.to_string(),
            reason: "contains NUL bytes".to_string(),
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| MisconfigError::NotText {
        path: path.to_string(),
        reason: format!("not UTF-8 at byte {}", e.valid_up_to()),
    })?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// Parses every document of a YAML stream.
pub fn parse_stream(path: &str, bytes: &[u8]) -> Result<Vec<Document>, MisconfigError> {
    let text = decode(path, bytes)?;
    parse_str(path, text)
}

enum Frame {
    Seq {
        line: u32,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        line: u32,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        pending_key: Option<Node>,
    },
}

struct Builder<'p> {
    path: &'p str,
    dialect: Dialect,
    warnings: Vec<ParseWarning>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, usize)>,
    alias_nodes: usize,
    anchor_nodes: usize,
    dropped_warnings: usize,
    docs: Vec<Document>,
    root: Option<Node>,
}

impl Builder<'_> {
    fn syntax(&self, line: u32, message: impl Into<String>) -> MisconfigError {
        MisconfigError::Yaml {
            path: self.path.to_string(),
            line,
            message: message.into(),
        }
    }

    /// Records a warning, keeping at most [`MAX_PARSE_WARNINGS`].
    fn warn(&mut self, line: u32, message: String) {
        if self.warnings.len() < MAX_PARSE_WARNINGS {
            self.warnings.push(ParseWarning { line, message });
        } else {
            self.dropped_warnings += 1;
        }
    }

    /// Attaches a finished node to its parent (or makes it the document root).
    fn push_node(&mut self, node: Node, anchor: usize) -> Result<(), MisconfigError> {
        if anchor > 0 {
            let n = node.count();
            self.anchor_nodes = self.anchor_nodes.saturating_add(n);
            if self.anchor_nodes > MAX_ANCHOR_NODES {
                return Err(self.syntax(
                    node.line,
                    format!("anchors copy more than {MAX_ANCHOR_NODES} nodes"),
                ));
            }
            self.anchors.insert(anchor, (node.clone(), n));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                ..
            }) => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
        Ok(())
    }

    /// Applies merge keys and repeated keys the way the dialect's reader does; see the
    /// module documentation. Nested mappings were resolved when they ended, so merged
    /// mappings are already free of repeats.
    fn resolve_map(
        &mut self,
        entries: Vec<(Node, Node)>,
    ) -> Result<Vec<(Node, Node)>, MisconfigError> {
        let mut out = Entries::default();
        // Key text -> line where it was first written explicitly.
        let mut explicit: HashMap<String, u32> = HashMap::new();
        let mut merges: Vec<(Node, Node)> = Vec::new();
        for (k, v) in entries {
            if is_merge_key(&k) {
                match self.dialect {
                    // go-yaml v2: merged in place, in file order.
                    Dialect::Kubernetes => {
                        for (mk, mv) in self.merged_entries(&k, &v)? {
                            let key = key_text(&mk);
                            if let Some(first) = key.as_ref().and_then(|t| explicit.get(t)) {
                                let message = format!(
                                    "merge key `<<` overrides key {:?} set at line {first}; \
                                     the Kubernetes API server (go-yaml v2) applies merges in \
                                     file order, so the merged value is used",
                                    key.as_deref().unwrap_or("")
                                );
                                self.warn(k.line, message);
                            }
                            out.upsert(mk, mv);
                        }
                    }
                    // go-yaml v3/v4: explicit keys win; merges fill in the rest.
                    Dialect::Compose => merges.push((k, v)),
                }
                continue;
            }
            if let Some(text) = key_text(&k) {
                if let Some(first) = explicit.get(&text) {
                    match self.dialect {
                        Dialect::Kubernetes => self.warn(
                            k.line,
                            format!(
                                "duplicate key {text:?} (first at line {first}); the \
                                 Kubernetes API server keeps the last value, and so do the checks"
                            ),
                        ),
                        Dialect::Compose => {
                            return Err(self.syntax(
                                k.line,
                                format!(
                                    "mapping key {text:?} already defined at line {first} \
                                     (Docker Compose refuses such a file)"
                                ),
                            ))
                        }
                    }
                } else {
                    explicit.insert(text, k.line);
                }
            }
            out.upsert(k, v);
        }
        for (k, v) in merges {
            for (mk, mv) in self.merged_entries(&k, &v)? {
                // Earlier merged entries and explicit keys win.
                if !key_text(&mk).is_some_and(|t| out.index.contains_key(&t)) {
                    out.upsert(mk, mv);
                }
            }
        }
        Ok(out.entries)
    }

    /// The entries a merge key brings in: a mapping, or a sequence of mappings where
    /// earlier ones take precedence (returned so that applying them in order gives that).
    fn merged_entries(&self, k: &Node, v: &Node) -> Result<Vec<(Node, Node)>, MisconfigError> {
        match &v.value {
            Value::Map(entries) => Ok(entries.clone()),
            Value::Seq(items) => {
                let mut all = Vec::new();
                for item in items.iter().rev() {
                    match &item.value {
                        Value::Map(entries) => all.extend(entries.iter().cloned()),
                        _ => return Err(self.syntax(item.line, MERGE_WANTS_MAP)),
                    }
                }
                Ok(all)
            }
            Value::Scalar { .. } => Err(self.syntax(k.line, MERGE_WANTS_MAP)),
        }
    }

    fn event(&mut self, ev: Event, line: u32) -> Result<(), MisconfigError> {
        match ev {
            Event::DocumentStart => {
                self.root = None;
                self.anchors.clear();
            }
            Event::DocumentEnd => {
                let root = self.root.take();
                self.docs.push(Document { root });
            }
            Event::Scalar(text, style, anchor, tag) => {
                let plain = match tag {
                    None => matches!(style, TScalarStyle::Plain),
                    // An explicit core tag decides the type whatever the quoting
                    // (`!!bool "yes"` is true, `!!str yes` a string); go-yaml v2 leaves
                    // scalars with any other tag as strings.
                    Some(t) => {
                        t.handle == "tag:yaml.org,2002:"
                            && matches!(
                                t.suffix.as_str(),
                                "bool" | "int" | "float" | "null" | "merge"
                            )
                    }
                };
                self.push_node(
                    Node {
                        line,
                        value: Value::Scalar { text, plain },
                    },
                    anchor,
                )?;
            }
            Event::Alias(id) => {
                let Some((node, n)) = self.anchors.get(&id) else {
                    return Err(self.syntax(line, "alias to an unknown anchor"));
                };
                self.alias_nodes = self.alias_nodes.saturating_add(*n);
                if self.alias_nodes > MAX_ALIAS_NODES {
                    return Err(self.syntax(
                        line,
                        format!(
                            "alias expansion exceeds {MAX_ALIAS_NODES} nodes (billion-laughs guard)"
                        ),
                    ));
                }
                let mut node = node.clone();
                // The alias sits where it is used; findings should point there.
                node.line = line;
                self.push_node(node, 0)?;
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    return Err(
                        self.syntax(line, format!("nesting deeper than {MAX_DEPTH} levels"))
                    );
                }
                let frame = if matches!(ev, Event::SequenceStart(..)) {
                    Frame::Seq {
                        line,
                        anchor,
                        items: Vec::new(),
                    }
                } else {
                    Frame::Map {
                        line,
                        anchor,
                        entries: Vec::new(),
                        pending_key: None,
                    }
                };
                self.stack.push(frame);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::Seq {
                        line,
                        anchor,
                        items,
                    }) => (
                        Node {
                            line,
                            value: Value::Seq(items),
                        },
                        anchor,
                    ),
                    Some(Frame::Map {
                        line,
                        anchor,
                        entries,
                        ..
                    }) => (
                        Node {
                            line,
                            value: Value::Map(self.resolve_map(entries)?),
                        },
                        anchor,
                    ),
                    None => return Err(self.syntax(line, "unbalanced collection end")),
                };
                self.push_node(node, anchor)?;
            }
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
        Ok(())
    }
}

const MERGE_WANTS_MAP: &str = "map merge requires a mapping or a sequence of mappings as the value";

/// A merge key: plain `<<` (or one tagged `!!merge`).
fn is_merge_key(k: &Node) -> bool {
    matches!(&k.value, Value::Scalar { text, plain: true } if text == "<<")
}

/// The identity of a scalar key (its text; `hostPID` and `"hostPID"` are the same key).
/// Collection keys have none and are never treated as repeats.
fn key_text(k: &Node) -> Option<String> {
    k.as_str().map(str::to_string)
}

/// Mapping entries with an index by key text.
#[derive(Default)]
struct Entries {
    entries: Vec<(Node, Node)>,
    index: HashMap<String, usize>,
}

impl Entries {
    /// Sets `k: v`, replacing an earlier entry with the same key where it stood.
    fn upsert(&mut self, k: Node, v: Node) {
        let Some(text) = key_text(&k) else {
            self.entries.push((k, v));
            return;
        };
        match self.index.get(&text).and_then(|&i| self.entries.get_mut(i)) {
            Some(slot) => *slot = (k, v),
            None => {
                self.index.insert(text, self.entries.len());
                self.entries.push((k, v));
            }
        }
    }
}

/// Parses every document of YAML text (already decoded), as Kubernetes reads it,
/// dropping the warnings; see [`parse_with`].
pub fn parse_str(path: &str, text: &str) -> Result<Vec<Document>, MisconfigError> {
    parse_with(path, text, Dialect::Kubernetes).map(|p| p.docs)
}

/// Parses every document of YAML text (already decoded) as `dialect`'s reader does,
/// with the warnings about how repeated and merged keys were resolved.
///
/// go-yaml (kubectl, compose-go) accepts the lines of a multi-line flow collection or
/// quoted scalar at or left of the indentation of the block that holds it (a closing
/// `]` under its key, as upstream manifests of Istio and Tekton write it); yaml-rust2
/// refuses them ("invalid indentation"), as the YAML spec does. When that is the only
/// problem, the file is read again with those lines moved one column right of the line
/// that opened the collection or scalar, which changes no value (indentation means
/// nothing inside flow context, and folding drops it in quoted scalars), and a warning
/// names the lines.
pub fn parse_with(path: &str, text: &str, dialect: Dialect) -> Result<Parsed, MisconfigError> {
    match parse_strict(path, text, dialect) {
        Err(MisconfigError::Yaml { line, message, .. }) if message.contains("indentation") => {
            let original = MisconfigError::Yaml {
                path: path.to_string(),
                line,
                message,
            };
            let Some((fixed, moved)) = reindent_flow_continuations(text) else {
                return Err(original);
            };
            match parse_strict(path, &fixed, dialect) {
                Ok(mut parsed) => {
                    let shown: Vec<String> = moved.iter().take(5).map(u32::to_string).collect();
                    let more = if moved.len() > 5 { ", ..." } else { "" };
                    parsed.warnings.push(ParseWarning {
                        line: moved.first().copied().unwrap_or(0),
                        message: format!(
                            "flow collection or quoted scalar continued at or left of its \
                             block's indentation (line(s) {}{more}); YAML forbids it, \
                             go-yaml (kubectl) accepts it, read as go-yaml does",
                            shown.join(", ")
                        ),
                    });
                    Ok(parsed)
                }
                Err(_) => Err(original),
            }
        }
        r => r,
    }
}

/// Whether a quote or bracket at byte `i` of `line` starts a token (a flow collection or
/// quoted scalar) rather than sitting inside a plain scalar (`don't`, `echo [a]`).
fn token_start(line: &str, i: usize) -> bool {
    match line[..i].trim_end().chars().last() {
        None => true,
        Some(c) => matches!(c, ':' | ',' | '[' | '{' | '-' | '?'),
    }
}

/// The lines (1-based) of multi-line flow collections and quoted scalars that sit at or
/// left of the indentation of the line that opened them, and the text with each of them
/// indented one column past it; `None` when there is none. Block scalar bodies and
/// comments are skipped.
fn reindent_flow_continuations(text: &str) -> Option<(String, Vec<u32>)> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut moved = Vec::new();
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut open_indent = 0usize;
    let mut block_scalar: Option<usize> = None;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let body = line.trim_end_matches(['\n', '\r']);
        let indent = body.len() - body.trim_start_matches(' ').len();
        let blank = body.trim().is_empty();
        if let Some(h) = block_scalar {
            if blank || indent > h {
                out.push_str(line);
                continue;
            }
            block_scalar = None;
        }
        if (depth > 0 || quote.is_some()) && !blank && indent <= open_indent {
            out.extend(std::iter::repeat_n(' ', open_indent + 1 - indent));
            moved.push(u32::try_from(n + 1).unwrap_or(u32::MAX));
        }
        out.push_str(line);
        let mut chars = body.char_indices().peekable();
        let mut prev_space = true;
        while let Some((i, c)) = chars.next() {
            match quote {
                Some('\'') => {
                    if c == '\'' {
                        if chars.peek().map(|&(_, c2)| c2) == Some('\'') {
                            chars.next();
                        } else {
                            quote = None;
                        }
                    }
                }
                Some(_) => {
                    if c == '\\' {
                        chars.next();
                    } else if c == '"' {
                        quote = None;
                    }
                }
                None => match c {
                    '#' if prev_space => break,
                    '"' | '\'' | '[' | '{' if depth > 0 || token_start(body, i) => {
                        if depth == 0 {
                            open_indent = indent;
                        }
                        if c == '[' || c == '{' {
                            depth += 1;
                        } else {
                            quote = Some(c);
                        }
                    }
                    ']' | '}' if depth > 0 => depth -= 1,
                    _ => {}
                },
            }
            prev_space = c == ' ' || c == '\t';
        }
        if depth == 0 && quote.is_none() {
            let code = body.split(" #").next().unwrap_or(body).trim_end();
            let header = code
                .trim_end_matches(|c: char| c.is_ascii_digit() || c == '+' || c == '-')
                .trim_end();
            if (header.ends_with('|') || header.ends_with('>'))
                && matches!(
                    header[..header.len() - 1].trim_end().chars().last(),
                    Some(':') | Some('-') | None
                )
            {
                block_scalar = Some(indent);
            }
        }
    }
    (!moved.is_empty()).then_some((out, moved))
}

fn parse_strict(path: &str, text: &str, dialect: Dialect) -> Result<Parsed, MisconfigError> {
    let mut parser = Parser::new_from_str(text);
    let mut b = Builder {
        path,
        dialect,
        warnings: Vec::new(),
        stack: Vec::new(),
        anchors: HashMap::new(),
        alias_nodes: 0,
        anchor_nodes: 0,
        dropped_warnings: 0,
        docs: Vec::new(),
        root: None,
    };
    loop {
        let (ev, mark) = parser.next_token().map_err(|e| MisconfigError::Yaml {
            path: path.to_string(),
            line: u32::try_from(e.marker().line()).unwrap_or(u32::MAX),
            message: e.info().to_string(),
        })?;
        let line = u32::try_from(mark.line()).unwrap_or(u32::MAX);
        let end = matches!(ev, Event::StreamEnd);
        b.event(ev, line)?;
        if end {
            break;
        }
    }
    if b.dropped_warnings > 0 {
        b.warnings.push(ParseWarning {
            line: 0,
            message: format!(
                "{} more repeated or merged keys like these not listed",
                b.dropped_warnings
            ),
        });
    }
    Ok(Parsed {
        docs: b.docs,
        warnings: b.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedented_flow_and_quoted_continuations_read_as_go_yaml() {
        // Istio's spire-quickstart.yaml: the closing `]` under its key.
        let text = "spec:\n  args: [\n      \"-a\", \"b\",\n  ]\n  env: x\n";
        let p = parse_with("t.yaml", text, Dialect::Kubernetes).expect("parses");
        let root = p.docs[0].root.as_ref().expect("root");
        let args: Vec<&str> = root
            .path(&["spec", "args"])
            .map(Node::items)
            .unwrap_or(&[])
            .iter()
            .filter_map(Node::as_str)
            .collect();
        assert_eq!(args, ["-a", "b"]);
        assert_eq!(
            root.path(&["spec", "env"]).and_then(Node::as_str),
            Some("x")
        );
        assert_eq!(root.path(&["spec", "env"]).map(|n| n.line), Some(5));
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
        assert_eq!(p.warnings[0].line, 4);
        // A quoted scalar whose last line is left of its key (microservices-demo).
        let text = "a:\n  b: '[\n    {\"x\": 1}\n  ]'\n";
        let p = parse_with("t.yaml", text, Dialect::Kubernetes).expect("parses");
        let root = p.docs[0].root.as_ref().expect("root");
        assert_eq!(
            root.path(&["a", "b"]).and_then(Node::as_str),
            Some("[ {\"x\": 1} ]")
        );
        // Brackets inside a block scalar are text, and a real error stays an error.
        let text = "a: |\n  [\nb: [\n c\n";
        assert!(parse_with("t.yaml", text, Dialect::Kubernetes).is_err());
        assert!(reindent_flow_continuations("a: |\n  x: [\nb: 1\n").is_none());
    }

    #[test]
    fn repeated_key_warnings_are_capped() {
        let text = "a: 1\n".repeat(5_000);
        let parsed =
            parse_with("t.yaml", &text, Dialect::Kubernetes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.warnings.len(), MAX_PARSE_WARNINGS + 1);
        let last = parsed.warnings.last().map(|w| w.message.clone());
        assert_eq!(
            last.as_deref(),
            Some("4899 more repeated or merged keys like these not listed")
        );
    }

    #[test]
    fn nested_anchors_around_a_large_subtree_are_refused() {
        // 100 anchors nested around 100,000 items: each anchor keeps a copy of all of
        // them (10 million nodes) unless anchor copies are bounded.
        let mut text = String::new();
        for i in 0..100 {
            text.push_str(&format!("&a{i} ["));
        }
        text.push_str(&"1, ".repeat(100_000));
        text.push_str(&"]".repeat(100));
        let err = parse_with("t.yaml", &text, Dialect::Kubernetes)
            .map(|_| ())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("anchors copy more than"), "{err}");
    }

    #[test]
    fn lines_and_types() {
        let docs = parse_str(
            "t.yaml",
            "a: 1\nb:\n  c: true\n  d: \"true\"\n---\nx: [1, 2]\n",
        )
        .unwrap_or_default();
        assert_eq!(docs.len(), 2);
        let root = docs[0].root.clone();
        let root = root.unwrap_or(Node {
            line: 0,
            value: Value::Seq(vec![]),
        });
        assert_eq!(root.get("a").and_then(Node::as_i64), Some(1));
        assert_eq!(root.path(&["b", "c"]).and_then(Node::as_bool), Some(true));
        assert_eq!(root.path(&["b", "d"]).and_then(Node::as_bool), None);
        assert_eq!(root.get("b").and_then(|b| b.key_line("c")), Some(3));
    }

    #[test]
    fn aliases_expand_within_budget() {
        let docs = parse_str("t.yaml", "a: &x {k: v}\nb: *x\n").unwrap_or_default();
        let root = docs.first().and_then(|d| d.root.as_ref());
        assert_eq!(
            root.and_then(|r| r.path(&["b", "k"]))
                .and_then(Node::as_str),
            Some("v")
        );
    }
}
