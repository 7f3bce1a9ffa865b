//! OIDC JWT bearer tokens: a workload or a person presents a JWT from the organisation's
//! identity provider (GitHub Actions, GitLab, Kubernetes service-account tokens, Dex,
//! Keycloak, …) instead of a bulwark API token.
//!
//! A token is accepted only when every check passes:
//! - its header names an algorithm on the allow-list (`--oidc-algorithms`, default
//!   RS256 and ES256); `none` and the HMAC algorithms are never accepted, whatever the
//!   list says, so a public key cannot be used as an HMAC secret;
//! - its `kid` names a key of the JWKS (a JWKS with a single key may omit `kid`), of the
//!   algorithm's family, whose own `alg` and `use` (when present) agree;
//! - the signature verifies;
//! - `iss` equals the configured issuer, `aud` contains one of the configured
//!   audiences, `exp` is in the future and `nbf` (when present) in the past, with a
//!   leeway of [`LEEWAY_S`] seconds; `sub` is present;
//! - the role claim (`--oidc-role-claim`, default `bulwark_role`) names a bulwark role.
//!   There is no default role: a token without one is refused (default deny). The teams
//!   claim (`--oidc-teams-claim`, default `bulwark_teams`) is a string or a list of
//!   strings.
//!
//! The JWKS comes from a file or an `https://` URL. It is loaded at start (the server
//! does not start without it: fail closed), re-read when a token names an unknown `kid`
//! (key rotation; at most once per [`REFRESH_MIN`]) and when older than
//! [`REFRESH_MAX`]. A failed refresh keeps the last good set. Signature checking is the
//! `jsonwebtoken` crate's (ring underneath, as rustls); this module only chooses the key
//! and the rules.

use crate::auth::{AuthError, Principal};
use crate::authz::{scope_for, Role};
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Clock leeway for `exp` and `nbf`.
pub const LEEWAY_S: u64 = 60;
/// Soonest re-read of the JWKS after the last one (an unknown `kid` asks for one).
pub const REFRESH_MIN: Duration = Duration::from_secs(30);
/// Latest re-read of the JWKS.
pub const REFRESH_MAX: Duration = Duration::from_secs(600);
/// Largest JWKS document read.
const MAX_JWKS: u64 = 1 << 20;
/// Largest bearer JWT looked at.
const MAX_JWT: usize = 16 * 1024;

/// Where the key set comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// A local file (a mounted Secret or ConfigMap).
    File(PathBuf),
    /// An `https://` URL (the provider's `jwks_uri`).
    Url(String),
}

impl JwksSource {
    /// `https://…` is a URL, anything else a file path. Plain `http://` is refused:
    /// keys fetched in the clear could be anybody's.
    pub fn parse(s: &str) -> Result<JwksSource, OidcError> {
        if s.starts_with("https://") {
            Ok(JwksSource::Url(s.to_string()))
        } else if s.starts_with("http://") {
            Err(OidcError::Config(format!(
                "--oidc-jwks {s}: a JWKS URL must be https://"
            )))
        } else {
            Ok(JwksSource::File(PathBuf::from(s)))
        }
    }
}

/// What the server checks JWTs against.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// Exact `iss`.
    pub issuer: String,
    /// Accepted `aud` values (at least one).
    pub audiences: Vec<String>,
    /// Key set.
    pub jwks: JwksSource,
    /// Accepted algorithms.
    pub algorithms: Vec<Algorithm>,
    /// Claim holding the role name.
    pub role_claim: String,
    /// Claim holding the team or teams.
    pub teams_claim: String,
    /// CA certificates (PEM) trusted for fetching an `https://` JWKS, instead of the
    /// built-in web roots (a private provider; tests use their own CA).
    pub jwks_ca: Option<PathBuf>,
    /// Soonest re-read after the last one ([`REFRESH_MIN`]; tests shorten it).
    pub refresh_min: Duration,
}

impl OidcConfig {
    /// Parses `RS256,ES256,…`, refusing `none` and the HMAC family.
    pub fn parse_algorithms(s: &str) -> Result<Vec<Algorithm>, OidcError> {
        let mut out = Vec::new();
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let alg: Algorithm = name.parse().map_err(|_| {
                OidcError::Config(format!(
                    "unknown JWT algorithm {name:?} (expected RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 or EdDSA)"
                ))
            })?;
            if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
                return Err(OidcError::Config(format!(
                    "{name}: HMAC algorithms are refused (a shared secret is not an identity provider's signature)"
                )));
            }
            if !out.contains(&alg) {
                out.push(alg);
            }
        }
        if out.is_empty() {
            return Err(OidcError::Config("--oidc-algorithms is empty".into()));
        }
        Ok(out)
    }

    /// Checks the configuration's own shape.
    pub fn check(&self) -> Result<(), OidcError> {
        if self.issuer.trim().is_empty() {
            return Err(OidcError::Config("--oidc-issuer is empty".into()));
        }
        if self.audiences.iter().all(|a| a.trim().is_empty()) {
            return Err(OidcError::Config(
                "--oidc-audience is required (a token for another service must not get in)".into(),
            ));
        }
        if self.role_claim.is_empty() {
            return Err(OidcError::Config("--oidc-role-claim is empty".into()));
        }
        Ok(())
    }
}

/// Errors configuring OIDC or loading its keys.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// A flag's value is wrong.
    #[error("{0}")]
    Config(String),
    /// The JWKS could not be read or fetched.
    #[error("reading the JWKS from {from}")]
    Read {
        /// File or URL.
        from: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The JWKS is not a JWKS.
    #[error("the JWKS from {from} is not valid: {reason}")]
    Invalid {
        /// File or URL.
        from: String,
        /// What is wrong.
        reason: String,
    },
}

struct Keys {
    set: Vec<(Jwk, DecodingKey)>,
    loaded: Instant,
    tried: Instant,
}

/// Checks OIDC JWTs (see the module doc).
pub struct OidcAuth {
    cfg: OidcConfig,
    keys: RwLock<Arc<Keys>>,
    agent: ureq::Agent,
}

impl OidcAuth {
    /// Loads the key set; fails when it cannot be read (the server must not start).
    pub fn new(cfg: OidcConfig) -> Result<OidcAuth, OidcError> {
        cfg.check()?;
        let agent = http_agent(cfg.jwks_ca.as_deref())?;
        let set = load(&cfg.jwks, &agent)?;
        let now = Instant::now();
        Ok(OidcAuth {
            cfg,
            keys: RwLock::new(Arc::new(Keys {
                set,
                loaded: now,
                tried: now,
            })),
            agent,
        })
    }

    /// The configured issuer.
    pub fn issuer(&self) -> &str {
        &self.cfg.issuer
    }

    fn current(&self) -> Option<Arc<Keys>> {
        self.keys.read().ok().map(|k| k.clone())
    }

    /// Re-reads the key set when allowed (see [`REFRESH_MIN`]); keeps the old one on error.
    async fn refresh(&self, force: bool) {
        let Some(k) = self.current() else { return };
        let due = k.loaded.elapsed() >= REFRESH_MAX;
        if !(due || force) || k.tried.elapsed() < self.cfg.refresh_min {
            return;
        }
        if let Ok(mut w) = self.keys.write() {
            *w = Arc::new(Keys {
                set: w.set.clone(),
                loaded: w.loaded,
                tried: Instant::now(),
            });
        }
        let src = self.cfg.jwks.clone();
        let agent = self.agent.clone();
        match tokio::task::spawn_blocking(move || load(&src, &agent)).await {
            Ok(Ok(set)) => {
                tracing::info!(keys = set.len(), "OIDC key set re-read");
                if let Ok(mut w) = self.keys.write() {
                    let now = Instant::now();
                    *w = Arc::new(Keys {
                        set,
                        loaded: now,
                        tried: now,
                    });
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "re-reading the OIDC key set failed; keeping the last good one")
            }
            Err(e) => tracing::warn!(error = %e, "re-reading the OIDC key set failed"),
        }
    }

    /// Checks a bearer JWT and returns the caller.
    pub async fn check(&self, token: &str) -> Result<Principal, AuthError> {
        if token.len() > MAX_JWT {
            return Err(AuthError::JwtInvalid("the JWT is too long".into()));
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| AuthError::JwtInvalid(format!("the JWT header is not valid: {e}")))?;
        if !self.cfg.algorithms.contains(&header.alg) {
            return Err(AuthError::JwtInvalid(format!(
                "algorithm {:?} is not accepted",
                header.alg
            )));
        }
        self.refresh(false).await;
        let mut keys = self.current();
        let mut key = keys.as_ref().and_then(|k| pick(&k.set, &header));
        if key.is_none() {
            // Perhaps the provider rotated its keys.
            self.refresh(true).await;
            keys = self.current();
            key = keys.as_ref().and_then(|k| pick(&k.set, &header));
        }
        let Some(key) = key else {
            return Err(AuthError::JwtInvalid(match &header.kid {
                Some(kid) => format!("no key {kid:?} for {:?} in the JWKS", header.alg),
                None => "the JWT names no key (kid) and the JWKS has more than one".into(),
            }));
        };
        let mut v = Validation::new(header.alg);
        v.leeway = LEEWAY_S;
        v.validate_nbf = true;
        v.set_issuer(&[self.cfg.issuer.as_str()]);
        v.set_audience(&self.cfg.audiences);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<serde_json::Value>(token, key, &v).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::ExpiredSignature => AuthError::Expired,
                K::InvalidSignature => {
                    AuthError::JwtInvalid("the signature does not verify".into())
                }
                K::InvalidIssuer => AuthError::JwtInvalid("wrong issuer".into()),
                K::InvalidAudience => AuthError::JwtInvalid("wrong audience".into()),
                K::ImmatureSignature => AuthError::JwtInvalid("not valid yet (nbf)".into()),
                K::MissingRequiredClaim(c) => {
                    AuthError::JwtInvalid(format!("the claim {c:?} is missing"))
                }
                other => AuthError::JwtInvalid(format!("{other:?}")),
            }
        })?;
        let claims = data.claims;
        let sub = claims
            .get("sub")
            .and_then(|s| s.as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| AuthError::JwtInvalid("the claim \"sub\" is empty".into()))?;
        let role_name = claims
            .get(&self.cfg.role_claim)
            .and_then(|r| r.as_str())
            .ok_or_else(|| {
                AuthError::JwtNoRole(format!(
                    "the JWT has no {:?} claim naming a bulwark role",
                    self.cfg.role_claim
                ))
            })?;
        let role: Role = role_name
            .parse()
            .map_err(|e: String| AuthError::JwtNoRole(e))?;
        let mut teams: Vec<String> = match claims.get(&self.cfg.teams_claim) {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .map(|t| {
                    t.as_str().map(str::to_string).ok_or_else(|| {
                        AuthError::JwtInvalid(format!(
                            "the {:?} claim must hold strings",
                            self.cfg.teams_claim
                        ))
                    })
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(AuthError::JwtInvalid(format!(
                    "the {:?} claim must be a string or a list of strings",
                    self.cfg.teams_claim
                )))
            }
        };
        teams.sort();
        teams.dedup();
        Ok(Principal {
            scope: scope_for(role, &teams),
            id: format!("oidc:{sub}"),
            role,
            teams,
        })
    }
}

/// The key for this header: by `kid`, or the only key when the JWT names none; of the
/// algorithm's family, with no contrary `alg` or `use`.
fn pick<'a>(
    set: &'a [(Jwk, DecodingKey)],
    header: &jsonwebtoken::Header,
) -> Option<&'a DecodingKey> {
    let fits = |jwk: &Jwk| {
        let alg_ok = jwk
            .common
            .key_algorithm
            .is_none_or(|ka| format!("{ka:?}") == format!("{:?}", header.alg));
        let use_ok = !matches!(
            jwk.common.public_key_use,
            Some(PublicKeyUse::Encryption) | Some(PublicKeyUse::Other(_))
        );
        alg_ok && use_ok && family_fits(jwk, header.alg)
    };
    match &header.kid {
        Some(kid) => set
            .iter()
            .find(|(j, _)| j.common.key_id.as_deref() == Some(kid.as_str()) && fits(j))
            .map(|(_, k)| k),
        None if set.len() == 1 => set.first().filter(|(j, _)| fits(j)).map(|(_, k)| k),
        None => None,
    }
}

fn family_fits(jwk: &Jwk, alg: Algorithm) -> bool {
    use jsonwebtoken::jwk::AlgorithmParameters as P;
    match (&jwk.algorithm, alg) {
        (
            P::RSA(_),
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512,
        ) => true,
        (P::EllipticCurve(p), Algorithm::ES256) => {
            matches!(p.curve, jsonwebtoken::jwk::EllipticCurve::P256)
        }
        (P::EllipticCurve(p), Algorithm::ES384) => {
            matches!(p.curve, jsonwebtoken::jwk::EllipticCurve::P384)
        }
        (P::OctetKeyPair(_), Algorithm::EdDSA) => true,
        _ => false,
    }
}

fn http_agent(ca: Option<&std::path::Path>) -> Result<ureq::Agent, OidcError> {
    let mut tls = ureq::tls::TlsConfig::builder();
    if let Some(ca) = ca {
        let pem = std::fs::read(ca).map_err(|source| OidcError::Read {
            from: ca.display().to_string(),
            source,
        })?;
        let mut certs = Vec::new();
        for item in ureq::tls::parse_pem(&pem) {
            match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
                Ok(_) => {}
                Err(e) => {
                    return Err(OidcError::Invalid {
                        from: ca.display().to_string(),
                        reason: format!("not PEM: {e}"),
                    })
                }
            }
        }
        tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
    }
    Ok(ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .max_redirects(0)
        .https_only(true)
        .tls_config(tls.build())
        .build()
        .into())
}

/// Reads and parses the key set; keys it cannot use (unknown types, encryption keys)
/// are left out, but a set with no usable key is an error.
fn load(src: &JwksSource, agent: &ureq::Agent) -> Result<Vec<(Jwk, DecodingKey)>, OidcError> {
    use std::io::Read;
    let (from, bytes) = match src {
        JwksSource::File(p) => {
            let from = p.display().to_string();
            let f = std::fs::File::open(p).map_err(|source| OidcError::Read {
                from: from.clone(),
                source,
            })?;
            let mut b = Vec::new();
            f.take(MAX_JWKS + 1)
                .read_to_end(&mut b)
                .map_err(|source| OidcError::Read {
                    from: from.clone(),
                    source,
                })?;
            (from, b)
        }
        JwksSource::Url(u) => {
            let io = |e: String| OidcError::Read {
                from: u.clone(),
                source: std::io::Error::other(e),
            };
            let mut resp = agent.get(u).call().map_err(|e| io(e.to_string()))?;
            if resp.status() != 200 {
                return Err(io(format!("HTTP {}", resp.status())));
            }
            let b = resp
                .body_mut()
                .with_config()
                .limit(MAX_JWKS)
                .read_to_vec()
                .map_err(|e| io(e.to_string()))?;
            (u.clone(), b)
        }
    };
    if bytes.len() as u64 > MAX_JWKS {
        return Err(OidcError::Invalid {
            from,
            reason: format!("over {MAX_JWKS} bytes"),
        });
    }
    let set: JwkSet = serde_json::from_slice(&bytes).map_err(|e| OidcError::Invalid {
        from: from.clone(),
        reason: e.to_string(),
    })?;
    let mut out = Vec::new();
    for jwk in set.keys {
        if matches!(
            jwk.common.public_key_use,
            Some(PublicKeyUse::Encryption) | Some(PublicKeyUse::Other(_))
        ) {
            continue;
        }
        match DecodingKey::from_jwk(&jwk) {
            Ok(k)
                if !matches!(
                    jwk.algorithm,
                    jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_)
                ) =>
            {
                out.push((jwk, k))
            }
            Ok(_) => tracing::warn!(from = %from, "a symmetric key in the JWKS is ignored"),
            Err(e) => tracing::warn!(from = %from, error = %e, "a JWKS key is not usable; ignored"),
        }
    }
    if out.is_empty() {
        return Err(OidcError::Invalid {
            from,
            reason: "no usable signing key".into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_allow_list() {
        assert_eq!(
            OidcConfig::parse_algorithms("RS256, ES256,RS256").unwrap(),
            vec![Algorithm::RS256, Algorithm::ES256]
        );
        assert!(OidcConfig::parse_algorithms("HS256").is_err());
        assert!(OidcConfig::parse_algorithms("none").is_err());
        assert!(OidcConfig::parse_algorithms("").is_err());
    }

    #[test]
    fn jwks_source() {
        assert!(matches!(
            JwksSource::parse("https://x/jwks").unwrap(),
            JwksSource::Url(_)
        ));
        assert!(JwksSource::parse("http://x/jwks").is_err());
        assert!(matches!(
            JwksSource::parse("/etc/jwks.json").unwrap(),
            JwksSource::File(_)
        ));
    }
}
