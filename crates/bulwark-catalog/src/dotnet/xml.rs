//! A small streaming walk over an XML document for the NuGet/MSBuild formats, reporting
//! each element (with its ancestors and attributes) and each text node, with line
//! numbers. quick-xml does not recurse, and the element stack is capped so a deeply
//! nested document cannot grow memory without bound.

use crate::other::support::{line_of_offset, utf8};
use crate::CatalogError;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// Deepest element nesting accepted; the real formats use four or five levels.
const MAX_DEPTH: usize = 256;

/// One thing found while walking.
pub enum Node<'a> {
    /// An element opened (or an empty element). `stack` ends with this element's local name.
    Element {
        /// Local names from the root down to this element.
        stack: &'a [String],
        /// Attributes by local name, unescaped.
        attrs: &'a [(String, String)],
        /// 1-based line of the tag.
        line: usize,
    },
    /// Text directly inside the element at the top of `stack`, unescaped and trimmed.
    Text {
        /// Local names from the root down to the enclosing element.
        stack: &'a [String],
        /// The text.
        text: &'a str,
    },
}

fn local(name: &[u8]) -> String {
    let n = name.rsplit(|&b| b == b':').next().unwrap_or(name);
    String::from_utf8_lossy(n).into_owned()
}

/// Walks `data`, calling `f` for each element and text node.
pub fn walk(
    data: &[u8],
    format: &'static str,
    mut f: impl FnMut(Node<'_>) -> Result<(), CatalogError>,
) -> Result<(), CatalogError> {
    let text = utf8(data, format)?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<String> = Vec::new();
    let err = |pos: u64, msg: String| CatalogError::Parse {
        format,
        line: Some(line_of_offset(
            text.as_bytes(),
            usize::try_from(pos).unwrap_or(usize::MAX),
        )),
        message: msg,
    };
    let attrs_of = |e: &BytesStart<'_>, pos: u64| -> Result<Vec<(String, String)>, CatalogError> {
        let mut out = Vec::new();
        for a in e.attributes() {
            let a = a.map_err(|e| err(pos, e.to_string()))?;
            let v = a.unescape_value().map_err(|e| err(pos, e.to_string()))?;
            out.push((local(a.key.as_ref()), v.into_owned()));
        }
        Ok(out)
    };
    loop {
        let before = reader.buffer_position();
        // The reader sits after the previous markup; skipped whitespace may lie between,
        // so the tag itself starts at the next `<`.
        let pos = usize::try_from(before)
            .ok()
            .and_then(|b| text.get(b..).and_then(|t| t.find('<')).map(|i| b + i))
            .and_then(|p| u64::try_from(p).ok())
            .unwrap_or(before);
        let ev = reader
            .read_event()
            .map_err(|e| err(reader.error_position(), e.to_string()))?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                let attrs = attrs_of(e, pos)?;
                if stack.len() >= MAX_DEPTH {
                    return Err(err(pos, format!("elements nested deeper than {MAX_DEPTH}")));
                }
                stack.push(local(e.local_name().as_ref()));
                f(Node::Element {
                    stack: &stack,
                    attrs: &attrs,
                    line: line_of_offset(text.as_bytes(), usize::try_from(pos).unwrap_or(0)),
                })?;
                if empty {
                    stack.pop();
                }
            }
            Event::End(_) => {
                stack.pop();
            }
            Event::Text(t) => {
                let s = t.unescape().map_err(|e| err(pos, e.to_string()))?;
                f(Node::Text {
                    stack: &stack,
                    text: s.trim(),
                })?;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(err(
            u64::try_from(text.len()).unwrap_or(u64::MAX),
            format!("element <{open}> is not closed"),
        ));
    }
    Ok(())
}

/// An attribute's value by case-insensitive local name.
pub fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
