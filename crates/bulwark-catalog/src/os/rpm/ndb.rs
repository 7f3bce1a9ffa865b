//! Reader for rpm's NDB backend (`Packages.db`, rpm 4.16+, used by SUSE).
//!
//! No maintained Rust crate reads this format, so this is a small hand-written reader
//! of rpm's documented layout: a little-endian header (`RpmP` magic, version,
//! generation, number of slot pages), a table of 16-byte slots (`Slot` magic, package
//! index, block offset, block count) filling the slot pages after the 32-byte header,
//! and blobs at `block offset × 16`, each a 16-byte blob header (`BlbS` magic, package
//! index, checksum, length) followed by the rpm header. Every offset and length is
//! checked against the file.

use super::RpmDbError;

const HEADER_MAGIC: u32 = u32::from_le_bytes(*b"RpmP");
const SLOT_MAGIC: u32 = u32::from_le_bytes(*b"Slot");
const BLOB_MAGIC: u32 = u32::from_le_bytes(*b"BlbS");
const PAGE_SIZE: usize = 4096;
const SLOT_SIZE: usize = 16;
const BLOCK_SIZE: usize = 16;
/// The header occupies the first two slot positions.
const FIRST_SLOT: usize = 2;
/// rpm caps the slot table; anything bigger is corrupt.
const MAX_SLOT_PAGES: usize = 2048;

fn le32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Returns the header blobs of all packages in an NDB `Packages.db`.
pub fn parse_ndb(data: &[u8]) -> Result<Vec<&[u8]>, RpmDbError> {
    let bad = |msg: String| RpmDbError::Format("ndb", msg);
    if le32(data, 0) != Some(HEADER_MAGIC) {
        return Err(bad("missing RpmP magic".into()));
    }
    let version = le32(data, 4).unwrap_or(u32::MAX);
    if version != 0 {
        return Err(bad(format!("unsupported NDB version {version}")));
    }
    let pages = le32(data, 12).unwrap_or(0) as usize;
    if pages == 0 || pages > MAX_SLOT_PAGES {
        return Err(bad(format!("implausible slot page count {pages}")));
    }
    let slot_end = pages * PAGE_SIZE;
    if slot_end > data.len() {
        return Err(bad(format!(
            "{pages} slot pages need {slot_end} bytes, file has {}",
            data.len()
        )));
    }
    let mut blobs = Vec::new();
    for slot in FIRST_SLOT..slot_end / SLOT_SIZE {
        let at = slot * SLOT_SIZE;
        let (Some(magic), Some(pkg), Some(blk_off), Some(blk_cnt)) = (
            le32(data, at),
            le32(data, at + 4),
            le32(data, at + 8),
            le32(data, at + 12),
        ) else {
            break;
        };
        if magic != SLOT_MAGIC {
            return Err(bad(format!("slot {slot} at byte {at} has bad magic")));
        }
        if pkg == 0 {
            continue; // free slot
        }
        let start = blk_off as usize * BLOCK_SIZE;
        let avail = blk_cnt as usize * BLOCK_SIZE;
        let blob_hdr = data
            .get(start..)
            .and_then(|d| d.get(..avail.min(d.len())))
            .filter(|d| d.len() >= 16)
            .ok_or_else(|| bad(format!("slot {slot}: blob at {start} outside file")))?;
        if le32(blob_hdr, 0) != Some(BLOB_MAGIC) || le32(blob_hdr, 4) != Some(pkg) {
            return Err(bad(format!(
                "slot {slot}: blob at {start} has bad magic or index"
            )));
        }
        let len = le32(blob_hdr, 12).unwrap_or(0) as usize;
        let blob = blob_hdr
            .get(16..)
            .and_then(|b| b.get(..len))
            .ok_or_else(|| bad(format!("slot {slot}: blob length {len} exceeds its blocks")))?;
        blobs.push(blob);
    }
    Ok(blobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_garbage_and_truncation() {
        assert!(parse_ndb(b"").is_err());
        assert!(parse_ndb(b"RpmP\0\0\0\0\0\0\0\0\x01\0\0\0").is_err());
        let mut d = vec![0u8; PAGE_SIZE];
        d[..4].copy_from_slice(b"RpmP");
        d[12] = 1;
        // All-zero slots have no Slot magic.
        assert!(parse_ndb(&d).is_err());
    }
}
