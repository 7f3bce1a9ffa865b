//! Making untrusted text safe to show: names, paths and messages come from the scanned
//! image, and an ESC sequence in a package name must not clear the user's screen, set the
//! terminal title (OSC) or forge output lines.
//!
//! Written by hand because it is one small function over `char`s; the crates that do
//! this (e.g. `strip-ansi-escapes`) strip sequences, and stripping hides that the input
//! was hostile — here every control character is shown, escaped, instead.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal raw: C0 controls (including newline and tab, which
/// can forge or misalign lines), DEL, C1 controls, and the Unicode bidi overrides and
/// isolates that reorder what is displayed.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every unsafe character (see [`is_unsafe_char`]) written as a visible escape:
/// `\x1b`, `\n`, `\t`, `\u{9b}`, `\u{202e}`. Borrowed when nothing needed escaping.
pub fn terminal_safe(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe_char(c) && (c as u32) < 0x80 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if is_unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Escapes every string inside a JSON value with [`terminal_safe`] (object keys too).
pub fn terminal_safe_json(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::String(s) => {
            if let Cow::Owned(o) = terminal_safe(s) {
                *s = o;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(terminal_safe_json),
        Value::Object(m) => {
            let old = std::mem::take(m);
            for (k, mut val) in old {
                terminal_safe_json(&mut val);
                m.insert(terminal_safe(&k).into_owned(), val);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_csi_osc_and_c1() {
        assert_eq!(terminal_safe("a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(
            terminal_safe("\x1b]0;pwned\x07title"),
            "\\x1b]0;pwned\\x07title"
        );
        assert_eq!(terminal_safe("x\u{9b}31m"), "x\\u{9b}31m");
        assert_eq!(terminal_safe("evil\u{202e}gpj.exe"), "evil\\u{202e}gpj.exe");
        assert_eq!(terminal_safe("two\nlines\t!"), "two\\nlines\\t!");
        assert!(matches!(terminal_safe("plain ünïcode"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_strings_and_keys() {
        let mut v = serde_json::json!({"n\x1b": ["\x1b[2J", 1, {"k": "\x07"}]});
        terminal_safe_json(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"n\\x1b": ["\\x1b[2J", 1, {"k": "\\x07"}]})
        );
    }
}
