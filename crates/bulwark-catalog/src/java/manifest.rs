//! `META-INF/MANIFEST.MF` parsing: the main section's attributes, with the 72-byte line
//! continuations (a line starting with one space continues the previous value) joined.

/// The main-section attributes in file order. Lines without `:` are ignored rather than
/// rejected, since real manifests are often slightly broken and the rest is still useful.
pub fn parse_main_section(data: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(data);
    let mut out: Vec<(String, String)> = Vec::new();
    let mut seen_attr = false;
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.is_empty() {
            if seen_attr {
                // The first blank line after attributes ends the main section.
                break;
            }
            continue;
        }
        if let Some(cont) = line.strip_prefix(' ') {
            if let Some(last) = out.last_mut() {
                last.1.push_str(cont);
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            let v = v.strip_prefix(' ').unwrap_or(v);
            out.push((k.trim().to_string(), v.to_string()));
            seen_attr = true;
        }
    }
    for (_, v) in &mut out {
        let t = v.trim_end().to_string();
        *v = t;
    }
    out
}

/// What a manifest says about the artifact it ships with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestInfo {
    /// Best guess at the groupId.
    pub group_id: String,
    /// Best guess at the artifactId.
    pub artifact_id: String,
    /// Version.
    pub version: String,
    /// `Plugin-License-Name*` values (Jenkins plugins).
    pub licenses: Vec<String>,
}

impl ManifestInfo {
    /// Derives coordinates the way Trivy does: groupId from `Implementation-Vendor-Id`,
    /// else `Bundle-SymbolicName` minus its last dotted part, else the vendor names;
    /// artifactId from the titles or `Bundle-Name`; version from the versions.
    pub fn from_attributes(attrs: &[(String, String)]) -> Self {
        let get = |k: &str| {
            attrs
                .iter()
                .find(|(key, v)| key.eq_ignore_ascii_case(k) && !v.trim().is_empty())
                .map(|(_, v)| v.trim().to_string())
        };
        let symbolic = get("Bundle-SymbolicName").map(|s| {
            let s = s.split(';').next().unwrap_or("").trim().to_string();
            match s.rsplit_once('.') {
                Some((g, _)) if !g.is_empty() => g.to_string(),
                _ => s,
            }
        });
        let group_id = get("Implementation-Vendor-Id")
            .or(symbolic)
            .or_else(|| get("Implementation-Vendor"))
            .or_else(|| get("Specification-Vendor"))
            .unwrap_or_default();
        let artifact_id = get("Implementation-Title")
            .or_else(|| get("Specification-Title"))
            .or_else(|| get("Bundle-Name"))
            .unwrap_or_default();
        let version = get("Implementation-Version")
            .or_else(|| get("Specification-Version"))
            .or_else(|| get("Bundle-Version"))
            .unwrap_or_default();
        let licenses = attrs
            .iter()
            .filter(|(k, v)| k.starts_with("Plugin-License-Name") && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_string())
            .collect();
        ManifestInfo {
            group_id,
            artifact_id,
            version,
            licenses,
        }
    }

    /// All three coordinates present.
    pub fn is_valid(&self) -> bool {
        !self.group_id.is_empty() && !self.artifact_id.is_empty() && !self.version.is_empty()
    }
}
