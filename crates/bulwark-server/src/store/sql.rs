//! The store's backend-neutral SQL layer: one handle type ([`Conn`]) over either a
//! SQLite connection (rusqlite) or a PostgreSQL connection (the sync `postgres` crate),
//! a [`Value`] enum for parameters and results, and a [`Row`] with typed getters that
//! return [`StoreError`] on a type mismatch instead of panicking.
//!
//! Every closure the store runs (inventory, audit, tokens, re-match, webhooks, API
//! reads) takes a `&Conn` and writes its SQL once: `$N` placeholders numbered in order
//! of first use (SQLite numbers them the same), `ON CONFLICT` upserts, integers as
//! `i64`. The few statements that must differ ask [`Conn::dialect`].
//!
//! Why hand-written rather than sqlx or diesel: sqlx is async, so its connections would
//! force async closures through the whole store and give up the design the store is
//! built on (one writer thread that groups many writes into one transaction, each in
//! its own savepoint, and synchronous read closures on the blocking pool). rusqlite and
//! the sync `postgres` client are both synchronous; this module is the small part that
//! has to differ between them (binding, reading values, statement caching), so the
//! store keeps its shape on both backends.
//!
//! PostgreSQL is strictly typed where SQLite is not: a parameter bound to an `INTEGER`
//! (int4) column must be sent as int4, a `REAL` as float4. [`Value`]'s `ToSql` looks at
//! the type the server inferred for each parameter and converts (range-checked), and
//! its `FromSql` reads any integer, float, text or bytea column back into a [`Value`].

use super::StoreError;
use postgres::types::{FromSql, IsNull, ToSql, Type};
use std::cell::RefCell;
use std::collections::HashMap;

/// Which SQL dialect a [`Conn`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite 3 (bundled with rusqlite).
    Sqlite,
    /// PostgreSQL 12 or later.
    Postgres,
}

/// A value bound to a statement or read from a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// An integer (every integer column is read and bound as `i64`).
    I64(i64),
    /// A floating-point number.
    F64(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::I64(_) => "integer",
            Value::F64(_) => "real",
            Value::Text(_) => "text",
            Value::Blob(_) => "blob",
        }
    }
}

/// Conversion of a Rust value into a bound [`Value`] (used by [`crate::params!`]).
pub trait ToValue {
    /// The value to bind.
    fn to_value(&self) -> Value;
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}
impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::I64(*self)
    }
}
impl ToValue for i32 {
    fn to_value(&self) -> Value {
        Value::I64(i64::from(*self))
    }
}
impl ToValue for u32 {
    fn to_value(&self) -> Value {
        Value::I64(i64::from(*self))
    }
}
impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::I64(i64::from(*self))
    }
}
impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::F64(*self)
    }
}
impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        match self {
            Some(v) => v.to_value(),
            None => Value::Null,
        }
    }
}

/// Builds the parameter list of a statement: `params![a, b, c]` binds `$1`, `$2`, `$3`.
#[macro_export]
macro_rules! params {
    ($($x:expr),* $(,)?) => {
        &[$($crate::store::sql::ToValue::to_value(&$x)),*] as &[$crate::store::sql::Value]
    };
}

/// Conversion of a read [`Value`] into a Rust type; a mismatch is an error, never a panic.
pub trait FromValue: Sized {
    /// The Rust value, or `None` when `v` is not of this type.
    fn from_value(v: &Value) -> Option<Self>;
    /// The type's name, for errors.
    const NAME: &'static str;
}

impl FromValue for i64 {
    const NAME: &'static str = "integer";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::I64(i) => Some(*i),
            _ => None,
        }
    }
}
impl FromValue for bool {
    const NAME: &'static str = "integer 0/1";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::I64(i) => Some(*i != 0),
            _ => None,
        }
    }
}
impl FromValue for f64 {
    const NAME: &'static str = "real";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::F64(f) => Some(*f),
            // SQLite may hand back an integral REAL as an integer.
            Value::I64(i) => Some(*i as f64),
            _ => None,
        }
    }
}
impl FromValue for String {
    const NAME: &'static str = "text";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}
impl FromValue for Vec<u8> {
    const NAME: &'static str = "blob";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Blob(b) => Some(b.clone()),
            _ => None,
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    const NAME: &'static str = T::NAME;
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// One result row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    values: Vec<Value>,
}

impl Row {
    /// Column `idx` (from 0) as `T`; a missing column, a NULL read as a non-`Option`,
    /// or a value of another type is [`StoreError::Type`].
    pub fn get<T: FromValue>(&self, idx: usize) -> Result<T, StoreError> {
        let v = self.values.get(idx).ok_or_else(|| StoreError::Type {
            column: idx,
            expected: T::NAME,
            found: "no such column",
        })?;
        T::from_value(v).ok_or_else(|| StoreError::Type {
            column: idx,
            expected: T::NAME,
            found: v.kind(),
        })
    }

    /// The number of columns.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the row has no columns.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Most prepared statements kept per PostgreSQL connection (the cache is emptied when
/// it fills; dynamic `IN (...)` lists make many distinct texts).
const PG_STATEMENT_CACHE: usize = 256;

/// A PostgreSQL connection with its prepared-statement cache.
pub struct PgConn {
    client: postgres::Client,
    statements: HashMap<String, postgres::Statement>,
}

impl PgConn {
    /// Wraps a connected client.
    pub fn new(client: postgres::Client) -> PgConn {
        PgConn {
            client,
            statements: HashMap::new(),
        }
    }

    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, StoreError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        if self.statements.len() >= PG_STATEMENT_CACHE {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    /// Runs statements without parameters (transaction control, migrations).
    pub fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.client.batch_execute(sql)?)
    }

    /// The client itself (migrations).
    pub(super) fn client(&mut self) -> &mut postgres::Client {
        &mut self.client
    }

    /// Whether the connection is known to be broken.
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }
}

enum Backend<'a> {
    Sqlite(&'a rusqlite::Connection),
    Pg(&'a RefCell<PgConn>),
}

/// A connection inside the transaction the store opened for it (the writer's, with a
/// savepoint per write, or a reader's snapshot). Closures get `&Conn` and run SQL on it.
pub struct Conn<'a> {
    backend: Backend<'a>,
}

impl<'a> Conn<'a> {
    /// A handle on a SQLite connection.
    pub fn sqlite(c: &'a rusqlite::Connection) -> Conn<'a> {
        Conn {
            backend: Backend::Sqlite(c),
        }
    }

    /// A handle on a PostgreSQL connection.
    pub fn postgres(c: &'a RefCell<PgConn>) -> Conn<'a> {
        Conn {
            backend: Backend::Pg(c),
        }
    }

    /// The SQL dialect of the connection.
    pub fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Pg(_) => Dialect::Postgres,
        }
    }

    fn pg(cell: &RefCell<PgConn>) -> Result<std::cell::RefMut<'_, PgConn>, StoreError> {
        cell.try_borrow_mut().map_err(|_| {
            StoreError::Task("the connection is already in use by this closure".into())
        })
    }

    /// Runs statements without parameters.
    pub fn batch(&self, sql: &str) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Backend::Pg(c) => Self::pg(c)?.batch(sql),
        }
    }

    /// Runs one statement; returns the number of rows it changed.
    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<usize, StoreError> {
        match &self.backend {
            Backend::Sqlite(c) => {
                let mut s = c.prepare_cached(sql)?;
                Ok(s.execute(rusqlite::params_from_iter(params.iter()))?)
            }
            Backend::Pg(c) => {
                let mut pg = Self::pg(c)?;
                let s = pg.statement(sql)?;
                let n = pg.client.execute(&s, &pg_params(params))?;
                Ok(usize::try_from(n).unwrap_or(usize::MAX))
            }
        }
    }

    /// PostgreSQL's `COPY … FROM STDIN` (`sql`) of `values`, `width` to a row, in text
    /// format: one round trip and no statement to parse for many rows. Returns the rows
    /// copied. On SQLite an error (callers use multi-row statements there).
    pub fn copy_in(&self, sql: &str, width: usize, values: &[Value]) -> Result<u64, StoreError> {
        use std::io::Write;
        let Backend::Pg(c) = &self.backend else {
            return Err(StoreError::Task("COPY is PostgreSQL only".into()));
        };
        let mut data = Vec::with_capacity(values.len() * 24);
        for row in values.chunks(width.max(1)) {
            for (i, v) in row.iter().enumerate() {
                if i > 0 {
                    data.push(b'\t');
                }
                copy_text(v, &mut data);
            }
            data.push(b'\n');
        }
        let mut pg = Self::pg(c)?;
        let mut w = pg.client.copy_in(sql)?;
        w.write_all(&data)
            .map_err(|e| StoreError::Task(format!("COPY: {e}")))?;
        Ok(w.finish()?)
    }

    /// Calls `f` on each row of a query, in order, without holding them all in memory.
    pub fn query_each(
        &self,
        sql: &str,
        params: &[Value],
        mut f: impl FnMut(&Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(c) => {
                let mut s = c.prepare_cached(sql)?;
                let n = s.column_count();
                let mut rows = s.query(rusqlite::params_from_iter(params.iter()))?;
                while let Some(r) = rows.next()? {
                    let mut values = Vec::with_capacity(n);
                    for i in 0..n {
                        values.push(sqlite_value(r.get_ref(i)?)?);
                    }
                    f(&Row { values })?;
                }
                Ok(())
            }
            Backend::Pg(c) => {
                use postgres::fallible_iterator::FallibleIterator;
                let mut pg = Self::pg(c)?;
                let s = pg.statement(sql)?;
                let bound = pg_params(params);
                let mut rows = pg.client.query_raw(&s, bound.iter().copied())?;
                while let Some(r) = rows.next()? {
                    f(&pg_row(&r)?)?;
                }
                Ok(())
            }
        }
    }

    /// Every row of a query.
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let mut out = Vec::new();
        self.query_each(sql, params, |r| {
            out.push(r.clone());
            Ok(())
        })?;
        Ok(out)
    }

    /// Every row of a query, each mapped by `f`.
    pub fn query_map<T>(
        &self,
        sql: &str,
        params: &[Value],
        mut f: impl FnMut(&Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        self.query_each(sql, params, |r| {
            out.push(f(r)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// The first row of a query, if any.
    pub fn query_opt(&self, sql: &str, params: &[Value]) -> Result<Option<Row>, StoreError> {
        let mut first = None;
        self.query_each(sql, params, |r| {
            if first.is_none() {
                first = Some(r.clone());
            }
            Ok(())
        })?;
        Ok(first)
    }

    /// The first row of a query mapped by `f`; no row is [`StoreError::NoRow`].
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: &[Value],
        f: impl FnOnce(&Row) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        f(&self.query_one(sql, params)?)
    }

    /// The first row of a query mapped by `f`, if there is one.
    pub fn query_row_opt<T>(
        &self,
        sql: &str,
        params: &[Value],
        f: impl FnOnce(&Row) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        self.query_opt(sql, params)?.map(|r| f(&r)).transpose()
    }

    /// The first row of a query; no row is [`StoreError::NoRow`].
    pub fn query_one(&self, sql: &str, params: &[Value]) -> Result<Row, StoreError> {
        self.query_opt(sql, params)?.ok_or(StoreError::NoRow)
    }
}

/// A value in `COPY`'s text format (`\N` for NULL; backslash, tab, newline and carriage
/// return escaped in text).
fn copy_text(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.extend_from_slice(b"\\N"),
        Value::I64(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::F64(f) => out.extend_from_slice(format!("{f:?}").as_bytes()),
        Value::Text(s) => {
            for b in s.bytes() {
                match b {
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    _ => out.push(b),
                }
            }
        }
        Value::Blob(b) => {
            out.extend_from_slice(b"\\\\x");
            out.extend_from_slice(hex::encode(b).as_bytes());
        }
    }
}

fn sqlite_value(v: rusqlite::types::ValueRef<'_>) -> Result<Value, StoreError> {
    use rusqlite::types::ValueRef;
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::I64(i),
        ValueRef::Real(f) => Value::F64(f),
        ValueRef::Text(t) => Value::Text(
            std::str::from_utf8(t)
                .map_err(|e| StoreError::Corrupt(format!("stored text is not UTF-8: {e}")))?
                .to_string(),
        ),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    })
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::I64(i) => ValueRef::Integer(*i),
            Value::F64(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

fn pg_params(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

fn pg_row(r: &postgres::Row) -> Result<Row, StoreError> {
    let mut values = Vec::with_capacity(r.len());
    for i in 0..r.len() {
        values.push(r.try_get::<_, Value>(i)?);
    }
    Ok(Row { values })
}

type BoxError = Box<dyn std::error::Error + Sync + Send>;

fn mismatch(v: &Value, ty: &Type) -> BoxError {
    format!(
        "cannot bind a {} value to a parameter of type {ty}",
        v.kind()
    )
    .into()
}

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::I64(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => i.to_string().to_sql(ty, out),
                _ => Err(mismatch(self, ty)),
            },
            Value::F64(f) => match *ty {
                Type::FLOAT8 => f.to_sql(ty, out),
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                _ => Err(mismatch(self, ty)),
            },
            Value::Text(s) => match *ty {
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    s.as_str().to_sql(ty, out)
                }
                _ => Err(mismatch(self, ty)),
            },
            Value::Blob(b) => match *ty {
                Type::BYTEA => b.as_slice().to_sql(ty, out),
                _ => Err(mismatch(self, ty)),
            },
        }
    }

    fn accepts(_ty: &Type) -> bool {
        // Checked per value in `to_sql`, against the type the server inferred.
        true
    }

    postgres::types::to_sql_checked!();
}

impl<'a> FromSql<'a> for Value {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Value, BoxError> {
        Ok(match *ty {
            Type::INT8 => Value::I64(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::I64(i64::from(i32::from_sql(ty, raw)?)),
            Type::INT2 => Value::I64(i64::from(i16::from_sql(ty, raw)?)),
            Type::BOOL => Value::I64(i64::from(bool::from_sql(ty, raw)?)),
            Type::FLOAT8 => Value::F64(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::F64(f64::from(f32::from_sql(ty, raw)?)),
            Type::BYTEA => Value::Blob(<Vec<u8>>::from_sql(ty, raw)?),
            // A function returning nothing (`pg_sleep`, `pg_advisory_xact_lock`).
            Type::VOID => Value::Null,
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                Value::Text(String::from_sql(ty, raw)?)
            }
            ref other => return Err(format!("unsupported column type {other}").into()),
        })
    }

    fn from_sql_null(_ty: &Type) -> Result<Value, BoxError> {
        Ok(Value::Null)
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_getters_refuse_mismatches() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        let conn = Conn::sqlite(&c);
        let r = conn
            .query_one("SELECT 1, 'a', NULL, 2.5, $1", params![7_i64])
            .unwrap();
        assert_eq!(r.get::<i64>(0).unwrap(), 1);
        assert_eq!(r.get::<String>(1).unwrap(), "a");
        assert_eq!(r.get::<Option<String>>(2).unwrap(), None);
        assert_eq!(r.get::<f64>(3).unwrap(), 2.5);
        assert_eq!(r.get::<i64>(4).unwrap(), 7);
        assert!(matches!(r.get::<String>(0), Err(StoreError::Type { .. })));
        assert!(matches!(r.get::<i64>(2), Err(StoreError::Type { .. })));
        assert!(matches!(r.get::<i64>(9), Err(StoreError::Type { .. })));
        assert!(matches!(
            conn.query_one("SELECT 1 WHERE 0", params![]),
            Err(StoreError::NoRow)
        ));
        assert_eq!(conn.dialect(), Dialect::Sqlite);
    }
}
