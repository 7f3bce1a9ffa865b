//! `scan_files TARGET SCANNERS [CACHE_DIR]`: runs `Engine::scan` with the given scanners
//! (comma-separated `secret`, `misconfig`; no vulnerability DB) and prints the JSON
//! report. The same library path as `bulwark scan --scanners ...`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(target), Some(scanners)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: scan_files TARGET secret,misconfig [CACHE_DIR]");
        return ExitCode::from(2);
    };
    let cache = args
        .get(3)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("bulwark-scan-files-cache"));
    let engine = match bulwark_engine::Engine::new(bulwark_engine::EngineConfig::new(cache)) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let req = bulwark_engine::ScanRequest {
        target: bulwark_engine::TargetRequest {
            target: target.clone(),
            platform: None,
            allow_unknown: false,
        },
        scanners: bulwark_engine::Scanners {
            vuln: false,
            secret: scanners.contains("secret"),
            misconfig: scanners.contains("misconfig"),
        },
        ..Default::default()
    };
    match engine.scan(&req, &bulwark_engine::Cancel::new()) {
        Ok(out) => match serde_json::to_writer(std::io::stdout().lock(), &out.report) {
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
