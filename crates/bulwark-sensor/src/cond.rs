//! The condition language: Falco's syntax (`and`, `or`, `not`, parentheses, `=`, `!=`,
//! `<`, `<=`, `>`, `>=`, `contains`, `icontains`, `startswith`, `endswith`, `glob`,
//! `iglob`, `in`, `intersects`, `pmatch`, `exists`), macros and lists, parsed into an
//! expression tree that is type-checked against the field table at load time and then
//! evaluated per event.
//!
//! Hand-written (a lexer and a recursive-descent parser, ~400 lines): no maintained
//! Rust crate parses Falco's condition syntax, and a hand-written parser gives errors
//! that name the exact token and column.

use std::collections::{BTreeSet, HashMap};

use crate::event::Kind;
use crate::fields::{field_type, FieldType, Value};

/// A condition error, with the 1-based column in the condition text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("column {col}: {msg}")]
pub struct CondError {
    pub col: usize,
    pub msg: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Comma,
    Op(&'static str),
    Word(String),
    Quoted(String),
}

fn lex(s: &str) -> Result<Vec<(Tok, usize)>, CondError> {
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        match c {
            '(' => {
                out.push((Tok::LParen, col));
                i += 1;
            }
            ')' => {
                out.push((Tok::RParen, col));
                i += 1;
            }
            ',' => {
                out.push((Tok::Comma, col));
                i += 1;
            }
            '=' => {
                out.push((Tok::Op("="), col));
                i += 1;
            }
            '!' if b.get(i + 1) == Some(&'=') => {
                out.push((Tok::Op("!="), col));
                i += 2;
            }
            '<' | '>' => {
                let eq = b.get(i + 1) == Some(&'=');
                let op = match (c, eq) {
                    ('<', true) => "<=",
                    ('<', false) => "<",
                    (_, true) => ">=",
                    _ => ">",
                };
                out.push((Tok::Op(op), col));
                i += if eq { 2 } else { 1 };
            }
            '"' | '\'' => {
                let q = c;
                let mut v = String::new();
                i += 1;
                loop {
                    match b.get(i) {
                        None => {
                            return Err(CondError {
                                col,
                                msg: "unterminated quoted string".into(),
                            })
                        }
                        Some('\\') if b.get(i + 1).is_some() => {
                            v.push(b[i + 1]);
                            i += 2;
                        }
                        Some(&ch) if ch == q => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            v.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push((Tok::Quoted(v), col));
            }
            _ => {
                let start = i;
                while i < b.len() {
                    let ch = b[i];
                    if ch.is_whitespace()
                        || matches!(ch, '(' | ')' | ',' | '=' | '<' | '>' | '"' | '\'')
                    {
                        break;
                    }
                    if ch == '!' && b.get(i + 1) == Some(&'=') {
                        break;
                    }
                    i += 1;
                }
                out.push((Tok::Word(b[start..i].iter().collect()), col));
            }
        }
    }
    Ok(out)
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    IContains,
    StartsWith,
    EndsWith,
    Glob,
    IGlob,
    In,
    Intersects,
    PMatch,
}

impl Op {
    fn from_word(w: &str) -> Option<Op> {
        Some(match w {
            "=" | "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "contains" => Op::Contains,
            "icontains" => Op::IContains,
            "startswith" => Op::StartsWith,
            "endswith" => Op::EndsWith,
            "glob" => Op::Glob,
            "iglob" => Op::IGlob,
            "in" => Op::In,
            "intersects" => Op::Intersects,
            "pmatch" => Op::PMatch,
            _ => return None,
        })
    }
    fn takes_list(self) -> bool {
        matches!(self, Op::In | Op::Intersects | Op::PMatch)
    }
}

/// A literal on the right of an operator.
#[derive(Debug, Clone)]
pub struct Lit {
    pub text: String,
    pub num: Option<i64>,
    glob: Option<glob::Pattern>,
}

/// A condition.
#[derive(Debug, Clone)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Cmp {
        field: String,
        op: Op,
        vals: Vec<Lit>,
    },
    Exists(String),
}

/// What conditions are parsed against: known macros (already parsed) and lists (already
/// expanded).
#[derive(Debug, Default, Clone)]
pub struct Scope {
    pub macros: HashMap<String, Expr>,
    pub lists: HashMap<String, Vec<String>>,
}

fn parse_num(s: &str) -> Option<i64> {
    if let Some(h) = s.strip_prefix("0x") {
        return i64::from_str_radix(h, 16).ok();
    }
    if let Some(o) = s.strip_prefix("0o") {
        return i64::from_str_radix(o, 8).ok();
    }
    s.parse().ok()
}

struct Parser<'a> {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    scope: &'a Scope,
    end_col: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.0)
    }
    fn col(&self) -> usize {
        self.toks.get(self.pos).map(|t| t.1).unwrap_or(self.end_col)
    }
    fn err<T>(&self, msg: impl Into<String>) -> Result<T, CondError> {
        Err(CondError {
            col: self.col(),
            msg: msg.into(),
        })
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x == w)
    }

    fn or(&mut self) -> Result<Expr, CondError> {
        let mut v = vec![self.and()?];
        while self.is_word("or") {
            self.pos += 1;
            v.push(self.and()?);
        }
        Ok(if v.len() == 1 {
            v.remove(0)
        } else {
            Expr::Or(v)
        })
    }
    fn and(&mut self) -> Result<Expr, CondError> {
        let mut v = vec![self.not()?];
        while self.is_word("and") {
            self.pos += 1;
            v.push(self.not()?);
        }
        Ok(if v.len() == 1 {
            v.remove(0)
        } else {
            Expr::And(v)
        })
    }
    fn not(&mut self) -> Result<Expr, CondError> {
        if self.is_word("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.primary()
    }
    fn primary(&mut self) -> Result<Expr, CondError> {
        match self.peek().cloned() {
            Some(Tok::LParen) => {
                self.pos += 1;
                let e = self.or()?;
                if self.peek() != Some(&Tok::RParen) {
                    return self.err("expected ')'");
                }
                self.pos += 1;
                Ok(e)
            }
            Some(Tok::Word(w)) => {
                let wcol = self.col();
                self.pos += 1;
                // field OP value?
                let op = match self.peek() {
                    Some(Tok::Op(o)) => Op::from_word(o),
                    Some(Tok::Word(x)) => Op::from_word(x),
                    _ => None,
                };
                if let Some(op) = op {
                    let ty = match field_type(&w) {
                        Some(t) => t,
                        None => {
                            return Err(CondError {
                                col: wcol,
                                msg: format!("unknown field '{w}'"),
                            })
                        }
                    };
                    self.pos += 1;
                    let mut vals = self.values(op)?;
                    check_types(&w, ty, op, &mut vals)
                        .map_err(|msg| CondError { col: wcol, msg })?;
                    return Ok(Expr::Cmp { field: w, op, vals });
                }
                if self.is_word("exists") {
                    if field_type(&w).is_none() {
                        return Err(CondError {
                            col: wcol,
                            msg: format!("unknown field '{w}'"),
                        });
                    }
                    self.pos += 1;
                    return Ok(Expr::Exists(w));
                }
                if let Some(m) = self.scope.macros.get(&w) {
                    return Ok(m.clone());
                }
                if field_type(&w).is_some() {
                    return Err(CondError {
                        col: wcol,
                        msg: format!("field '{w}' without an operator"),
                    });
                }
                Err(CondError {
                    col: wcol,
                    msg: format!("unknown macro or field '{w}'"),
                })
            }
            Some(t) => self.err(format!("unexpected {t:?}")),
            None => self.err("unexpected end of condition"),
        }
    }

    fn lit(&self, text: String) -> Lit {
        Lit {
            num: parse_num(&text),
            glob: None,
            text,
        }
    }

    fn values(&mut self, op: Op) -> Result<Vec<Lit>, CondError> {
        if op.takes_list() {
            if self.peek() != Some(&Tok::LParen) {
                // `x in list_name` (without parentheses) is accepted too
                if let Some(Tok::Word(w)) = self.peek().cloned() {
                    if let Some(items) = self.scope.lists.get(&w) {
                        self.pos += 1;
                        return Ok(items.iter().map(|i| self.lit(i.clone())).collect());
                    }
                }
                return self.err("expected '(' and a list of values");
            }
            self.pos += 1;
            let mut out = Vec::new();
            loop {
                match self.peek().cloned() {
                    Some(Tok::RParen) => {
                        self.pos += 1;
                        break;
                    }
                    Some(Tok::Word(w)) => {
                        self.pos += 1;
                        match self.scope.lists.get(&w) {
                            Some(items) => out.extend(items.iter().map(|i| self.lit(i.clone()))),
                            None => out.push(self.lit(w)),
                        }
                    }
                    Some(Tok::Quoted(q)) => {
                        self.pos += 1;
                        out.push(self.lit(q));
                    }
                    _ => return self.err("expected a value, ',' or ')'"),
                }
                match self.peek() {
                    Some(Tok::Comma) => self.pos += 1,
                    Some(Tok::RParen) => {}
                    _ => return self.err("expected ',' or ')'"),
                }
            }
            return Ok(out);
        }
        match self.peek().cloned() {
            Some(Tok::Word(w)) if !matches!(w.as_str(), "and" | "or" | "not") => {
                self.pos += 1;
                Ok(vec![self.lit(w)])
            }
            Some(Tok::Quoted(q)) => {
                self.pos += 1;
                Ok(vec![self.lit(q)])
            }
            _ => self.err("expected a value"),
        }
    }
}

fn check_types(field: &str, ty: FieldType, op: Op, vals: &mut [Lit]) -> Result<(), String> {
    for v in vals.iter_mut() {
        match ty {
            FieldType::Num => {
                if matches!(
                    op,
                    Op::Contains
                        | Op::IContains
                        | Op::StartsWith
                        | Op::EndsWith
                        | Op::Glob
                        | Op::IGlob
                        | Op::PMatch
                ) {
                    return Err(format!(
                        "operator {op:?} does not apply to the numeric field '{field}'"
                    ));
                }
                if v.num.is_none() {
                    return Err(format!(
                        "value '{}' is not a number, as field '{field}' needs",
                        v.text
                    ));
                }
            }
            FieldType::Bool => {
                if !matches!(op, Op::Eq | Op::Ne | Op::In)
                    || !matches!(v.text.as_str(), "true" | "false")
                {
                    return Err(format!(
                        "field '{field}' is true or false (= / != true|false), not {op:?} '{}'",
                        v.text
                    ));
                }
            }
            FieldType::Str | FieldType::List => {
                if matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge) {
                    return Err(format!(
                        "operator {op:?} needs a numeric field, '{field}' is text"
                    ));
                }
            }
        }
        if matches!(op, Op::Glob | Op::IGlob) {
            let t = if op == Op::IGlob {
                v.text.to_lowercase()
            } else {
                v.text.clone()
            };
            v.glob =
                Some(glob::Pattern::new(&t).map_err(|e| format!("bad glob '{}': {e}", v.text))?);
        }
    }
    if vals.is_empty() && !op.takes_list() {
        return Err("missing value".into());
    }
    Ok(())
}

/// Parses a condition against the known macros and lists.
pub fn parse(text: &str, scope: &Scope) -> Result<Expr, CondError> {
    let toks = lex(text)?;
    if toks.is_empty() {
        return Err(CondError {
            col: 1,
            msg: "empty condition".into(),
        });
    }
    let mut p = Parser {
        toks,
        pos: 0,
        scope,
        end_col: text.chars().count() + 1,
    };
    let e = p.or()?;
    if p.pos < p.toks.len() {
        return p.err(format!(
            "unexpected {:?} after a complete condition",
            p.toks[p.pos].0
        ));
    }
    Ok(e)
}

/// Where a field's value comes from when evaluating.
pub trait Fields {
    fn get(&self, name: &str) -> Option<Value>;
}

impl Fields for crate::fields::Event {
    fn get(&self, name: &str) -> Option<Value> {
        self.field(name)
    }
}

fn pmatch(path: &str, prefix: &str) -> bool {
    let p = prefix.trim_end_matches('/');
    if p.is_empty() {
        return path.starts_with('/');
    }
    path == p || (path.starts_with(p) && path.as_bytes().get(p.len()) == Some(&b'/'))
}

fn cmp_text(s: &str, op: Op, vals: &[Lit]) -> bool {
    match op {
        Op::Eq => s == vals[0].text,
        Op::Ne => s != vals[0].text,
        Op::Contains => s.contains(&vals[0].text),
        Op::IContains => s.to_lowercase().contains(&vals[0].text.to_lowercase()),
        Op::StartsWith => s.starts_with(&vals[0].text),
        Op::EndsWith => s.ends_with(&vals[0].text),
        Op::Glob => vals[0].glob.as_ref().is_some_and(|g| g.matches(s)),
        Op::IGlob => vals[0]
            .glob
            .as_ref()
            .is_some_and(|g| g.matches(&s.to_lowercase())),
        Op::In | Op::Intersects => vals.iter().any(|v| v.text == s),
        Op::PMatch => vals.iter().any(|v| pmatch(s, &v.text)),
        Op::Lt | Op::Le | Op::Gt | Op::Ge => false,
    }
}

fn cmp(v: &Value, op: Op, vals: &[Lit]) -> bool {
    match v {
        Value::Num(n) => match op {
            Op::Eq => vals[0].num == Some(*n),
            Op::Ne => vals[0].num != Some(*n),
            Op::Lt => vals[0].num.is_some_and(|x| *n < x),
            Op::Le => vals[0].num.is_some_and(|x| *n <= x),
            Op::Gt => vals[0].num.is_some_and(|x| *n > x),
            Op::Ge => vals[0].num.is_some_and(|x| *n >= x),
            Op::In | Op::Intersects => vals.iter().any(|x| x.num == Some(*n)),
            _ => false,
        },
        Value::Bool(b) => {
            let t = if *b { "true" } else { "false" };
            match op {
                Op::Ne => vals[0].text != t,
                _ => vals.iter().any(|x| x.text == t),
            }
        }
        Value::Str(s) => cmp_text(s, op, vals),
        Value::List(items) => match op {
            Op::Ne => !items.iter().any(|s| s == &vals[0].text),
            _ => items.iter().any(|s| cmp_text(s, op, vals)),
        },
    }
}

impl Expr {
    /// Evaluates the condition; a comparison on a field the event lacks is false.
    pub fn eval(&self, ev: &dyn Fields) -> bool {
        match self {
            Expr::And(v) => v.iter().all(|e| e.eval(ev)),
            Expr::Or(v) => v.iter().any(|e| e.eval(ev)),
            Expr::Not(e) => !e.eval(ev),
            Expr::Exists(f) => ev.get(f).is_some(),
            Expr::Cmp { field, op, vals } => match ev.get(field) {
                Some(v) => cmp(&v, *op, vals),
                None => false,
            },
        }
    }

    /// The event kinds this condition can match (`None`: any kind), from its
    /// `evt.type` tests, so that rules are only evaluated for their kinds.
    pub fn kinds(&self) -> Option<BTreeSet<u32>> {
        match self {
            Expr::Cmp {
                field,
                op: Op::Eq | Op::In,
                vals,
            } if field == "evt.type" => Some(
                vals.iter()
                    .filter_map(|v| Kind::from_name(&v.text))
                    .map(Kind::code)
                    .collect(),
            ),
            Expr::And(v) => {
                let mut acc: Option<BTreeSet<u32>> = None;
                for e in v {
                    if let Some(k) = e.kinds() {
                        acc = Some(match acc {
                            None => k,
                            Some(a) => a.intersection(&k).copied().collect(),
                        });
                    }
                }
                acc
            }
            Expr::Or(v) => {
                let mut acc = BTreeSet::new();
                for e in v {
                    acc.extend(e.kinds()?);
                }
                Some(acc)
            }
            _ => None,
        }
    }

    /// The in-kernel kill plan of a condition, when its whole shape is one the BPF
    /// side can decide alone: a conjunction of `evt.type` (= or in), `container.id !=
    /// host`, and optionally `proc.name` (= or in, names of at most 15 bytes, as the
    /// kernel's comm). Returns the kinds and, when names are given, the names.
    pub fn kernel_kill_plan(&self) -> Option<(Vec<u32>, Option<Vec<String>>)> {
        fn flatten<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
            match e {
                Expr::And(v) => v.iter().for_each(|x| flatten(x, out)),
                x => out.push(x),
            }
        }
        let mut parts = Vec::new();
        flatten(self, &mut parts);
        let mut kinds: Option<Vec<u32>> = None;
        let mut names: Option<Vec<String>> = None;
        let mut container = false;
        for p in parts {
            match p {
                Expr::Cmp {
                    field,
                    op: Op::Eq | Op::In,
                    vals,
                } if field == "evt.type" && kinds.is_none() => {
                    let k: Option<Vec<u32>> = vals
                        .iter()
                        .map(|v| Kind::from_name(&v.text).map(Kind::code))
                        .collect();
                    kinds = Some(k?);
                }
                Expr::Cmp {
                    field,
                    op: Op::Eq | Op::In,
                    vals,
                } if field == "proc.name" && names.is_none() => {
                    if vals.iter().any(|v| v.text.is_empty() || v.text.len() > 15) {
                        return None;
                    }
                    names = Some(vals.iter().map(|v| v.text.clone()).collect());
                }
                Expr::Cmp {
                    field,
                    op: Op::Ne,
                    vals,
                } if field == "container.id" && vals[0].text == "host" => container = true,
                _ => return None,
            }
        }
        match kinds {
            Some(k) if container && !k.is_empty() => Some((k, names)),
            _ => None,
        }
    }
}

/// What a condition needs of the path of a read-only open (`openat`/`openat2` of an
/// absolute path without `O_WRONLY`, `O_RDWR`, `O_CREAT` or `O_TRUNC`) to hold: the path
/// starts with one of `prefixes` or has a component (text between two `/`, or after the
/// last one) in `components`. Empty: the condition never holds on such an open. This is
/// what the BPF side filters read-only opens by (docs/sensor.md, "In-kernel filtering").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathNeed {
    pub prefixes: BTreeSet<String>,
    pub components: BTreeSet<String>,
}

impl PathNeed {
    fn prefixes<'a>(v: impl IntoIterator<Item = &'a str>) -> PathNeed {
        PathNeed {
            prefixes: v.into_iter().map(str::to_string).collect(),
            components: BTreeSet::new(),
        }
    }
    fn size(&self) -> usize {
        self.prefixes.len() + self.components.len()
    }
    /// Both needs in one (either may hold).
    pub fn union(&mut self, o: PathNeed) {
        self.prefixes.extend(o.prefixes);
        self.components.extend(o.components);
    }
}

/// The literal text a glob pattern's matches start with (up to its first metacharacter).
fn glob_literal_prefix(p: &str) -> &str {
    let end = p.find(['*', '?', '[', '\\']).unwrap_or(p.len());
    &p[..end]
}

/// A component every match of a glob pattern has: a segment without metacharacters
/// between two literal `/` (or after the last one, at the end of the pattern). The
/// pattern's `*` may match `/`, but literal slashes match only slashes, so such a
/// segment is a whole path component. The last one is taken (usually the most specific).
fn glob_component(p: &str) -> Option<&str> {
    let segs: Vec<&str> = p.split('/').collect();
    segs.iter()
        .enumerate()
        .skip(1)
        .filter(|(_, s)| !s.is_empty() && !s.contains(['*', '?', '[', '\\', ']']))
        .map(|(_, s)| *s)
        .next_back()
}

impl Expr {
    /// What the condition needs of a read-only open's path ([`PathNeed`]); `None` when
    /// no such bound is known (the condition may hold on any read-only open). Sound,
    /// not tight: a conjunction takes the smallest need of its parts, a disjunction the
    /// union of theirs, and anything not understood (negations, `contains`, `endswith`,
    /// case-insensitive matches, other fields alone) gives `None`.
    pub fn read_open_need(&self) -> Option<PathNeed> {
        fn texts(vals: &[Lit]) -> Vec<&str> {
            vals.iter().map(|v| v.text.as_str()).collect()
        }
        match self {
            Expr::Cmp { field, op, vals } => match (field.as_str(), op) {
                ("evt.type", Op::Eq | Op::In) => {
                    let open = vals.iter().any(|v| {
                        matches!(Kind::from_name(&v.text), Some(Kind::Openat | Kind::Openat2))
                    });
                    if open {
                        None
                    } else {
                        Some(PathNeed::default())
                    }
                }
                // Never true on a read-only open.
                ("evt.is_open_write", Op::Eq) if vals.first().is_some_and(|v| v.text == "true") => {
                    Some(PathNeed::default())
                }
                ("evt.is_open_read", Op::Eq) if vals.first().is_some_and(|v| v.text == "false") => {
                    Some(PathNeed::default())
                }
                ("fd.name", Op::Eq | Op::In | Op::StartsWith | Op::PMatch) => {
                    let t = texts(vals);
                    if t.iter().any(|v| v.is_empty()) {
                        return None;
                    }
                    Some(PathNeed::prefixes(t))
                }
                ("fd.name", Op::Glob) => {
                    let mut need = PathNeed::default();
                    for v in vals {
                        let lit = glob_literal_prefix(&v.text);
                        if lit.len() > 1 {
                            need.prefixes.insert(lit.to_string());
                        } else {
                            need.components.insert(glob_component(&v.text)?.to_string());
                        }
                    }
                    Some(need)
                }
                ("fd.directory", Op::Eq | Op::In) => Some(PathNeed::prefixes(
                    texts(vals)
                        .into_iter()
                        .map(|d| {
                            if d == "/" {
                                "/".to_string()
                            } else {
                                format!("{d}/")
                            }
                        })
                        .collect::<Vec<_>>()
                        .iter()
                        .map(String::as_str),
                )),
                ("fd.directory", Op::StartsWith | Op::PMatch) => {
                    let t = texts(vals);
                    if t.iter().any(|v| v.is_empty()) {
                        return None;
                    }
                    Some(PathNeed::prefixes(t))
                }
                ("fd.filename", Op::Eq | Op::In) => {
                    let t = texts(vals);
                    if t.iter().any(|v| v.is_empty() || v.contains('/')) {
                        return None;
                    }
                    Some(PathNeed {
                        prefixes: BTreeSet::new(),
                        components: t.into_iter().map(str::to_string).collect(),
                    })
                }
                _ => None,
            },
            Expr::And(v) => v
                .iter()
                .filter_map(Expr::read_open_need)
                .min_by_key(PathNeed::size),
            Expr::Or(v) => {
                let mut acc = PathNeed::default();
                for e in v {
                    acc.union(e.read_open_need()?);
                }
                Some(acc)
            }
            Expr::Not(_) | Expr::Exists(_) => None,
        }
    }
}

/// Parses an exception value list's comparison (`=`, `in`, `startswith`, ...).
pub fn op_from_str(s: &str) -> Option<Op> {
    Op::from_word(s)
}

/// Builds a comparison for exceptions (type-checked like a condition's).
pub fn make_cmp(field: &str, op: Op, vals: Vec<String>) -> Result<Expr, String> {
    let ty = field_type(field).ok_or_else(|| format!("unknown field '{field}'"))?;
    let mut lits: Vec<Lit> = vals
        .into_iter()
        .map(|t| Lit {
            num: parse_num(&t),
            glob: None,
            text: t,
        })
        .collect();
    check_types(field, ty, op, &mut lits)?;
    Ok(Expr::Cmp {
        field: field.to_string(),
        op,
        vals: lits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct M(Vec<(&'static str, Value)>);
    impl Fields for M {
        fn get(&self, n: &str) -> Option<Value> {
            self.0.iter().find(|x| x.0 == n).map(|x| x.1.clone())
        }
    }

    fn ev() -> M {
        M(vec![
            ("evt.type", Value::Str("openat".into())),
            ("fd.name", Value::Str("/etc/shadow".into())),
            ("proc.name", Value::Str("cat".into())),
            ("user.uid", Value::Num(0)),
            ("evt.is_open_write", Value::Bool(false)),
            ("container.id", Value::Str("abc".into())),
            (
                "container.mount.dest",
                Value::List(vec!["/data".into(), "/var/run/docker.sock".into()]),
            ),
        ])
    }

    fn check(c: &str) -> bool {
        let mut s = Scope::default();
        s.lists
            .insert("shells".into(), vec!["sh".into(), "bash".into()]);
        s.lists.insert(
            "sens".into(),
            vec!["/etc/shadow".into(), "/etc/sudoers".into()],
        );
        let m = parse("container.id != host", &s).unwrap();
        s.macros.insert("container".into(), m);
        parse(c, &s).unwrap().eval(&ev())
    }

    #[test]
    fn evaluates_operators() {
        assert!(check("evt.type = openat and fd.name = /etc/shadow"));
        assert!(check("evt.type in (openat, openat2) and container"));
        assert!(!check("evt.type in (openat, openat2) and not container"));
        assert!(check("fd.name in (sens)"));
        assert!(check("fd.name in sens"));
        assert!(!check("proc.name in (shells)"));
        assert!(check(
            "fd.name startswith /etc/ and fd.name endswith shadow"
        ));
        assert!(check("fd.name contains sha and fd.name icontains SHA"));
        assert!(check("fd.name glob '/etc/*ad*'"));
        assert!(check("fd.name pmatch (/etc, /usr)"));
        assert!(!check("fd.name pmatch (/et)"));
        assert!(check("user.uid = 0 and user.uid < 1 and user.uid >= 0"));
        assert!(check("evt.is_open_write = false"));
        assert!(check("fd.name exists and not proc.exe exists"));
        assert!(
            !check("proc.exe = x"),
            "an absent field never compares true"
        );
        assert!(!check("proc.exe != x"), "not even with !=");
        assert!(check("container.mount.dest contains docker.sock"));
        assert!(check(
            "(proc.name = sh or proc.name = cat) and not (fd.name = /x)"
        ));
        assert!(check("proc.name=\"cat\""));
    }

    #[test]
    fn reports_errors_with_columns() {
        let s = Scope::default();
        let e = parse("proc.nam = x", &s).unwrap_err();
        assert_eq!((e.col, e.msg.as_str()), (1, "unknown field 'proc.nam'"));
        let e = parse("proc.name = x and user.uid = root", &s).unwrap_err();
        assert_eq!(e.col, 19);
        assert!(e.msg.contains("not a number"), "{}", e.msg);
        assert!(parse("proc.name in (a, b", &s).is_err());
        assert!(parse("(proc.name = a", &s).unwrap_err().msg.contains("')'"));
        assert!(parse("proc.name = a b", &s).is_err());
        assert!(parse("nosuchmacro", &s)
            .unwrap_err()
            .msg
            .contains("unknown macro"));
        assert!(parse("proc.name = 'x", &s).is_err());
        assert!(parse("fd.sport contains 3", &s).is_err());
        assert!(parse("", &s).is_err());
    }

    #[test]
    fn read_open_need_is_sound_and_useful() {
        let s = Scope::default();
        let need = |c: &str| parse(c, &s).unwrap().read_open_need();
        let pfx = |v: &[&str]| {
            Some(PathNeed {
                prefixes: v.iter().map(|x| x.to_string()).collect(),
                components: BTreeSet::new(),
            })
        };
        let comp = |v: &[&str]| {
            Some(PathNeed {
                prefixes: BTreeSet::new(),
                components: v.iter().map(|x| x.to_string()).collect(),
            })
        };
        // Other kinds, or write opens only: nothing needed of read-only opens.
        assert_eq!(
            need("evt.type = execve and proc.name = sh"),
            Some(PathNeed::default())
        );
        assert_eq!(
            need("evt.type in (openat, openat2) and evt.is_open_write = true"),
            Some(PathNeed::default())
        );
        // Path tests: prefixes, and the smallest bound of a conjunction.
        assert_eq!(
            need("evt.type = openat and fd.name in (/etc/shadow, /etc/gshadow) and proc.name = x"),
            pfx(&["/etc/gshadow", "/etc/shadow"])
        );
        assert_eq!(need("fd.name pmatch (/root/.aws)"), pfx(&["/root/.aws"]));
        assert_eq!(need("fd.directory = /etc"), pfx(&["/etc/"]));
        assert_eq!(need("fd.directory = /"), pfx(&["/"]));
        assert_eq!(need("fd.filename in (docker.sock)"), comp(&["docker.sock"]));
        // Globs: a literal prefix, else a literal component between slashes.
        assert_eq!(need("fd.name glob '/etc/*.conf'"), pfx(&["/etc/"]));
        assert_eq!(
            need("fd.name glob '*/.aws/credentials'"),
            comp(&["credentials"])
        );
        assert_eq!(
            need("fd.name glob '*/.config/gcloud/*credentials*'"),
            comp(&["gcloud"])
        );
        assert_eq!(need("fd.name glob '*credentials*'"), None);
        // A disjunction is bounded only when each side is.
        assert_eq!(
            need("fd.name = /a or fd.filename = b"),
            Some(PathNeed {
                prefixes: ["/a".to_string()].into(),
                components: ["b".to_string()].into(),
            })
        );
        assert_eq!(need("fd.name = /a or proc.name = x"), None);
        // Not understood: no bound.
        for c in [
            "evt.type = openat",
            "evt.type = openat and not fd.name = /etc/passwd",
            "evt.type = openat and fd.name contains shadow",
            "evt.type = openat and fd.name endswith .pem",
            "evt.type = openat and fd.name startswith ''",
            "evt.type = openat and fd.name iglob '/ETC/*'",
            "evt.is_open_write = false and fd.name contains x",
        ] {
            assert_eq!(need(c), None, "{c}");
        }
    }

    #[test]
    fn kinds_and_kernel_shape() {
        let mut s = Scope::default();
        s.macros.insert(
            "container".into(),
            parse("container.id != host", &s).unwrap(),
        );
        let e = parse("evt.type in (init_module, finit_module) and container", &s).unwrap();
        assert_eq!(e.kinds().unwrap().len(), 2);
        assert_eq!(e.kernel_kill_plan(), Some((vec![13, 14], None)));
        let e = parse(
            "evt.type = execve and container and proc.name in (nsenter, chroot)",
            &s,
        )
        .unwrap();
        assert_eq!(
            e.kernel_kill_plan(),
            Some((vec![1], Some(vec!["nsenter".into(), "chroot".into()])))
        );
        let e = parse(
            "evt.type = ptrace and evt.arg.request = 16 and container",
            &s,
        )
        .unwrap();
        assert_eq!(e.kernel_kill_plan(), None);
        let e = parse("evt.type = bpf", &s).unwrap();
        assert_eq!(
            e.kernel_kill_plan(),
            None,
            "host processes are never killed in the kernel"
        );
        assert!(parse("proc.name = x", &s).unwrap().kinds().is_none());
    }
}
