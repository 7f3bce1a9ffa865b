//! Ownership and permission checks of files, directories and sockets (CIS Docker
//! section 3, CIS Kubernetes 1.1 and 4.1), and bounded reads of small config files.
//!
//! A file that does not exist is not a finding (the benchmark items are "if the file
//! exists"); a file that exists but cannot be inspected is a warning that also marks the
//! run incomplete, never a pass.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use bulwark_misconfig::CheckMeta;

use crate::Collector;

/// Largest config file read (daemon.json, containers.conf, kubelet config, manifests).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The permission bits of `mode` beyond `allowed` (setuid/setgid/sticky count as beyond).
pub fn excess_bits(mode: u32, allowed: u32) -> u32 {
    mode & 0o7777 & !allowed
}

/// Checks that `path` (when it exists) has no permission bit beyond `max_mode`, and that
/// it is owned by uid 0 with a group in `gids` (empty: gid 0 only). `shown` is the path
/// as reported (the path inside `--node-root` for node files). Returns whether the file
/// exists.
pub fn check_file(
    c: &mut Collector,
    path: &Path,
    shown: &str,
    max_mode: u32,
    perms: Option<&CheckMeta>,
    owner: Option<&CheckMeta>,
    gids: &[u32],
) -> bool {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return false,
        Err(e) => {
            c.unreadable(shown, &format!("cannot inspect: {e}"));
            return false;
        }
    };
    // A symlink is judged by what it points to, as the runtime that opens it does.
    let meta = if meta.file_type().is_symlink() {
        match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                c.unreadable(shown, &format!("dangling or unreadable symlink: {e}"));
                return true;
            }
        }
    } else {
        meta
    };
    let mode = meta.mode() & 0o7777;
    if let Some(check) = perms {
        let extra = excess_bits(mode, max_mode);
        if extra != 0 {
            c.finding(
                check,
                shown,
                None,
                None,
                format!("{shown} has mode {mode:04o}; expected {max_mode:04o} or more restrictive (extra bits {extra:04o})"),
            );
        }
    }
    if let Some(check) = owner {
        let gid_ok = if gids.is_empty() {
            meta.gid() == 0
        } else {
            gids.contains(&meta.gid())
        };
        if meta.uid() != 0 || !gid_ok {
            c.finding(
                check,
                shown,
                None,
                None,
                format!(
                    "{shown} is owned by uid {} gid {}; expected root (uid 0) and group {}",
                    meta.uid(),
                    meta.gid(),
                    if gids.is_empty() {
                        "root (gid 0)".to_string()
                    } else {
                        gids.iter()
                            .map(u32::to_string)
                            .collect::<Vec<_>>()
                            .join(" or ")
                    }
                ),
            );
        }
    }
    true
}

/// Reads a small text file: `Ok(None)` when it does not exist, an error message when it
/// exists but cannot be read, is over [`MAX_CONFIG_BYTES`] or is not UTF-8.
pub fn read_small(path: &Path) -> Result<Option<String>, String> {
    use std::io::Read;
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read: {e}")),
    };
    let mut buf = Vec::new();
    f.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot read: {e}"))?;
    if buf.len() as u64 > MAX_CONFIG_BYTES {
        return Err(format!("larger than {MAX_CONFIG_BYTES} bytes"));
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| "not UTF-8 text".to_string())
}

/// The gid of group `name` in `etc_group` (an `/etc/group` file), if listed.
pub fn group_gid(etc_group: &Path, name: &str) -> Option<u32> {
    let text = read_small(etc_group).ok().flatten()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then_some(())?;
        f.next()?;
        f.next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excess() {
        assert_eq!(excess_bits(0o644, 0o600), 0o044);
        assert_eq!(excess_bits(0o600, 0o644), 0);
        assert_eq!(excess_bits(0o4755, 0o755), 0o4000);
        assert_eq!(excess_bits(0o140666 & 0o7777, 0o660), 0o006);
    }
}
