//! Registry credentials and `WWW-Authenticate` challenges.
//!
//! Credentials are given by the caller (the CLI builds them from `BULWARK_REGISTRY_TOKEN`
//! or `BULWARK_USERNAME`/`BULWARK_PASSWORD`) or read from the Docker CLI's `config.json`
//! at a path the caller names; this library reads no environment variable. Secrets are
//! kept in [`Secret`], whose `Debug` prints nothing, so a stray `{:?}` in a log line can
//! never leak them.

use base64::Engine as _;
use std::fmt;
use std::path::{Path, PathBuf};

/// Largest `config.json` we read; real ones are a few KiB.
const MAX_DOCKER_CONFIG: u64 = 4 << 20;

/// A string that must never be printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    /// The secret itself, for building a header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What we can present to a registry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Credentials {
    /// Nothing: anonymous pulls (the token flow still runs, without basic auth).
    #[default]
    Anonymous,
    /// User name and password (or personal access token).
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: Secret,
    },
    /// A Docker `identitytoken`: an OAuth2 refresh token for the token server.
    IdentityToken(Secret),
    /// A ready bearer token used as is.
    Bearer(Secret),
}

impl Credentials {
    /// The `Authorization` value for HTTP basic auth, when these are basic credentials.
    pub fn basic_header(&self) -> Option<String> {
        match self {
            Credentials::Basic { username, password } => {
                let raw = format!("{username}:{}", password.expose());
                Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                ))
            }
            _ => None,
        }
    }
}

/// Finds credentials for `registry` (as normalised, `docker.io` for the Hub): the
/// `explicit` ones first, then the Docker config file at `docker_config`. A missing or
/// unreadable config file means anonymous; a malformed one is reported as a warning, not
/// a failure, because most pulls need no credentials at all.
pub fn lookup(
    registry: &str,
    explicit: Option<&Credentials>,
    docker_config: Option<&Path>,
) -> Credentials {
    if let Some(c) = explicit.filter(|c| **c != Credentials::Anonymous) {
        return c.clone();
    }
    let path: PathBuf = match docker_config {
        Some(p) => p.to_path_buf(),
        None => return Credentials::Anonymous,
    };
    let text = match read_small(&path) {
        Ok(Some(t)) => t,
        Ok(None) => return Credentials::Anonymous,
        Err(e) => {
            tracing::warn!("ignoring docker config {}: {e}", path.display());
            return Credentials::Anonymous;
        }
    };
    match from_docker_config(&text, registry) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("ignoring docker config {}: {e}", path.display());
            Credentials::Anonymous
        }
    }
}

fn read_small(path: &Path) -> Result<Option<String>, String> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let mut text = String::new();
    file.take(MAX_DOCKER_CONFIG + 1)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    if text.len() as u64 > MAX_DOCKER_CONFIG {
        return Err(format!("larger than {MAX_DOCKER_CONFIG} bytes"));
    }
    Ok(Some(text))
}

/// The keys under `auths` that may name `registry`; the Docker CLI writes the Hub as
/// `https://index.docker.io/v1/` and others as bare hosts or URLs.
fn config_keys(registry: &str) -> Vec<String> {
    let hosts: Vec<&str> = if registry == super::reference::DOCKER_HUB {
        vec!["index.docker.io", "docker.io", "registry-1.docker.io"]
    } else {
        vec![registry]
    };
    let mut keys = Vec::new();
    if registry == super::reference::DOCKER_HUB {
        keys.push("https://index.docker.io/v1/".to_string());
    }
    for h in hosts {
        keys.push(h.to_string());
        keys.push(format!("https://{h}"));
        keys.push(format!("http://{h}"));
        keys.push(format!("https://{h}/v1/"));
        keys.push(format!("https://{h}/v2/"));
    }
    keys
}

/// Extracts the credentials for `registry` from the text of a Docker `config.json`.
pub fn from_docker_config(text: &str, registry: &str) -> Result<Credentials, String> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let auths = doc.get("auths").and_then(|a| a.as_object());
    let entry = auths.and_then(|a| config_keys(registry).iter().find_map(|k| a.get(k)));
    let Some(entry) = entry else {
        if doc.get("credsStore").is_some() || doc.get("credHelpers").is_some() {
            tracing::info!(
                "docker config names a credential helper; helpers are not run, pulling {registry} anonymously"
            );
        }
        return Ok(Credentials::Anonymous);
    };
    let field = |k: &str| {
        entry
            .get(k)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
    };
    if let Some(tok) = field("identitytoken") {
        return Ok(Credentials::IdentityToken(Secret::new(tok)));
    }
    if let Some(auth) = field("auth") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| format!("auths entry for {registry}: \"auth\" is not base64"))?;
        let raw = String::from_utf8(raw)
            .map_err(|_| format!("auths entry for {registry}: \"auth\" is not UTF-8"))?;
        let (u, p) = raw.split_once(':').ok_or_else(|| {
            format!("auths entry for {registry}: \"auth\" is not base64 of user:password")
        })?;
        return Ok(Credentials::Basic {
            username: u.to_string(),
            password: Secret::new(p),
        });
    }
    if let (Some(u), Some(p)) = (field("username"), field("password")) {
        return Ok(Credentials::Basic {
            username: u.to_string(),
            password: Secret::new(p),
        });
    }
    Ok(Credentials::Anonymous)
}

/// One parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Scheme, lower-cased (`bearer`, `basic`).
    pub scheme: String,
    /// Parameters (`realm`, `service`, `scope`), names lower-cased.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a `WWW-Authenticate` header value holding one challenge (`Bearer realm="..",
/// service="..",scope=".."` or `Basic realm=".."`). Quoted values may contain commas
/// and backslash escapes.
pub fn parse_challenge(header: &str) -> Result<Challenge, String> {
    let header = header.trim();
    let (scheme, rest) = match header.split_once(char::is_whitespace) {
        Some((s, r)) => (s, r.trim_start()),
        None => (header, ""),
    };
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(format!("bad auth scheme in challenge {header:?}"));
    }
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            name.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(format!(
                "parameter {name:?} without value in challenge {header:?}"
            ));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some(e) => value.push(e),
                        None => break,
                    },
                    '"' => {
                        closed = true;
                        break;
                    }
                    _ => value.push(c),
                }
            }
            if !closed {
                return Err(format!("unterminated quoted value in challenge {header:?}"));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        params.push((name.to_ascii_lowercase(), value));
    }
    Ok(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_hub_bearer_challenge() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c.param("service"), Some("registry.docker.io"));
        assert_eq!(c.param("scope"), Some("repository:library/alpine:pull"));
    }

    #[test]
    fn parses_quoted_commas_escapes_and_bare_tokens() {
        let c = parse_challenge(
            r#"bearer  realm = "a,b\"c", service=svc ,scope="repository:x:pull,push""#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.param("realm"), Some("a,b\"c"));
        assert_eq!(c.param("service"), Some("svc"));
        assert_eq!(c.param("scope"), Some("repository:x:pull,push"));
        // Unquoted, the comma ends the value and "push" is a parameter without a value.
        assert!(parse_challenge("Bearer scope=a:b:pull,push").is_err());
        let b =
            parse_challenge(r#"Basic realm="Registry Realm""#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(b.scheme, "basic");
        assert_eq!(b.param("realm"), Some("Registry Realm"));
    }

    #[test]
    fn rejects_malformed_challenges() {
        assert!(parse_challenge("").is_err());
        assert!(parse_challenge(r#"Bearer realm="unterminated"#).is_err());
        assert!(parse_challenge("Bearer realm").is_err());
    }

    #[test]
    fn docker_config_auth_forms() {
        let hub = r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dXNlcjpwYTpzcw=="}}}"#;
        match from_docker_config(hub, "docker.io") {
            Ok(Credentials::Basic { username, password }) => {
                assert_eq!(username, "user");
                // Only the first ':' separates; passwords may contain more.
                assert_eq!(password.expose(), "pa:ss");
            }
            other => panic!("{other:?}"),
        }
        let plain = r#"{"auths":{"localhost:5000":{"username":"u","password":"p"}}}"#;
        assert!(matches!(
            from_docker_config(plain, "localhost:5000"),
            Ok(Credentials::Basic { .. })
        ));
        assert_eq!(
            from_docker_config(plain, "other:5000"),
            Ok(Credentials::Anonymous)
        );
        let ident = r#"{"auths":{"https://r.example":{"identitytoken":"tok"}}}"#;
        assert!(matches!(
            from_docker_config(ident, "r.example"),
            Ok(Credentials::IdentityToken(_))
        ));
        assert!(from_docker_config(r#"{"auths":{"r":{"auth":"!!"}}}"#, "r").is_err());
        assert!(from_docker_config("nope", "r").is_err());
    }

    #[test]
    fn secrets_do_not_print() {
        let c = Credentials::Basic {
            username: "u".into(),
            password: Secret::new("hunter2"),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
