//! What the metrics add to one review: the handler's extra clock read
//! (`started.elapsed()`), [`Metrics::reviewed`] (outcome counter, latency bucket,
//! latency sum) and [`Metrics::evaluated`] (warm/blocking), timed over N iterations on
//! one thread, then on T threads at once all hitting the same counters (every review
//! with the same phase, outcome and bucket: the worst case for cache-line contention).
//! Prints `metrics: 1 thread X ns/review; T threads Y ns/review per thread`.
//!
//! Run optimised: `cargo run --release -p bulwark-admit --example metrics_cost`, or in
//! the dev profile with only this crate optimised:
//! `cargo run -p bulwark-admit --example metrics_cost --config
//! 'profile.dev.package.bulwark-admit.opt-level=3'`. Args: `[N=20000000] [T=2]`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench harness may panic

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use bulwark_admit::metrics::{Metrics, Outcome, Path};
use bulwark_policy::Phase;

fn run(m: &Metrics, n: u64) -> f64 {
    let started = Instant::now();
    let t = Instant::now();
    for _ in 0..n {
        let took = black_box(started).elapsed();
        m.reviewed(black_box(Phase::Validate), Outcome::Allowed, took);
        m.evaluated(black_box(Phase::Validate), Path::Warm);
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().map_or(20_000_000, |a| a.parse().unwrap());
    let threads: usize = args.next().map_or(2, |a| a.parse().unwrap());
    let m = Arc::new(Metrics::default());
    run(&m, n / 10); // warm-up
    let one = run(&m, n);
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || run(&m, n))
        })
        .collect();
    let per: Vec<f64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let worst = per.iter().cloned().fold(0.0, f64::max);
    let expected = n / 10 + n + n * threads as u64;
    assert_eq!(m.reviews(Phase::Validate, Outcome::Allowed), expected);
    println!(
        "metrics: 1 thread {one:.1} ns/review; {threads} threads {worst:.1} ns/review per thread (slowest)"
    );
}
