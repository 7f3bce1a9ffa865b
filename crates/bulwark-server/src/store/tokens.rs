//! API token rows: the public id (lookup prefix), role, teams, argon2id hash of the
//! secret, expiry and revocation. Hashing happens in [`crate::auth`], off the writer.

use super::sql::{Conn, Row};
use super::StoreError;
use crate::authz::Role;
use crate::params;
use serde::Serialize;

/// A token as stored (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRow {
    /// Public id (the lookup prefix in the token string).
    pub id: String,
    /// Name given at creation.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Teams (developer and team-scoped uploader tokens).
    pub teams: Vec<String>,
    /// argon2id PHC string of the secret.
    #[serde(skip)]
    pub secret_hash: String,
    /// Creation time (ms).
    pub created_at: i64,
    /// Expiry (ms), if any.
    pub expires_at: Option<i64>,
    /// Revocation time (ms), if revoked.
    pub revoked_at: Option<i64>,
    /// Who created it (token id or `cli`).
    pub created_by: String,
}

/// Inserts a token row.
pub fn insert(conn: &Conn<'_>, t: &TokenRow) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO api_tokens (id, name, role, secret_hash, created_at, expires_at, revoked_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        params![
            t.id,
            t.name,
            t.role.as_str(),
            t.secret_hash,
            t.created_at,
            t.expires_at,
            t.revoked_at,
            t.created_by
        ],
    )?;
    for team in &t.teams {
        conn.execute(
            "INSERT INTO api_token_teams (token_id, team) VALUES ($1, $2)",
            params![t.id, team],
        )?;
    }
    Ok(())
}

fn teams(conn: &Conn<'_>, id: &str) -> Result<Vec<String>, StoreError> {
    conn.query_map(
        "SELECT team FROM api_token_teams WHERE token_id = $1 ORDER BY team",
        params![id],
        |r| r.get(0),
    )
}

fn from_row(r: &Row) -> Result<(TokenRow, String), StoreError> {
    let role: String = r.get(2)?;
    Ok((
        TokenRow {
            id: r.get(0)?,
            name: r.get(1)?,
            role: Role::Admin,
            teams: Vec::new(),
            secret_hash: r.get(3)?,
            created_at: r.get(4)?,
            expires_at: r.get(5)?,
            revoked_at: r.get(6)?,
            created_by: r.get(7)?,
        },
        role,
    ))
}

fn finish(conn: &Conn<'_>, (mut t, role): (TokenRow, String)) -> Result<TokenRow, StoreError> {
    t.role = role
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("token {} has unknown role {role:?}", t.id)))?;
    t.teams = teams(conn, &t.id)?;
    Ok(t)
}

const COLUMNS: &str = "id, name, role, secret_hash, created_at, expires_at, revoked_at, created_by";

/// The token with this id.
pub fn get(conn: &Conn<'_>, id: &str) -> Result<Option<TokenRow>, StoreError> {
    match conn.query_opt(
        &format!("SELECT {COLUMNS} FROM api_tokens WHERE id = $1"),
        params![id],
    )? {
        Some(row) => Ok(Some(finish(conn, from_row(&row)?)?)),
        None => Ok(None),
    }
}

/// Every token, oldest first.
pub fn list(conn: &Conn<'_>) -> Result<Vec<TokenRow>, StoreError> {
    let rows = conn.query_map(
        &format!("SELECT {COLUMNS} FROM api_tokens ORDER BY created_at, id"),
        params![],
        from_row,
    )?;
    rows.into_iter().map(|r| finish(conn, r)).collect()
}

/// Revokes a token; returns false when no such token exists. Revoking twice keeps the
/// first revocation time.
pub fn revoke(conn: &Conn<'_>, id: &str, at: i64) -> Result<bool, StoreError> {
    let n = conn.execute(
        "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2",
        params![at, id],
    )?;
    Ok(n > 0)
}
