//! Reading Kubernetes objects from manifest files and `kubectl get -o yaml` dumps.
//!
//! YAML is read by `bulwark_misconfig::yaml` (the reader the per-object checks use: the
//! API server's dialect, repeated keys last-wins with a warning, size and depth limits,
//! line numbers); this module only walks directories, expands `kind: List` (and
//! `*List`) items one level deep, as the API server does, and keeps each object with the
//! file and line it came from. A file that cannot be read or parsed — a Helm template
//! among them, whose `{{ }}` is not YAML — is recorded as [`Unreadable`] naming the
//! file and line, never skipped in silence: callers fail closed on it (exit 2).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use bulwark_misconfig::yaml::{self, Dialect, Node};
use bulwark_misconfig::MisconfigError;

/// Most files read from one directory tree; a larger tree is refused rather than read in
/// part.
pub const MAX_FILES: usize = 100_000;

/// One Kubernetes object and where it was found.
#[derive(Debug, Clone)]
pub struct Object {
    /// The file, as given or found under a given directory.
    pub file: String,
    /// 1-based line where the object starts.
    pub line: u32,
    /// `kind`.
    pub kind: String,
    /// `apiVersion`.
    pub api_version: String,
    /// `metadata.name` (or `generateName`, or empty).
    pub name: String,
    /// `metadata.namespace`, when set.
    pub namespace: Option<String>,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// The whole object.
    pub node: Node,
}

impl Object {
    /// The API group of `apiVersion` (empty for the core group).
    pub fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map(|(g, _)| g)
            .unwrap_or("")
    }

    /// `file:line`, for messages.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// A file (or an object in it) that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unreadable {
    /// The file.
    pub file: String,
    /// 1-based line (0 when the whole file is concerned).
    pub line: u32,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        } else {
            write!(f, "{}: {}", self.file, self.message)
        }
    }
}

/// Everything read from the inputs.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The objects, in file order.
    pub objects: Vec<Object>,
    /// Files that could not be read or parsed (the analysis is incomplete).
    pub unreadable: Vec<Unreadable>,
    /// Files read that held no Kubernetes object (kustomization files, values files).
    pub skipped: Vec<Unreadable>,
    /// How the reader resolved repeated keys and other oddities, per file.
    pub warnings: Vec<Unreadable>,
    /// Files read.
    pub files: usize,
}

impl Loaded {
    /// Objects of `kind` (any group).
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Object> + 'a {
        self.objects.iter().filter(move |o| o.kind == kind)
    }

    /// Records an object-level problem (a binding without `roleRef`).
    pub fn invalid(&mut self, obj: &Object, line: u32, message: String) {
        self.unreadable.push(Unreadable {
            file: obj.file.clone(),
            line,
            message: format!("{} {}: {message}", obj.kind, obj.name),
        });
    }
}

fn is_manifest_name(p: &Path) -> bool {
    matches!(
        p.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("yaml" | "yml" | "json")
    )
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, errs: &mut Vec<Unreadable>) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = match std::fs::read_dir(&d) {
            Ok(rd) => rd,
            Err(e) => {
                errs.push(Unreadable {
                    file: d.display().to_string(),
                    line: 0,
                    message: format!("cannot read directory: {e}"),
                });
                continue;
            }
        };
        let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for p in entries.into_iter().rev() {
            // symlink_metadata: links are not followed, so a loop cannot trap the walk.
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            let hidden = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            if meta.is_dir() && !hidden {
                stack.push(p);
            } else if meta.is_file() && is_manifest_name(&p) {
                out.push(p);
            }
        }
        if out.len() > MAX_FILES {
            errs.push(Unreadable {
                file: dir.display().to_string(),
                line: 0,
                message: format!("more than {MAX_FILES} manifest files; refused"),
            });
            out.clear();
            return;
        }
    }
    out.sort();
}

/// Reads every manifest under `paths` (files are read whatever their name; directories
/// are walked for `.yaml`, `.yml` and `.json` files, hidden entries skipped). A path that
/// does not exist is an [`Unreadable`] entry.
pub fn load_paths<P: AsRef<Path>>(paths: &[P]) -> Loaded {
    let mut loaded = Loaded::default();
    for p in paths {
        let p = p.as_ref();
        let mut files = Vec::new();
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => walk(p, &mut files, &mut loaded.unreadable),
            Ok(_) => files.push(p.to_path_buf()),
            Err(e) => {
                loaded.unreadable.push(Unreadable {
                    file: p.display().to_string(),
                    line: 0,
                    message: format!("cannot read: {e}"),
                });
                continue;
            }
        }
        for f in files {
            let shown = f.display().to_string();
            match read_bounded(&f) {
                Ok(bytes) => load_bytes(&shown, &bytes, &mut loaded),
                Err(message) => loaded.unreadable.push(Unreadable {
                    file: shown,
                    line: 0,
                    message,
                }),
            }
        }
    }
    loaded
}

fn read_bounded(f: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(f).map_err(|e| format!("cannot open: {e}"))?;
    let mut buf = Vec::new();
    let limit = u64::try_from(yaml::MAX_YAML_BYTES).unwrap_or(u64::MAX);
    file.take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot read: {e}"))?;
    Ok(buf)
}

/// Reads the objects of one file's bytes into `loaded`.
pub fn load_bytes(file: &str, bytes: &[u8], loaded: &mut Loaded) {
    loaded.files += 1;
    let parsed = yaml::decode(file, bytes)
        .and_then(|text| yaml::parse_with(file, text, Dialect::Kubernetes));
    let parsed = match parsed {
        Ok(p) => p,
        Err(e) => {
            let line = match &e {
                MisconfigError::Yaml { line, .. } | MisconfigError::Invalid { line, .. } => *line,
                _ => 0,
            };
            // The error's text already names the file; keep only what follows it.
            let text = e.to_string();
            let message = text
                .strip_prefix(file)
                .map(|r| r.trim_start_matches(|c: char| c == ':' || c.is_ascii_digit()))
                .map(|r| r.trim().to_string())
                .unwrap_or(text);
            loaded.unreadable.push(Unreadable {
                file: file.to_string(),
                line,
                message,
            });
            return;
        }
    };
    for w in parsed.warnings {
        loaded.warnings.push(Unreadable {
            file: file.to_string(),
            line: w.line,
            message: w.message,
        });
    }
    let before = loaded.objects.len();
    for doc in parsed.docs {
        if let Some(root) = doc.root {
            collect(file, root, loaded, false);
        }
    }
    if loaded.objects.len() == before {
        loaded.skipped.push(Unreadable {
            file: file.to_string(),
            line: 0,
            message: "no Kubernetes object (no apiVersion and kind)".into(),
        });
    }
}

fn collect(file: &str, node: Node, loaded: &mut Loaded, in_list: bool) {
    if !node.is_map() {
        return;
    }
    let kind = node
        .get("kind")
        .and_then(Node::as_str)
        .unwrap_or("")
        .to_string();
    let api_version = node
        .get("apiVersion")
        .and_then(Node::as_str)
        .unwrap_or("")
        .to_string();
    if kind.is_empty() || api_version.is_empty() {
        return;
    }
    if !in_list && kind.ends_with("List") {
        if let Some(items) = node.get("items") {
            for item in items.items() {
                collect(file, item.clone(), loaded, true);
            }
        }
        return;
    }
    let name = node
        .path(&["metadata", "name"])
        .or_else(|| node.path(&["metadata", "generateName"]))
        .and_then(Node::as_string_value)
        .unwrap_or("")
        .to_string();
    let namespace = node
        .path(&["metadata", "namespace"])
        .and_then(Node::as_string_value)
        .map(str::to_string);
    let labels = string_map(node.path(&["metadata", "labels"]));
    loaded.objects.push(Object {
        file: file.to_string(),
        line: node.line,
        kind,
        api_version,
        name,
        namespace,
        labels,
        node,
    });
}

/// A mapping of scalars as a string map (labels, matchLabels); other entries are dropped.
pub fn string_map(node: Option<&Node>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(n) = node {
        for (k, v) in n.entries() {
            if let (Some(k), Some(v)) = (k.as_str(), v.as_str()) {
                out.insert(k.to_string(), v.to_string());
            }
        }
    }
    out
}

/// The strings of a sequence of scalars.
pub fn strings(node: Option<&Node>) -> Vec<String> {
    node.map(|n| {
        n.items()
            .iter()
            .filter_map(Node::as_str)
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

/// Where a pod-bearing object keeps its pod template: (template metadata, pod spec).
pub fn pod_template(obj: &Object) -> Option<(Option<&Node>, &Node)> {
    bulwark_misconfig::k8s::pod_template(&obj.kind, &obj.node)
}

/// Kinds that own pods through a template (the Pod itself included).
pub const POD_KINDS: &[&str] = &[
    "Pod",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "ReplicationController",
];

/// An image named by a container of a pod-bearing object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImageRef {
    /// The image reference as written.
    pub image: String,
    /// `Kind/namespace/name` of the object.
    pub workload: String,
    /// The container's name.
    pub container: String,
    /// File and line of the `image` field.
    pub location: String,
}

/// Every image of every container (init, regular, ephemeral) of the pod-bearing objects.
pub fn images(loaded: &Loaded) -> Vec<ImageRef> {
    let mut out = Vec::new();
    for obj in &loaded.objects {
        if !POD_KINDS.contains(&obj.kind.as_str()) {
            continue;
        }
        let Some((_, spec)) = pod_template(obj) else {
            continue;
        };
        for field in ["initContainers", "containers", "ephemeralContainers"] {
            for c in spec.get(field).map(Node::items).unwrap_or(&[]) {
                if let Some(img) = c.get("image") {
                    if let Some(s) = img.as_string_value() {
                        out.push(ImageRef {
                            image: s.to_string(),
                            workload: format!(
                                "{}/{}/{}",
                                obj.kind,
                                obj.namespace.as_deref().unwrap_or("default"),
                                obj.name
                            ),
                            container: c
                                .get("name")
                                .and_then(Node::as_str)
                                .unwrap_or("")
                                .to_string(),
                            location: format!("{}:{}", obj.file, img.line),
                        });
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_expanded_and_lines_kept() {
        let mut l = Loaded::default();
        let text = b"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ServiceAccount\n  metadata: {name: a, namespace: x}\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n  labels: {team: t}\n";
        load_bytes("f.yaml", text, &mut l);
        assert_eq!(l.objects.len(), 2);
        assert_eq!(l.objects[0].kind, "ServiceAccount");
        assert_eq!(l.objects[0].line, 4);
        assert_eq!(l.objects[0].namespace.as_deref(), Some("x"));
        assert_eq!(
            l.objects[1].labels.get("team").map(String::as_str),
            Some("t")
        );
        assert!(l.unreadable.is_empty());
    }

    #[test]
    fn helm_template_is_unreadable_with_line() {
        let mut l = Loaded::default();
        let text = b"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {{ .Values.name }\n";
        load_bytes("t.yaml", text, &mut l);
        assert_eq!(l.unreadable.len(), 1, "{:?}", l.unreadable);
        assert_eq!(l.unreadable[0].file, "t.yaml");
        assert!(l.unreadable[0].line > 0);
    }
}
