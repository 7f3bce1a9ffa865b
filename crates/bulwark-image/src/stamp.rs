//! The on-disk stamp of a blob whose content was verified: length, device, inode,
//! modification and change times.
//!
//! Hashing a blob is the largest single cost of reading an image, so a blob is hashed
//! once — while it downloads, or on the walk's first read — and from then on carries
//! this stamp. Any write to the file moves its ctime (which user space cannot set back)
//! and a replacement changes the inode, so an unchanged stamp means unchanged bytes. The
//! walker compares the stamp before and after each read of a stamped blob; the registry
//! cache keeps it beside each blob (`<hex>.verified`) so a later run can reuse the blob
//! without hashing it again, and re-verifies a blob whose stamp no longer matches.

use std::path::Path;

/// What identifies a file's content between two reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedStamp {
    len: u64,
    dev: u64,
    ino: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

/// First word of a stamp file, with its format version.
const MAGIC: &str = "bulwark-verified-v1";

impl VerifiedStamp {
    /// The current stamp of the file at `path` (following no symlink at the end is not
    /// needed: cache files are created by us with fixed names).
    pub fn of_path(path: &Path) -> std::io::Result<VerifiedStamp> {
        Ok(Self::of_metadata(&std::fs::metadata(path)?))
    }

    /// The stamp from already fetched metadata.
    pub fn of_metadata(md: &std::fs::Metadata) -> VerifiedStamp {
        use std::os::unix::fs::MetadataExt as _;
        VerifiedStamp {
            len: md.len(),
            dev: md.dev(),
            ino: md.ino(),
            mtime: (md.mtime(), md.mtime_nsec()),
            ctime: (md.ctime(), md.ctime_nsec()),
        }
    }

    /// The file length recorded in the stamp.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the stamped file was empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// One line recording that `digest` was verified for a file with this stamp.
    pub fn encode(&self, digest: &str) -> String {
        format!(
            "{MAGIC} {digest} {} {} {} {} {} {} {}\n",
            self.len, self.dev, self.ino, self.mtime.0, self.mtime.1, self.ctime.0, self.ctime.1
        )
    }

    /// Parses a line written by [`VerifiedStamp::encode`]; `None` unless it is well formed
    /// and records `digest`.
    pub fn decode(line: &str, digest: &str) -> Option<VerifiedStamp> {
        let mut it = line.split_ascii_whitespace();
        if it.next()? != MAGIC || it.next()? != digest {
            return None;
        }
        let mut u = || it.next().and_then(|v| v.parse::<u64>().ok());
        let (len, dev, ino) = (u()?, u()?, u()?);
        let mut i = || it.next().and_then(|v| v.parse::<i64>().ok());
        let mtime = (i()?, i()?);
        let ctime = (i()?, i()?);
        Some(VerifiedStamp {
            len,
            dev,
            ino,
            mtime,
            ctime,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_detects_writes() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = d.path().join("blob");
        std::fs::write(&p, b"abc").unwrap_or_else(|e| panic!("{e}"));
        let s = VerifiedStamp::of_path(&p).unwrap_or_else(|e| panic!("{e}"));
        let line = s.encode("sha256:x");
        assert_eq!(VerifiedStamp::decode(&line, "sha256:x"), Some(s.clone()));
        assert_eq!(VerifiedStamp::decode(&line, "sha256:y"), None);
        assert_eq!(VerifiedStamp::decode("junk", "sha256:x"), None);
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&p, b"abd").unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(VerifiedStamp::of_path(&p).ok(), Some(s));
    }

    #[test]
    fn inodes_and_devices_past_i64_round_trip() {
        // overlayfs xino and some network filesystems hand out inode numbers >= 2^63.
        let s = VerifiedStamp {
            len: 3,
            dev: u64::MAX,
            ino: (1 << 63) + 5,
            mtime: (1, 2),
            ctime: (-3, 4),
        };
        let line = s.encode("sha256:x");
        assert_eq!(VerifiedStamp::decode(&line, "sha256:x"), Some(s));
    }
}
