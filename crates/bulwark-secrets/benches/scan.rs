//! Throughput of `Scanner::scan` over ~50 MB of generated, realistic text: source code,
//! config files, logs and minified JavaScript, with keyword hits (`token`, `password`,
//! `secret`, `AKIA`-like words) that mostly do not turn into findings, and a handful of
//! real-shaped fake secrets. Run with `cargo bench -p bulwark-secrets`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use std::hint::black_box;

use bulwark_secrets::{Scanner, SecretConfig};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// Deterministic pseudo-random generator (xorshift64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
    fn token(&mut self, len: usize) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| A[(self.next() % A.len() as u64) as usize] as char)
            .collect()
    }
}

/// Ordinary identifiers and prose words.
const PLAIN: &[&str] = &[
    "request", "handler", "config", "value", "result", "error", "user", "session", "cache",
    "buffer", "stream", "client", "server", "update", "index", "delta", "format", "option",
    "module", "return", "import", "export", "width", "height", "count", "offset", "length",
    "parse", "render", "status", "header", "body", "query", "params", "route", "logger", "level",
    "debug", "info", "warn", "timeout", "retry", "limit", "page", "items", "data", "name", "path",
    "file", "open", "close", "read", "write", "event", "queue", "worker",
];
/// Words that are prefilter keywords (`token`, `password`, `secret`) or contain one
/// (`asia`, `akia` hit the AWS key-id prefixes case-insensitively).
const KEYWORDY: &[&str] = &["token", "password", "secret", "asia", "akia"];

/// One generated "file" of roughly `size` bytes in one of several styles.
fn file(rng: &mut Rng, size: usize, words: &[&str]) -> Vec<u8> {
    let style = rng.next() % 4;
    let mut out = String::with_capacity(size + 256);
    let mut n = 0u64;
    while out.len() < size {
        n += 1;
        let (a, b, c) = (rng.pick(words), rng.pick(words), rng.pick(words));
        match style {
            0 => out.push_str(&format!(
                "    def {a}_{b}(self, {c}):\n        return self.{c}.get('{a}', {n})\n"
            )),
            1 => out.push_str(&format!(
                "{a}_{b}: {c}-{n}\n{a}_timeout: {n}s\n# the {b} {c} is read from the {a} file\n"
            )),
            2 => out.push_str(&format!(
                "2024-05-01T12:00:00Z INFO {a} id={n} {b}={c} path=/api/{a}/{n} status=200\n"
            )),
            _ => out.push_str(&format!(
                "var {a}{n}=function({b}){{return {b}.{c}?{b}.{a}:null}};"
            )),
        }
        if n.is_multiple_of(5000) {
            // A real-shaped fake secret now and then.
            out.push_str(&format!("\nGITHUB_TOKEN=ghp_{}\n", rng.token(36)));
        }
    }
    out.into_bytes()
}

fn corpus(words: &[&str]) -> Vec<Vec<u8>> {
    let mut rng = Rng(0x5eed_1234_5678_9abc);
    let mut files = Vec::new();
    let mut total = 0usize;
    while total < 50 * 1024 * 1024 {
        // Mostly small files, some large ones (exercises both scan modes).
        let size = if rng.next().is_multiple_of(10) {
            2 * 1024 * 1024
        } else {
            2000 + (rng.next() % 60_000) as usize
        };
        let f = file(&mut rng, size, words);
        total += f.len();
        files.push(f);
    }
    files
}

fn bench_scan(c: &mut Criterion) {
    let scanner = Scanner::new(&SecretConfig::default()).expect("built-in rules compile");
    // Realistic: about one word in 25 is a keyword. Keyword-dense: one in 5, the worst
    // case for the prefilter (every line runs the generic rule's regex).
    let realistic: Vec<&str> = PLAIN
        .iter()
        .chain(KEYWORDY.iter().take(2))
        .copied()
        .collect();
    let dense: Vec<&str> = PLAIN.iter().take(20).chain(KEYWORDY).copied().collect();
    let mut group = c.benchmark_group("scan");
    group.sample_size(10);
    for (name, words) in [("realistic_50MB", realistic), ("keyword_dense_50MB", dense)] {
        let files = corpus(&words);
        let total: usize = files.iter().map(Vec::len).sum();
        group.throughput(Throughput::Bytes(total as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut n = 0usize;
                for f in &files {
                    n += scanner.scan("app/file.txt", black_box(f)).len();
                }
                black_box(n)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_scan);
criterion_main!(benches);
