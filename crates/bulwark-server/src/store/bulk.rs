//! Multi-row statements for bulk writes (the re-match's findings, events and outbox
//! rows): rows are buffered and sent as one `INSERT … VALUES (…), (…), …` (or a
//! `WITH v (…) AS (VALUES …) UPDATE …`) per chunk instead of one statement per row.
//! On PostgreSQL that turns one network round trip per row into one per chunk; on SQLite
//! it saves the per-statement step/reset/bind work.
//!
//! On PostgreSQL a plain insert can go through `COPY … FROM STDIN` instead
//! ([`Rows::copy`]): no statement text to parse and plan per chunk, bigger chunks.
//!
//! A statement is given as its head, the placeholder template of one row and its tail;
//! the template's `$N` placeholders (numbered from 1 in order of first use, a number
//! may repeat) are renumbered for each row of the chunk.

use super::sql::Value;
use super::{Conn, Dialect, StoreError};

/// Most bound parameters per statement (SQLite allows 32,766, PostgreSQL 65,535).
const MAX_PARAMS: usize = 8_000;

/// `template` with every `$N` shifted by `offset`.
fn shift(template: &str, offset: usize, out: &mut String) {
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        match after[..digits].parse::<usize>() {
            Ok(n) => {
                out.push('$');
                out.push_str(&(n + offset).to_string());
            }
            Err(_) => out.push('$'),
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
}

/// The statement for `rows` rows: `head`, the row template repeated (renumbered, comma
/// separated), `tail`.
pub fn statement(head: &str, row: &str, width: usize, rows: usize, tail: &str) -> String {
    let mut sql = String::with_capacity(head.len() + tail.len() + rows * (row.len() + 16));
    sql.push_str(head);
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        shift(row, r * width, &mut sql);
    }
    sql.push_str(tail);
    sql
}

/// Buffers rows of one statement shape and runs them in chunks.
pub struct Rows {
    head: &'static str,
    row: &'static str,
    tail: &'static str,
    width: usize,
    per_statement: usize,
    full: Option<String>,
    copy: Option<&'static str>,
    buf: Vec<Value>,
    /// Rows the statements reported changed so far.
    pub changed: usize,
    /// Time spent running the statements so far.
    pub spent: std::time::Duration,
}

impl Rows {
    /// A buffer for `head` + rows of `row` (binding `width` parameters each) + `tail`,
    /// sent `per_statement` rows at a time (fewer when that would pass the parameter
    /// limit).
    pub fn new(
        head: &'static str,
        row: &'static str,
        width: usize,
        tail: &'static str,
        per_statement: usize,
    ) -> Rows {
        let per_statement = per_statement.clamp(1, (MAX_PARAMS / width.max(1)).max(1));
        Rows {
            head,
            row,
            tail,
            width,
            per_statement,
            full: None,
            copy: None,
            buf: Vec::with_capacity(per_statement * width),
            changed: 0,
            spent: std::time::Duration::ZERO,
        }
    }

    /// On PostgreSQL, sends the rows with `copy` (`COPY table (columns) FROM STDIN`, the
    /// columns the row template binds, in order: the template must be `$1` … `$width`
    /// and nothing else), `per_copy` rows at a time. No change on SQLite.
    pub fn copy(mut self, dialect: Dialect, copy: &'static str, per_copy: usize) -> Rows {
        if dialect == Dialect::Postgres {
            self.copy = Some(copy);
            self.per_statement = per_copy.max(1);
        }
        self
    }

    /// Adds one row (`width` values). Nothing runs until [`Rows::flush`]; callers flush
    /// when [`Rows::is_full`] (in the order their foreign keys need).
    pub fn push(&mut self, values: impl IntoIterator<Item = Value>) -> Result<(), StoreError> {
        let before = self.buf.len();
        self.buf.extend(values);
        if self.buf.len() - before != self.width {
            let got = self.buf.len() - before;
            self.buf.truncate(before);
            return Err(StoreError::Task(format!(
                "bulk row of {got} values for a statement of {} per row",
                self.width
            )));
        }
        Ok(())
    }

    /// Whether a full chunk is buffered.
    pub fn is_full(&self) -> bool {
        self.buf.len() >= self.per_statement * self.width
    }

    /// Runs the rows buffered so far.
    pub fn flush(&mut self, conn: &Conn<'_>) -> Result<(), StoreError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let rows = self.buf.len() / self.width;
        let started = std::time::Instant::now();
        let n = if let Some(copy) = self.copy {
            usize::try_from(conn.copy_in(copy, self.width, &self.buf)?).unwrap_or(usize::MAX)
        } else if rows == self.per_statement {
            let (head, row, width, tail) = (self.head, self.row, self.width, self.tail);
            let sql = self
                .full
                .get_or_insert_with(|| statement(head, row, width, rows, tail));
            conn.execute(sql, &self.buf)?
        } else {
            let sql = statement(self.head, self.row, self.width, rows, self.tail);
            conn.execute(&sql, &self.buf)?
        };
        self.changed += n;
        self.spent += started.elapsed();
        self.buf.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params;

    #[test]
    fn placeholders_are_renumbered_per_row() {
        assert_eq!(
            statement("INSERT INTO t VALUES ", "($1, $2, $1, 'x$')", 2, 3, " ON CONFLICT DO NOTHING"),
            "INSERT INTO t VALUES ($1, $2, $1, 'x$'), ($3, $4, $3, 'x$'), ($5, $6, $5, 'x$') ON CONFLICT DO NOTHING"
        );
    }

    #[test]
    fn rows_are_written_in_chunks_and_the_rest_on_flush() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        let conn = Conn::sqlite(&c);
        conn.batch("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT, c INTEGER)")
            .unwrap();
        let mut rows = Rows::new(
            "INSERT INTO t (a, b, c) VALUES ",
            "($1, $2, $1 * 2)",
            2,
            "",
            3,
        );
        for i in 0..7_i64 {
            rows.push([Value::I64(i), Value::Text(format!("r{i}"))])
                .unwrap();
            if rows.is_full() {
                rows.flush(&conn).unwrap();
            }
        }
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM t", params![], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 6, "two full chunks written, one row buffered");
        rows.flush(&conn).unwrap();
        assert_eq!(rows.changed, 7);
        let r = conn
            .query_one("SELECT b, c FROM t WHERE a = 6", params![])
            .unwrap();
        assert_eq!(r.get::<String>(0).unwrap(), "r6");
        assert_eq!(r.get::<i64>(1).unwrap(), 12);
        assert!(
            rows.push([Value::I64(9)]).is_err(),
            "a short row is refused"
        );
        assert!(!rows.is_full());
    }
}
