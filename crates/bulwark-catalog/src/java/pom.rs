//! `pom.xml` manifests (`pom`): the project itself and its direct dependencies, offline.
//!
//! Property references (`${x}`) are resolved from the file's own `<properties>` and the
//! `project.*`/`parent.*` built-ins; versions missing from a `<dependency>` are taken
//! from the same file's `<dependencyManagement>`. Like Trivy, `test` and `provided`
//! dependencies are left out. A one-file cataloger cannot read parent POMs, BOM imports
//! or a Maven repository, so dependencies whose version only those could supply are
//! skipped, and so is the project itself when its coordinates stay unresolved (Trivy's
//! offline mode does the same for the latter).

use crate::{read_bounded, CatalogError, CatalogInput, CatalogOutput, Cataloger, ScanMode};
use bulwark_core::{Ecosystem, Package};
use quick_xml::events::Event;
use std::collections::{BTreeMap, BTreeSet};

const MAX_SIZE: u64 = 8 << 20;
/// Deepest element nesting accepted.
const MAX_DEPTH: usize = 64;
/// Rounds of `${...}` expansion (properties may refer to properties).
const MAX_EXPANSION_ROUNDS: usize = 8;
const FORMAT: &str = "pom.xml";

/// Finds the project and direct dependencies in `pom.xml` files.
pub struct PomCataloger;

impl Cataloger for PomCataloger {
    fn id(&self) -> &'static str {
        "pom"
    }

    fn wants(&self, path: &str, _size: u64, _mode: u32, scan: ScanMode) -> bool {
        // Build-time manifests: like Trivy, only in source trees, not in images.
        scan == ScanMode::Source && crate::util::file_name(path) == "pom.xml"
    }

    fn catalog(&self, input: CatalogInput<'_>) -> Result<CatalogOutput, CatalogError> {
        let data = read_bounded(input.reader, MAX_SIZE, self.id())?;
        Ok(CatalogOutput {
            packages: parse_pom(&data)?,
            os: None,
            ..Default::default()
        })
    }
}

/// A minimal element tree: name, text, children.
#[derive(Debug, Default)]
struct Node {
    name: String,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }
    fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }
    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

fn parse_tree(data: &[u8]) -> Result<Node, CatalogError> {
    let mut reader = quick_xml::Reader::from_reader(data);
    let mut stack: Vec<Node> = vec![Node::default()];
    let mut buf = Vec::new();
    let err = |reader: &quick_xml::Reader<&[u8]>, m: String| {
        let pos = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let line = data
            .get(..pos)
            .map(|d| d.iter().filter(|&&b| b == b'\n').count() + 1);
        CatalogError::Parse {
            format: FORMAT,
            line,
            message: m,
        }
    };
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => {
                if stack.len() > MAX_DEPTH {
                    return Err(err(&reader, "elements nested too deeply".into()));
                }
                stack.push(Node {
                    name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                    ..Node::default()
                });
            }
            Ok(Event::Empty(e)) => {
                if let Some(top) = stack.last_mut() {
                    top.children.push(Node {
                        name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                        ..Node::default()
                    });
                }
            }
            Ok(Event::End(_)) => {
                let node = stack.pop();
                match (node, stack.last_mut()) {
                    (Some(n), Some(parent)) => parent.children.push(n),
                    _ => return Err(err(&reader, "unbalanced end tag".into())),
                }
            }
            Ok(Event::Text(t)) => {
                let s = t
                    .unescape()
                    .map_err(|e| err(&reader, format!("bad text: {e}")))?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&s);
                }
            }
            Ok(Event::CData(t)) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Ok(Event::Eof) => break,
            Err(e) => return Err(err(&reader, e.to_string())),
            _ => {}
        }
        buf.clear();
    }
    if stack.len() != 1 {
        return Err(err(&reader, "unclosed element at end of file".into()));
    }
    stack
        .pop()
        .and_then(|root| root.children.into_iter().find(|c| c.name == "project"))
        .ok_or_else(|| CatalogError::parse(FORMAT, "no <project> element"))
}

/// Expands `${name}` references; `None` when any stays unresolved.
fn expand(s: &str, props: &BTreeMap<String, String>) -> Option<String> {
    let mut cur = s.to_string();
    for _ in 0..MAX_EXPANSION_ROUNDS {
        let Some(start) = cur.find("${") else {
            return Some(cur);
        };
        let end = start + cur.get(start..)?.find('}')?;
        let key = cur.get(start + 2..end)?;
        let value = props.get(key)?;
        cur = format!("{}{}{}", cur.get(..start)?, value, cur.get(end + 1..)?);
    }
    (!cur.contains("${")).then_some(cur)
}

/// Parses the bytes of a `pom.xml` (see the module docs for what is reported).
pub fn parse_pom(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let project = parse_tree(data)?;
    let parent = project.child("parent");
    let group = project
        .text_of("groupId")
        .or_else(|| parent.and_then(|p| p.text_of("groupId")))
        .unwrap_or("")
        .to_string();
    let artifact = project.text_of("artifactId").unwrap_or("").to_string();
    let version = project
        .text_of("version")
        .or_else(|| parent.and_then(|p| p.text_of("version")))
        .unwrap_or("")
        .to_string();

    let mut props: BTreeMap<String, String> = BTreeMap::new();
    if let Some(p) = project.child("properties") {
        for c in &p.children {
            props.insert(c.name.clone(), c.text.trim().to_string());
        }
    }
    for (k, v) in [
        ("project.groupId", &group),
        ("pom.groupId", &group),
        ("groupId", &group),
        ("project.artifactId", &artifact),
        ("project.version", &version),
        ("pom.version", &version),
        ("version", &version),
    ] {
        props.entry(k.to_string()).or_insert_with(|| v.clone());
    }
    if let Some(p) = parent {
        for (k, field) in [
            ("project.parent.version", "version"),
            ("parent.version", "version"),
            ("project.parent.groupId", "groupId"),
            ("parent.groupId", "groupId"),
        ] {
            if let Some(v) = p.text_of(field) {
                props.entry(k.to_string()).or_insert_with(|| v.to_string());
            }
        }
    }

    let mut managed: BTreeMap<(String, String), String> = BTreeMap::new();
    if let Some(deps) = project
        .child("dependencyManagement")
        .and_then(|d| d.child("dependencies"))
    {
        for d in deps.all("dependency") {
            let g = expand(d.text_of("groupId").unwrap_or(""), &props);
            let a = expand(d.text_of("artifactId").unwrap_or(""), &props);
            let v = expand(d.text_of("version").unwrap_or(""), &props);
            if let (Some(g), Some(a), Some(v)) = (g, a, v) {
                managed.insert((g, a), v);
            }
        }
    }

    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    if let (Some(g), Some(a), Some(v)) = (
        expand(&group, &props),
        expand(&artifact, &props),
        expand(&version, &props),
    ) {
        if !g.is_empty() && !a.is_empty() && !v.is_empty() {
            let mut root = Package::new(Ecosystem::Maven, format!("{g}:{a}"), v.clone(), "pom");
            root.licenses = project
                .child("licenses")
                .map(|l| {
                    l.all("license")
                        .filter_map(|x| x.text_of("name"))
                        .filter(|n| !n.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            seen.insert((root.name.clone(), v));
            out.push(root);
        }
    }
    if let Some(deps) = project.child("dependencies") {
        for d in deps.all("dependency") {
            let scope = d.text_of("scope").unwrap_or("compile");
            if matches!(scope, "test" | "provided") {
                continue;
            }
            let (Some(g), Some(a)) = (
                expand(d.text_of("groupId").unwrap_or(""), &props),
                expand(d.text_of("artifactId").unwrap_or(""), &props),
            ) else {
                continue;
            };
            let v = match d.text_of("version").filter(|v| !v.is_empty()) {
                Some(v) => expand(v, &props),
                None => managed.get(&(g.clone(), a.clone())).cloned(),
            };
            let Some(v) = v.filter(|v| !v.is_empty()) else {
                continue;
            };
            if g.is_empty() || a.is_empty() {
                continue;
            }
            let name = format!("{g}:{a}");
            if seen.insert((name.clone(), v.clone())) {
                out.push(Package::new(Ecosystem::Maven, name, v, "pom"));
            }
        }
    }
    Ok(out)
}
