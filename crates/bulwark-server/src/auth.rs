//! Authentication: who is calling.
//!
//! API tokens look like `bwk_<id>_<secret>`: `id` is 16 hex digits (64 random bits, the
//! public lookup prefix, what logs and the audit log name), `secret` is 32 random bytes
//! (256 bits) in unpadded base64url. Only an argon2id hash of the secret is stored; the
//! whole token is shown once, at creation.
//!
//! Checking an argon2 hash costs tens of milliseconds by design, too much for every
//! request of a busy reader. A token that verified is remembered in memory by the SHA-256
//! of the whole token for [`VERIFIED_TTL`]; the token's row (revocation, expiry, role,
//! teams) is still read on every request, so a revocation takes effect at once.
//!
//! [`Authenticator`] also takes OIDC JWT bearer tokens when configured (see
//! [`crate::oidc`]): a bearer value starting with `bwk_` is an API token, anything else
//! a JWT.

use crate::authz::{scope_for, Role, Scope};
use crate::store::tokens::{self, TokenRow};
use crate::store::{now_ms, Store, StoreError};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine as _;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a verified token skips the argon2 check.
pub const VERIFIED_TTL: Duration = Duration::from_secs(300);
/// Most remembered tokens (the memory is cleared when full).
const CACHE_MAX: usize = 10_000;
/// Most argon2 verifications at once.
const MAX_HASHING: usize = 4;
/// The token prefix.
pub const TOKEN_PREFIX: &str = "bwk_";

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Token id (or another credential's subject, later).
    pub id: String,
    /// Role.
    pub role: Role,
    /// Teams.
    pub teams: Vec<String>,
    /// What it may see.
    pub scope: Scope,
}

/// Why a request was not authenticated. Each has a machine-readable code.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("this endpoint needs an `Authorization: Bearer` token")]
    Missing,
    /// Not `Bearer bwk_<id>_<secret>`.
    #[error("the bearer token is malformed")]
    Malformed,
    /// No token with this id, or the secret does not match.
    #[error("the token is not known")]
    Unknown,
    /// Past its expiry.
    #[error("the token has expired")]
    Expired,
    /// Revoked.
    #[error("the token has been revoked")]
    Revoked,
    /// An OIDC JWT that failed a check (what failed is said; the token is not).
    #[error("the JWT is not accepted: {0}")]
    JwtInvalid(String),
    /// A valid JWT without a bulwark role: default deny.
    #[error("{0}")]
    JwtNoRole(String),
    /// A verified client certificate that does not name a principal and role.
    #[error("the client certificate does not identify a caller: {0}")]
    ClientCert(String),
    /// The store could not be read.
    #[error("reading tokens")]
    Store(#[source] StoreError),
}

impl AuthError {
    /// The error code in API responses.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Missing => "unauthenticated",
            AuthError::Malformed => "token_malformed",
            AuthError::Unknown => "token_unknown",
            AuthError::Expired => "token_expired",
            AuthError::Revoked => "token_revoked",
            AuthError::JwtInvalid(_) => "jwt_invalid",
            AuthError::JwtNoRole(_) => "jwt_no_role",
            AuthError::ClientCert(_) => "client_cert_invalid",
            AuthError::Store(_) => "store_unavailable",
        }
    }
}

/// A freshly created token: the row to store and the token string to show once.
pub struct NewToken {
    /// The row (with the hash).
    pub row: TokenRow,
    /// `bwk_<id>_<secret>`: shown to the user once, never stored or logged.
    pub token: String,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("row", &self.row)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// Makes a token: random id and secret, argon2id hash of the secret.
pub fn new_token(
    name: &str,
    role: Role,
    teams: Vec<String>,
    expires_at: Option<i64>,
    created_by: &str,
) -> Result<NewToken, String> {
    let mut id = [0u8; 8];
    OsRng.fill_bytes(&mut id);
    let mut secret = [0u8; 32];
    OsRng.fill_bytes(&mut secret);
    let id = hex::encode(id);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    let salt = SaltString::generate(&mut OsRng);
    let hash = Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map_err(|e| format!("hashing the token: {e}"))?
        .to_string();
    let mut teams = teams;
    teams.sort();
    teams.dedup();
    Ok(NewToken {
        token: format!("{TOKEN_PREFIX}{id}_{secret}"),
        row: TokenRow {
            id,
            name: name.to_string(),
            role,
            teams,
            secret_hash: hash,
            created_at: now_ms(),
            expires_at,
            revoked_at: None,
            created_by: created_by.to_string(),
        },
    })
}

/// Splits `bwk_<id>_<secret>` into id and secret, checking the shape.
pub fn parse_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let id_ok = id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit());
    let secret_ok = secret.len() == 43
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (id_ok && secret_ok).then_some((id, secret))
}

/// Ways a caller proves who it is: API tokens always, OIDC JWTs when configured.
pub struct Authenticator {
    /// `Authorization: Bearer bwk_...` checked against the store.
    pub tokens: TokenAuth,
    /// `Authorization: Bearer <JWT>` from the configured identity provider.
    pub oidc: Option<crate::oidc::OidcAuth>,
}

impl Authenticator {
    /// API tokens only.
    pub fn api_tokens(store: Store) -> Self {
        Authenticator {
            tokens: TokenAuth::new(store),
            oidc: None,
        }
    }

    /// Authenticates a request: the value of its `Authorization` header (`None`:
    /// absent) and the client certificate its TLS connection verified, if any. A bearer
    /// token, when present, decides; otherwise the certificate does.
    pub async fn authenticate(
        &self,
        header: Option<&str>,
        client: Option<&ClientCert>,
    ) -> Result<Principal, AuthError> {
        let header = match (header, client) {
            (Some(h), _) => h,
            (None, Some(c)) => return client_cert_principal(&c.0),
            (None, None) => return Err(AuthError::Missing),
        };
        let (scheme, value) = header.split_once(' ').ok_or(AuthError::Malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::Malformed);
        }
        let value = value.trim();
        if value.starts_with(TOKEN_PREFIX) {
            return self.tokens.check(value).await;
        }
        match &self.oidc {
            Some(o) if value.split('.').count() == 3 => o.check(value).await,
            _ => Err(AuthError::Malformed),
        }
    }
}

/// The DER of the client certificate a TLS connection verified (against the `--client-ca`
/// chain, by rustls), attached to each of its requests.
#[derive(Debug, Clone)]
pub struct ClientCert(pub std::sync::Arc<[u8]>);

/// The principal a verified client certificate names: its subject's common name (CN) is
/// the caller (`mtls:<CN>`), its first organizational unit (OU) the role, and each
/// organization (O) a team — the convention Kubernetes uses for O as groups. A
/// certificate without a CN or a role is refused (default deny).
pub fn client_cert_principal(der: &[u8]) -> Result<Principal, AuthError> {
    use der::Decode;
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|e| AuthError::ClientCert(format!("not DER X.509: {e}")))?;
    let (mut cn, mut ou, mut teams) = (None, None, Vec::new());
    for rdn in cert.tbs_certificate.subject.0.iter() {
        for atv in rdn.0.iter() {
            let text = atv
                .value
                .decode_as::<der::asn1::Utf8StringRef<'_>>()
                .map(|s| s.as_str().to_string())
                .or_else(|_| {
                    atv.value
                        .decode_as::<der::asn1::PrintableStringRef<'_>>()
                        .map(|s| s.as_str().to_string())
                });
            let Ok(text) = text else { continue };
            match atv.oid {
                const_oid::db::rfc4519::CN => cn = cn.or(Some(text)),
                const_oid::db::rfc4519::OU => ou = ou.or(Some(text)),
                const_oid::db::rfc4519::O => teams.push(text),
                _ => {}
            }
        }
    }
    let cn = cn
        .filter(|c| !c.is_empty())
        .ok_or_else(|| AuthError::ClientCert("no subject common name (CN)".into()))?;
    let role: Role = ou
        .ok_or_else(|| AuthError::ClientCert("no organizational unit (OU) naming a role".into()))?
        .parse()
        .map_err(AuthError::ClientCert)?;
    teams.sort();
    teams.dedup();
    Ok(Principal {
        scope: scope_for(role, &teams),
        id: format!("mtls:{cn}"),
        role,
        teams,
    })
}

/// API-token authentication against the store.
pub struct TokenAuth {
    store: Store,
    verified: Mutex<HashMap<[u8; 32], Instant>>,
    /// argon2 checks running at once (each takes ~19 MiB and tens of ms of CPU): a flood
    /// of wrong secrets queues here instead of exhausting memory.
    hashing: tokio::sync::Semaphore,
}

impl TokenAuth {
    /// Tokens of this store.
    pub fn new(store: Store) -> Self {
        TokenAuth {
            store,
            verified: Mutex::new(HashMap::new()),
            hashing: tokio::sync::Semaphore::new(MAX_HASHING),
        }
    }

    async fn check(&self, token: &str) -> Result<Principal, AuthError> {
        let (id, secret) = parse_token(token).ok_or(AuthError::Malformed)?;
        let id_owned = id.to_string();
        let row = self
            .store
            .read(move |c| tokens::get(c, &id_owned))
            .await
            .map_err(AuthError::Store)?
            .ok_or(AuthError::Unknown)?;
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let remembered = || {
            self.verified
                .lock()
                .ok()
                .and_then(|m| m.get(&key).copied())
                .is_some_and(|t| t.elapsed() < VERIFIED_TTL)
        };
        if !remembered() {
            let _permit = self
                .hashing
                .acquire()
                .await
                .map_err(|e| AuthError::Store(StoreError::Task(e.to_string())))?;
            // Checked again after waiting: many requests arriving together with one new
            // token pay for a few argon2 checks, not one each.
            if !remembered() {
                let hash = row.secret_hash.clone();
                let secret = secret.to_string();
                let ok = tokio::task::spawn_blocking(move || {
                    PasswordHash::new(&hash).is_ok_and(|h| {
                        Argon2::default()
                            .verify_password(secret.as_bytes(), &h)
                            .is_ok()
                    })
                })
                .await
                .map_err(|e| AuthError::Store(StoreError::Task(e.to_string())))?;
                if !ok {
                    return Err(AuthError::Unknown);
                }
                if let Ok(mut m) = self.verified.lock() {
                    if m.len() >= CACHE_MAX {
                        m.clear();
                    }
                    m.insert(key, Instant::now());
                }
            }
        }
        // Status is told only to a caller that proved it holds the secret.
        if row.revoked_at.is_some() {
            return Err(AuthError::Revoked);
        }
        if row.expires_at.is_some_and(|e| e <= now_ms()) {
            return Err(AuthError::Expired);
        }
        Ok(Principal {
            scope: scope_for(row.role, &row.teams),
            id: row.id,
            role: row.role,
            teams: row.teams,
        })
    }
}

/// Parses a lifetime like `30d`, `12h`, `90m`, `3600s` (for `--expires`;
/// `bulwark_core::duration`, a bare number refused, zero refused).
pub fn parse_lifetime(s: &str) -> Result<Duration, String> {
    let d = bulwark_core::duration::parse(s, None)?;
    if d.is_zero() {
        return Err(format!("{:?}: a token must live longer than 0s", s.trim()));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_shape_and_hash() {
        let t = new_token("t", Role::Admin, vec![], None, "cli").unwrap();
        let (id, secret) = parse_token(&t.token).unwrap();
        assert_eq!(id, t.row.id);
        assert!(!t.row.secret_hash.contains(secret));
        assert!(t.row.secret_hash.starts_with("$argon2id$"));
        assert!(!format!("{t:?}").contains(secret));
        assert!(parse_token("bwk_zz_abc").is_none());
        assert!(parse_token(&t.token.replace("bwk_", "xyz_")).is_none());
    }

    #[test]
    fn lifetimes() {
        assert_eq!(
            parse_lifetime("30d").unwrap(),
            Duration::from_secs(30 * 86_400)
        );
        assert!(parse_lifetime("30").is_err());
        assert!(parse_lifetime("0s").is_err());
        assert!(parse_lifetime("5y").is_err());
    }
}
