//! `scan_files TARGET SCANNERS [CACHE_DIR]`: runs `bulwark_scan::scan` with the given
//! scanners (comma-separated `secret`, `misconfig`; no vulnerability DB) and prints the
//! JSON report. The same library path as `bulwark scan --scanners ...`; the benchmark uses
//! it where the CLI's `scan` command is not wired yet.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(target), Some(scanners)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: scan_files TARGET secret,misconfig [CACHE_DIR]");
        return ExitCode::from(2);
    };
    let opts = bulwark_scan::ScanOptions {
        target: bulwark_catalog::pipeline::ScanOptions {
            cache_dir: args.get(3).map(std::path::PathBuf::from),
            ..Default::default()
        },
        scanners: bulwark_scan::Scanners {
            vuln: false,
            secret: scanners.contains("secret"),
            misconfig: scanners.contains("misconfig"),
        },
        ..Default::default()
    };
    match bulwark_scan::scan(target, &opts) {
        Ok(report) => match serde_json::to_writer(std::io::stdout().lock(), &report) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
