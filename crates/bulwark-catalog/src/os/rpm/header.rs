//! The rpm header blob as stored in every rpmdb backend: a big-endian index of
//! `(tag, type, offset, count)` entries followed by the data store they point into.
//!
//! Only the tags bulwark needs are decoded. Every offset and count is checked against
//! the blob before use.

use std::fmt;

const TAG_NAME: i32 = 1000;
const TAG_VERSION: i32 = 1001;
const TAG_RELEASE: i32 = 1002;
const TAG_EPOCH: i32 = 1003;
const TAG_VENDOR: i32 = 1011;
const TAG_LICENSE: i32 = 1014;
const TAG_ARCH: i32 = 1022;
const TAG_SOURCERPM: i32 = 1044;
const TAG_MODULARITYLABEL: i32 = 5096;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// rpm itself refuses headers with more index entries than this.
const MAX_INDEX_ENTRIES: usize = 0xffff;

/// The decoded fields of one installed package's header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RpmHeader {
    /// `NAME`.
    pub name: String,
    /// `VERSION`.
    pub version: String,
    /// `RELEASE`.
    pub release: String,
    /// `EPOCH`, when the header has one.
    pub epoch: Option<u32>,
    /// `ARCH`.
    pub arch: Option<String>,
    /// `LICENSE`.
    pub license: Option<String>,
    /// `SOURCERPM` (`name-version-release.src.rpm`).
    pub source_rpm: Option<String>,
    /// `VENDOR`.
    pub vendor: Option<String>,
    /// `MODULARITYLABEL` (RHEL 8+ module streams).
    pub modularity_label: Option<String>,
}

/// Why a header blob could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderError(pub String);

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err(msg: impl Into<String>) -> HeaderError {
    HeaderError(msg.into())
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Decodes a header blob (`il`, `dl`, index entries, data store).
pub fn parse_header(blob: &[u8]) -> Result<RpmHeader, HeaderError> {
    let il = be32(blob, 0).ok_or_else(|| err("header shorter than 8 bytes"))? as usize;
    let dl = be32(blob, 4).ok_or_else(|| err("header shorter than 8 bytes"))? as usize;
    if il == 0 || il > MAX_INDEX_ENTRIES {
        return Err(err(format!("implausible index entry count {il}")));
    }
    let index_end = 8 + il * 16;
    let data = blob
        .get(index_end..)
        .and_then(|d| d.get(..dl))
        .ok_or_else(|| {
            err(format!(
                "header declares {il} entries and {dl} data bytes but the blob has {} bytes",
                blob.len()
            ))
        })?;
    let mut h = RpmHeader::default();
    for i in 0..il {
        let at = 8 + i * 16;
        let (Some(tag), Some(ty), Some(off), Some(count)) = (
            be32(blob, at),
            be32(blob, at + 4),
            be32(blob, at + 8),
            be32(blob, at + 12),
        ) else {
            return Err(err(format!("index entry {i} truncated")));
        };
        let tag = tag as i32;
        let off = off as usize;
        let wanted = matches!(
            tag,
            TAG_NAME
                | TAG_VERSION
                | TAG_RELEASE
                | TAG_EPOCH
                | TAG_VENDOR
                | TAG_LICENSE
                | TAG_ARCH
                | TAG_SOURCERPM
                | TAG_MODULARITYLABEL
        );
        if !wanted {
            continue;
        }
        if tag == TAG_EPOCH {
            if ty != TYPE_INT32 || count < 1 {
                return Err(err(format!("EPOCH has type {ty}, count {count}")));
            }
            let e = be32(data, off)
                .ok_or_else(|| err(format!("EPOCH offset {off} outside data ({dl} bytes)")))?;
            h.epoch = Some(e);
            continue;
        }
        if !matches!(ty, TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING) {
            return Err(err(format!("tag {tag} has non-string type {ty}")));
        }
        let s = c_string(data, off).ok_or_else(|| {
            err(format!(
                "tag {tag}: string at {off} outside data or unterminated"
            ))
        })?;
        match tag {
            TAG_NAME => h.name = s,
            TAG_VERSION => h.version = s,
            TAG_RELEASE => h.release = s,
            TAG_VENDOR => h.vendor = Some(s),
            TAG_LICENSE => h.license = Some(s),
            TAG_ARCH => h.arch = Some(s),
            TAG_SOURCERPM => h.source_rpm = Some(s),
            TAG_MODULARITYLABEL => h.modularity_label = Some(s),
            _ => {}
        }
    }
    if h.name.is_empty() {
        return Err(err("header has no NAME"));
    }
    Ok(h)
}

/// A NUL-terminated string starting at `off` in `data`.
fn c_string(data: &[u8], off: usize) -> Option<String> {
    let rest = data.get(off..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    Some(String::from_utf8_lossy(rest.get(..end)?).into_owned())
}

/// Splits `name-version-release.src.rpm` into (`name`, `version-release`).
pub fn split_source_rpm(s: &str) -> Option<(String, String)> {
    let base = s
        .strip_suffix(".src.rpm")
        .or_else(|| s.strip_suffix(".nosrc.rpm"))?;
    let (rest, release) = base.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    if name.is_empty() || version.is_empty() || release.is_empty() {
        return None;
    }
    Some((name.to_string(), format!("{version}-{release}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a header blob with string and int32 entries, as rpm lays it out.
    fn blob(entries: &[(i32, u32, Vec<u8>)]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        for (tag, ty, val) in entries {
            index.extend_from_slice(&tag.to_be_bytes());
            index.extend_from_slice(&ty.to_be_bytes());
            index.extend_from_slice(&(data.len() as u32).to_be_bytes());
            index.extend_from_slice(&1u32.to_be_bytes());
            data.extend_from_slice(val);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend(index);
        out.extend(data);
        out
    }

    #[test]
    fn decodes_strings_and_epoch() {
        let b = blob(&[
            (TAG_NAME, TYPE_STRING, b"vim\0".to_vec()),
            (TAG_EPOCH, TYPE_INT32, 2u32.to_be_bytes().to_vec()),
            (TAG_VERSION, TYPE_STRING, b"9.0\0".to_vec()),
        ]);
        let h = parse_header(&b).unwrap_or_default();
        assert_eq!(h.name, "vim");
        assert_eq!(h.version, "9.0");
        assert_eq!(h.epoch, Some(2));
    }

    #[test]
    fn rejects_out_of_bounds_offsets() {
        let mut b = blob(&[(TAG_NAME, TYPE_STRING, b"vim\0".to_vec())]);
        // Point the NAME entry's offset past the data store.
        b[16..20].copy_from_slice(&1000u32.to_be_bytes());
        assert!(parse_header(&b).is_err());
        // Truncated blob.
        assert!(parse_header(&b[..10]).is_err());
        // Unterminated string.
        let b = blob(&[(TAG_NAME, TYPE_STRING, b"vim".to_vec())]);
        assert!(parse_header(&b).is_err());
    }

    #[test]
    fn source_rpm_split() {
        assert_eq!(
            split_source_rpm("util-linux-2.32.1-42.el8_8.src.rpm"),
            Some(("util-linux".into(), "2.32.1-42.el8_8".into()))
        );
        assert_eq!(split_source_rpm("garbage"), None);
    }
}
