//! A Dockerfile parser written for bulwark, following BuildKit's reading of the format:
//! parser directives (`# syntax=`, `# escape=`), line continuations (with comment and
//! empty lines inside them skipped, as BuildKit does), heredocs (`<<EOF`, `<<-EOF`,
//! quoted delimiters, several on one line), JSON exec form versus shell form (invalid
//! JSON falls back to shell form), `--flags`, `ONBUILD`, multi-stage builds and
//! ARG/ENV substitution with Docker's scoping (ARGs before the first FROM are only
//! visible in FROM lines unless re-declared in a stage).
//!
//! No maintained Rust crate parses Dockerfiles with heredocs and BuildKit flags, so this
//! is written by hand. Decisions on malformed input:
//! - a dangling line continuation at end of file is accepted (Docker builds it) and
//!   recorded as a [`ParseWarning`];
//! - an unterminated heredoc is an error (Docker refuses to build it);
//! - non-UTF-8 or binary input is an error; inputs over [`MAX_SIZE`] bytes or
//!   [`MAX_INSTRUCTIONS`] instructions are errors.

use std::collections::HashMap;

use crate::MisconfigError;

/// Largest Dockerfile accepted, in bytes.
pub const MAX_SIZE: usize = 4 * 1024 * 1024;
/// Most instructions accepted in one Dockerfile.
pub const MAX_INSTRUCTIONS: usize = 20_000;
/// Longest substituted word kept; longer expansions are truncated (guards `${A}${A}` chains).
const MAX_EXPANSION: usize = 64 * 1024;

/// A parsed Dockerfile.
#[derive(Debug, Clone, Default)]
pub struct Dockerfile {
    /// The `# syntax=` directive, if any.
    pub syntax: Option<String>,
    /// The escape character (`\` unless `# escape=` says otherwise).
    pub escape: char,
    /// Instructions in file order.
    pub instructions: Vec<Instruction>,
    /// Build stages in file order.
    pub stages: Vec<Stage>,
    /// Problems that did not stop the parse.
    pub warnings: Vec<ParseWarning>,
    /// Ids suppressed for the whole file (`# hadolint global ignore=`, `# bulwark:global-ignore=`).
    pub global_ignores: Vec<String>,
}

/// A non-fatal parse problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseWarning {
    /// 1-based line.
    pub line: u32,
    /// What happened.
    pub message: String,
}

/// One build stage (`FROM ... [AS name]`).
#[derive(Debug, Clone, Default)]
pub struct Stage {
    /// 0-based stage index.
    pub index: usize,
    /// Lower-cased stage name, if named.
    pub name: Option<String>,
    /// The base image as written.
    pub base_raw: String,
    /// The base image after ARG substitution.
    pub base: String,
    /// `--platform` value, if any.
    pub platform: Option<String>,
    /// Index into [`Dockerfile::instructions`] of the FROM.
    pub from_instruction: usize,
    /// Line of the FROM.
    pub line: u32,
}

/// A `--name=value` flag of an instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// Name without dashes, lower-cased.
    pub name: String,
    /// Value (empty for a bare `--flag`).
    pub value: String,
}

/// A heredoc attached to an instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word.
    pub name: String,
    /// The body (lines joined with `\n`, tabs stripped for `<<-`).
    pub body: String,
    /// `<<-` form.
    pub strip_tabs: bool,
    /// False when the delimiter was quoted (no expansion in the body).
    pub expand: bool,
    /// Line of the first body line.
    pub start_line: u32,
}

/// One instruction with its arguments in every form the rules need.
#[derive(Debug, Clone, Default)]
pub struct Instruction {
    /// Upper-cased keyword (`RUN`).
    pub keyword: String,
    /// Leading `--flags`.
    pub flags: Vec<Flag>,
    /// The arguments after the flags, continuations joined, as written.
    pub rest: String,
    /// The JSON array for exec form (`RUN ["a","b"]`); `None` for shell form.
    pub exec: Option<Vec<String>>,
    /// Arguments split into words, quotes removed, variables substituted where Docker
    /// substitutes them (not for RUN/CMD/ENTRYPOINT, whose shell does it).
    pub words: Vec<String>,
    /// Heredocs in order.
    pub heredocs: Vec<Heredoc>,
    /// First line (1-based).
    pub start_line: u32,
    /// Last line, including heredoc terminators.
    pub end_line: u32,
    /// Stage index, `None` before the first FROM.
    pub stage: Option<usize>,
    /// Check ids suppressed by comment pragmas directly above.
    pub ignores: Vec<String>,
    /// For `ONBUILD`, the triggered instruction.
    pub onbuild: Option<Box<Instruction>>,
}

impl Instruction {
    /// The value of flag `name` (lower-case, no dashes).
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_str())
    }

    /// The shell script a shell-form `RUN` runs, heredoc bodies included when they are
    /// fed to a shell (`RUN <<EOF`, `RUN bash <<EOF`); `None` for exec form.
    pub fn shell_script(&self) -> Option<String> {
        if self.exec.is_some() {
            return None;
        }
        let mut script = self.rest.clone();
        if self.heredocs.is_empty() {
            return Some(script);
        }
        let without_markers = strip_heredoc_markers(&self.rest);
        let cmd = without_markers.split_whitespace().next().unwrap_or("");
        let base = cmd.rsplit('/').next().unwrap_or(cmd);
        let to_shell = cmd.is_empty() || super::shell::is_shell(base);
        if to_shell {
            script = without_markers;
            for h in &self.heredocs {
                script.push('\n');
                script.push_str(&h.body);
            }
        }
        Some(script)
    }
}

fn strip_heredoc_markers(s: &str) -> String {
    let mut out = String::new();
    for w in s.split_whitespace() {
        if w.starts_with("<<") {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

fn invalid(path: &str, line: u32, message: String) -> MisconfigError {
    MisconfigError::Invalid {
        path: path.to_string(),
        line,
        what: "Dockerfile",
        message,
    }
}

/// Checks size and encoding, returning the text.
fn decode<'a>(path: &str, bytes: &'a [u8]) -> Result<&'a str, MisconfigError> {
    if bytes.len() > MAX_SIZE {
        return Err(MisconfigError::TooLarge {
            path: path.to_string(),
            size: bytes.len(),
            limit: MAX_SIZE,
        });
    }
    if let Some(pos) = bytes.iter().position(|&b| b == 0) {
        let line = bytes[..pos].iter().filter(|&&b| b == b'\n').count() + 1;
        return Err(MisconfigError::NotText {
            path: path.to_string(),
            reason: format!("NUL byte on line {line}: binary data, not a Dockerfile"),
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let upto = e.valid_up_to();
        let line = bytes[..upto].iter().filter(|&&b| b == b'\n').count() + 1;
        MisconfigError::NotText {
            path: path.to_string(),
            reason: format!("invalid UTF-8 on line {line} (byte offset {upto})"),
        }
    })?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// Parses a Dockerfile.
pub fn parse(path: &str, bytes: &[u8]) -> Result<Dockerfile, MisconfigError> {
    let text = decode(path, bytes)?;
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut df = Dockerfile {
        escape: '\\',
        ..Default::default()
    };

    // Parser directives: only at the very top, before any other line (blank lines and
    // ordinary comments end the directive block, as in BuildKit).
    let mut i = 0usize;
    let mut seen = Vec::new();
    while let Some(line) = lines.get(i) {
        let Some((k, v)) = directive(line) else { break };
        if seen.contains(&k) {
            break;
        }
        match k.as_str() {
            "escape" => match v.as_str() {
                "\\" => df.escape = '\\',
                "`" => df.escape = '`',
                other => {
                    return Err(invalid(
                        path,
                        line_no(i),
                        format!("invalid escape directive {other:?} (must be ` or \\)"),
                    ))
                }
            },
            "syntax" => df.syntax = Some(v),
            _ => {}
        }
        seen.push(k);
        i += 1;
    }

    let esc = df.escape;
    let mut pending_comments: Vec<String> = Vec::new();
    while i < lines.len() {
        let line = lines.get(i).copied().unwrap_or("");
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            pending_comments.clear();
            i += 1;
            continue;
        }
        if let Some(c) = trimmed.strip_prefix('#') {
            let c = c.trim();
            if let Some(g) = pragma(c, true) {
                df.global_ignores.extend(g);
            } else {
                pending_comments.push(c.to_string());
            }
            i += 1;
            continue;
        }
        let start = i;
        // Join the logical line.
        let mut logical = String::new();
        let mut cur = line;
        loop {
            let (body, cont) = continuation(cur, esc);
            logical.push_str(body);
            if !cont {
                break;
            }
            // Skip comment and empty lines inside the continuation.
            i += 1;
            loop {
                match lines.get(i) {
                    None => {
                        df.warnings.push(ParseWarning {
                            line: line_no(i.saturating_sub(1)),
                            message: format!(
                                "line continuation at end of file (instruction from line {})",
                                line_no(start)
                            ),
                        });
                        break;
                    }
                    Some(l) => {
                        let t = l.trim_start();
                        if t.starts_with('#') {
                            i += 1;
                        } else if t.is_empty() {
                            df.warnings.push(ParseWarning {
                                line: line_no(i),
                                message: "empty continuation line".to_string(),
                            });
                            i += 1;
                        } else {
                            break;
                        }
                    }
                }
            }
            match lines.get(i) {
                Some(l) => cur = l,
                None => break,
            }
        }
        let end_of_logical = i.min(lines.len().saturating_sub(1));
        i = end_of_logical + 1;

        let (keyword, rest) = split_keyword(logical.trim());
        let upper = keyword.to_ascii_uppercase();
        let mut inst = Instruction {
            keyword: upper.clone(),
            start_line: line_no(start),
            end_line: line_no(end_of_logical),
            ..Default::default()
        };
        for c in pending_comments.drain(..) {
            if let Some(ids) = pragma(&c, false) {
                inst.ignores.extend(ids);
            }
        }
        // Heredocs (RUN, COPY, ADD, and those behind ONBUILD).
        let heredoc_kw = if upper == "ONBUILD" {
            split_keyword(rest).0.to_ascii_uppercase()
        } else {
            upper.clone()
        };
        if matches!(heredoc_kw.as_str(), "RUN" | "COPY" | "ADD") {
            for (name, strip_tabs, expand) in find_heredocs(rest) {
                let body_start = i;
                let mut body = Vec::new();
                let mut closed = false;
                while let Some(l) = lines.get(i) {
                    i += 1;
                    let l = if strip_tabs {
                        l.trim_start_matches('\t')
                    } else {
                        l
                    };
                    if l == name {
                        closed = true;
                        break;
                    }
                    body.push(l.to_string());
                }
                if !closed {
                    return Err(invalid(
                        path,
                        inst.start_line,
                        format!("unterminated heredoc <<{name}: no closing {name:?} line before end of file"),
                    ));
                }
                inst.end_line = line_no(i.saturating_sub(1));
                inst.heredocs.push(Heredoc {
                    name,
                    body: body.join("\n"),
                    strip_tabs,
                    expand,
                    start_line: line_no(body_start),
                });
            }
        }
        fill_args(&mut inst, rest, esc);
        if upper == "ONBUILD" {
            let (k2, r2) = split_keyword(rest);
            let mut inner = Instruction {
                keyword: k2.to_ascii_uppercase(),
                start_line: inst.start_line,
                end_line: inst.end_line,
                heredocs: std::mem::take(&mut inst.heredocs),
                ..Default::default()
            };
            fill_args(&mut inner, r2, esc);
            inst.onbuild = Some(Box::new(inner));
        }
        df.instructions.push(inst);
        if df.instructions.len() > MAX_INSTRUCTIONS {
            return Err(invalid(
                path,
                line_no(start),
                format!("more than {MAX_INSTRUCTIONS} instructions"),
            ));
        }
    }
    resolve(&mut df);
    Ok(df)
}

fn line_no(i: usize) -> u32 {
    u32::try_from(i + 1).unwrap_or(u32::MAX)
}

/// `# key=value` parser directive.
fn directive(line: &str) -> Option<(String, String)> {
    let c = line.trim().strip_prefix('#')?;
    let (k, v) = c.split_once('=')?;
    let k = k.trim().to_ascii_lowercase();
    if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    Some((k, v.trim().to_string()))
}

/// Ignore pragmas: `hadolint ignore=A,B`, `bulwark:ignore=A`; with `global`,
/// `hadolint global ignore=` and `bulwark:global-ignore=`.
fn pragma(comment: &str, global: bool) -> Option<Vec<String>> {
    let c = comment.trim();
    let list = if global {
        c.strip_prefix("hadolint global ignore=")
            .or_else(|| c.strip_prefix("bulwark:global-ignore="))?
    } else {
        c.strip_prefix("hadolint ignore=")
            .or_else(|| c.strip_prefix("bulwark:ignore="))
            .or_else(|| c.strip_prefix("bulwark: ignore="))?
    };
    let list = list.split_whitespace().next().unwrap_or("");
    Some(crate::check::parse_ignore_list(list))
}

/// Strips a trailing escape character (optionally followed by blanks, as BuildKit
/// allows); returns whether the line continues.
fn continuation(line: &str, esc: char) -> (&str, bool) {
    match line.trim_end().strip_suffix(esc) {
        Some(b) => (b, true),
        None => (line, false),
    }
}

fn split_keyword(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(char::is_whitespace) {
        Some(p) => (&s[..p], s[p..].trim_start()),
        None => (s, ""),
    }
}

/// Heredoc markers in `s` outside quotes: `(name, strip_tabs, expand)`.
fn find_heredocs(s: &str) -> Vec<(String, bool, bool)> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut j = 0;
    let mut quote: Option<char> = None;
    while j < chars.len() {
        let c = chars.get(j).copied().unwrap_or(' ');
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            j += 1;
            continue;
        }
        if c == '\'' || c == '"' {
            quote = Some(c);
            j += 1;
            continue;
        }
        if c == '<' && chars.get(j + 1) == Some(&'<') && chars.get(j + 2) != Some(&'<') {
            let mut k = j + 2;
            let strip = chars.get(k) == Some(&'-');
            if strip {
                k += 1;
            }
            let q = match chars.get(k) {
                Some(&q @ ('\'' | '"')) => {
                    k += 1;
                    Some(q)
                }
                _ => None,
            };
            let name_start = k;
            while chars
                .get(k)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-' || *c == '.')
            {
                k += 1;
            }
            let name: String = chars.get(name_start..k).unwrap_or(&[]).iter().collect();
            if let Some(q) = q {
                if chars.get(k) == Some(&q) {
                    k += 1;
                } else {
                    j += 2;
                    continue;
                }
            }
            if !name.is_empty() {
                out.push((name, strip, q.is_none()));
            }
            j = k.max(j + 2);
            continue;
        }
        j += 1;
    }
    out
}

/// Fills flags, exec/shell form and words for `rest` (the text after the keyword).
fn fill_args(inst: &mut Instruction, rest: &str, esc: char) {
    let mut rest = rest.trim();
    let takes_flags = matches!(
        inst.keyword.as_str(),
        "FROM" | "RUN" | "COPY" | "ADD" | "HEALTHCHECK"
    );
    if takes_flags {
        while rest.starts_with("--") {
            let (w, r) = split_flag_word(rest, esc);
            let body = w.trim_start_matches('-');
            let (n, v) = body.split_once('=').unwrap_or((body, ""));
            inst.flags.push(Flag {
                name: n.to_ascii_lowercase(),
                value: unquote(v),
            });
            rest = r.trim_start();
        }
    }
    inst.rest = rest.to_string();
    if matches!(
        inst.keyword.as_str(),
        "RUN" | "CMD" | "ENTRYPOINT" | "SHELL" | "COPY" | "ADD" | "VOLUME"
    ) && rest.starts_with('[')
    {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(rest) {
            inst.exec = Some(v);
        }
    }
    inst.words = match &inst.exec {
        Some(v) => v.clone(),
        None => split_words(rest, esc),
    };
}

fn split_flag_word(s: &str, esc: char) -> (&str, &str) {
    let mut quote = None;
    let mut prev_esc = false;
    for (idx, c) in s.char_indices() {
        if prev_esc {
            prev_esc = false;
            continue;
        }
        if c == esc {
            prev_esc = true;
            continue;
        }
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c.is_whitespace() => return (&s[..idx], &s[idx..]),
            None => {}
        }
    }
    (s, "")
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|x| x.strip_suffix(q)) {
            return inner.to_string();
        }
    }
    v.to_string()
}

/// Splits on unquoted whitespace, removing quotes and escapes (Docker's word rules for
/// ENV, LABEL, COPY and friends).
pub fn split_words(s: &str, esc: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == esc && quote != Some('\'') {
            if let Some(n) = chars.next() {
                // Keep the escape before `$` so substitution can see it.
                if n == '$' {
                    cur.push(esc);
                }
                cur.push(n);
                in_word = true;
            }
            continue;
        }
        match quote {
            Some(q) if c == q => quote = None,
            Some('\'') if c == '$' => {
                // Single quotes suppress substitution.
                cur.push(esc);
                cur.push('$');
            }
            Some(_) => cur.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// Substitutes `$VAR`, `${VAR}`, `${VAR:-def}`, `${VAR-def}`, `${VAR:+x}`, `${VAR+x}`;
/// an escaped `$` stays literal. Unknown variables become empty, as in Docker.
pub fn expand(word: &str, vars: &HashMap<String, Option<String>>, esc: char) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::new();
    let mut j = 0;
    while j < chars.len() && out.len() < MAX_EXPANSION {
        let c = chars.get(j).copied().unwrap_or(' ');
        if c == esc && chars.get(j + 1) == Some(&'$') {
            out.push('$');
            j += 2;
            continue;
        }
        if c != '$' {
            out.push(c);
            j += 1;
            continue;
        }
        if chars.get(j + 1) == Some(&'{') {
            let Some(close) = (j + 2..chars.len()).find(|&k| chars.get(k) == Some(&'}')) else {
                out.extend(chars.get(j..).unwrap_or(&[]));
                break;
            };
            let inner: String = chars.get(j + 2..close).unwrap_or(&[]).iter().collect();
            let name_len = inner
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(inner.len());
            let (name, op) = inner.split_at(name_len);
            let val = vars.get(name).cloned().flatten();
            let set = val.is_some();
            let nonempty = val.as_deref().is_some_and(|v| !v.is_empty());
            let sub = |d: &str| expand(d, vars, esc);
            let r = if let Some(d) = op.strip_prefix(":-") {
                if nonempty {
                    val.unwrap_or_default()
                } else {
                    sub(d)
                }
            } else if let Some(d) = op.strip_prefix('-') {
                if set {
                    val.unwrap_or_default()
                } else {
                    sub(d)
                }
            } else if let Some(d) = op.strip_prefix(":+") {
                if nonempty {
                    sub(d)
                } else {
                    String::new()
                }
            } else if let Some(d) = op.strip_prefix('+') {
                if set {
                    sub(d)
                } else {
                    String::new()
                }
            } else {
                val.unwrap_or_default()
            };
            out.push_str(&r);
            j = close + 1;
            continue;
        }
        let mut k = j + 1;
        while chars
            .get(k)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
        {
            k += 1;
        }
        if k == j + 1 {
            out.push('$');
            j += 1;
            continue;
        }
        let name: String = chars.get(j + 1..k).unwrap_or(&[]).iter().collect();
        out.push_str(&vars.get(&name).cloned().flatten().unwrap_or_default());
        j = k;
    }
    out.truncate(out.len().min(MAX_EXPANSION));
    out
}

/// `key=value` pairs (or legacy `KEY value`) of ENV/LABEL/ARG words.
pub fn key_values(inst: &Instruction) -> Vec<(String, Option<String>)> {
    let w = &inst.words;
    if inst.keyword == "ENV" && w.len() >= 2 && w.first().is_some_and(|k| !k.contains('=')) {
        let key = w.first().cloned().unwrap_or_default();
        return vec![(key, Some(w.get(1..).unwrap_or(&[]).join(" ")))];
    }
    w.iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (p.clone(), None),
        })
        .collect()
}

/// Builds stages, assigns stage indexes and substitutes variables in the words of the
/// instructions Docker substitutes in.
fn resolve(df: &mut Dockerfile) {
    let esc = df.escape;
    let mut global: HashMap<String, Option<String>> = HashMap::new();
    let mut vars: HashMap<String, Option<String>> = HashMap::new();
    let mut stage_vars: Vec<HashMap<String, Option<String>>> = Vec::new();
    let mut stage: Option<usize> = None;
    for (idx, inst) in df.instructions.iter_mut().enumerate() {
        let subst = matches!(
            inst.keyword.as_str(),
            "ADD"
                | "COPY"
                | "ENV"
                | "EXPOSE"
                | "FROM"
                | "LABEL"
                | "STOPSIGNAL"
                | "USER"
                | "VOLUME"
                | "WORKDIR"
                | "ARG"
        );
        if inst.keyword == "FROM" {
            let raw_base = inst.words.first().cloned().unwrap_or_default();
            let base = expand(&raw_base, &global, esc);
            let name = match inst.words.get(1) {
                Some(a) if a.eq_ignore_ascii_case("as") => {
                    inst.words.get(2).map(|n| n.to_ascii_lowercase())
                }
                _ => None,
            };
            let platform = inst.flag("platform").map(str::to_string);
            let index = df.stages.len();
            // A stage built on an earlier stage inherits its ENV.
            let parent = df
                .stages
                .iter()
                .find(|s| s.name.as_deref() == Some(base.to_ascii_lowercase().as_str()))
                .map(|s| s.index);
            vars = parent
                .and_then(|p| stage_vars.get(p).cloned())
                .unwrap_or_default();
            if let Some(w) = inst.words.first_mut() {
                *w = base.clone();
            }
            df.stages.push(Stage {
                index,
                name,
                base_raw: raw_base,
                base,
                platform,
                from_instruction: idx,
                line: inst.start_line,
            });
            stage = Some(index);
            stage_vars.push(vars.clone());
            inst.stage = stage;
            continue;
        }
        inst.stage = stage;
        if subst {
            let scope = if stage.is_some() { &vars } else { &global };
            inst.words = inst.words.iter().map(|w| expand(w, scope, esc)).collect();
        }
        match (inst.keyword.as_str(), stage) {
            ("ARG", None) => {
                for (k, v) in key_values(inst) {
                    global.insert(k, v);
                }
            }
            ("ARG", Some(_)) => {
                for (k, v) in key_values(inst) {
                    let v = v.or_else(|| global.get(&k).cloned().flatten());
                    vars.insert(k, v);
                }
            }
            ("ENV", Some(_)) => {
                for (k, v) in key_values(inst) {
                    vars.insert(k, v);
                }
            }
            _ => {}
        }
        if let Some(s) = stage.and_then(|s| stage_vars.get_mut(s)) {
            s.clone_from(&vars);
        }
    }
}
