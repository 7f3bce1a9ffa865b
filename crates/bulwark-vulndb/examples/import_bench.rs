//! Import benchmark: `cargo run --release -p bulwark-vulndb --example import_bench -- DBDIR INPUT...`
//! (generate INPUT with `bench/gen-osv.py`). Prints records/s, peak RSS and DB size.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let db = args.next().ok_or("usage: import_bench DBDIR INPUT...")?;
    let inputs: Vec<PathBuf> = args.collect();
    let opts = bulwark_vulndb::ImportOptions {
        replace: true,
        ..Default::default()
    };
    let t = Instant::now();
    let stats = bulwark_vulndb::import_paths(&db, &inputs, &opts)?;
    let secs = t.elapsed().as_secs_f64();
    let h = bulwark_vulndb::VulnDb::open(&db)?;
    let size = std::fs::metadata(h.path())?.len();
    // VmHWM = peak resident set size of this process.
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(str::to_string)
        })
        .unwrap_or_default();
    let t = Instant::now();
    let mut found = 0;
    for i in 0..10_000 {
        found += h.records_for("npm", &format!("pkg-npm-{i}"))?.len();
    }
    let lookup = t.elapsed();
    println!(
        "records {} skipped {} in {secs:.1}s = {:.0} records/s; DB {:.1} MiB; {hwm}; 10k lookups ({found} records) in {lookup:?}",
        stats.records,
        stats.skipped,
        stats.records as f64 / secs,
        size as f64 / 1048576.0
    );
    Ok(())
}
