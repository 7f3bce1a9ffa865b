//! Update tests against a local HTTP server on 127.0.0.1 that serves the osv.dev bulk
//! layout, and the concurrency test (readers looping while generations are swapped).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bulwark_vulndb::import::ImportOptions;
use bulwark_vulndb::osv::OsvRecord;
use bulwark_vulndb::store::WriterOptions;
use bulwark_vulndb::update::{update, UpdateMode, UpdateOptions};
use bulwark_vulndb::{import_paths, VulnDb};
use common::{make_zip, osv_fixtures, record_json};

/// A tiny HTTP/1.1 server: one request per connection, `Connection: close`.
#[derive(Clone, Default)]
struct Mirror {
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    /// Paths whose body is cut in half (the server closes mid-body).
    cut: Arc<Mutex<Vec<String>>>,
    hits: Arc<Mutex<Vec<String>>>,
}

impl Mirror {
    fn start(&self) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let me = self.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let _ = me.serve(conn);
            }
        });
        format!("http://{addr}")
    }

    fn serve(&self, mut conn: TcpStream) -> std::io::Result<()> {
        let mut reader = BufReader::new(conn.try_clone()?);
        let mut first = String::new();
        reader.read_line(&mut first)?;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
                break;
            }
        }
        let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
        self.hits.lock().expect("lock").push(path.clone());
        let body = self.files.lock().expect("lock").get(&path).cloned();
        let Some(body) = body else {
            conn.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )?;
            return Ok(());
        };
        write!(
            conn,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )?;
        if self.cut.lock().expect("lock").contains(&path) {
            conn.write_all(&body[..body.len() / 2])?;
            conn.flush()?;
            return Ok(()); // dropping the stream closes it mid-body
        }
        conn.write_all(&body)
    }

    fn put(&self, path: &str, body: Vec<u8>) {
        self.files
            .lock()
            .expect("lock")
            .insert(path.to_string(), body);
    }

    fn take_hits(&self) -> Vec<String> {
        std::mem::take(&mut *self.hits.lock().expect("lock"))
    }
}

/// The JSON records of a fixture folder.
fn fixture_records(rel: &str) -> Vec<OsvRecord> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(osv_fixtures().join(rel))
        .expect("dir")
        .map(|e| e.expect("e").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).expect("read")).expect("osv"))
        .collect()
}

/// Publishes `recs` as `<eco>/all.zip`, `<eco>/modified_id.csv` and `<eco>/<id>.json`.
fn publish(m: &Mirror, eco: &str, recs: &[OsvRecord]) {
    let mut files = Vec::new();
    let mut rows: Vec<(String, String)> = Vec::new();
    for r in recs {
        let body = serde_json::to_vec(r).expect("json");
        m.put(&format!("/{eco}/{}.json", r.id), body.clone());
        files.push((format!("{}.json", r.id), body));
        rows.push((r.modified.clone(), r.id.clone()));
    }
    rows.sort_by(|a, b| b.cmp(a));
    let csv: String = rows.iter().map(|(t, id)| format!("{t},{id}\n")).collect();
    m.put(&format!("/{eco}/modified_id.csv"), csv.into_bytes());
    m.put(&format!("/{eco}/all.zip"), make_zip(&files));
}

#[test]
fn full_then_incremental_update_and_interrupted_download() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let m = Mirror::default();
    let url = m.start();
    let mut rust = fixture_records("crates.io/rustsec");
    let pypi = fixture_records("PyPI/trivy-db-fixtures");
    publish(&m, "crates.io", &rust);
    publish(&m, "PyPI", &pypi);

    let db = tempfile::tempdir().expect("tmp");
    let opts = UpdateOptions {
        mirror: url.clone(),
        ecosystems: vec!["crates.io".into(), "PyPI".into()],
        ..UpdateOptions::default()
    };
    let st = update(db.path(), &opts).expect("first update");
    assert!(
        st.ecosystems.iter().all(|e| e.mode == UpdateMode::Full),
        "{st:?}"
    );
    let mut hits = m.take_hits();
    hits.sort();
    assert_eq!(
        hits,
        [
            "/PyPI/all.zip",
            "/PyPI/modified_id.csv",
            "/crates.io/all.zip",
            "/crates.io/modified_id.csv"
        ]
    );
    let h = VulnDb::open(db.path()).expect("open");
    let info = h.info().expect("info");
    assert_eq!(info.records as usize, rust.len() + pypi.len());

    // Two records change and one is added upstream.
    let first_gen = h.generation().to_string();
    for (i, r) in rust.iter_mut().take(2).enumerate() {
        r.modified = format!("2099-01-0{}T00:00:00Z", i + 1);
        r.summary = Some(format!("changed {i}"));
    }
    let mut new_rec = rust[0].clone();
    new_rec.id = "RUSTSEC-2099-0001".into();
    new_rec.modified = "2099-02-01T00:00:00Z".into();
    rust.push(new_rec);
    publish(&m, "crates.io", &rust);

    let st = update(db.path(), &opts).expect("incremental update");
    let mut hits = m.take_hits();
    hits.sort();
    let mut want = vec![
        "/PyPI/modified_id.csv".to_string(),
        "/crates.io/modified_id.csv".to_string(),
        format!("/crates.io/{}.json", rust[0].id),
        format!("/crates.io/{}.json", rust[1].id),
        "/crates.io/RUSTSEC-2099-0001.json".to_string(),
    ];
    want.sort();
    assert_eq!(hits, want, "only the modified records may be fetched");
    let modes: Vec<UpdateMode> = st.ecosystems.iter().map(|e| e.mode).collect();
    assert_eq!(modes, [UpdateMode::Incremental, UpdateMode::Unchanged]);
    let h = VulnDb::open(db.path()).expect("open");
    assert_ne!(h.generation(), first_gen);
    assert_eq!(
        h.info().expect("info").records as usize,
        rust.len() + pypi.len()
    );
    let changed = h.record(&rust[1].id).expect("get").expect("present");
    assert_eq!(changed.summary.as_deref(), Some("changed 1"));
    assert!(h.record("RUSTSEC-2099-0001").expect("get").is_some());

    // A third run with nothing new fetches only the two CSVs.
    update(db.path(), &opts).expect("no-op update");
    assert_eq!(m.take_hits().len(), 2);

    // An interrupted download of a new ecosystem: clear error naming the URL, the
    // previous generation stays current and readable, no temp files remain.
    let before = VulnDb::open(db.path())
        .expect("open")
        .generation()
        .to_string();
    publish(&m, "npm", &fixture_records("npm/ghsa-trivy-db-fixtures"));
    m.cut.lock().expect("lock").push("/npm/all.zip".into());
    let err = update(
        db.path(),
        &UpdateOptions {
            ecosystems: vec!["npm".into()],
            ..opts.clone()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("/npm/all.zip"), "{err}");
    let h = VulnDb::open(db.path()).expect("still opens");
    assert_eq!(h.generation(), before);
    assert!(h.record("RUSTSEC-2099-0001").expect("get").is_some());
    let tmp: Vec<_> = std::fs::read_dir(db.path())
        .expect("ls")
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("tmp-"))
        .collect();
    assert!(tmp.is_empty(), "{tmp:?}");

    // An HTTP error status is an error too, naming the URL.
    let err = update(
        db.path(),
        &UpdateOptions {
            ecosystems: vec!["NoSuchEcosystem".into()],
            ..opts.clone()
        },
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("/NoSuchEcosystem/all.zip"),
        "{err}"
    );
    assert_eq!(VulnDb::open(db.path()).expect("open").generation(), before);
}

/// Writes a batch of records (one per package p0..p9) with ids `<tag>-p<j>`.
fn batch_dir(tag: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tmp");
    for j in 0..10 {
        let id = format!("{tag}-p{j}");
        std::fs::write(
            d.path().join(format!("{id}.json")),
            record_json(&id, "2024-01-01T00:00:00Z", "npm", &format!("p{j}"), "1.0"),
        )
        .expect("write");
    }
    d
}

#[test]
fn readers_never_block_or_see_partial_generations() {
    let db = tempfile::tempdir().expect("tmp");
    // 100 records per package to start with.
    let init = tempfile::tempdir().expect("tmp");
    for i in 0..100 {
        for j in 0..10 {
            let id = format!("INIT{i}-p{j}");
            std::fs::write(
                init.path().join(format!("{id}.json")),
                record_json(&id, "2024-01-01T00:00:00Z", "npm", &format!("p{j}"), "1.0"),
            )
            .expect("write");
        }
    }
    import_paths(
        db.path(),
        &[init.path().to_path_buf()],
        &ImportOptions::default(),
    )
    .expect("init");

    let stop = Arc::new(AtomicBool::new(false));
    let dir = db.path().to_path_buf();
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            let dir = dir.clone();
            std::thread::spawn(move || -> Result<(u64, Duration, usize), String> {
                let mut lookups = 0u64;
                let mut max_latency = Duration::ZERO;
                let mut max_seen = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let h = VulnDb::open(&dir).map_err(|e| format!("open: {e}"))?;
                    let mut counts = Vec::new();
                    for j in 0..10 {
                        let recs = h
                            .records_for("npm", &format!("p{j}"))
                            .map_err(|e| format!("lookup: {e}"))?;
                        counts.push(recs.len());
                        lookups += 1;
                    }
                    max_latency = max_latency.max(t.elapsed());
                    // Every generation adds one record to every package: equal counts
                    // within a generation, never fewer than the initial 100.
                    if counts.iter().any(|&c| c != counts[0]) || counts[0] < 100 {
                        return Err(format!(
                            "inconsistent generation {}: {counts:?}",
                            h.generation()
                        ));
                    }
                    if counts[0] < max_seen {
                        return Err(format!("went back in time: {} < {max_seen}", counts[0]));
                    }
                    max_seen = counts[0];
                }
                Ok((lookups, max_latency, max_seen))
            })
        })
        .collect();

    // Grace 0: retired generations are deleted at once, while readers may hold them.
    let opts = ImportOptions {
        writer: WriterOptions {
            grace: Duration::ZERO,
        },
        ..ImportOptions::default()
    };
    let updates = 15;
    for k in 0..updates {
        let b = batch_dir(&format!("U{k}"));
        import_paths(db.path(), &[b.path().to_path_buf()], &opts).expect("update");
    }
    std::thread::sleep(Duration::from_millis(50));
    stop.store(true, Ordering::Relaxed);
    let mut worst = Duration::ZERO;
    for r in readers {
        let (lookups, lat, _) = r.join().expect("thread").expect("reader error");
        assert!(lookups > 0);
        worst = worst.max(lat);
    }
    // Open + 10 lookups; a reader that waited on a writer's lock would take as long
    // as a whole import. The bound is loose because the machine is shared.
    assert!(
        worst < Duration::from_millis(1500),
        "max reader latency {worst:?}"
    );
    eprintln!("max reader latency (open + 10 lookups): {worst:?}");
    let h = VulnDb::open(db.path()).expect("open");
    assert_eq!(h.records_for("npm", "p3").expect("q").len(), 100 + updates);
    // Only the current generation is left (grace 0).
    let gens = std::fs::read_dir(db.path())
        .expect("ls")
        .filter(|e| {
            e.as_ref()
                .expect("e")
                .file_name()
                .to_string_lossy()
                .starts_with("gen-")
        })
        .count();
    assert_eq!(gens, 1);
}
