//! The server's store: one SQLite file in WAL mode with `synchronous=FULL` (the
//! default), or a PostgreSQL database (`--database postgres://…`, for several server
//! replicas), behind one writer thread and a small pool of read-only connections.
//!
//! Writes are closures sent to the writer thread. The thread takes every write waiting
//! in its queue (up to [`MAX_GROUP`]), runs them in one transaction, each inside its own
//! savepoint (a failing write is rolled back alone), commits once and only then answers
//! each caller: a write is acknowledged only after the commit that contains it is
//! durable (group commit — one fsync for many concurrent writes). On SQLite the
//! transaction is `BEGIN IMMEDIATE`; on PostgreSQL it is `BEGIN` (read committed) and
//! then `SELECT … FROM audit_head … FOR UPDATE`, which makes writers of every replica
//! take turns exactly as SQLite's single writer lock does (no deadlocks between replicas,
//! and the audit chain's head is read under the lock).
//!
//! On SQLite a commit appends to the WAL and syncs it (that is what makes it durable);
//! copying the WAL back into the database file (the checkpoint) runs on a thread of its
//! own once the WAL passes 1,000 pages, instead of inside the commit that crossed the
//! threshold (SQLite's auto-checkpoint, which made a big re-match's commit seconds
//! longer).
//!
//! Reads run a closure on a pooled connection inside one transaction — a deferred
//! `BEGIN` on SQLite, `REPEATABLE READ READ ONLY` on PostgreSQL — so every statement of
//! a read sees one snapshot. The closures take [`sql::Conn`], the backend-neutral handle
//! (see `store/sql.rs`); the SQL is shared (`$N` placeholders, `ON CONFLICT` upserts,
//! integers as `i64`), and so are the migrations.

pub mod audit;
pub mod bulk;
pub mod inventory;
pub mod jobs;
pub mod pg;
pub mod sql;
pub mod tokens;

pub use sql::{Conn, Dialect};

use crate::params;
use rusqlite::{Connection, OpenFlags};
use sql::PgConn;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// Most writes committed in one transaction.
pub const MAX_GROUP: usize = 256;
/// Most SQLite read-only connections open at once (reads beyond wait for one).
const READERS: usize = 8;
/// WAL frames (pages) after which the SQLite writer asks the checkpointer thread for a
/// checkpoint (SQLite's own auto-checkpoint threshold).
const CHECKPOINT_FRAMES: i32 = 1_000;

thread_local! {
    /// Frames in the WAL after the last commit on this thread's SQLite connection (set
    /// by the writer connection's WAL hook; the writer thread owns one connection).
    static WAL_FRAMES: std::cell::Cell<i32> = const { std::cell::Cell::new(0) };
}

/// The SQLite writer's WAL hook: runs on the writer thread after each commit, with the
/// WAL's size. Setting it replaces SQLite's auto-checkpoint, which would copy the WAL
/// into the database file inside the commit (seconds after a big re-match).
fn note_wal_frames(_: &rusqlite::hooks::Wal, frames: std::ffi::c_int) -> rusqlite::Result<()> {
    WAL_FRAMES.with(|f| f.set(frames));
    Ok(())
}

/// The migrations, in order. Each runs once, in its own transaction, on either backend.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "inventory",
        include_str!("../../migrations/0001_inventory.sql"),
    ),
    (
        2,
        "rematch",
        include_str!("../../migrations/0002_rematch.sql"),
    ),
    (
        3,
        "finding_kev_epss",
        include_str!("../../migrations/0003_finding_kev_epss.sql"),
    ),
    (4, "jobs", include_str!("../../migrations/0004_jobs.sql")),
    (
        5,
        "suppressions",
        include_str!("../../migrations/0005_suppressions.sql"),
    ),
    (
        6,
        "rematch_writes",
        include_str!("../../migrations/0006_rematch_writes.sql"),
    ),
];

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite said no.
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    /// PostgreSQL said no (or the connection to it failed).
    #[error("database: {}", pg::describe(.0))]
    Pg(#[from] postgres::Error),
    /// The database URL is not one this build understands.
    #[error(
        "unsupported database URL {0:?} (expected sqlite:PATH or postgres://USER@HOST:PORT/DB)"
    )]
    Url(String),
    /// The PostgreSQL URL asks for something this build refuses (plain text to a remote
    /// host, TLS without a CA to verify against).
    #[error("refusing the PostgreSQL URL: {0}")]
    UrlRefused(String),
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
    #[error("migration {version} ({name}): {source}")]
    Migration {
        /// Migration number.
        version: i64,
        /// Its name.
        name: &'static str,
        /// Why.
        #[source]
        source: Box<StoreError>,
    },
    /// The database was written by a newer bulwark.
    #[error("database schema version {0} is newer than this bulwark understands ({1})")]
    TooNew(i64, i64),
    /// A stored value is not what the schema says it is.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// A column was read as the wrong type (or does not exist).
    #[error("column {column}: expected {expected}, found {found}")]
    Type {
        /// Column index, from 0.
        column: usize,
        /// The Rust side's type.
        expected: &'static str,
        /// What the row holds.
        found: &'static str,
    },
    /// A query that must return a row returned none.
    #[error("the query returned no row")]
    NoRow,
    /// A write was refused by the domain rules (not found, conflict); carries the API
    /// error to return.
    #[error("{0}")]
    Refused(crate::error::ApiError),
    /// A reader task failed to run.
    #[error("reader task failed: {0}")]
    Task(String),
}

/// Where the store lives, parsed from `--database`.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite:PATH` (also `sqlite://PATH`).
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…` (checked by [`pg::check_url`] when parsed).
    Postgres(String),
}

impl DatabaseUrl {
    /// The URL with any password replaced by `***` (for logs and errors).
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(p) => format!("sqlite:{}", p.display()),
            DatabaseUrl::Postgres(u) => pg::redact(u),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(p) => f.debug_tuple("Sqlite").field(p).finish(),
            DatabaseUrl::Postgres(_) => f.debug_tuple("Postgres").field(&self.redacted()).finish(),
        }
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            pg::check_url(s)?;
            return Ok(DatabaseUrl::Postgres(s.to_string()));
        }
        let path = s
            .strip_prefix("sqlite://")
            .or_else(|| s.strip_prefix("sqlite:"))
            .ok_or_else(|| StoreError::Url(pg::redact(s)))?;
        if path.is_empty() {
            return Err(StoreError::Url(s.to_string()));
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
    }
}

type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
type WriteJob = Box<dyn FnOnce(&Conn<'_>) -> Completion + Send>;

/// The store. Cheap to clone; the writer thread stops when the last clone is dropped.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

enum Readers {
    Sqlite { path: PathBuf, pool: SqliteReaders },
    Postgres(Box<pg::ReaderPool>),
}

struct Inner {
    url: DatabaseUrl,
    tx: Mutex<Option<mpsc::Sender<WriteJob>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// SQLite's checkpointer thread (stops after the writer).
    checkpointer: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Readers,
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
        // The writer dropped its end of the checkpointer's channel: it stops too.
        if let Ok(mut w) = self.checkpointer.lock() {
            if let Some(h) = w.take() {
                let _ = h.join();
            }
        }
        // Closing a `postgres` client blocks on its own runtime, which panics inside an
        // async task (the last clone of the store may be dropped in one): close the
        // pooled readers on a plain thread.
        if let Readers::Postgres(pool) = &self.readers {
            let conns: Vec<PgConn> = pool.drain();
            if !conns.is_empty() {
                let _ = std::thread::spawn(move || drop(conns)).join();
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
        match url {
            DatabaseUrl::Sqlite(path) => Self::open_sqlite(path),
            DatabaseUrl::Postgres(u) => Self::open_postgres(url, u),
        }
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
        // The writer's page cache: a re-match touches many pages of a big store (the
        // default 2 MB cache makes it read the same index pages again and again).
        conn.pragma_update(None, "cache_size", -131_072)
            .map_err(open_err)?;
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(open_err)?;
        conn.set_prepared_statement_cache_capacity(64);
        migrate_sqlite(&mut conn)?;
        // Checkpoints run on a thread of their own, after the commit (see
        // `checkpointer`): the writer's commits only append to the WAL and sync it,
        // which is what makes them durable.
        let ckpt_conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err)?;
        configure(&ckpt_conn).map_err(open_err)?;
        let (ckpt_tx, ckpt_rx) = mpsc::sync_channel::<()>(1);
        let checkpointer = std::thread::Builder::new()
            .name("bulwark-store-checkpointer".into())
            .spawn(move || checkpointer(&ckpt_conn, ckpt_rx))
            .map_err(|e| StoreError::Task(e.to_string()))?;
        let (tx, rx) = mpsc::channel::<WriteJob>();
        let writer = std::thread::Builder::new()
            .name("bulwark-store-writer".into())
            .spawn(move || {
                conn.wal_hook(Some(note_wal_frames));
                let handle = Conn::sqlite(&conn);
                writer_loop(
                    &handle,
                    "BEGIN IMMEDIATE",
                    rx,
                    || Ok(false),
                    || {
                        if WAL_FRAMES.with(|f| f.get()) >= CHECKPOINT_FRAMES {
                            // Full: a checkpoint is asked for already.
                            let _ = ckpt_tx.try_send(());
                        }
                    },
                );
            })
            .map_err(|e| StoreError::Task(e.to_string()))?;
        Ok(Store {
            inner: Arc::new(Inner {
                url: DatabaseUrl::Sqlite(path.to_path_buf()),
                tx: Mutex::new(Some(tx)),
                writer: Mutex::new(Some(writer)),
                checkpointer: Mutex::new(Some(checkpointer)),
                readers: Readers::Sqlite {
                    path: path.to_path_buf(),
                    pool: SqliteReaders::default(),
                },
            }),
        })
    }

    fn open_postgres(url: &DatabaseUrl, u: &str) -> Result<Store, StoreError> {
        let target = pg::target(u)?;
        let mut conn = pg::connect(&target)?;
        pg::migrate(&mut conn)?;
        let (tx, rx) = mpsc::channel::<WriteJob>();
        let writer_target = target.clone();
        let writer = std::thread::Builder::new()
            .name("bulwark-store-writer".into())
            .spawn(move || {
                let cell = RefCell::new(conn);
                let handle = Conn::postgres(&cell);
                // Every replica's writer takes the audit head row first: writes from all
                // replicas take turns (as on SQLite), and the chain head read by
                // `audit::append` is the latest committed one.
                let begin = "BEGIN ISOLATION LEVEL READ COMMITTED; \
                             SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE";
                writer_loop(
                    &handle,
                    begin,
                    rx,
                    || {
                        // A broken connection (the server restarted) is replaced before the
                        // next transaction; the writes of the broken one were never acked.
                        let closed = cell.try_borrow().map(|c| c.is_closed()).unwrap_or(false);
                        if closed {
                            tracing::warn!(
                                "the store's PostgreSQL writer connection closed; reconnecting"
                            );
                            let fresh = pg::connect(&writer_target)?;
                            if let Ok(mut c) = cell.try_borrow_mut() {
                                *c = fresh;
                            }
                        }
                        Ok(closed)
                    },
                    || {},
                );
            })
            .map_err(|e| StoreError::Task(e.to_string()))?;
        Ok(Store {
            inner: Arc::new(Inner {
                url: url.clone(),
                tx: Mutex::new(Some(tx)),
                writer: Mutex::new(Some(writer)),
                checkpointer: Mutex::new(None),
                readers: Readers::Postgres(Box::new(pg::ReaderPool::new(target))),
            }),
        })
    }

    /// Runs `f` on the writer thread inside a transaction (grouped with other writes,
    /// isolated by a savepoint) and returns its result once the commit is durable.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Conn<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let rx = self.submit(f)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// [`Store::write`] for synchronous callers (the CLI's offline commands). Must not be
    /// called from inside an async runtime.
    pub fn write_blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Conn<'_>) -> Result<T, StoreError> + Send + 'static,
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
        F: FnOnce(&Conn<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (done, rx) = tokio::sync::oneshot::channel();
        let job: WriteJob = Box::new(move |conn: &Conn<'_>| -> Completion {
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
        F: FnOnce(&Conn<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.read_blocking(f))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// [`Store::read`] for synchronous callers (never from inside an async task: the
    /// PostgreSQL client blocks).
    pub fn read_blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Conn<'_>) -> Result<T, StoreError>,
    {
        match &self.inner.readers {
            Readers::Sqlite { path, pool } => read_sqlite(path, pool, f),
            Readers::Postgres(pool) => read_postgres(pool, f),
        }
    }

    /// Whether the store answers (for `/readyz`): a read and the writer thread alive.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| {
            c.query_one("SELECT seq FROM audit_head WHERE id = 1", params![])?
                .get::<i64>(0)?;
            Ok(())
        })
        .await?;
        self.write(|_| Ok(())).await
    }

    /// The database, as `--database` named it (any password replaced by `***`).
    pub fn describe(&self) -> String {
        self.inner.url.redacted()
    }

    /// The SQL dialect of the store.
    pub fn dialect(&self) -> Dialect {
        match self.inner.url {
            DatabaseUrl::Sqlite(_) => Dialect::Sqlite,
            DatabaseUrl::Postgres(_) => Dialect::Postgres,
        }
    }
}

/// SQLite's read connections: at most [`READERS`] open, kept for reuse. A read that
/// finds them all busy waits for one (it runs on the blocking pool) instead of opening
/// another: opening a connection re-reads the schema and builds a fresh page cache,
/// which under a hundred concurrent readers cost more than the reads themselves.
#[derive(Default)]
struct SqliteReaders {
    /// Idle connections, and how many exist in all (idle or lent out).
    state: Mutex<(Vec<Connection>, usize)>,
    returned: std::sync::Condvar,
}

impl SqliteReaders {
    fn get(&self, path: &Path) -> Result<Connection, StoreError> {
        let poisoned = || StoreError::Task("the reader pool's lock is poisoned".into());
        let mut st = self.state.lock().map_err(|_| poisoned())?;
        loop {
            if let Some(c) = st.0.pop() {
                return Ok(c);
            }
            if st.1 < READERS {
                st.1 += 1;
                break;
            }
            st = self.returned.wait(st).map_err(|_| poisoned())?;
        }
        drop(st);
        let opened = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })
        .and_then(|c| {
            c.busy_timeout(std::time::Duration::from_secs(30))?;
            c.set_prepared_statement_cache_capacity(64);
            Ok(c)
        });
        if opened.is_err() {
            self.put(None);
        }
        opened
    }

    /// Gives a connection back (`None`: it was broken and is gone).
    fn put(&self, conn: Option<Connection>) {
        if let Ok(mut st) = self.state.lock() {
            match conn {
                Some(c) => st.0.push(c),
                None => st.1 = st.1.saturating_sub(1),
            }
        }
        self.returned.notify_one();
    }
}

fn read_sqlite<T>(
    path: &Path,
    pool: &SqliteReaders,
    f: impl FnOnce(&Conn<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let conn = pool.get(path)?;
    // A deferred transaction: every statement of `f` sees one snapshot.
    if let Err(e) = conn.execute_batch("BEGIN") {
        pool.put(None);
        return Err(e.into());
    }
    let result = f(&Conn::sqlite(&conn));
    let end = conn.execute_batch("COMMIT");
    pool.put(end.is_ok().then_some(conn));
    let value = result?;
    end?;
    Ok(value)
}

fn read_postgres<T>(
    pool: &pg::ReaderPool,
    f: impl FnOnce(&Conn<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    // One snapshot for every statement of `f`, and no writes through a reader. An idle
    // connection that broke meanwhile (PostgreSQL restarted) fails here, before `f`
    // ran: it is dropped and the next one tried.
    let mut attempts = 0;
    let conn = loop {
        let mut conn = pool.get()?;
        match conn.batch("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") {
            Ok(()) => break conn,
            Err(e) => {
                let broken = conn.is_closed();
                pool.put(conn, false);
                attempts += 1;
                if !broken || attempts > pg::MAX_READERS {
                    return Err(e);
                }
            }
        }
    };
    let cell = RefCell::new(conn);
    let result = f(&Conn::postgres(&cell));
    let mut conn = cell.into_inner();
    let end = conn.batch(if result.is_ok() { "COMMIT" } else { "ROLLBACK" });
    pool.put(conn, end.is_ok());
    let value = result?;
    end?;
    Ok(value)
}

fn in_savepoint<T>(
    conn: &Conn<'_>,
    f: impl FnOnce(&Conn<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.batch("SAVEPOINT w")?;
    match f(conn) {
        Ok(v) => {
            conn.batch("RELEASE w")?;
            Ok(v)
        }
        Err(e) => {
            conn.batch("ROLLBACK TO w; RELEASE w")?;
            Err(e)
        }
    }
}

/// SQLite's checkpointer: copies the WAL into the database file (a PASSIVE checkpoint:
/// it never waits for or blocks the writer or the readers) each time the writer says
/// the WAL has grown past [`CHECKPOINT_FRAMES`], off the writer's commit path. Stops
/// when the writer is gone (closing its connection checkpoints what is left).
fn checkpointer(conn: &Connection, rx: mpsc::Receiver<()>) {
    while rx.recv().is_ok() {
        let started = std::time::Instant::now();
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        }) {
            Ok((busy, frames, copied)) => tracing::debug!(
                busy,
                frames,
                copied,
                seconds = started.elapsed().as_secs_f64(),
                "WAL checkpoint"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint failed; retried after the next commit")
            }
        }
    }
}

/// The writer: groups waiting jobs into one transaction opened with `begin`.
/// `ready` runs before each transaction and says whether it replaced a broken
/// connection (the PostgreSQL writer reconnects there; SQLite's never does);
/// `committed` runs after each successful commit (SQLite's asks for a checkpoint).
fn writer_loop(
    conn: &Conn<'_>,
    begin: &str,
    rx: mpsc::Receiver<WriteJob>,
    mut ready: impl FnMut() -> Result<bool, StoreError>,
    mut committed: impl FnMut(),
) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let mut begun = ready().and_then(|_| conn.batch(begin));
        if begun.is_err() {
            // The connection may have broken since the last transaction without the
            // client noticing until now: no job has run yet, so reconnect and begin
            // once more.
            let _ = conn.batch("ROLLBACK");
            if let Ok(true) = ready() {
                begun = conn.batch(begin);
            }
        }
        if let Err(e) = begun {
            let msg = e.to_string();
            tracing::error!(error = %msg, "the store could not begin a write transaction");
            for job in batch {
                // The job never ran; tell its caller why.
                let complete = job_refused(job);
                complete(Err(StoreError::Task(format!("BEGIN failed: {msg}"))));
            }
            continue;
        }
        let completions: Vec<Completion> = batch.into_iter().map(|job| job(conn)).collect();
        let commit = conn.batch("COMMIT");
        let msg = commit.as_ref().err().map(|e| e.to_string());
        if msg.is_some() {
            let _ = conn.batch("ROLLBACK");
        }
        for c in completions {
            c(match &msg {
                None => Ok(()),
                Some(m) => Err(StoreError::Task(format!("COMMIT failed: {m}"))),
            });
        }
        if msg.is_none() {
            committed();
        }
    }
}

/// Drops a job that could not be run; its caller's channel closes, which it reports as
/// [`StoreError::WriterGone`]. Returns a no-op completion.
fn job_refused(job: WriteJob) -> Completion {
    drop(job);
    Box::new(|_| {})
}

fn migrate_sqlite(conn: &mut Connection) -> Result<(), StoreError> {
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
        let err = |source: rusqlite::Error| StoreError::Migration {
            version,
            name,
            source: Box::new(source.into()),
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
                params![],
            )?;
            Ok(())
        });
        let bad = store.write(|c| {
            c.execute(
                "INSERT INTO feed_deltas (id, source, new_count, changed_count, withdrawn_count, imported_at) VALUES ('b', 't', 0, 0, 0, 0)",
                params![],
            )?;
            Err::<(), _>(StoreError::Corrupt("on purpose".into()))
        });
        let (ok, bad) = tokio::join!(ok, bad);
        ok.unwrap();
        assert!(bad.is_err());
        let ids: Vec<String> = store
            .read(|c| {
                c.query_map("SELECT id FROM feed_deltas ORDER BY id", params![], |r| {
                    r.get::<String>(0)
                })
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
                let n = c.query_row("SELECT COUNT(*) FROM schema_migrations", params![], |r| {
                    r.get(0)
                })?;
                let mode = c.query_row("PRAGMA journal_mode", params![], |r| r.get(0))?;
                Ok((n, mode, 0))
            })
            .unwrap();
        assert_eq!(n, MIGRATIONS.len() as i64);
        assert_eq!(mode, "wal");
        let _ = sync;
    }

    #[test]
    fn the_checkpointer_copies_a_big_commit_into_the_file_while_the_store_is_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = Store::open(&DatabaseUrl::Sqlite(path.clone())).unwrap();
        let before = std::fs::metadata(&path).unwrap().len();
        // One commit of about 3,000 pages (12 MB), past the 1,000-page threshold.
        store
            .write_blocking(|c| {
                c.batch("CREATE TABLE big (b TEXT NOT NULL)")?;
                for i in 0..3_000_i64 {
                    c.execute(
                        "INSERT INTO big (b) VALUES ($1)",
                        params![format!("{i:04000}")],
                    )?;
                }
                Ok(())
            })
            .unwrap();
        // Without the checkpointer (the writer's WAL hook replaced SQLite's
        // auto-checkpoint) the pages would stay in the WAL until the store closes.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let grown = loop {
            let now = std::fs::metadata(&path).unwrap().len();
            if now >= before + 12_000_000 || std::time::Instant::now() > deadline {
                break now;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        assert!(
            grown >= before + 12_000_000,
            "the database file grew from {before} to {grown} bytes only"
        );
        let n: i64 = store
            .read_blocking(|c| c.query_row("SELECT COUNT(*) FROM big", params![], |r| r.get(0)))
            .unwrap();
        assert_eq!(n, 3_000);
    }

    #[test]
    fn database_urls() {
        assert_eq!(
            "sqlite:/x/y.db".parse::<DatabaseUrl>().unwrap(),
            DatabaseUrl::Sqlite("/x/y.db".into())
        );
        // A remote host without TLS is refused (this build has no TLS to PostgreSQL).
        assert!("postgres://h/db".parse::<DatabaseUrl>().is_err());
        let pg = "postgresql://u:pw@127.0.0.1:5432/db"
            .parse::<DatabaseUrl>()
            .unwrap();
        assert!(matches!(pg, DatabaseUrl::Postgres(_)));
        assert_eq!(pg.redacted(), "postgresql://u:***@127.0.0.1:5432/db");
        assert!(!format!("{pg:?}").contains("pw"));
        assert!("sqlite:".parse::<DatabaseUrl>().is_err());
    }
}
