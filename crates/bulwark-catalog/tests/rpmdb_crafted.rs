//! Crafted rpm databases: the Berkeley DB amplification (many hash items pointing at one
//! self-looping overflow chain) and SQLite databases whose `Packages` is an expensive
//! view. Each must give an error or a bounded result, with allocations bounded by the
//! file size; the files are generated here.
//!
//! The allocation counts come from an instrumented global allocator, so the tests in
//! this binary run one at a time (a lock) to keep the counts their own.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use std::alloc::System;
use std::sync::Mutex;

use bulwark_catalog::os::rpm::bdb::parse_bdb;
use bulwark_catalog::os::rpm::RpmDbCataloger;
use bulwark_catalog::{CatalogError, CatalogInput, Cataloger};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------- Berkeley DB

const HASH_MAGIC: u32 = 0x0006_1561;
const P_HASH: u8 = 13;
const P_OVERFLOW: u8 = 7;
const H_KEYDATA: u8 = 1;
const H_OFFPAGE: u8 = 3;

/// A little-endian Berkeley DB hash file: page 0 metadata, then pages built by the
/// caller.
struct Bdb {
    ps: usize,
    pages: Vec<Vec<u8>>,
}

impl Bdb {
    fn new(ps: usize) -> Bdb {
        let mut meta = vec![0u8; ps];
        meta[12..16].copy_from_slice(&HASH_MAGIC.to_le_bytes());
        meta[20..24].copy_from_slice(&(ps as u32).to_le_bytes());
        Bdb {
            ps,
            pages: vec![meta],
        }
    }

    /// A hash page whose index has `entries` slots, alternating `key_off` and
    /// `data_off` (so many index slots may point at the same item bytes), with the
    /// given items written at their offsets.
    fn hash_page(
        &mut self,
        entries: usize,
        key_off: usize,
        data_off: usize,
        items: &[(usize, Vec<u8>)],
    ) -> usize {
        let mut pg = vec![0u8; self.ps];
        pg[20..22].copy_from_slice(&(entries as u16).to_le_bytes());
        pg[25] = P_HASH;
        for i in 0..entries {
            let off = if i % 2 == 0 { key_off } else { data_off };
            pg[26 + 2 * i..28 + 2 * i].copy_from_slice(&(off as u16).to_le_bytes());
        }
        for (at, bytes) in items {
            pg[*at..*at + bytes.len()].copy_from_slice(bytes);
        }
        self.pages.push(pg);
        self.pages.len() - 1
    }

    /// An overflow page holding `len` bytes of `fill`, linking to `next`.
    fn overflow_page(&mut self, next: u32, len: usize, fill: u8) -> usize {
        let mut pg = vec![fill; self.ps];
        pg[..26].fill(0);
        pg[16..20].copy_from_slice(&next.to_le_bytes());
        pg[22..24].copy_from_slice(&(len as u16).to_le_bytes());
        pg[25] = P_OVERFLOW;
        self.pages.push(pg);
        self.pages.len() - 1
    }

    fn bytes(mut self) -> Vec<u8> {
        let last = (self.pages.len() - 1) as u32;
        self.pages[0][32..36].copy_from_slice(&last.to_le_bytes());
        self.pages.concat()
    }
}

fn offpage_item(first: u32, total: u32) -> Vec<u8> {
    let mut it = vec![0u8; 12];
    it[0] = H_OFFPAGE;
    it[4..8].copy_from_slice(&first.to_le_bytes());
    it[8..12].copy_from_slice(&total.to_le_bytes());
    it
}

/// The shape from the issue: a ~42 KB file whose hash pages hold thousands of index
/// slots, every data slot pointing at one item that names one overflow page linking to
/// itself, with a total as large as the file. The old reader copied the file-sized
/// value once per slot (hundreds of MB).
fn amplifier(ps: usize, hash_pages: usize, self_loop: bool) -> Vec<u8> {
    let mut db = Bdb::new(ps);
    let entries = (ps - 26) / 2 - 2;
    let key_off = ps - 4;
    let data_off = key_off - 12;
    let first_overflow = (1 + hash_pages) as u32;
    let file_len = ps * (2 + hash_pages);
    let total = if self_loop {
        (file_len - 64) as u32
    } else {
        (ps - 26) as u32
    };
    for _ in 0..hash_pages {
        db.hash_page(
            entries,
            key_off,
            data_off,
            &[
                (key_off, vec![H_KEYDATA, 1, 2, 3]),
                (data_off, offpage_item(first_overflow, total)),
            ],
        );
    }
    let next = if self_loop { first_overflow } else { 0 };
    db.overflow_page(next, ps - 26, 0x41);
    db.bytes()
}

fn allocated_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let region = Region::new(GLOBAL);
    let out = f();
    (out, region.change().bytes_allocated)
}

#[test]
fn bdb_self_looping_chain_shared_by_many_items_is_an_error_with_bounded_allocation() {
    let _g = serial();
    let data = amplifier(4096, 9, true);
    assert!(data.len() < 48 * 1024, "{}", data.len());
    let (res, bytes) = allocated_during(|| parse_bdb(&data));
    let err = res.expect_err("a looping chain is an error").to_string();
    assert!(err.contains("reached twice"), "{err}");
    assert!(
        bytes <= 4 * data.len(),
        "{bytes} bytes allocated for a {}-byte file",
        data.len()
    );
}

#[test]
fn bdb_chain_shared_by_many_items_is_an_error_with_bounded_allocation() {
    let _g = serial();
    // No loop, but every item names the same one-page chain.
    let data = amplifier(4096, 9, false);
    let (res, bytes) = allocated_during(|| parse_bdb(&data));
    let err = res.expect_err("a shared chain is an error").to_string();
    assert!(err.contains("reached twice"), "{err}");
    assert!(bytes <= 4 * data.len(), "{bytes} bytes allocated");
}

#[test]
fn bdb_overlapping_inline_items_cannot_multiply_the_file() {
    let _g = serial();
    // Every data slot of every hash page points at the same 3 KB inline value.
    let ps = 4096;
    let mut db = Bdb::new(ps);
    let entries = (ps - 26) / 2 - 2;
    let key_off = ps - 4;
    let data_off = 1000;
    let mut value = vec![0x42u8; key_off - data_off];
    value[0] = H_KEYDATA;
    for _ in 0..9 {
        db.hash_page(
            entries,
            key_off,
            data_off,
            &[
                (key_off, vec![H_KEYDATA, 1, 2, 3]),
                (data_off, value.clone()),
            ],
        );
    }
    let data = db.bytes();
    let (res, bytes) = allocated_during(|| parse_bdb(&data));
    match res {
        Ok(values) => {
            let sum: usize = values.iter().map(Vec::len).sum();
            assert!(sum <= data.len(), "{sum} bytes decoded from {}", data.len());
        }
        Err(e) => assert!(e.to_string().contains("add up to more"), "{e}"),
    }
    assert!(bytes <= 4 * data.len(), "{bytes} bytes allocated");
}

#[test]
fn bdb_distinct_chains_still_read() {
    let _g = serial();
    // Two values, each in its own two-page chain, and one inline value: all read.
    let ps = 512;
    let mut db = Bdb::new(ps);
    let key_off = ps - 4;
    let a_off = key_off - 12;
    let b_off = a_off - 12;
    let mut pg = vec![0u8; ps];
    // Index: key, data(a), key, data(b).
    for (i, off) in [key_off, a_off, key_off, b_off].iter().enumerate() {
        pg[26 + 2 * i..28 + 2 * i].copy_from_slice(&(*off as u16).to_le_bytes());
    }
    pg[20..22].copy_from_slice(&4u16.to_le_bytes());
    pg[25] = P_HASH;
    pg[key_off] = H_KEYDATA;
    let chunk = ps - 26;
    pg[a_off..a_off + 12].copy_from_slice(&offpage_item(2, (chunk + 10) as u32));
    pg[b_off..b_off + 12].copy_from_slice(&offpage_item(4, (chunk + 20) as u32));
    db.pages.push(pg);
    db.overflow_page(3, chunk, b'a');
    db.overflow_page(0, 10, b'b');
    db.overflow_page(5, chunk, b'c');
    db.overflow_page(0, 20, b'd');
    let data = db.bytes();
    let values = parse_bdb(&data).expect("valid file");
    assert_eq!(values.len(), 2);
    assert_eq!(values[0].len(), chunk + 10);
    assert!(values[0][..chunk].iter().all(|&b| b == b'a'));
    assert!(values[0][chunk..].iter().all(|&b| b == b'b'));
    assert_eq!(values[1].len(), chunk + 20);
    assert!(values[1][chunk..].iter().all(|&b| b == b'd'));
}

// ---------------------------------------------------------------- SQLite

/// An rpmdb.sqlite whose `Packages` is the given view.
fn sqlite_with_view(dir: &std::path::Path, view_sql: &str) -> Vec<u8> {
    let path = dir.join("crafted.sqlite");
    let conn = rusqlite::Connection::open(&path).expect("create");
    conn.execute_batch(view_sql).expect("schema");
    drop(conn);
    std::fs::read(&path).expect("read back")
}

fn catalog_sqlite(data: &[u8], spool: Option<&std::path::Path>) -> Result<usize, CatalogError> {
    let mut cur = std::io::Cursor::new(data.to_vec());
    RpmDbCataloger
        .catalog(CatalogInput {
            path: "var/lib/rpm/rpmdb.sqlite",
            size: data.len() as u64,
            mode: 0o644,
            reader: &mut cur,
            spool_dir: spool,
        })
        .map(|o| o.packages.len())
}

#[test]
fn sqlite_view_with_endless_recursive_cte_is_aborted() {
    let _g = serial();
    let work = tempfile::tempdir().expect("tempdir");
    let data = sqlite_with_view(
        work.path(),
        "CREATE VIEW Packages AS
           WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)
           SELECT zeroblob(16) AS blob FROM c WHERE x < 0;",
    );
    let spool = tempfile::tempdir().expect("spool");
    let started = std::time::Instant::now();
    let err = catalog_sqlite(&data, Some(spool.path())).expect_err("aborted");
    let msg = err.to_string();
    assert!(msg.contains("SQLite steps"), "{msg}");
    // Generous: the step budget stops it in well under a second here.
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    // The temporary copy is gone.
    assert_eq!(std::fs::read_dir(spool.path()).expect("ls").count(), 0);
}

#[test]
fn sqlite_view_with_slow_steps_is_stopped_by_the_clock() {
    let _g = serial();
    let work = tempfile::tempdir().expect("tempdir");
    // Few VM steps, each a slow built-in call: the step budget alone would take hours.
    let data = sqlite_with_view(
        work.path(),
        "CREATE VIEW Packages AS
           WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)
           SELECT zeroblob(16) AS blob FROM c
           WHERE length(hex(zeroblob(20000000 + x))) < 0;",
    );
    let spool = tempfile::tempdir().expect("spool");
    let started = std::time::Instant::now();
    let err = catalog_sqlite(&data, Some(spool.path())).expect_err("aborted");
    let msg = err.to_string();
    assert!(msg.contains("aborted"), "{msg}");
    // A limit of this run, not a property of the file: the layer-result cache must not
    // keep it (the engine caches only what the file itself decides).
    assert!(matches!(err, CatalogError::Interrupted(_)), "{err:?}");
    let took = started.elapsed();
    assert!(
        took >= bulwark_catalog::os::rpm::sqlite::MAX_READ_TIME && took.as_secs() < 60,
        "{took:?}"
    );
    assert_eq!(std::fs::read_dir(spool.path()).expect("ls").count(), 0);
}

#[test]
fn sqlite_view_yielding_more_than_the_file_is_an_error() {
    let _g = serial();
    let work = tempfile::tempdir().expect("tempdir");
    // Cheap per row, but 100,000 rows of 1 MB each.
    let data = sqlite_with_view(
        work.path(),
        "CREATE VIEW Packages AS
           WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 100000)
           SELECT zeroblob(1000000) AS blob FROM c;",
    );
    let spool = tempfile::tempdir().expect("spool");
    let (res, bytes) = allocated_during(|| catalog_sqlite(&data, Some(spool.path())));
    let msg = res.expect_err("bounded").to_string();
    assert!(msg.contains("more than the file"), "{msg}");
    assert!(bytes < 16 << 20, "{bytes} bytes allocated");
}

#[test]
fn sqlite_spools_into_the_given_dir_only() {
    let _g = serial();
    let work = tempfile::tempdir().expect("tempdir");
    let data = sqlite_with_view(
        work.path(),
        "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB NOT NULL);",
    );
    // No spool dir: a clear error, not a copy in the system temp dir.
    let err = catalog_sqlite(&data, None).expect_err("no spool dir");
    assert!(matches!(err, CatalogError::Spool(_)), "{err}");
    // A spool dir that does not exist: the error names it.
    let missing = work.path().join("no-such-dir");
    let err = catalog_sqlite(&data, Some(&missing)).expect_err("missing dir");
    assert!(err.to_string().contains("no-such-dir"), "{err}");
    // An empty Packages table: no packages, and nothing left behind.
    let spool = tempfile::tempdir().expect("spool");
    assert_eq!(catalog_sqlite(&data, Some(spool.path())).expect("reads"), 0);
    assert_eq!(std::fs::read_dir(spool.path()).expect("ls").count(), 0);
}

#[test]
fn real_sqlite_fixture_still_parses_through_the_spool() {
    let _g = serial();
    let path = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/rpm/cbl-mariner-2.0-sqlite/rpmdb.sqlite"
    ));
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spool = tempfile::tempdir().expect("spool");
    let n = catalog_sqlite(&data, Some(spool.path())).unwrap_or_else(|e| panic!("{e}"));
    assert!(n > 10, "{n} packages");
}
