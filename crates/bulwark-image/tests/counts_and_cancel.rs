//! The walk's byte counters (each layer read, inflated and hashed exactly once; the
//! link-target pass counted apart and never hashing), cancellation and deadlines that
//! stop a walk in the middle of a layer, and walks sharing one thread pool.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;

use bulwark_image::{
    open, walk, Cancel, FileEntry, ImageError, OpenOptions, Target, Visitor, WalkOptions,
};
use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn open_layout(dir: &std::path::Path) -> Target {
    open(dir.to_str().unwrap_or_default(), &OpenOptions::default())
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_layer_is_read_inflated_and_hashed_once() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let big = vec![b'x'; 3 << 20];
    let l0 = Layer::new(
        layer_tar(&[
            E::Dir("app"),
            E::File("app/package-lock.json", b"{}"),
            E::File("app/big.bin", &big),
        ]),
        Comp::Gzip,
    );
    // The link points into the gzip layer below: the link-target pass re-reads it.
    let l1 = Layer::new(
        layer_tar(&[E::Symlink("lock.json", "app/package-lock.json")]),
        Comp::Zstd,
    );
    let l2 = Layer::new(layer_tar(&[E::File("etc/x", b"x")]), Comp::None);
    let sizes: Vec<(u64, u64)> = [&l0, &l1, &l2]
        .iter()
        .map(|l| (l.blob.len() as u64, l.tar.len() as u64))
        .collect();
    oci_layout(tmp.path(), &[l0, l1, l2], "t");
    let target = open_layout(tmp.path());
    let w =
        walk(&target, &Collect::all(), &WalkOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(w.layers.len(), 3);
    for (i, (lw, (blob, tar))) in w.layers.iter().zip(&sizes).enumerate() {
        let s = &lw.stats;
        assert_eq!(s.passes, 1, "layer {i}: {s:?}");
        assert_eq!(s.read, *blob, "layer {i}: {s:?}");
        assert_eq!(
            s.hashed, *blob,
            "layer {i}: the blob digest covers the stored bytes"
        );
        let inflated = if i == 2 { 0 } else { *tar };
        assert_eq!(s.inflated, inflated, "layer {i}: {s:?}");
    }
    // The link's target lives in layer 0: one revisit there, no extra hashing.
    let s0 = &w.layers[0].stats;
    assert_eq!(s0.revisits, 1, "{s0:?}");
    assert!(s0.revisit_read > 0 && s0.revisit_inflated > 0, "{s0:?}");
    assert_eq!(s0.hashed, sizes[0].0);
    assert_eq!(w.layers[1].stats.revisits, 0);
    // And the link was read through.
    let merged = w.merged();
    assert!(merged
        .iter()
        .any(|m| m.path == "lock.json" && m.output == "{}"));
}

#[test]
fn docker_archive_layers_are_hashed_once_as_uncompressed_tars() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let l = Layer::new(layer_tar(&[E::File("a", b"hello")]), Comp::None);
    let size = l.tar.len() as u64;
    let out = tmp.path().join("img.tar");
    docker_archive(&out, &[l], &["t:1"], false);
    let target = open_layout(&out);
    let w =
        walk(&target, &Collect::all(), &WalkOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let s = &w.layers[0].stats;
    assert_eq!((s.read, s.inflated, s.hashed, s.passes), (size, 0, size, 1));
}

/// Counts visits; cancels its token on the `at`-th one, or sleeps on each.
struct Slow {
    visits: AtomicUsize,
    cancel_at: Option<(usize, Cancel)>,
    sleep: Duration,
}

impl Visitor for Slow {
    type Output = ();
    fn wants(&self, _p: &str, _s: u64, _m: u32) -> bool {
        true
    }
    fn visit(&self, _file: FileEntry<'_>) {
        let n = self.visits.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some((at, c)) = &self.cancel_at {
            if n == *at {
                c.cancel();
            }
        }
        std::thread::sleep(self.sleep);
    }
}

fn many_files_image(dir: &std::path::Path, n: usize) -> Target {
    let names: Vec<String> = (0..n).map(|i| format!("f/{i:05}")).collect();
    let entries: Vec<E<'_>> = names.iter().map(|p| E::File(p, b"data")).collect();
    let l = Layer::new(layer_tar(&entries), Comp::Gzip);
    oci_layout(dir, &[l], "t");
    open_layout(dir)
}

#[test]
fn cancelling_stops_the_walk_inside_a_layer() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let target = many_files_image(tmp.path(), 2000);
    let cancel = Cancel::new();
    let v = Slow {
        visits: AtomicUsize::new(0),
        cancel_at: Some((10, cancel.clone())),
        sleep: Duration::ZERO,
    };
    let opts = WalkOptions {
        cancel: cancel.clone(),
        ..WalkOptions::default()
    };
    match walk(&target, &v, &opts) {
        Err(ImageError::Cancelled) => {}
        other => panic!("expected Cancelled, got {other:?}"),
    }
    // The walk stopped at the next entry, not at the end of the layer.
    assert_eq!(v.visits.load(Ordering::SeqCst), 10);
}

#[test]
fn a_deadline_that_expires_mid_walk_is_an_error_not_a_partial_result() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let target = many_files_image(tmp.path(), 200);
    let v = Slow {
        visits: AtomicUsize::new(0),
        cancel_at: None,
        sleep: Duration::from_millis(5),
    };
    let opts = WalkOptions {
        cancel: Cancel::new().with_timeout(Duration::from_millis(100)),
        ..WalkOptions::default()
    };
    match walk(&target, &v, &opts) {
        Err(e @ ImageError::DeadlineExceeded { budget_ms: 100 }) => {
            assert!(e.to_string().contains("no result"), "{e}");
        }
        other => panic!("expected DeadlineExceeded, got {other:?}"),
    }
    let seen = v.visits.load(Ordering::SeqCst);
    assert!(
        seen > 0 && seen < 200,
        "the deadline passed mid-layer: {seen} visits"
    );
    // A directory walk obeys the token too.
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(d.path().join("a"), b"a").unwrap_or_else(|e| panic!("{e}"));
    let cancelled = Cancel::new();
    cancelled.cancel();
    let opts = WalkOptions {
        cancel: cancelled,
        ..WalkOptions::default()
    };
    assert!(matches!(
        walk(&Target::Dir(d.path().to_path_buf()), &v, &opts),
        Err(ImageError::Cancelled)
    ));
}

/// Records which threads visited files.
struct Threads(std::sync::Mutex<std::collections::BTreeSet<String>>);

impl Visitor for Threads {
    type Output = ();
    fn wants(&self, _p: &str, _s: u64, _m: u32) -> bool {
        true
    }
    fn visit(&self, _file: FileEntry<'_>) {
        let name = std::thread::current().name().unwrap_or("?").to_string();
        if let Ok(mut s) = self.0.lock() {
            s.insert(name);
        }
    }
}

#[test]
fn concurrent_walks_share_the_given_pool() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let layers: Vec<Layer> = (0..6)
        .map(|i| {
            let name = format!("l{i}");
            Layer::new(layer_tar(&[E::File(&name, b"x")]), Comp::Gzip)
        })
        .collect();
    oci_layout(tmp.path(), &layers, "t");
    let target = open_layout(tmp.path());
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .thread_name(|i| format!("shared-{i}"))
            .build()
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let v = Threads(std::sync::Mutex::new(Default::default()));
    let opts = WalkOptions {
        pool: Some(pool),
        ..WalkOptions::default()
    };
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                let w = walk(&target, &v, &opts).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(w.layers.len(), 6);
            });
        }
    });
    let names = v.0.lock().map(|s| s.clone()).unwrap_or_default();
    assert!(!names.is_empty());
    assert!(
        names.iter().all(|n| n.starts_with("shared-")),
        "every layer worker is a thread of the shared pool: {names:?}"
    );
}
