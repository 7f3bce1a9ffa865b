//! Bounded YAML loading with line numbers, shared by every YAML-based check family
//! (Kubernetes manifests, docker-compose files).
//!
//! The event parser of `yaml-rust2` is driven by hand so that every node keeps the line
//! it started on (findings point at the offending field), and so that the three ways a
//! hostile file can exhaust memory or time are cut off with a typed error: input size,
//! nesting depth and alias expansion ("billion laughs").

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

use crate::MisconfigError;

/// Largest YAML file accepted (16 MiB); larger files are refused, not truncated.
pub const MAX_YAML_BYTES: usize = 16 * 1024 * 1024;
/// Deepest nesting of collections accepted.
pub const MAX_DEPTH: usize = 128;
/// How many nodes alias expansion may create in one file, in total. Real manifests use
/// a handful of anchors; a billion-laughs file hits this long before memory matters.
pub const MAX_ALIAS_NODES: usize = 100_000;

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

    /// A plain boolean scalar (`true`/`false` in the YAML 1.2 core schema spellings).
    pub fn as_bool(&self) -> Option<bool> {
        match &self.value {
            Value::Scalar { text, plain: true } => match text.as_str() {
                "true" | "True" | "TRUE" => Some(true),
                "false" | "False" | "FALSE" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    /// A plain integer scalar (decimal, optional sign).
    pub fn as_i64(&self) -> Option<i64> {
        match &self.value {
            Value::Scalar { text, plain: true } => text.parse().ok(),
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

    fn count(&self) -> usize {
        1 + match &self.value {
            Value::Scalar { .. } => 0,
            Value::Seq(items) => items.iter().map(Node::count).sum(),
            Value::Map(entries) => entries.iter().map(|(k, v)| k.count() + v.count()).sum(),
        }
    }
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
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, usize)>,
    alias_nodes: usize,
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

    /// Attaches a finished node to its parent (or makes it the document root).
    fn push_node(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            let n = node.count();
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
            Event::Scalar(text, style, anchor, _) => {
                let plain = matches!(style, TScalarStyle::Plain);
                self.push_node(
                    Node {
                        line,
                        value: Value::Scalar { text, plain },
                    },
                    anchor,
                );
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
                self.push_node(node, 0);
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
                            value: Value::Map(entries),
                        },
                        anchor,
                    ),
                    None => return Err(self.syntax(line, "unbalanced collection end")),
                };
                self.push_node(node, anchor);
            }
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
        Ok(())
    }
}

/// Parses every document of YAML text (already decoded).
pub fn parse_str(path: &str, text: &str) -> Result<Vec<Document>, MisconfigError> {
    let mut parser = Parser::new_from_str(text);
    let mut b = Builder {
        path,
        stack: Vec::new(),
        anchors: HashMap::new(),
        alias_nodes: 0,
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
    Ok(b.docs)
}

#[cfg(test)]
mod tests {
    use super::*;

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
