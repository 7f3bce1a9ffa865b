//! A blocking registry API client for one repository, with the Docker auth dance.
//!
//! Requests go out anonymously (or with a ready bearer token); a `401` with a
//! `WWW-Authenticate` challenge switches to basic auth or fetches a bearer token from the
//! challenge's realm, and the request is retried once. The token is shared by all
//! threads downloading layers. `Authorization` values never reach a log line or an error.

use super::auth::{parse_challenge, Challenge, Credentials, Secret};
use super::reference::Reference;
use crate::ImageError;
use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;
use ureq::http::Response;
use ureq::Body;

/// Largest token-server or error response body we read.
const MAX_SMALL_BODY: u64 = 1 << 20;

/// How requests are authorised right now.
#[derive(Debug, Clone)]
enum AuthState {
    None,
    Basic,
    Bearer(Secret),
}

/// A client bound to one registry repository.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    host: String,
    repository: String,
    creds: Credentials,
    insecure: bool,
    state: Mutex<AuthState>,
}

impl Client {
    /// Makes a client for `reference`'s repository. `insecure` means plain HTTP.
    pub fn new(reference: &Reference, creds: Credentials, insecure: bool) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .https_only(!insecure)
            .redirect_auth_headers(ureq::config::RedirectAuthHeaders::SameHost)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            .timeout_per_read(Some(Duration::from_secs(120)))
            .user_agent(concat!("bulwark/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let scheme = if insecure { "http" } else { "https" };
        let host = reference.api_host().to_string();
        let state = match &creds {
            Credentials::Bearer(t) => AuthState::Bearer(t.clone()),
            _ => AuthState::None,
        };
        Client {
            agent,
            base: format!("{scheme}://{host}/v2/{}", reference.repository),
            host,
            repository: reference.repository.clone(),
            creds,
            insecure,
            state: Mutex::new(state),
        }
    }

    /// The URL of `kind` (`manifests`, `blobs`) `name` in this repository.
    pub fn url(&self, kind: &str, name: &str) -> String {
        format!("{}/{kind}/{name}", self.base)
    }

    /// GETs `url`, authenticating on a `401` challenge and retrying once. Statuses other
    /// than `401` are returned for the caller to judge.
    pub fn get(&self, url: &str, accept: Option<&str>) -> Result<Response<Body>, ImageError> {
        let what = format!("GET {url}");
        let url_for_errors = what.as_str();
        let mut retried = false;
        loop {
            let state = self.current_state();
            let mut req = self.agent.get(url);
            if let Some(a) = accept {
                req = req.header("Accept", a);
            }
            match &state {
                AuthState::None => {}
                AuthState::Basic => {
                    if let Some(h) = self.creds.basic_header() {
                        req = req.header("Authorization", h);
                    }
                }
                AuthState::Bearer(t) => {
                    req = req.header("Authorization", format!("Bearer {}", t.expose()));
                }
            }
            let resp = req
                .call()
                .map_err(|e| remote(url_for_errors, e.to_string()))?;
            if resp.status().as_u16() != 401 {
                return Ok(resp);
            }
            let header = resp
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let detail = error_detail(resp);
            if retried {
                return Err(remote(url_for_errors, self.unauthorized_message(&detail)));
            }
            let Some(header) = header else {
                return Err(remote(
                    url_for_errors,
                    format!("401 Unauthorized without a WWW-Authenticate challenge{detail}"),
                ));
            };
            let challenge = parse_challenge(&header).map_err(|e| remote(url_for_errors, e))?;
            let new_state = self.authenticate(&challenge, url_for_errors)?;
            self.set_state(new_state);
            retried = true;
        }
    }

    fn current_state(&self) -> AuthState {
        match self.state.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn set_state(&self, s: AuthState) {
        match self.state.lock() {
            Ok(mut g) => *g = s,
            Err(p) => *p.into_inner() = s,
        }
    }

    fn unauthorized_message(&self, detail: &str) -> String {
        let who = match &self.creds {
            Credentials::Anonymous => format!(
                "no credentials for {} were found (set BULWARK_USERNAME/BULWARK_PASSWORD, BULWARK_REGISTRY_TOKEN or log in with docker)",
                self.host
            ),
            Credentials::Basic { username, .. } => {
                format!("the credentials for user {username:?} were rejected")
            }
            Credentials::IdentityToken(_) => "the docker identity token was rejected".into(),
            Credentials::Bearer(_) => "the token in BULWARK_REGISTRY_TOKEN was rejected".into(),
        };
        format!("401 Unauthorized: {who}{detail}")
    }

    /// Answers one challenge: the auth state to retry with.
    fn authenticate(&self, challenge: &Challenge, url: &str) -> Result<AuthState, ImageError> {
        match challenge.scheme.as_str() {
            "basic" => {
                if self.creds.basic_header().is_some() {
                    Ok(AuthState::Basic)
                } else {
                    Err(remote(
                        url,
                        format!(
                            "registry requires basic authentication; {}",
                            self.unauthorized_message("")
                                .trim_start_matches("401 Unauthorized: ")
                        ),
                    ))
                }
            }
            "bearer" => self.fetch_token(challenge, url).map(AuthState::Bearer),
            other => Err(remote(
                url,
                format!("registry asks for unsupported auth scheme {other:?}"),
            )),
        }
    }

    /// The Docker token flow: ask the realm for a pull token for this repository.
    fn fetch_token(&self, challenge: &Challenge, url: &str) -> Result<Secret, ImageError> {
        if let Credentials::Bearer(_) = self.creds {
            // The ready token was what got refused; another round cannot help.
            return Err(remote(url, self.unauthorized_message("")));
        }
        let realm = challenge
            .param("realm")
            .ok_or_else(|| remote(url, "bearer challenge without a realm".into()))?;
        let realm_lower = realm.to_ascii_lowercase();
        let plain = realm_lower.starts_with("http://");
        if !(realm_lower.starts_with("https://") || plain) {
            return Err(remote(
                url,
                format!("token realm {realm:?} is not an http(s) URL"),
            ));
        }
        if plain && !self.insecure {
            return Err(remote(
                url,
                format!("token realm {realm:?} is plain HTTP; refusing to send credentials without --insecure"),
            ));
        }
        let default_scope = format!("repository:{}:pull", self.repository);
        let scope = challenge.param("scope").unwrap_or(&default_scope);
        let service = challenge.param("service");
        let what = format!("token request to {realm}");
        let resp = if let Credentials::IdentityToken(tok) = &self.creds {
            let mut form = vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", tok.expose()),
                ("client_id", "bulwark"),
                ("scope", scope),
            ];
            if let Some(s) = service {
                form.push(("service", s));
            }
            self.agent
                .post(realm)
                .send_form(form)
                .map_err(|e| remote(&what, e.to_string()))?
        } else {
            let mut query = form_urlencoded::Serializer::new(String::new());
            if let Some(s) = service {
                query.append_pair("service", s);
            }
            query.append_pair("scope", scope);
            let sep = if realm.contains('?') { '&' } else { '?' };
            let token_url = format!("{realm}{sep}{}", query.finish());
            let mut req = self.agent.get(&token_url);
            if let Some(h) = self.creds.basic_header() {
                req = req.header("Authorization", h);
            }
            req.call().map_err(|e| remote(&what, e.to_string()))?
        };
        let status = resp.status().as_u16();
        if status != 200 {
            let detail = error_detail(resp);
            let msg = if status == 401 || status == 403 {
                self.unauthorized_message(&detail).replace(
                    "401 Unauthorized",
                    &format!("token server answered {status}"),
                )
            } else {
                format!("token server answered HTTP {status}{detail}")
            };
            return Err(remote(&what, msg));
        }
        let body = read_small(resp).map_err(|e| remote(&what, e))?;
        let doc: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| remote(&what, format!("token response is not JSON: {e}")))?;
        let token = ["token", "access_token"]
            .iter()
            .find_map(|k| {
                doc.get(k)
                    .and_then(|v| v.as_str())
                    .filter(|s| !s.is_empty())
            })
            .ok_or_else(|| {
                remote(
                    &what,
                    "token response has no \"token\" or \"access_token\"".into(),
                )
            })?;
        tracing::debug!("obtained a pull token for {} from {realm}", self.repository);
        Ok(Secret::new(token))
    }
}

/// Reads a small response body, refusing more than [`MAX_SMALL_BODY`] bytes.
pub fn read_small(resp: Response<Body>) -> Result<Vec<u8>, String> {
    read_limited(resp, MAX_SMALL_BODY)
}

/// Reads a response body of at most `limit` bytes.
pub fn read_limited(resp: Response<Body>, limit: u64) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    resp.into_body()
        .into_reader()
        .take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("reading response: {e}"))?;
    if buf.len() as u64 > limit {
        return Err(format!("response larger than {limit} bytes"));
    }
    Ok(buf)
}

/// A short description of a failed response: the registry's error codes and messages
/// when it sent its JSON error document, else the start of the body. Starts with `": "`
/// when non-empty so it can be appended to a status line.
pub fn error_detail(resp: Response<Body>) -> String {
    let mut buf = Vec::new();
    let _ = resp
        .into_body()
        .into_reader()
        .take(64 * 1024)
        .read_to_end(&mut buf);
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&buf) {
        if let Some(errors) = doc.get("errors").and_then(|e| e.as_array()) {
            let parts: Vec<String> = errors
                .iter()
                .take(5)
                .map(|e| {
                    let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("?");
                    let msg = e.get("message").and_then(|m| m.as_str()).unwrap_or("");
                    format!("{code} {msg}")
                })
                .collect();
            if !parts.is_empty() {
                return format!(": {}", parts.join("; "));
            }
        }
    }
    let text = String::from_utf8_lossy(&buf);
    let text: String = text.trim().chars().take(200).collect();
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

/// A [`ImageError::Remote`] for request `what`.
pub fn remote(what: &str, message: String) -> ImageError {
    ImageError::Remote {
        what: what.to_string(),
        message,
    }
}
