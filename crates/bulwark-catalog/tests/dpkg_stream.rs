//! A dpkg status far bigger than any whole-file limit is parsed by streaming, with
//! bounded memory (issue 12, item 5). One test in this binary, so the process's peak RSS
//! (`VmHWM`) is this test's.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use bulwark_catalog::os::dpkg::DpkgCataloger;
use bulwark_catalog::{CatalogInput, Cataloger};
use std::io::{Read, Seek, SeekFrom};

/// A status file generated on the fly: `n` stanzas with 1 KB Descriptions, never held
/// in memory (so any growth in peak RSS is the parser's).
struct Generated {
    n: usize,
    next: usize,
    buf: Vec<u8>,
    pos: usize,
    total: u64,
}

impl Generated {
    fn new(n: usize) -> Self {
        Generated {
            n,
            next: 0,
            buf: Vec::new(),
            pos: 0,
            total: 0,
        }
    }
}

impl Read for Generated {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.buf.len() {
            if self.next == self.n {
                return Ok(0);
            }
            let i = self.next;
            self.next += 1;
            self.buf = format!(
                "Package: pkg{i}\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.{i}-1\nDescription: p\n {}\nConffiles:\n /etc/x{i} 0123456789abcdef\n\n",
                "d".repeat(1000)
            )
            .into_bytes();
            self.pos = 0;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        self.total += n as u64;
        Ok(n)
    }
}

impl Seek for Generated {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        match to {
            SeekFrom::Start(0) => {
                *self = Generated::new(self.n);
                Ok(0)
            }
            SeekFrom::Current(0) => Ok(self.total),
            _ => Err(std::io::Error::other("only rewind")),
        }
    }
}

fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[test]
fn dpkg_status_of_130_mb_streams_in_bounded_memory() {
    let n = 120_000; // ~1.1 KB each: about 133 MB
    let mut input = Generated::new(n);
    let before = peak_rss_kib();
    let out = DpkgCataloger
        .catalog(CatalogInput {
            path: "var/lib/dpkg/status",
            size: 133 << 20,
            mode: 0o100644,
            reader: &mut input,
            spool_dir: None,
        })
        .expect("streams");
    assert!(input.total > 130 << 20, "read {} bytes", input.total);
    assert_eq!(out.packages.len(), n, "every package");
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    assert_eq!(out.packages[n - 1].name, format!("pkg{}", n - 1));
    if let (Some(b), Some(a)) = (before, peak_rss_kib()) {
        // The packages themselves are ~40 MB of small strings; reading the file whole
        // would add its 133 MB on top.
        let grew = a.saturating_sub(b) / 1024;
        assert!(grew < 100, "peak RSS grew by {grew} MiB");
    }
}
