//! Reader for the Berkeley DB hash database rpm used up to 4.15 (`Packages`, still
//! found in RHEL/CentOS 7 and 8 and Amazon Linux 2 images).
//!
//! No maintained Rust crate reads Berkeley DB files, so this hand-written reader
//! walks the pages directly: the metadata page gives the page size and last page; every
//! hash page (`P_HASH`, `P_HASH_UNSORTED`) holds key/data item pairs, and a data item is
//! either stored in place (`H_KEYDATA`) or points to a chain of overflow pages
//! (`H_OFFPAGE`) that hold the rpm header. Both byte orders are accepted (the metadata
//! magic tells which). Every offset, length and page number is checked against the
//! file.
//!
//! Work and memory are linear in the file size whatever the file says: in a real
//! database every value is stored once, so an overflow page belongs to at most one
//! chain (a page seen twice — a loop, or two items sharing a chain — is an error), and
//! the values decoded from a file add up to at most its size (items that overlap on a
//! page cannot be copied out over and over).

use super::RpmDbError;

const HASH_MAGIC: u32 = 0x0006_1561;
const PAGE_HEADER_SIZE: usize = 26;
const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASH: u8 = 13;
const H_KEYDATA: u8 = 1;
const H_OFFPAGE: u8 = 3;

#[derive(Clone, Copy)]
struct Order {
    little: bool,
}

impl Order {
    fn u32(self, b: &[u8], at: usize) -> Option<u32> {
        let s = b.get(at..at.checked_add(4)?)?;
        let a = [s[0], s[1], s[2], s[3]];
        Some(if self.little {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    }
    fn u16(self, b: &[u8], at: usize) -> Option<u16> {
        let s = b.get(at..at.checked_add(2)?)?;
        let a = [s[0], s[1]];
        Some(if self.little {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        })
    }
}

/// Returns the data values (rpm header blobs) of a Berkeley DB hash `Packages` file.
/// rpm's 4-byte bookkeeping record under key 0 is left out.
pub fn parse_bdb(data: &[u8]) -> Result<Vec<Vec<u8>>, RpmDbError> {
    let bad = |msg: String| RpmDbError::Format("berkeley db", msg);
    let le = Order { little: true };
    let be = Order { little: false };
    let order = if le.u32(data, 12) == Some(HASH_MAGIC) {
        le
    } else if be.u32(data, 12) == Some(HASH_MAGIC) {
        be
    } else {
        return Err(bad("not a Berkeley DB hash database (bad magic)".into()));
    };
    let page_size = order.u32(data, 20).unwrap_or(0) as usize;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(bad(format!("invalid page size {page_size}")));
    }
    if data.get(24).copied().unwrap_or(0) != 0 {
        return Err(bad("encrypted databases are not supported".into()));
    }
    let last_pgno = order.u32(data, 32).unwrap_or(0) as usize;
    let pages_in_file = data.len() / page_size;

    let mut out = Vec::new();
    // Overflow pages already read (each belongs to one chain) and the bytes decoded so
    // far (never more than the file holds).
    let mut used = vec![false; pages_in_file];
    let mut decoded = 0usize;
    let mut account = |n: usize, pgno: usize| -> Result<(), RpmDbError> {
        decoded = decoded.saturating_add(n);
        if decoded > data.len() {
            return Err(bad(format!(
                "page {pgno}: values add up to more than the file's {} bytes (items overlap)",
                data.len()
            )));
        }
        Ok(())
    };
    for pgno in 1..=last_pgno.min(pages_in_file.saturating_sub(1)) {
        let Some(pg) = page(data, page_size, pgno) else {
            break;
        };
        let ty = pg.get(25).copied().unwrap_or(0);
        if ty != P_HASH && ty != P_HASH_UNSORTED {
            continue;
        }
        let entries = order.u16(pg, 20).unwrap_or(0) as usize;
        let max_entries = (page_size - PAGE_HEADER_SIZE) / 2;
        if entries > max_entries {
            return Err(bad(format!("page {pgno}: {entries} entries do not fit")));
        }
        // Items are key/data pairs; data items have odd indices.
        for idx in (1..entries).step_by(2) {
            let item_off = |i: usize| order.u16(pg, PAGE_HEADER_SIZE + 2 * i).map(usize::from);
            let off = item_off(idx)
                .ok_or_else(|| bad(format!("page {pgno}: item {idx} index truncated")))?;
            // Items are packed from the page end downwards, so an item ends where the
            // previous one starts.
            let end = item_off(idx - 1).unwrap_or(page_size);
            let item = pg
                .get(off..end)
                .filter(|i| !i.is_empty())
                .ok_or_else(|| bad(format!("page {pgno}: item {idx} at {off}..{end} invalid")))?;
            match item.first().copied() {
                Some(H_KEYDATA) => {
                    let value = item.get(1..).unwrap_or_default();
                    // Key 0 holds rpm's 4-byte counter, not a header.
                    if value.len() > 8 {
                        account(value.len(), pgno)?;
                        out.push(value.to_vec());
                    }
                }
                Some(H_OFFPAGE) => {
                    let first = order.u32(item, 4).unwrap_or(0) as usize;
                    let total = order.u32(item, 8).unwrap_or(0) as usize;
                    account(total, pgno)?;
                    let chain = Chain {
                        data,
                        page_size,
                        order,
                    };
                    out.push(chain.read(first, total, pgno, &mut used)?);
                }
                _ => {}
            }
        }
    }
    Ok(out)
}

/// Page `n` of the file, if it is entirely inside it.
fn page(data: &[u8], page_size: usize, n: usize) -> Option<&[u8]> {
    data.get(n.checked_mul(page_size)?..)?.get(..page_size)
}

/// The file, as overflow chains are read from it.
struct Chain<'a> {
    data: &'a [u8],
    page_size: usize,
    order: Order,
}

impl Chain<'_> {
    /// Follows an overflow chain from `first`, collecting `total` bytes (the caller has
    /// checked that `total` fits the file's byte budget). Every page read is marked in
    /// `used`; reaching a marked page again is an error, which stops loops and chains
    /// shared between items.
    fn read(
        &self,
        first: usize,
        total: usize,
        from: usize,
        used: &mut [bool],
    ) -> Result<Vec<u8>, RpmDbError> {
        let bad = |msg: String| RpmDbError::Format("berkeley db", msg);
        let mut out = Vec::with_capacity(total.min(1 << 20));
        let mut pgno = first;
        while out.len() < total {
            if pgno == 0 {
                return Err(bad(format!(
                    "page {from}: overflow chain ended after {} of {total} bytes",
                    out.len()
                )));
            }
            let pg = page(self.data, self.page_size, pgno)
                .ok_or_else(|| bad(format!("overflow page {pgno} outside file")))?;
            let seen = used
                .get_mut(pgno)
                .ok_or_else(|| bad(format!("overflow page {pgno} outside file")))?;
            if *seen {
                return Err(bad(format!(
                    "page {from}: overflow page {pgno} is reached twice (a loop, or a chain shared by two values)"
                )));
            }
            *seen = true;
            if pg.get(25).copied() != Some(P_OVERFLOW) {
                return Err(bad(format!("page {pgno} is not an overflow page")));
            }
            // On overflow pages the free-area offset field holds the byte count.
            let len = self.order.u16(pg, 22).map(usize::from).unwrap_or(0);
            let chunk = pg
                .get(PAGE_HEADER_SIZE..PAGE_HEADER_SIZE + len)
                .ok_or_else(|| bad(format!("overflow page {pgno}: length {len} too large")))?;
            if chunk.is_empty() {
                return Err(bad(format!("overflow page {pgno} is empty")));
            }
            let want = (total - out.len()).min(chunk.len());
            out.extend_from_slice(chunk.get(..want).unwrap_or_default());
            pgno = self.order.u32(pg, 16).unwrap_or(0) as usize;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_bdb() {
        assert!(parse_bdb(b"").is_err());
        assert!(parse_bdb(&[0u8; 4096]).is_err());
    }

    #[test]
    fn overflow_cycle_terminates() {
        // Metadata page + one hash page pointing at an overflow page that links to itself.
        let ps = 512usize;
        let mut d = vec![0u8; ps * 3];
        d[12..16].copy_from_slice(&HASH_MAGIC.to_le_bytes());
        d[20..24].copy_from_slice(&(ps as u32).to_le_bytes());
        d[32..36].copy_from_slice(&2u32.to_le_bytes());
        let hp = ps;
        d[hp + 20..hp + 22].copy_from_slice(&2u16.to_le_bytes());
        d[hp + 25] = P_HASH;
        // key item at ps-5 (5 bytes), data item (offpage, 12 bytes) before it.
        let key_off = ps - 5;
        let data_off = key_off - 12;
        d[hp + 26..hp + 28].copy_from_slice(&(key_off as u16).to_le_bytes());
        d[hp + 28..hp + 30].copy_from_slice(&(data_off as u16).to_le_bytes());
        d[hp + key_off] = H_KEYDATA;
        d[hp + data_off] = H_OFFPAGE;
        d[hp + data_off + 4..hp + data_off + 8].copy_from_slice(&2u32.to_le_bytes());
        d[hp + data_off + 8..hp + data_off + 12].copy_from_slice(&1000u32.to_le_bytes());
        let op = 2 * ps;
        d[op + 16..op + 20].copy_from_slice(&2u32.to_le_bytes()); // next = itself
        d[op + 22..op + 24].copy_from_slice(&10u16.to_le_bytes());
        d[op + 25] = P_OVERFLOW;
        assert!(parse_bdb(&d).is_err());
    }
}
