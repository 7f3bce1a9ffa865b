//! Registry credentials and `WWW-Authenticate` challenges.
//!
//! Where credentials come from, in this order (first match wins):
//! 1. [`CredentialConfig::explicit`] — what the caller passes in (the CLI fills it from
//!    `BULWARK_REGISTRY_TOKEN`, or `BULWARK_USERNAME` + `BULWARK_PASSWORD`);
//! 2. the Docker CLI config file [`CredentialConfig::docker_config`]: its `credHelpers`
//!    entry for the registry, else its `credsStore`, each run as
//!    `docker-credential-NAME get` with the server URL on stdin; when the helper has no
//!    entry, the file's own `auths` entry (`auth` base64 of `user:password`,
//!    `username`/`password`, or an `identitytoken`);
//! 3. anonymous.
//!
//! This module never reads environment variables: the CLI reads `DOCKER_CONFIG`, `HOME`
//! and the `BULWARK_*` variables once and passes the result down, so a library caller (the
//! server, the admission webhook) decides for itself. Secrets are kept in [`Secret`],
//! whose `Debug` prints nothing, so a stray `{:?}` in a log line can never leak them.

use base64::Engine as _;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Largest `config.json` we read; real ones are a few KiB.
const MAX_DOCKER_CONFIG: u64 = 4 << 20;
/// Largest credential-helper answer we read.
const MAX_HELPER_OUTPUT: u64 = 1 << 20;
/// How long a credential helper may take (some prompt a keychain; none should take long).
const HELPER_TIMEOUT: Duration = Duration::from_secs(30);

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

/// Where to look for credentials; see the module docs for the order.
#[derive(Debug, Clone, Default)]
pub struct CredentialConfig {
    /// Credentials that override everything else, for every registry.
    pub explicit: Option<Credentials>,
    /// The Docker CLI `config.json` to read; `None` reads none. [`docker_config_path`]
    /// computes the Docker CLI's default from `DOCKER_CONFIG` and `HOME`.
    pub docker_config: Option<PathBuf>,
    /// Directories to search for `docker-credential-*` helpers (a `PATH`-style list);
    /// `None` searches the process's `PATH`.
    pub helper_path: Option<OsString>,
}

/// Credentials found for one registry, and where they came from (for error messages).
#[derive(Debug, Clone, Default)]
pub struct FoundCredentials {
    /// The credentials.
    pub credentials: Credentials,
    /// Where they came from (`"/home/u/.docker/config.json (auths)"`), empty when
    /// anonymous.
    pub source: String,
}

/// The Docker CLI's config file: `$DOCKER_CONFIG/config.json`, else
/// `$HOME/.docker/config.json`. The caller passes the two variables' values.
pub fn docker_config_path(docker_config: Option<&OsStr>, home: Option<&OsStr>) -> Option<PathBuf> {
    if let Some(dir) = docker_config.filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    home.filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".docker").join("config.json"))
}

/// Finds credentials for `registry` (as normalised, `docker.io` for the Hub). A missing
/// config file means anonymous; an unreadable or malformed one, or a failing helper, is
/// logged as a warning and means anonymous too, because most pulls need no credentials
/// and a 401 will say what was (not) found.
pub fn lookup(registry: &str, config: &CredentialConfig) -> FoundCredentials {
    if let Some(c) = &config.explicit {
        return FoundCredentials {
            credentials: c.clone(),
            source: "explicit credentials".into(),
        };
    }
    let Some(path) = &config.docker_config else {
        return FoundCredentials::default();
    };
    let text = match read_small(path) {
        Ok(Some(t)) => t,
        Ok(None) => return FoundCredentials::default(),
        Err(e) => {
            tracing::warn!("ignoring docker config {}: {e}", path.display());
            return FoundCredentials::default();
        }
    };
    let doc: serde_json::Value = match serde_json::from_str(&text) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!("ignoring docker config {}: not JSON: {e}", path.display());
            return FoundCredentials::default();
        }
    };
    if let Some(helper) = helper_for(&doc, registry) {
        match run_helper(
            &helper,
            &server_url(registry),
            config.helper_path.as_deref(),
        ) {
            Ok(Some(c)) => {
                return FoundCredentials {
                    credentials: c,
                    source: format!("credential helper docker-credential-{helper}"),
                }
            }
            Ok(None) => {
                tracing::debug!("docker-credential-{helper} has nothing for {registry}");
            }
            Err(e) => tracing::warn!("credential helper docker-credential-{helper}: {e}"),
        }
    }
    match from_docker_json(&doc, registry) {
        Ok(Credentials::Anonymous) => FoundCredentials::default(),
        Ok(c) => FoundCredentials {
            credentials: c,
            source: format!("{} (auths)", path.display()),
        },
        Err(e) => {
            tracing::warn!("ignoring docker config {}: {e}", path.display());
            FoundCredentials::default()
        }
    }
}

/// The helper the config names for `registry`: `credHelpers` first, then `credsStore`.
fn helper_for(doc: &serde_json::Value, registry: &str) -> Option<String> {
    let by_host = doc
        .get("credHelpers")
        .and_then(|h| h.as_object())
        .and_then(|h| {
            config_keys(registry)
                .iter()
                .find_map(|k| h.get(k).and_then(|v| v.as_str()))
                .map(str::to_string)
        });
    by_host
        .or_else(|| {
            doc.get("credsStore")
                .and_then(|v| v.as_str())
                .map(str::to_string)
        })
        .filter(|h| !h.is_empty())
}

/// What the Docker CLI hands a helper for `registry`.
fn server_url(registry: &str) -> String {
    if registry == super::reference::DOCKER_HUB {
        "https://index.docker.io/v1/".to_string()
    } else {
        registry.to_string()
    }
}

/// Runs `docker-credential-NAME get`. `Ok(None)` when the helper has no entry.
fn run_helper(
    name: &str,
    server: &str,
    search: Option<&OsStr>,
) -> Result<Option<Credentials>, String> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        || name.starts_with('.')
    {
        return Err(format!("refusing helper name {name:?}"));
    }
    let program = format!("docker-credential-{name}");
    let exe: PathBuf = match search {
        Some(dirs) => std::env::split_paths(dirs)
            .map(|d| d.join(&program))
            .find(|p| p.is_file())
            .ok_or_else(|| format!("{program} not found in the helper path"))?,
        None => PathBuf::from(&program),
    };
    let mut child = Command::new(&exe)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading gives EPIPE; its exit status says more.
        let _ = stdin.write_all(server.as_bytes());
    }
    let stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(s) = stdout {
            let _ = s.take(MAX_HELPER_OUTPUT + 1).read_to_end(&mut out);
        }
        out
    });
    let deadline = Instant::now() + HELPER_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{program} did not finish within {HELPER_TIMEOUT:?}"
                ));
            }
            Err(e) => return Err(format!("waiting for {program}: {e}")),
        }
    };
    let out = reader
        .join()
        .map_err(|_| format!("reading the output of {program} failed"))?;
    if out.len() as u64 > MAX_HELPER_OUTPUT {
        return Err(format!(
            "{program} printed more than {MAX_HELPER_OUTPUT} bytes"
        ));
    }
    let text = String::from_utf8_lossy(&out);
    if !status.success() {
        if text.to_ascii_lowercase().contains("credentials not found") {
            return Ok(None);
        }
        return Err(format!(
            "{program} get failed ({status}): {}",
            text.trim().chars().take(200).collect::<String>()
        ));
    }
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{program} printed something that is not JSON: {e}"))?;
    let field = |k: &str| doc.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let (user, secret) = (field("Username"), field("Secret"));
    if secret.is_empty() {
        return Ok(None);
    }
    if user == "<token>" {
        return Ok(Some(Credentials::IdentityToken(Secret::new(secret))));
    }
    Ok(Some(Credentials::Basic {
        username: user.to_string(),
        password: Secret::new(secret),
    }))
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

/// Extracts the `auths` credentials for `registry` from the text of a Docker
/// `config.json` (helpers are not run here).
pub fn from_docker_config(text: &str, registry: &str) -> Result<Credentials, String> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    from_docker_json(&doc, registry)
}

fn from_docker_json(doc: &serde_json::Value, registry: &str) -> Result<Credentials, String> {
    let auths = doc.get("auths").and_then(|a| a.as_object());
    let entry = auths.and_then(|a| config_keys(registry).iter().find_map(|k| a.get(k)));
    let Some(entry) = entry else {
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

    #[cfg(unix)]
    #[test]
    fn credential_helpers_credsstore_and_order() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("{e}"));
        // A helper that knows one server, answers "<token>" for another, and fails for
        // the rest the way real helpers do.
        let script = r#"#!/bin/sh
read server
case "$server" in
  helped.example:5000) echo '{"ServerURL":"helped.example:5000","Username":"hank","Secret":"h-pw"}' ;;
  tok.example) echo '{"ServerURL":"tok.example","Username":"<token>","Secret":"refresh-1"}' ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
"#;
        for name in ["docker-credential-bwtest", "docker-credential-store2"] {
            let p = bin.join(name);
            std::fs::write(&p, script).unwrap_or_else(|e| panic!("{e}"));
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let cfg = dir.path().join("config.json");
        std::fs::write(
            &cfg,
            r#"{"credsStore":"store2","credHelpers":{"helped.example:5000":"bwtest"},
               "auths":{"fallback.example":{"auth":"Zm9vOmJhcg=="},"helped.example:5000":{"auth":"eDp5"}}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let config = CredentialConfig {
            explicit: None,
            docker_config: Some(cfg.clone()),
            helper_path: Some(bin.clone().into_os_string()),
        };
        // credHelpers beats the auths entry for the same host.
        let f = lookup("helped.example:5000", &config);
        match &f.credentials {
            Credentials::Basic { username, password } => {
                assert_eq!(username, "hank");
                assert_eq!(password.expose(), "h-pw");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            f.source.contains("docker-credential-bwtest"),
            "{}",
            f.source
        );
        // credsStore answers "<token>": an identity token.
        assert!(matches!(
            lookup("tok.example", &config).credentials,
            Credentials::IdentityToken(_)
        ));
        // The store has nothing: the file's auths entry is used.
        let f = lookup("fallback.example", &config);
        assert!(
            matches!(f.credentials, Credentials::Basic { ref username, .. } if username == "foo")
        );
        // Nothing anywhere: anonymous.
        assert_eq!(
            lookup("none.example", &config).credentials,
            Credentials::Anonymous
        );
        // Explicit credentials win over everything.
        let explicit = CredentialConfig {
            explicit: Some(Credentials::Bearer(Secret::new("t"))),
            ..config.clone()
        };
        assert!(matches!(
            lookup("helped.example:5000", &explicit).credentials,
            Credentials::Bearer(_)
        ));
        // A helper name that could escape the search path is refused.
        assert!(run_helper("../x", "h", Some(bin.as_os_str())).is_err());
        // A missing helper is a warning, and the auths entry still applies.
        let missing = CredentialConfig {
            helper_path: Some(dir.path().join("empty").into_os_string()),
            ..config
        };
        assert!(matches!(
            lookup("helped.example:5000", &missing).credentials,
            Credentials::Basic { ref username, .. } if username == "x"
        ));
    }

    #[test]
    fn docker_config_path_order() {
        use std::ffi::OsStr;
        assert_eq!(
            docker_config_path(Some(OsStr::new("/d")), Some(OsStr::new("/h"))),
            Some(PathBuf::from("/d/config.json"))
        );
        assert_eq!(
            docker_config_path(Some(OsStr::new("")), Some(OsStr::new("/h"))),
            Some(PathBuf::from("/h/.docker/config.json"))
        );
        assert_eq!(docker_config_path(None, None), None);
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
