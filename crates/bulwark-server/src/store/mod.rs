//! The server's store: one SQLite file in WAL mode with `synchronous=FULL`, a dedicated
//! writer thread and a small pool of read-only connections.
//!
//! Writes are closures sent to the writer thread. The thread takes every write waiting
//! in its queue (up to [`MAX_GROUP`]), runs them in one `BEGIN IMMEDIATE` transaction,
//! each inside its own savepoint (a failing write is rolled back alone), commits once and
//! only then answers each caller: a write is acknowledged only after the commit that
//! contains it is on disk (group commit — one fsync for many concurrent writes).
//!
//! The SQL is written to run unchanged on PostgreSQL (`$N` placeholders, numbered in
//! order of first use so that SQLite numbers them the same; `ON CONFLICT` upserts;
//! integers bound as `i64`). PostgreSQL itself is not wired yet: see docs/server.md.

pub mod audit;
pub mod inventory;
pub mod tokens;

use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// Most writes committed in one transaction.
pub const MAX_GROUP: usize = 256;
/// Read-only connections kept open.
const READERS: usize = 8;

/// The migrations, in order. Each runs once, in its own transaction.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "inventory",
    include_str!("../../migrations/0001_inventory.sql"),
)];

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite said no.
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    /// The database URL is not one this build understands.
    #[error("unsupported database URL {0:?} (expected sqlite:PATH; postgres:// is not built yet)")]
    Url(String),
    /// Opening or creating the database file failed.
    #[error("opening database {path}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },
    /// The writer thread is gone (the store is shutting down).
    #[error("the store's writer has stopped")]
    WriterGone,
    /// A migration failed.
    #[error("migration {version} ({name})")]
    Migration {
        /// Migration number.
        version: i64,
        /// Its name.
        name: &'static str,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },
    /// The database was written by a newer bulwark.
    #[error("database schema version {0} is newer than this bulwark understands ({1})")]
    TooNew(i64, i64),
    /// A stored value is not what the schema says it is.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// A write was refused by the domain rules (not found, conflict); carries the API
    /// error to return.
    #[error("{0}")]
    Refused(crate::error::ApiError),
    /// A reader task failed to run.
    #[error("reader task failed: {0}")]
    Task(String),
}

/// Where the store lives, parsed from `--database`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite:PATH` (also `sqlite://PATH`).
    Sqlite(PathBuf),
}

impl std::str::FromStr for DatabaseUrl {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        let path = s
            .strip_prefix("sqlite://")
            .or_else(|| s.strip_prefix("sqlite:"))
            .ok_or_else(|| StoreError::Url(s.to_string()))?;
        if path.is_empty() {
            return Err(StoreError::Url(s.to_string()));
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
    }
}

type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
type WriteJob = Box<dyn FnOnce(&Connection) -> Completion + Send>;

/// The store. Cheap to clone; the writer thread stops when the last clone is dropped.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    tx: Mutex<Option<mpsc::Sender<WriteJob>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        if let Ok(mut w) = self.writer.lock() {
            if let Some(h) = w.take() {
                let _ = h.join();
            }
        }
    }
}

fn configure(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

impl Store {
    /// Opens (creating if needed) the database named by `url` and runs the migrations.
    pub fn open(url: &DatabaseUrl) -> Result<Store, StoreError> {
        let DatabaseUrl::Sqlite(path) = url;
        Self::open_sqlite(path)
    }

    fn open_sqlite(path: &Path) -> Result<Store, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt(format!(
                "journal_mode WAL refused (got {mode})"
            )));
        }
        configure(&conn).map_err(open_err)?;
        migrate(&mut conn)?;
        let (tx, rx) = mpsc::channel::<WriteJob>();
        let writer = std::thread::Builder::new()
            .name("bulwark-store-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| StoreError::Task(e.to_string()))?;
        Ok(Store {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                tx: Mutex::new(Some(tx)),
                writer: Mutex::new(Some(writer)),
                readers: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Runs `f` on the writer thread inside a transaction (grouped with other writes,
    /// isolated by a savepoint) and returns its result once the commit is durable.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let rx = self.submit(f)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// [`Store::write`] for synchronous callers (the CLI's offline commands). Must not be
    /// called from inside an async runtime.
    pub fn write_blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let rx = self.submit(f)?;
        rx.blocking_recv().map_err(|_| StoreError::WriterGone)?
    }

    fn submit<T, F>(
        &self,
        f: F,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<T, StoreError>>, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (done, rx) = tokio::sync::oneshot::channel();
        let job: WriteJob = Box::new(move |conn: &Connection| -> Completion {
            let result = in_savepoint(conn, f);
            Box::new(move |commit: Result<(), StoreError>| {
                let _ = done.send(match (result, commit) {
                    (Ok(v), Ok(())) => Ok(v),
                    (Err(e), _) => Err(e),
                    (Ok(_), Err(e)) => Err(e),
                });
            })
        });
        let guard = self.inner.tx.lock().map_err(|_| StoreError::WriterGone)?;
        guard
            .as_ref()
            .ok_or(StoreError::WriterGone)?
            .send(job)
            .map_err(|_| StoreError::WriterGone)?;
        Ok(rx)
    }

    /// Runs `f` on a read-only connection (a consistent snapshot) on the blocking pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.read_blocking(f))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// [`Store::read`] for synchronous callers.
    pub fn read_blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, StoreError>,
    {
        let pooled = self.inner.readers.lock().ok().and_then(|mut v| v.pop());
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.inner.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(|source| StoreError::Open {
                    path: self.inner.path.clone(),
                    source,
                })?;
                c.busy_timeout(std::time::Duration::from_secs(30))?;
                c
            }
        };
        // A deferred transaction: every statement of `f` sees one snapshot.
        conn.execute_batch("BEGIN")?;
        let result = f(&conn);
        let end = conn.execute_batch("COMMIT");
        if end.is_ok() {
            if let Ok(mut pool) = self.inner.readers.lock() {
                if pool.len() < READERS {
                    pool.push(conn);
                }
            }
        }
        let value = result?;
        end?;
        Ok(value)
    }

    /// Whether the store answers (for `/readyz`): a read and the writer thread alive.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| {
            c.query_row("SELECT seq FROM audit_head WHERE id = 1", [], |r| {
                r.get::<_, i64>(0)
            })?;
            Ok(())
        })
        .await?;
        self.write(|_| Ok(())).await
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }
}

fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.execute_batch("SAVEPOINT w")?;
    match f(conn) {
        Ok(v) => {
            conn.execute_batch("RELEASE w")?;
            Ok(v)
        }
        Err(e) => {
            conn.execute_batch("ROLLBACK TO w; RELEASE w")?;
            Err(e)
        }
    }
}

fn writer_loop(conn: Connection, rx: mpsc::Receiver<WriteJob>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let msg = e.to_string();
            for job in batch {
                // The job never ran; tell its caller why.
                let complete = job_refused(job);
                complete(Err(StoreError::Task(format!("BEGIN failed: {msg}"))));
            }
            continue;
        }
        let completions: Vec<Completion> = batch.into_iter().map(|job| job(&conn)).collect();
        let commit = conn.execute_batch("COMMIT");
        let msg = commit.as_ref().err().map(|e| e.to_string());
        if msg.is_some() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for c in completions {
            c(match &msg {
                None => Ok(()),
                Some(m) => Err(StoreError::Task(format!("COMMIT failed: {m}"))),
            });
        }
    }
}

/// Drops a job that could not be run; its caller's channel closes, which it reports as
/// [`StoreError::WriterGone`]. Returns a no-op completion.
fn job_refused(job: WriteJob) -> Completion {
    drop(job);
    Box::new(|_| {})
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at BIGINT NOT NULL
        );",
    )?;
    let current: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    let latest = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
    if current > latest {
        return Err(StoreError::TooNew(current, latest));
    }
    for &(version, name, sql) in MIGRATIONS {
        if version <= current {
            continue;
        }
        let err = |source| StoreError::Migration {
            version,
            name,
            source,
        };
        let tx = conn.transaction().map_err(err)?;
        tx.execute_batch(sql).map_err(err)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            rusqlite::params![version, name, now_ms()],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        tracing::info!(version, name, "applied migration");
    }
    Ok(())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// RFC 3339 rendering of a millisecond timestamp (UTC).
pub fn rfc3339(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// `n` random bytes as lower-case hex, from the operating system's generator.
pub fn random_hex(n: usize) -> String {
    use rand_core::RngCore;
    let mut buf = vec![0u8; n];
    rand_core::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn group_commit_isolates_a_failing_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&DatabaseUrl::Sqlite(dir.path().join("s.db"))).unwrap();
        let ok = store.write(|c| {
            c.execute(
                "INSERT INTO feed_deltas (id, source, new_count, changed_count, withdrawn_count, imported_at) VALUES ('a', 't', 0, 0, 0, 0)",
                [],
            )?;
            Ok(())
        });
        let bad = store.write(|c| {
            c.execute(
                "INSERT INTO feed_deltas (id, source, new_count, changed_count, withdrawn_count, imported_at) VALUES ('b', 't', 0, 0, 0, 0)",
                [],
            )?;
            Err::<(), _>(StoreError::Corrupt("on purpose".into()))
        });
        let (ok, bad) = tokio::join!(ok, bad);
        ok.unwrap();
        assert!(bad.is_err());
        let ids: Vec<String> = store
            .read(|c| {
                let mut s = c.prepare("SELECT id FROM feed_deltas ORDER BY id")?;
                let v = s
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<Vec<String>, _>>()?;
                Ok(v)
            })
            .await
            .unwrap();
        assert_eq!(ids, vec!["a".to_string()]);
    }

    #[test]
    fn reopening_runs_no_migration_twice_and_keeps_wal() {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(dir.path().join("s.db"));
        drop(Store::open(&url).unwrap());
        let store = Store::open(&url).unwrap();
        let (n, mode, sync): (i64, String, i64) = store
            .read_blocking(|c| {
                let n = c.query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))?;
                let mode = c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
                Ok((n, mode, 0))
            })
            .unwrap();
        assert_eq!(n, MIGRATIONS.len() as i64);
        assert_eq!(mode, "wal");
        let _ = sync;
    }

    #[test]
    fn database_urls() {
        assert_eq!(
            "sqlite:/x/y.db".parse::<DatabaseUrl>().unwrap(),
            DatabaseUrl::Sqlite("/x/y.db".into())
        );
        assert!("postgres://h/db".parse::<DatabaseUrl>().is_err());
        assert!("sqlite:".parse::<DatabaseUrl>().is_err());
    }
}
