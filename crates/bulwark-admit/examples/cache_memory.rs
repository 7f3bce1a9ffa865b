//! Memory of the signature verification cache the webhook keeps: N verdicts (default
//! 10,000; 90 % verified reports shaped like a real cosign verification with both a
//! legacy-tag and a referrer entry, 10 % cached failures), measured as the growth of
//! this process's resident set. Prints `cache: N verdicts, R MiB resident growth,
//! B bytes/verdict`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench harness may panic

use bulwark_cosign::verify::{Checked, Report};
use bulwark_sign::cache::{Config, Key, VerificationCache};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let before = rss_kib();
    let cache = VerificationCache::<Report>::new(Config {
        capacity: n,
        ..Config::default()
    });
    for i in 0..n {
        let digest = format!("sha256:{:064x}", i);
        let key = Key::new(&digest, b"key:SHA256:abcdef|ref:Repository(\"registry.example.com/shop/web\")|ann:{}|tlog:false");
        let entry = |source: &'static str, location: String| Checked {
            source,
            location,
            verified: true,
            reason: None,
            docker_reference: Some("registry.example.com/shop/web".into()),
            annotations: Some(serde_json::json!({})),
            predicate_type: None,
            predicate: None,
        };
        let verdict = if i % 10 == 9 {
            Err(format!("legacy-tag {}.sig layer 0: signature does not verify with the key; referrer sha256:{:064x}: signature does not verify with the key", digest.replace(':', "-"), i + 1))
        } else {
            Ok(Report {
                image: format!("registry.example.com/shop/web@{digest}"),
                digest: digest.clone(),
                verified: true,
                signatures: vec![
                    entry(
                        "legacy-tag",
                        format!("{}.sig layer 0", digest.replace(':', "-")),
                    ),
                    entry("referrer", format!("sha256:{:064x}", i + 7)),
                ],
            })
        };
        cache.insert(key, verdict);
    }
    let after = rss_kib();
    assert_eq!(cache.len(), n);
    let grown = after.saturating_sub(before) * 1024;
    println!(
        "cache: {n} verdicts, {:.1} MiB resident growth, {} bytes/verdict",
        grown as f64 / (1024.0 * 1024.0),
        grown / n.max(1) as u64
    );
}
