//! Rules files: Falco's YAML format (a list of `rule`, `macro` and `list` items;
//! `exceptions`, `priority`, `tags`, `output`, `enabled`, `append` and `override`), so
//! existing rules carry over, plus one bulwark key: `actions: [alert, kill, pause]`.
//!
//! Loading is two-phase: every file's items are read first (later files may append to
//! or override earlier items), then lists, macros and rules are compiled, so items may
//! refer to items defined further down. Every error names the file, the line of the
//! item (or of its field) and the field; all errors of a load are reported, not only
//! the first.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cond::{self, Expr, Scope};
use crate::fields::field_type;

/// The shipped default rules.
pub const DEFAULT_RULES: &str = include_str!("../rules/default.yaml");
/// The name the shipped rules are reported under.
pub const DEFAULT_RULES_NAME: &str = "<builtin>/default.yaml";

/// Falco's priorities, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Priority {
    Emergency,
    Alert,
    Critical,
    Error,
    Warning,
    Notice,
    Informational,
    Debug,
}

impl Priority {
    fn parse(s: &str) -> Option<Priority> {
        Some(match s.to_ascii_uppercase().as_str() {
            "EMERGENCY" => Priority::Emergency,
            "ALERT" => Priority::Alert,
            "CRITICAL" => Priority::Critical,
            "ERROR" => Priority::Error,
            "WARNING" | "WARN" => Priority::Warning,
            "NOTICE" => Priority::Notice,
            "INFO" | "INFORMATIONAL" => Priority::Informational,
            "DEBUG" => Priority::Debug,
            _ => return None,
        })
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Priority::Emergency => "EMERGENCY",
            Priority::Alert => "ALERT",
            Priority::Critical => "CRITICAL",
            Priority::Error => "ERROR",
            Priority::Warning => "WARNING",
            Priority::Notice => "NOTICE",
            Priority::Informational => "INFORMATIONAL",
            Priority::Debug => "DEBUG",
        };
        f.write_str(s)
    }
}

/// What to do when a rule matches (bulwark's `actions` key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Write an alert (always done).
    Alert,
    /// SIGKILL the process.
    Kill,
    /// Pause the container through the runtime API.
    Pause,
}

/// An output template: text with `%field` references.
#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<(String, Option<String>)>,
}

impl Template {
    fn parse(s: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut it = s.char_indices().peekable();
        while let Some((_, c)) = it.next() {
            if c != '%' {
                lit.push(c);
                continue;
            }
            let mut name = String::new();
            while let Some(&(_, n)) = it.peek() {
                if n.is_ascii_alphanumeric() || n == '_' || n == '.' {
                    name.push(n);
                    it.next();
                } else {
                    break;
                }
            }
            while name.ends_with('.') {
                name.pop();
                lit.push('.');
            }
            if name.is_empty() {
                lit.push('%');
                continue;
            }
            if field_type(&name).is_none() {
                return Err(format!("unknown field '%{name}'"));
            }
            parts.push((std::mem::take(&mut lit), Some(name)));
        }
        parts.push((lit, None));
        Ok(Template { parts })
    }

    /// Renders the template; absent fields print as `<NA>` (as in Falco).
    pub fn render(&self, get: &dyn Fn(&str) -> Option<String>) -> String {
        let mut out = String::new();
        for (lit, f) in &self.parts {
            out.push_str(lit);
            if let Some(f) = f {
                out.push_str(&get(f).unwrap_or_else(|| "<NA>".into()));
            }
        }
        out.trim().to_string()
    }

    /// The fields the template names.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| p.1.as_deref())
    }
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub desc: String,
    pub condition: Expr,
    pub output: Template,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub actions: Vec<Action>,
    /// Event kinds the rule can match (`None`: every kind).
    pub kinds: Option<BTreeSet<u32>>,
    pub file: String,
    pub line: usize,
}

impl Rule {
    /// The MITRE ATT&CK tags (`mitre_*` tactics and `T####` techniques).
    pub fn mitre(&self) -> Vec<String> {
        self.tags
            .iter()
            .filter(|t| {
                t.starts_with("mitre_")
                    || (t.starts_with('T')
                        && t[1..].chars().next().is_some_and(|c| c.is_ascii_digit()))
            })
            .cloned()
            .collect()
    }
    /// Whether the rule kills.
    pub fn kills(&self) -> bool {
        self.actions.contains(&Action::Kill)
    }
}

/// One error in a rules file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}: {what}")]
pub struct RuleError {
    pub file: String,
    pub line: usize,
    pub what: String,
}

/// All errors of a load.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("reading rules file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<RuleError>),
}

#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn list(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawException {
    name: String,
    fields: OneOrMany,
    #[serde(default)]
    comps: Option<OneOrMany>,
    #[serde(default)]
    values: Vec<serde_yaml_ng::Value>,
}

#[derive(Debug, Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
struct RawItem {
    rule: Option<String>,
    #[serde(rename = "macro")]
    macro_: Option<String>,
    list: Option<String>,
    required_engine_version: Option<serde_yaml_ng::Value>,
    required_plugin_versions: Option<serde_yaml_ng::Value>,
    desc: Option<String>,
    condition: Option<String>,
    output: Option<String>,
    priority: Option<String>,
    enabled: Option<bool>,
    tags: Option<Vec<String>>,
    exceptions: Option<Vec<RawException>>,
    #[serde(rename = "override")]
    override_: Option<HashMap<String, String>>,
    append: Option<bool>,
    source: Option<String>,
    items: Option<Vec<serde_yaml_ng::Value>>,
    actions: Option<OneOrMany>,
    warn_evttypes: Option<bool>,
    // Accepted so Falco files load; they change nothing here (no plugins, no captures).
    #[allow(dead_code)]
    #[serde(rename = "skip-if-unknown-filter")]
    skip_if_unknown_filter: Option<bool>,
    #[allow(dead_code)]
    capture: Option<bool>,
    #[allow(dead_code)]
    capture_duration: Option<u64>,
}

#[derive(Debug, Clone)]
struct Located {
    item: RawItem,
    file: String,
    /// Line of the item, and of each of its keys.
    line: usize,
    keys: HashMap<String, usize>,
}

impl Located {
    fn err(&self, field: Option<&str>, what: impl fmt::Display) -> RuleError {
        let (kind, name) = self.kind_name();
        let line = field
            .and_then(|f| self.keys.get(f).copied())
            .unwrap_or(self.line);
        let what = match field {
            Some(f) => format!("{kind} '{name}' field '{f}': {what}"),
            None => format!("{kind} '{name}': {what}"),
        };
        RuleError {
            file: self.file.clone(),
            line,
            what,
        }
    }
    fn kind_name(&self) -> (&'static str, String) {
        if let Some(n) = &self.item.rule {
            ("rule", n.clone())
        } else if let Some(n) = &self.item.macro_ {
            ("macro", n.clone())
        } else if let Some(n) = &self.item.list {
            ("list", n.clone())
        } else {
            ("item", String::new())
        }
    }
}

fn yaml_scalar(v: &serde_yaml_ng::Value) -> Option<String> {
    match v {
        serde_yaml_ng::Value::String(s) => Some(s.clone()),
        serde_yaml_ng::Value::Number(n) => Some(n.to_string()),
        serde_yaml_ng::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Finds each top-level item's line and the lines of its keys, by scanning the text
/// (serde's YAML model carries no positions).
fn locate(text: &str) -> Vec<(usize, HashMap<String, usize>)> {
    let mut out: Vec<(usize, HashMap<String, usize>)> = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let n = i + 1;
        if l.starts_with("- ") || l == "-" {
            out.push((n, HashMap::new()));
            let rest = l[1..].trim_start();
            if let Some((k, _)) = rest.split_once(':') {
                out.last_mut().map(|o| o.1.insert(k.trim().to_string(), n));
            }
        } else if let Some(cur) = out.last_mut() {
            let t = l.trim_start();
            let indent = l.len() - t.len();
            if indent > 0 && indent <= 4 && !t.starts_with('-') && !t.starts_with('#') {
                if let Some((k, _)) = t.split_once(':') {
                    if !k.contains(' ') {
                        cur.1.entry(k.to_string()).or_insert(n);
                    }
                }
            }
        }
    }
    out
}

/// A loaded rule set, indexed by event kind.
#[derive(Debug, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    by_kind: HashMap<u32, Vec<usize>>,
    any_kind: Vec<usize>,
    /// Warnings (rules for other sources skipped, rules without an event type).
    pub warnings: Vec<String>,
}

impl RuleSet {
    /// What the rules need of read-only opens' paths, for the in-kernel filter: rules
    /// whose event kinds exclude `openat`/`openat2` need nothing; `None` when some rule
    /// may match any read-only open, so that none may be filtered.
    pub fn read_open_need(&self) -> Option<cond::PathNeed> {
        let open = [
            crate::event::Kind::Openat.code(),
            crate::event::Kind::Openat2.code(),
        ];
        let mut acc = cond::PathNeed::default();
        for r in &self.rules {
            if let Some(k) = &r.kinds {
                if !open.iter().any(|o| k.contains(o)) {
                    continue;
                }
            }
            acc.union(r.condition.read_open_need()?);
        }
        Some(acc)
    }

    /// Loads rules from `(name, text)` sources, in order.
    pub fn from_sources(sources: &[(String, String)]) -> Result<RuleSet, LoadError> {
        let mut errors = Vec::new();
        let mut items: Vec<Located> = Vec::new();
        for (file, text) in sources {
            if text.trim().is_empty() {
                continue;
            }
            let raw: Vec<RawItem> = match serde_yaml_ng::from_str(text) {
                Ok(v) => v,
                Err(e) => {
                    let line = e.location().map(|l| l.line()).unwrap_or(1);
                    errors.push(RuleError {
                        file: file.clone(),
                        line,
                        what: format!("{e}"),
                    });
                    continue;
                }
            };
            let lines = locate(text);
            for (i, item) in raw.into_iter().enumerate() {
                let (line, keys) = lines.get(i).cloned().unwrap_or((1, HashMap::new()));
                items.push(Located {
                    item,
                    file: file.clone(),
                    line,
                    keys,
                });
            }
        }
        let merged = merge(items, &mut errors);
        let set = compile(merged, &mut errors);
        if errors.is_empty() {
            Ok(set)
        } else {
            Err(LoadError::Invalid(errors))
        }
    }

    /// Loads the given files (each read whole; at most 16 MiB).
    pub fn from_files(paths: &[PathBuf]) -> Result<RuleSet, LoadError> {
        let mut sources = Vec::new();
        for p in paths {
            sources.push((p.display().to_string(), read_rules_file(p)?));
        }
        RuleSet::from_sources(&sources)
    }

    /// The shipped default rules.
    pub fn defaults() -> Result<RuleSet, LoadError> {
        RuleSet::from_sources(&[(DEFAULT_RULES_NAME.to_string(), DEFAULT_RULES.to_string())])
    }

    /// The rules that may match an event of kind `code`, in file order.
    pub fn candidates(&self, code: u32) -> impl Iterator<Item = &Rule> {
        let a = self.by_kind.get(&code).map(|v| v.as_slice()).unwrap_or(&[]);
        let mut idx: Vec<usize> = a.iter().chain(self.any_kind.iter()).copied().collect();
        idx.sort_unstable();
        idx.into_iter().filter_map(move |i| self.rules.get(i))
    }
}

/// Reads a rules file (at most 16 MiB).
pub fn read_rules_file(p: &Path) -> Result<String, LoadError> {
    use std::io::Read;
    let f = std::fs::File::open(p).map_err(|source| LoadError::Read {
        path: p.to_path_buf(),
        source,
    })?;
    let mut s = String::new();
    f.take(16 << 20)
        .read_to_string(&mut s)
        .map_err(|source| LoadError::Read {
            path: p.to_path_buf(),
            source,
        })?;
    Ok(s)
}

/// Applies `append` and `override` items to the items they name.
fn merge(items: Vec<Located>, errors: &mut Vec<RuleError>) -> Vec<Located> {
    let mut out: Vec<Located> = Vec::new();
    for it in items {
        let (kind, name) = it.kind_name();
        if kind == "item" {
            if it.item.required_engine_version.is_none()
                && it.item.required_plugin_versions.is_none()
            {
                errors.push(it.err(None, "neither rule, macro nor list"));
            }
            continue;
        }
        let is_append = it.item.append == Some(true);
        let ov = it.item.override_.clone();
        if !is_append && ov.is_none() {
            out.push(it);
            continue;
        }
        let target = out
            .iter_mut()
            .rev()
            .find(|o| o.kind_name() == (kind, name.clone()));
        let Some(t) = target else {
            errors.push(it.err(
                None,
                format!("appends to or overrides a {kind} that is not defined before it"),
            ));
            continue;
        };
        let mode = |key: &str| -> Option<String> {
            if is_append {
                return Some("append".into());
            }
            ov.as_ref().and_then(|m| m.get(key).cloned())
        };
        let check = |key: &str| -> Result<Option<String>, RuleError> {
            match mode(key) {
                None => Ok(None),
                Some(m) if m == "append" || m == "replace" => Ok(Some(m)),
                Some(m) => Err(it.err(
                    Some("override"),
                    format!("'{key}: {m}' must be append or replace"),
                )),
            }
        };
        let mut apply = || -> Result<(), RuleError> {
            if let Some(c) = &it.item.condition {
                match check("condition")?.as_deref() {
                    Some("append") => {
                        let old = t.item.condition.clone().unwrap_or_default();
                        t.item.condition = Some(format!("{old} {c}"));
                    }
                    _ => t.item.condition = Some(c.clone()),
                }
            }
            if let Some(i) = &it.item.items {
                match check("items")?.as_deref() {
                    Some("append") => t
                        .item
                        .items
                        .get_or_insert_with(Vec::new)
                        .extend(i.iter().cloned()),
                    _ => t.item.items = Some(i.clone()),
                }
            }
            if let Some(x) = &it.item.exceptions {
                match check("exceptions")?.as_deref() {
                    Some("append") => t
                        .item
                        .exceptions
                        .get_or_insert_with(Vec::new)
                        .extend(x.iter().cloned()),
                    _ => t.item.exceptions = Some(x.clone()),
                }
            }
            if let Some(x) = &it.item.tags {
                match check("tags")?.as_deref() {
                    Some("append") => t
                        .item
                        .tags
                        .get_or_insert_with(Vec::new)
                        .extend(x.iter().cloned()),
                    _ => t.item.tags = Some(x.clone()),
                }
            }
            if let Some(x) = &it.item.output {
                check("output")?;
                t.item.output = Some(x.clone());
            }
            if let Some(x) = &it.item.desc {
                check("desc")?;
                t.item.desc = Some(x.clone());
            }
            if let Some(x) = &it.item.priority {
                check("priority")?;
                t.item.priority = Some(x.clone());
            }
            if let Some(x) = it.item.enabled {
                t.item.enabled = Some(x);
            }
            if let Some(x) = &it.item.actions {
                t.item.actions = Some(x.clone());
            }
            Ok(())
        };
        if let Err(e) = apply() {
            errors.push(e);
        }
    }
    out
}

fn compile(items: Vec<Located>, errors: &mut Vec<RuleError>) -> RuleSet {
    // Lists, with nested list names expanded (cycle-safe).
    let mut raw_lists: HashMap<String, (Vec<String>, usize)> = HashMap::new();
    for (i, it) in items.iter().enumerate() {
        if let Some(n) = &it.item.list {
            let mut v = Vec::new();
            let Some(list_items) = &it.item.items else {
                errors.push(it.err(Some("items"), "a list needs items"));
                continue;
            };
            for x in list_items {
                match yaml_scalar(x) {
                    Some(s) => v.push(s),
                    None => errors.push(it.err(Some("items"), "items must be strings or numbers")),
                }
            }
            raw_lists.insert(n.clone(), (v, i));
        }
    }
    let mut scope = Scope::default();
    fn expand(
        n: &str,
        raw: &HashMap<String, (Vec<String>, usize)>,
        seen: &mut HashSet<String>,
        out: &mut Vec<String>,
    ) {
        if !seen.insert(n.to_string()) {
            return;
        }
        if let Some((v, _)) = raw.get(n) {
            for x in v {
                if raw.contains_key(x) {
                    expand(x, raw, seen, out);
                } else {
                    out.push(x.clone());
                }
            }
        }
    }
    for n in raw_lists.keys() {
        let mut out = Vec::new();
        expand(n, &raw_lists, &mut HashSet::new(), &mut out);
        scope.lists.insert(n.clone(), out);
    }
    // Macros: compiled on demand so they may refer to macros defined later.
    let macro_src: HashMap<String, usize> = items
        .iter()
        .enumerate()
        .filter_map(|(i, it)| it.item.macro_.clone().map(|n| (n, i)))
        .collect();
    fn compile_macro(
        name: &str,
        items: &[Located],
        src: &HashMap<String, usize>,
        scope: &mut Scope,
        stack: &mut Vec<String>,
        errors: &mut Vec<RuleError>,
    ) {
        if scope.macros.contains_key(name) {
            return;
        }
        let Some(&i) = src.get(name) else { return };
        let it = &items[i];
        if stack.iter().any(|s| s == name) {
            errors.push(it.err(
                Some("condition"),
                format!("macro refers to itself through {}", stack.join(" -> ")),
            ));
            return;
        }
        let Some(c) = &it.item.condition else {
            errors.push(it.err(Some("condition"), "a macro needs a condition"));
            return;
        };
        // First compile the macros its words name.
        stack.push(name.to_string());
        for w in c.split(|ch: char| ch.is_whitespace() || ch == '(' || ch == ')' || ch == ',') {
            if src.contains_key(w) && w != name {
                compile_macro(w, items, src, scope, stack, errors);
            } else if w == name {
                errors.push(it.err(Some("condition"), "macro refers to itself"));
                stack.pop();
                return;
            }
        }
        stack.pop();
        match cond::parse(c, scope) {
            Ok(e) => {
                scope.macros.insert(name.to_string(), e);
            }
            Err(e) => errors.push(it.err(Some("condition"), e)),
        }
    }
    let names: Vec<String> = macro_src.keys().cloned().collect();
    for n in names {
        compile_macro(&n, &items, &macro_src, &mut scope, &mut Vec::new(), errors);
    }
    let mut set = RuleSet::default();
    for it in &items {
        let Some(name) = &it.item.rule else { continue };
        let r = &it.item;
        if let Some(s) = &r.source {
            if s != "syscall" {
                set.warnings.push(format!(
                    "{}:{}: rule '{name}' is for source '{s}', skipped",
                    it.file, it.line
                ));
                continue;
            }
        }
        let mut bad = false;
        let mut need = |field: &str, v: &Option<String>| -> String {
            match v {
                Some(s) => s.clone(),
                None => {
                    errors.push(it.err(None, format!("missing required field '{field}'")));
                    bad = true;
                    String::new()
                }
            }
        };
        let cond_text = need("condition", &r.condition);
        let out_text = need("output", &r.output);
        let prio_text = need("priority", &r.priority);
        let desc = need("desc", &r.desc);
        if bad {
            continue;
        }
        let priority = match Priority::parse(&prio_text) {
            Some(p) => p,
            None => {
                errors.push(it.err(Some("priority"), format!("'{prio_text}' is not one of EMERGENCY, ALERT, CRITICAL, ERROR, WARNING, NOTICE, INFO, DEBUG")));
                continue;
            }
        };
        let condition = match cond::parse(&cond_text, &scope) {
            Ok(e) => e,
            Err(e) => {
                errors.push(it.err(Some("condition"), e));
                continue;
            }
        };
        let output = match Template::parse(&out_text) {
            Ok(t) => t,
            Err(e) => {
                errors.push(it.err(Some("output"), e));
                continue;
            }
        };
        let mut actions = vec![Action::Alert];
        if let Some(a) = &r.actions {
            for x in a.list() {
                match x.as_str() {
                    "alert" => {}
                    "kill" => actions.push(Action::Kill),
                    "pause" => actions.push(Action::Pause),
                    o => {
                        errors.push(it.err(
                            Some("actions"),
                            format!("unknown action '{o}' (alert, kill, pause)"),
                        ));
                        bad = true;
                    }
                }
            }
        }
        let mut exc = Vec::new();
        for x in r.exceptions.iter().flatten() {
            match exception(x) {
                Ok(Some(e)) => exc.push(e),
                Ok(None) => {}
                Err(e) => {
                    errors.push(it.err(Some("exceptions"), format!("exception '{}': {e}", x.name)));
                    bad = true;
                }
            }
        }
        if bad || r.enabled == Some(false) {
            continue;
        }
        let kinds = condition.kinds();
        if kinds.is_none() && r.warn_evttypes != Some(false) {
            set.warnings.push(format!(
                "{}:{}: rule '{name}' has no evt.type restriction: it is evaluated for every event",
                it.file, it.line
            ));
        }
        let condition = if exc.is_empty() {
            condition
        } else {
            Expr::And(vec![condition, Expr::Not(Box::new(Expr::Or(exc)))])
        };
        let idx = set.rules.len();
        match &kinds {
            Some(k) => {
                for c in k {
                    set.by_kind.entry(*c).or_default().push(idx);
                }
            }
            None => set.any_kind.push(idx),
        }
        set.rules.push(Rule {
            name: name.clone(),
            desc: desc.trim().to_string(),
            condition,
            output,
            priority,
            tags: r.tags.clone().unwrap_or_default(),
            actions,
            kinds,
            file: it.file.clone(),
            line: it.line,
        });
    }
    set
}

/// An exception as an expression matching the excepted events (`None`: no values).
fn exception(x: &RawException) -> Result<Option<Expr>, String> {
    if x.values.is_empty() {
        return Ok(None);
    }
    match &x.fields {
        OneOrMany::One(field) => {
            let op_s = match &x.comps {
                Some(OneOrMany::One(c)) => c.clone(),
                None => "in".into(),
                Some(OneOrMany::Many(_)) => {
                    return Err("a single field takes a single comps value".into())
                }
            };
            let op =
                cond::op_from_str(&op_s).ok_or_else(|| format!("unknown comparison '{op_s}'"))?;
            let vals: Vec<String> = x
                .values
                .iter()
                .map(|v| {
                    yaml_scalar(v)
                        .ok_or_else(|| "values must be scalars for a single field".to_string())
                })
                .collect::<Result<_, _>>()?;
            if op == cond::Op::In || op == cond::Op::PMatch || op == cond::Op::Intersects {
                return cond::make_cmp(field, op, vals).map(Some);
            }
            let alts: Vec<Expr> = vals
                .into_iter()
                .map(|v| cond::make_cmp(field, op, vec![v]))
                .collect::<Result<_, _>>()?;
            Ok(Some(Expr::Or(alts)))
        }
        OneOrMany::Many(fields) => {
            let comps = match &x.comps {
                None => vec!["=".to_string(); fields.len()],
                Some(c) => c.list(),
            };
            if comps.len() != fields.len() {
                return Err(format!("{} fields but {} comps", fields.len(), comps.len()));
            }
            let mut alts = Vec::new();
            for (i, tuple) in x.values.iter().enumerate() {
                let serde_yaml_ng::Value::Sequence(vals) = tuple else {
                    return Err(format!(
                        "values[{i}] must be a list of {} values",
                        fields.len()
                    ));
                };
                if vals.len() != fields.len() {
                    return Err(format!(
                        "values[{i}] has {} values for {} fields",
                        vals.len(),
                        fields.len()
                    ));
                }
                let mut all = Vec::new();
                for ((f, c), v) in fields.iter().zip(&comps).zip(vals) {
                    let op =
                        cond::op_from_str(c).ok_or_else(|| format!("unknown comparison '{c}'"))?;
                    let vs =
                        match v {
                            serde_yaml_ng::Value::Sequence(s) => {
                                s.iter().filter_map(yaml_scalar).collect()
                            }
                            o => vec![yaml_scalar(o)
                                .ok_or_else(|| format!("values[{i}]: not a scalar"))?],
                        };
                    all.push(cond::make_cmp(f, op, vs)?);
                }
                alts.push(Expr::And(all));
            }
            Ok(Some(Expr::Or(alts)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rules_let_the_kernel_filter_read_only_opens() {
        let need = RuleSet::defaults().unwrap().read_open_need().unwrap();
        for p in [
            "/etc/shadow",
            "/etc/sudoers.d",
            "/run/secrets/kubernetes.io",
            "/root/.aws",
        ] {
            assert!(need.prefixes.contains(p), "{p}: {need:?}");
        }
        for c in ["docker.sock", "podman.sock", "credentials", "gcloud"] {
            assert!(need.components.contains(c), "{c}: {need:?}");
        }
        // Writes are never filtered, so the write rules' directories are not needed.
        assert!(!need.prefixes.contains("/usr"), "{need:?}");
        // A rule that may match any read-only open turns the filter off.
        let mut v = RuleSet::defaults().unwrap();
        let extra = load(
            "- rule: any open by cat\n  desc: d\n  condition: evt.type = openat and proc.name = cat\n  output: o\n  priority: NOTICE\n",
        )
        .unwrap();
        v.rules.extend(extra.rules);
        assert_eq!(v.read_open_need(), None);
    }

    fn load(t: &str) -> Result<RuleSet, Vec<RuleError>> {
        RuleSet::from_sources(&[("r.yaml".into(), t.into())]).map_err(|e| match e {
            LoadError::Invalid(v) => v,
            LoadError::Read { .. } => unreachable!(),
        })
    }

    #[test]
    fn defaults_load() {
        let s = RuleSet::defaults().unwrap();
        assert!(s.rules.len() >= 15, "{}", s.rules.len());
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let e = load("- list: shells\n  items: [sh]\n- rule: R\n  desc: d\n  condition: proc.name in (shells) and proc.nme = x\n  output: o\n  priority: WARNING\n").unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(
            e[0].to_string(),
            "r.yaml:5: rule 'R' field 'condition': column 27: unknown field 'proc.nme'"
        );
        let e = load("- rule: R\n  desc: d\n  condition: proc.name = x\n  output: o %proc.nam\n  priority: LOUD\n").unwrap_err();
        assert_eq!(e[0].to_string(), "r.yaml:5: rule 'R' field 'priority': 'LOUD' is not one of EMERGENCY, ALERT, CRITICAL, ERROR, WARNING, NOTICE, INFO, DEBUG");
        let e = load("- rule: R\n  desc: d\n  conditon: proc.name = x\n").unwrap_err();
        assert!(e[0].to_string().starts_with("r.yaml:3:"), "{}", e[0]);
        assert!(
            e[0].to_string().contains("unknown field `conditon`"),
            "{}",
            e[0]
        );
        let e = load("- rule: R\n  desc: d\n  condition: proc.name = x\n  priority: INFO\n")
            .unwrap_err();
        assert_eq!(
            e[0].to_string(),
            "r.yaml:1: rule 'R': missing required field 'output'"
        );
        let e = load("- macro: a\n  condition: b\n- macro: b\n  condition: a\n").unwrap_err();
        assert!(e.iter().any(|x| x.what.contains("itself")), "{e:?}");
        let e = load("- rule: R\n  desc: d\n  condition: proc.name = x\n  output: o\n  priority: INFO\n  actions: [explode]\n").unwrap_err();
        assert_eq!(
            e[0].to_string(),
            "r.yaml:6: rule 'R' field 'actions': unknown action 'explode' (alert, kill, pause)"
        );
        let e = load("rule: x\n").unwrap_err();
        assert_eq!(e[0].line, 1);
    }

    #[test]
    fn exceptions_overrides_and_later_macros() {
        let s = load(
            "- rule: R\n  desc: d\n  condition: evt.type = openat and sens\n  output: \"%proc.name read %fd.name\"\n  priority: WARNING\n  tags: [container, mitre_credential_access, T1003]\n  exceptions:\n    - name: ok\n      fields: [proc.name, fd.name]\n      comps: [=, startswith]\n      values:\n        - [passwd, /etc/shadow]\n- macro: sens\n  condition: fd.name in (sens_files)\n- list: sens_files\n  items: [/etc/shadow, more]\n- list: more\n  items: [/etc/gshadow]\n- list: sens_files\n  items: [/etc/sudoers]\n  override:\n    items: append\n",
        )
        .unwrap();
        let r = &s.rules[0];
        assert_eq!(r.mitre(), vec!["mitre_credential_access", "T1003"]);
        assert_eq!(r.kinds.as_ref().unwrap().len(), 1);
        let get = |f: &str| Some(format!("<{f}>"));
        assert_eq!(r.output.render(&get), "<proc.name> read <fd.name>");
    }
}
