//! Image reference parsing with Docker's normalisation rules.
//!
//! `alpine` means `docker.io/library/alpine:latest`; the first path component is a
//! registry host only when it looks like one (contains `.` or `:`, is `localhost`, or has
//! upper-case letters), exactly as the Docker CLI decides. Everything is validated here
//! because repository names, tags and digests end up in URLs and digests in cache paths.

use crate::ImageError;
use std::fmt;

/// The registry a bare name refers to.
pub const DOCKER_HUB: &str = "docker.io";
/// The API host behind [`DOCKER_HUB`].
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Registry as written after normalisation (`docker.io`, `localhost:5000`).
    pub registry: String,
    /// Repository path (`library/alpine`).
    pub repository: String,
    /// Tag; `latest` when neither tag nor digest was given.
    pub tag: Option<String>,
    /// Digest (`sha256:<64 hex>`), when pinned.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses `reference` (an optional leading `docker://` is accepted).
    pub fn parse(reference: &str) -> Result<Reference, ImageError> {
        let err = |message: String| ImageError::Target {
            target: reference.to_string(),
            message,
        };
        let s = reference.strip_prefix("docker://").unwrap_or(reference);
        if s.is_empty() {
            return Err(err("empty image reference".into()));
        }
        if s.len() > 4096 {
            return Err(err("image reference longer than 4096 bytes".into()));
        }
        let (name_tag, digest) = match s.split_once('@') {
            Some((n, d)) => {
                validate_digest(d).map_err(&err)?;
                (n, Some(d.to_string()))
            }
            None => (s, None),
        };
        // A ':' after the last '/' starts the tag; one before it is a registry port.
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                (&name_tag[..at], Some(name_tag[at + 1..].to_string()))
            }
            None => (name_tag, None),
        };
        if let Some(t) = &tag {
            validate_tag(t).map_err(&err)?;
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let registry = if registry == "index.docker.io" {
            DOCKER_HUB.to_string()
        } else {
            registry
        };
        validate_registry(&registry).map_err(&err)?;
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        validate_repository(&repository).map_err(&err)?;
        let tag = match (tag, &digest) {
            (None, None) => Some("latest".to_string()),
            (t, _) => t,
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// Host (and port) the registry API is served on.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// What to ask the manifests endpoint for: the digest when pinned, else the tag.
    pub fn manifest_reference(&self) -> &str {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d,
            (None, Some(t)) => t,
            // parse() always sets one of the two.
            (None, None) => "latest",
        }
    }

    /// `registry/repository`, the name used in `repo_tags` and `repo_digests`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Checks a `sha256:<64 lower-case hex>` digest. Only sha256 is accepted because the blob
/// cache is laid out by it and digests become file names.
pub fn validate_digest(d: &str) -> Result<(), String> {
    let hex = d
        .strip_prefix("sha256:")
        .ok_or_else(|| format!("unsupported digest {d:?} (only sha256 is supported)"))?;
    if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(format!(
            "malformed digest {d:?} (want sha256: and 64 lower-case hex digits)"
        ));
    }
    Ok(())
}

fn validate_tag(t: &str) -> Result<(), String> {
    let ok = !t.is_empty()
        && t.len() <= 128
        && t.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid tag {t:?} (letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-')"
        ))
    }
}

fn validate_registry(r: &str) -> Result<(), String> {
    let (host, port) = match r.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (r, None),
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'));
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.parse::<u16>().is_ok());
    if host_ok && port_ok {
        Ok(())
    } else {
        Err(format!("invalid registry host {r:?}"))
    }
}

fn validate_repository(repo: &str) -> Result<(), String> {
    if repo.len() > 255 {
        return Err("repository name longer than 255 bytes".into());
    }
    for component in repo.split('/') {
        let bytes = component.as_bytes();
        let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        let ok = bytes.first().is_some_and(alnum)
            && bytes.last().is_some_and(alnum)
            && bytes
                .iter()
                .all(|b| alnum(b) || matches!(b, b'.' | b'_' | b'-'));
        if !ok {
            return Err(format!(
                "invalid repository {repo:?}: component {component:?} must be lower-case letters, digits and separators"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Reference {
        match Reference::parse(s) {
            Ok(r) => r,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn bare_name_is_docker_hub_library_latest() {
        let r = p("alpine");
        assert_eq!(r.to_string(), "docker.io/library/alpine:latest");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert_eq!(r.manifest_reference(), "latest");
    }

    #[test]
    fn docker_scheme_and_user_repo() {
        let r = p("docker://bitnami/redis:7.2");
        assert_eq!(r.registry, "docker.io");
        assert_eq!(r.repository, "bitnami/redis");
        assert_eq!(r.tag.as_deref(), Some("7.2"));
    }

    #[test]
    fn host_port_and_localhost_are_registries() {
        let r = p("127.0.0.1:5000/team/app:1");
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "team/app");
        assert_eq!(r.api_host(), "127.0.0.1:5000");
        let r = p("localhost/x");
        assert_eq!(r.registry, "localhost");
        assert_eq!(r.repository, "x");
        assert_eq!(r.tag.as_deref(), Some("latest"));
        let r = p("index.docker.io/library/busybox");
        assert_eq!(r.registry, "docker.io");
        let r = p("ghcr.io/o/r");
        assert_eq!(r.registry, "ghcr.io");
    }

    #[test]
    fn digest_pins_and_tag_is_kept() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = p(&format!("alpine@{d}"));
        assert_eq!(r.tag, None);
        assert_eq!(r.manifest_reference(), d);
        let r = p(&format!("localhost:5000/a:3.19@{d}"));
        assert_eq!(r.tag.as_deref(), Some("3.19"));
        assert_eq!(r.manifest_reference(), d);
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "",
            "Alpine",
            "alpine:",
            "alpine:-x",
            "alpine@sha256:abc",
            "alpine@md5:0123",
            "a/../b",
            "a//b",
            "host:99999/x",
            "localhost:5000/x@sha256:../../../../etc/passwd",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
