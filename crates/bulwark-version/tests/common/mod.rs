//! Shared machinery for the differential tests: seeded pair generation and
//! running one native oracle process per scheme over a whole batch.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use bulwark_version::{compare, Scheme};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Pairs generated per scheme.
pub const PAIRS: usize = 12_000;

pub type Pair = (String, String);

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

pub fn pick<'a>(r: &mut ChaCha8Rng, items: &[&'a str]) -> &'a str {
    items.choose(r).copied().unwrap_or("")
}

/// Mutates `s` slightly (replace/insert/delete/duplicate using `pieces`) so
/// that pairs are often near-equal, where ordering bugs hide.
pub fn mutate(r: &mut ChaCha8Rng, s: &str, pieces: &[&str]) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.is_empty() {
        return pick(r, pieces).to_string();
    }
    let i = r.gen_range(0..chars.len());
    let mut out: String;
    match r.gen_range(0..5) {
        0 => {
            out = chars[..i].iter().collect();
            out.push_str(pick(r, pieces));
            out.extend(&chars[i + 1..]);
        }
        1 => {
            out = chars[..i].iter().collect();
            out.push_str(pick(r, pieces));
            out.extend(&chars[i..]);
        }
        2 => {
            out = chars[..i].iter().collect();
            out.extend(&chars[i + 1..]);
        }
        3 => {
            out = s.to_string();
            out.push_str(pick(r, pieces));
        }
        _ => {
            // Flip a digit up or down by one, or change letter case.
            out = chars
                .iter()
                .enumerate()
                .map(|(j, c)| {
                    if j != i {
                        *c
                    } else if let Some(d) = c.to_digit(10) {
                        char::from_digit((d + 1) % 10, 10).unwrap_or(*c)
                    } else if c.is_ascii_lowercase() {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect();
        }
    }
    out
}

/// `n` pairs: half independent, half `(a, mutate(a))`, and a few `(a, a)`.
pub fn pairs(
    seed: u64,
    n: usize,
    mut gen: impl FnMut(&mut ChaCha8Rng) -> String,
    pieces: &[&str],
    keep: impl Fn(&str) -> bool,
) -> Vec<Pair> {
    let mut r = rng(seed);
    let mut out = Vec::with_capacity(n);
    let mut attempts = 0;
    while out.len() < n {
        attempts += 1;
        assert!(
            attempts < n * 100,
            "generator cannot produce enough kept pairs"
        );
        let a = gen(&mut r);
        let b = match r.gen_range(0..10) {
            0 => a.clone(),
            1..=5 => mutate(&mut r, &a, pieces),
            _ => gen(&mut r),
        };
        if a.contains(['\t', '\n']) || b.contains(['\t', '\n']) || !keep(&a) || !keep(&b) {
            continue;
        }
        out.push((a, b));
    }
    out
}

/// Runs `cmd` once, feeding every pair as `a<TAB>b` lines; returns one
/// answer line per pair. An oracle that is not installed (the program or one of its
/// modules missing) is reported through `bulwark_fixtures::absent`: the test skips, or
/// fails under CI / `BULWARK_REQUIRE_ALL` (`None`). An installed oracle that fails
/// panics.
pub fn run_oracle(what: &str, mut cmd: Command, pairs: &[Pair]) -> Option<Vec<String>> {
    const HOW: &str = "run scripts/setup-version-oracles.sh";
    let mut child = match cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            bulwark_fixtures::absent(
                &format!("the {what} oracle"),
                &format!("it could not start ({e}); {HOW}"),
            );
            return None;
        }
    };
    let mut stdin = child.stdin.take().expect("stdin piped");
    let input: String = pairs.iter().map(|(a, b)| format!("{a}\t{b}\n")).collect();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let stdout = child.stdout.take().expect("stdout piped");
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .filter(|l| !l.is_empty())
        .collect();
    let _ = writer.join();
    let output = child.wait_with_output().expect("oracle wait");
    let err = String::from_utf8_lossy(&output.stderr);
    if !output.status.success()
        && [
            "No module named",
            "Cannot find module",
            "Could not find or load main class",
        ]
        .iter()
        .any(|m| err.contains(m))
    {
        bulwark_fixtures::absent(
            &format!("the {what} oracle"),
            &format!("a part of it is not installed ({}); {HOW}", err.trim()),
        );
        return None;
    }
    assert!(
        output.status.success(),
        "{what} oracle failed: {}\nrun scripts/setup-version-oracles.sh",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        lines.len(),
        pairs.len(),
        "{what} oracle answered a different number of lines"
    );
    Some(lines)
}

/// Our answer in the oracle's vocabulary.
pub fn ours(scheme: Scheme, a: &str, b: &str) -> String {
    match compare(scheme, a, b) {
        Ok(o) => (o as i8).to_string(),
        Err(_) => "E".to_string(),
    }
}

/// Compares our answers with the oracle's; panics listing disagreements.
/// `min_valid` is the share of pairs that must be valid on both sides, so
/// a broken generator cannot make the test pass vacuously. Returns
/// (pairs, both-valid pairs).
pub fn check(scheme: Scheme, what: &str, pairs: &[Pair], oracle: &[String], min_valid: f64) {
    check_with(scheme, what, pairs, oracle, min_valid, |_, _| true)
}

/// Like [`check`], skipping oracle answers for which `relevant` is false
/// (used for answers the oracle cannot express, such as "incomparable").
pub fn check_with(
    scheme: Scheme,
    what: &str,
    pairs: &[Pair],
    oracle: &[String],
    min_valid: f64,
    relevant: impl Fn(&Pair, &str) -> bool,
) {
    let mut bad = Vec::new();
    let mut valid = 0usize;
    let mut skipped = 0usize;
    for (p, want) in pairs.iter().zip(oracle) {
        if !relevant(p, want) {
            skipped += 1;
            continue;
        }
        let got = ours(scheme, &p.0, &p.1);
        if want != "E" {
            valid += 1;
        }
        if &got != want {
            bad.push(format!("{:?} vs {:?}: oracle {want}, ours {got}", p.0, p.1));
        }
    }
    eprintln!(
        "{what}: {} pairs, {valid} valid on both sides, {skipped} skipped, {} disagreements",
        pairs.len(),
        bad.len()
    );
    assert!(
        bad.is_empty(),
        "{what}: {} disagreements, first ones:\n{}",
        bad.len(),
        bad.iter().take(25).cloned().collect::<Vec<_>>().join("\n")
    );
    assert!(pairs.len() >= 10_000, "{what}: too few pairs");
    assert!(
        valid as f64 >= min_valid * pairs.len() as f64,
        "{what}: only {valid} of {} pairs were valid; generator is broken",
        pairs.len()
    );
}

/// Directory holding node_modules/semver (installed by the setup script).
pub fn node_oracle_dir() -> PathBuf {
    std::env::var_os("BULWARK_VERSION_ORACLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/version-oracles")
        })
}

pub fn oracle_script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/oracles")
        .join(name)
}

/// A random decimal number, biased towards the edge cases.
pub fn number(r: &mut ChaCha8Rng, leading_zeros: bool, max_digits: usize) -> String {
    match r.gen_range(0..10) {
        0 => "0".into(),
        1 if leading_zeros => format!("0{}", r.gen_range(0..100)),
        2 => {
            let len = r.gen_range(1..=max_digits);
            let mut s = r.gen_range(1..10).to_string();
            for _ in 1..len {
                s.push(char::from(b'0' + r.gen_range(0..10u8)));
            }
            s
        }
        3..=5 => r.gen_range(0..3).to_string(),
        _ => r.gen_range(0..20).to_string(),
    }
}
