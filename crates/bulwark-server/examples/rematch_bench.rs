//! Re-match benchmark (bench/rematch.sh): stores N generated SBOMs through the server's
//! own store path (inventory::store_upload, group-committed writes), builds a
//! vulnerability DB generation, then a K-record OSV delta generation, and times the
//! re-match of that delta (`rematch::rematch`, one store transaction: candidates,
//! matching, findings, events, outbox rows).
//!
//! Package names come from a names file (`ecosystem<TAB>name` lines, extracted by the
//! script from the test fixtures: dpkg status files, lock files, OSV records). The real
//! names form the popular head of a Zipf distribution; a long tail of derived names
//! (`<name>-<name>`) stands for the many rarely used packages a real fleet has. Images
//! sit on one of 50 Debian 12 base images (shared layers, stored once) and add one
//! application layer of 200-650 language packages (duplicates are nested copies at
//! other paths, as npm trees have).
//!
//! Usage: rematch_bench NAMES_FILE WORKDIR [IMAGES] [DELTA]
//!
//! `BENCH_DATABASE=postgres://…` (an empty database) runs it on PostgreSQL instead of
//! the SQLite file in WORKDIR. `BENCH_STORE_ONLY=1` stops after storing the fleet;
//! `BENCH_REUSE=1` skips storing it: on SQLite it starts from the copy a previous run kept
//! (WORKDIR/stored.db), on PostgreSQL from what the database holds (the script copies a
//! stored fleet's database for it).
//! Ends with: rematch: N SBOMs, M package rows, K-record delta -> E events in T s, peak P MiB

#![allow(clippy::unwrap_used, clippy::expect_used)]

/// The allocator the `bulwark` binary ships with (bulwark-cli's `main.rs`), so the
/// re-match costs here what it costs in `bulwark server` (with the system allocator
/// about a third of the writer thread's time went to malloc and free: SQLite copies
/// every bound text value and frees it when the statement is reset).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use bulwark_server::authz::Scope;
use bulwark_server::store::inventory::{self, Format, LayerIn, PackageIn, Upload};
use bulwark_server::{DatabaseUrl, Store};
use bulwark_vulndb::store::{PreparedRecord, Writer, WriterOptions};
use std::collections::BTreeMap;
use std::time::Instant;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Zipf(s=1.1) sampler over `n` ranks.
struct Zipf {
    cum: Vec<f64>,
}
impl Zipf {
    fn new(n: usize) -> Zipf {
        let mut cum = Vec::with_capacity(n);
        let mut acc = 0.0;
        for i in 0..n {
            acc += 1.0 / ((i + 1) as f64).powf(1.1);
            cum.push(acc);
        }
        Zipf { cum }
    }
    fn sample(&self, rng: &mut Rng) -> usize {
        let total = *self.cum.last().unwrap();
        let x = (rng.next() as f64 / u64::MAX as f64) * total;
        self.cum.partition_point(|c| *c < x).min(self.cum.len() - 1)
    }
}

fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn purl_type(eco: &str) -> &str {
    match eco {
        "golang" => "golang",
        other => other,
    }
}

fn osv_eco(eco: &str) -> &'static str {
    match eco {
        "npm" => "npm",
        "cargo" => "crates.io",
        "golang" => "Go",
        "maven" => "Maven",
        "pypi" => "PyPI",
        "gem" => "RubyGems",
        "nuget" => "NuGet",
        "composer" => "Packagist",
        _ => "npm",
    }
}

fn pkg(eco: &str, name: &str, version: &str, layer: &str, path: String) -> PackageIn {
    let purl = format!("pkg:{}/{name}@{version}", purl_type(eco));
    PackageIn {
        id: inventory::package_id(eco, name, version, &purl),
        ecosystem: eco.to_string(),
        name: name.to_string(),
        version: version.to_string(),
        source: (eco == "deb").then(|| (name.to_string(), version.to_string())),
        purl,
        layer: Some(layer.to_string()),
        path,
        found_by: "bench".into(),
    }
}

fn main() {
    // RUST_LOG=bulwark_server::rematch=debug shows the re-match's phases.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().collect();
    let names_file = args.get(1).expect("NAMES_FILE");
    let work = std::path::PathBuf::from(args.get(2).expect("WORKDIR"));
    let images: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let delta_n: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1000);
    std::fs::create_dir_all(&work).unwrap();
    let mut deb: Vec<String> = Vec::new();
    let mut lang: Vec<(String, String)> = Vec::new();
    for line in std::fs::read_to_string(names_file).unwrap().lines() {
        let Some((eco, name)) = line.split_once('\t') else {
            continue;
        };
        if eco == "deb" {
            deb.push(name.to_string());
        } else {
            lang.push((eco.to_string(), name.to_string()));
        }
    }
    assert!(
        !deb.is_empty() && !lang.is_empty(),
        "names file has deb and language names"
    );
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    lang.sort();
    lang.dedup();
    deb.sort();
    deb.dedup();
    // The long tail after the real names (the popular head): derived names, in the
    // ecosystem of their first part.
    let real = lang.len();
    let mut seen: std::collections::HashSet<(String, String)> = lang.iter().cloned().collect();
    for _ in 0..20_000 {
        let (eco, a) = lang[rng.below(real)].clone();
        let b = lang[rng.below(real)].1.clone();
        let b = b.rsplit(['/', ':']).next().unwrap_or(&b).to_string();
        let e = (eco, format!("{a}-{b}"));
        if seen.insert(e.clone()) {
            lang.push(e);
        }
    }
    // Shuffle the head so the most popular names are not alphabetical.
    for i in (1..real).rev() {
        let j = rng.below(i + 1);
        lang.swap(i, j);
    }
    let zipf = Zipf::new(lang.len());
    eprintln!(
        "names: {} deb, {} language ({real} from the fixtures)",
        deb.len(),
        lang.len()
    );

    let db_path = work.join("bench.db");
    let _ = std::fs::remove_file(&db_path);
    let _ = std::fs::remove_file(work.join("bench.db-wal"));
    let _ = std::fs::remove_file(work.join("bench.db-shm"));
    // BENCH_REUSE=1: start from the stored fleet a previous run kept (stored.db), to
    // time the re-match again without storing 10,000 SBOMs again.
    let snapshot = work.join("stored.db");
    let pg_url: Option<DatabaseUrl> = std::env::var("BENCH_DATABASE")
        .ok()
        .map(|u| u.parse().unwrap());
    let reuse =
        std::env::var_os("BENCH_REUSE").is_some() && (pg_url.is_some() || snapshot.is_file());
    let store_only = std::env::var_os("BENCH_STORE_ONLY").is_some();
    if reuse && pg_url.is_none() {
        std::fs::copy(&snapshot, &db_path).unwrap();
    }
    let url = pg_url
        .clone()
        .unwrap_or_else(|| DatabaseUrl::Sqlite(db_path.clone()));
    let store = Store::open(&url).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // 50 base images.
    let bases: Vec<(String, Vec<PackageIn>)> = (0..50)
        .map(|b| {
            let layer = format!("sha256:{:064x}", 0xba5e_0000_u64 + b);
            let n = 80 + rng.below(60);
            let mut names: Vec<&String> = (0..n).map(|_| &deb[rng.below(deb.len())]).collect();
            names.sort();
            names.dedup();
            let pkgs = names
                .into_iter()
                .map(|nm| {
                    let v = format!("1.{}-1", rng.below(10));
                    pkg("deb", nm, &v, &layer, "/var/lib/dpkg/status".into())
                })
                .collect();
            (layer, pkgs)
        })
        .collect();

    let started = Instant::now();
    let mut package_rows = 0usize;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..images {
        if reuse {
            // Same generator, same rows: count them without storing.
            let n = 200 + rng.below(450);
            for _ in 0..n {
                zipf.sample(&mut rng);
                rng.below(10);
            }
            package_rows += bases[i % bases.len()].1.len() + n;
            continue;
        }
        let (base_layer, base_pkgs) = &bases[i % bases.len()];
        let app_layer = format!("sha256:{:064x}", 0xa990_0000_0000_u64 + i as u64);
        let mut packages = base_pkgs.clone();
        let n = 200 + rng.below(450);
        for j in 0..n {
            let (eco, name) = &lang[zipf.sample(&mut rng)];
            let v = format!("1.{}.0", rng.below(10));
            packages.push(pkg(
                eco,
                name,
                &v,
                &app_layer,
                format!("/app/node_modules/{j}"),
            ));
        }
        package_rows += packages.len();
        let up = Upload {
            digest: format!("sha256:{:064x}", 0x1_0000_0000_u64 + i as u64),
            image_id: None,
            registry: Some("registry.example".into()),
            platform: None,
            team: Some(format!("team{}", i % 20)),
            owner: None,
            repositories: vec![(format!("registry.example/app{i}"), "1".into())],
            labels: BTreeMap::new(),
            layers: vec![
                LayerIn {
                    digest: base_layer.clone(),
                    diff_id: None,
                    size: None,
                    created_by: Some("/bin/sh -c #(nop) ADD file:base in / ".into()),
                },
                LayerIn {
                    digest: app_layer,
                    diff_id: None,
                    size: None,
                    created_by: Some("COPY app /app".into()),
                },
            ],
            packages,
            findings: None,
            format: Format::CycloneDx,
            document_sha256: format!("{:064x}", i),
            os: Some(("debian".into(), "12".into())),
            tool: None,
            schema_version: None,
            incomplete: false,
            scanned_at: None,
        };
        let s = store.clone();
        set.spawn_on(
            async move {
                s.write(move |c| {
                    inventory::store_upload(c, &up, &Scope::All, ("bench", "ci-uploader"))
                        .map(|_| ())
                })
                .await
            },
            rt.handle(),
        );
        if set.len() >= 64 {
            rt.block_on(set.join_next()).unwrap().unwrap().unwrap();
        }
    }
    while let Some(r) = rt.block_on(set.join_next()) {
        r.unwrap().unwrap();
    }
    let store_secs = started.elapsed().as_secs_f64();
    if store_only {
        eprintln!(
            "stored {images} SBOMs ({package_rows} package rows) in {store_secs:.1} s: {:.2} ms per SBOM",
            store_secs * 1000.0 / images as f64
        );
        return;
    }
    let store = if reuse || pg_url.is_some() {
        store
    } else {
        // Closing the last connection checkpoints the WAL into the file.
        drop(store);
        std::fs::copy(&db_path, &snapshot).unwrap();
        Store::open(&DatabaseUrl::Sqlite(db_path.clone())).unwrap()
    };
    let layer_rows: i64 = store
        .read_blocking(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM layer_packages",
                bulwark_server::params![],
                |r| r.get(0),
            )
        })
        .unwrap();
    if !reuse {
        eprintln!(
        "stored {images} SBOMs ({package_rows} package rows, {layer_rows} layer_packages rows after layer de-duplication) in {store_secs:.1} s: {:.2} ms per SBOM",
        store_secs * 1000.0 / images as f64
    );
    }

    // Generation 1 (what the fleet was matched against), then the delta.
    let vdir = work.join("vulndb");
    let _ = std::fs::remove_dir_all(&vdir);
    let rec = |id: String, eco: &str, name: &str, k: usize| {
        let (ty, intro, fixed) = if eco == "Debian:12" {
            ("ECOSYSTEM", format!("1.{k}-1"), format!("1.{}-1", k + 2))
        } else if eco == "Maven" || eco == "PyPI" {
            ("ECOSYSTEM", format!("1.{k}.0"), format!("1.{}.0", k + 2))
        } else {
            ("SEMVER", format!("1.{k}.0"), format!("1.{}.0", k + 2))
        };
        let v = serde_json::json!({
            "id": id, "modified": "2026-12-01T00:00:00Z", "summary": "bench advisory",
            "affected": [{"package": {"ecosystem": eco, "name": name},
                "ranges": [{"type": ty, "events": [{"introduced": intro}, {"fixed": fixed}]}]}]
        });
        let r = bulwark_vulndb::osv::parse_record(v.to_string().as_bytes()).unwrap();
        PreparedRecord::new(&r).unwrap()
    };
    let mut w = Writer::begin(&vdir, false, &WriterOptions::default()).unwrap();
    for i in 0..50 {
        w.put(&rec(format!("BASE-{i}"), "npm", "bench-unused", i % 8))
            .unwrap();
    }
    let g1 = w.commit().unwrap();
    store
        .write_blocking(move |c| {
            c.execute(
                "UPDATE vulndb_state SET generation = $1, updated_at = 0 WHERE id = 1",
                bulwark_server::params![g1],
            )?;
            c.execute(
                "INSERT INTO webhooks (id, url, format, secret, team, enabled, created_at) VALUES ('bench', 'http://127.0.0.1:9/', 'generic', 'bench-secret-0123456789', NULL, 1, 0)",
                bulwark_server::params![],
            )?;
            Ok(())
        })
        .unwrap();
    // The delta: 30% Debian (source packages of the bases), 70% language packages,
    // names uniform over the whole pool (most advisories name rarely used packages).
    let mut w = Writer::begin(&vdir, true, &WriterOptions::default()).unwrap();
    for i in 0..delta_n {
        let k = rng.below(8);
        let r = if i % 10 < 3 {
            rec(
                format!("BENCH-DEB-{i}"),
                "Debian:12",
                &deb[rng.below(deb.len())],
                k,
            )
        } else {
            let (eco, name) = &lang[rng.below(lang.len())];
            rec(format!("BENCH-{i}"), osv_eco(eco), name, k)
        };
        w.put(&r).unwrap();
    }
    w.commit().unwrap();

    // The re-match, timed; peak memory of this phase (the store and DB are open already).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let t = Instant::now();
    let vdir2 = vdir.clone();
    let written = std::sync::Arc::new(std::sync::Mutex::new(None::<Instant>));
    let written2 = written.clone();
    let out = store
        .write_blocking(move |c| {
            let db = bulwark_vulndb::VulnDb::open(&vdir2).unwrap();
            let out = bulwark_server::rematch::rematch(c, &db);
            *written2.lock().unwrap() = Some(Instant::now());
            out
        })
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    if let Some(w) = *written.lock().unwrap() {
        eprintln!(
            "re-match: {:.2} s in the transaction, {:.2} s to commit",
            (w - t).as_secs_f64(),
            secs - (w - t).as_secs_f64()
        );
    }
    let events: usize = out.events.values().sum();
    eprintln!(
        "re-match: mode {}, {} packages, {} image-package pairs evaluated, events {:?}, {} outbox rows",
        out.mode, out.packages, out.image_packages, out.events, out.queued
    );
    println!(
        "rematch: {images} SBOMs, {package_rows} package rows, {delta_n}-record delta -> {events} events in {secs:.2} s, peak {:.0} MiB",
        peak_mib()
    );
}
