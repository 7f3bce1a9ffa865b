//! Small helpers shared by catalogers.

/// The final path component.
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The parent directory ("" for a top-level file).
pub fn parent(path: &str) -> &str {
    path.rsplit_once('/').map(|(p, _)| p).unwrap_or("")
}

/// True when any path component equals `name`.
pub fn has_component(path: &str, name: &str) -> bool {
    path.split('/').any(|c| c == name)
}
