//! Go binaries: the build information the linker stores behind the `\xff Go buildinf:`
//! magic (what `go version -m` prints).
//!
//! Two layouts exist. Up to Go 1.17 the header holds two pointers to Go string headers
//! (version and module info), resolved through the section table; from Go 1.18 on
//! (flag bit 2) both strings follow the header inline, each prefixed by a uvarint length.
//!
//! Reporting follows Trivy: the main module with its version (empty for `(devel)` unless
//! `-ldflags -X main.version=...` names one), every `dep` (replaced by its `=>` target),
//! and `stdlib` at the toolchain version without any ` X:experiment` suffix.

use crate::rust::exe;
use crate::CatalogError;
use bulwark_core::{Ecosystem, Package};
use object::{Object, ObjectSection};

const MAGIC: &[u8] = b"\xff Go buildinf:";
const HEADER_LEN: usize = 32;
/// The linker puts the header at the start of its section; Go's own reader searches the
/// first 64 KiB of the data section, so do we.
const SEARCH_LIMIT: u64 = 64 << 10;
/// Largest module-info string accepted (real ones are a few KiB).
const MAX_STRING: u64 = 4 << 20;
const FORMAT: &str = "Go build info";

/// Pure entry point over a whole binary's bytes (fuzzing, tests). `Ok(empty)` for
/// anything that is not a Go binary.
pub fn parse_go_binary_bytes(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    if exe::sniff_bytes(data).is_none() {
        return Ok(Vec::new());
    }
    let Ok(file) = object::File::parse(data) else {
        return Ok(Vec::new());
    };
    read_go_packages(&file)
}

/// The Go packages of a parsed object file: empty when it is not a Go binary, an error
/// when it is one whose build info is malformed. The executable cataloger
/// ([`crate::rust::exe::ExecutableCataloger`]) calls this on the file it parsed once.
pub fn read_go_packages<'d, R: object::ReadRef<'d>>(
    file: &object::File<'d, R>,
) -> Result<Vec<Package>, CatalogError> {
    Ok(read_build_info(file)?
        .map(|info| packages_from_build_info(&info))
        .unwrap_or_default())
}

/// The two strings of a binary's build info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBuildInfo {
    /// Toolchain version, `go1.22.1` (possibly with ` X:...`).
    pub go_version: String,
    /// The module info text (`path`, `mod`, `dep`, `=>`, `build` lines).
    pub mod_info: String,
}

/// Section names where the linker puts the build info, most specific first.
const SECTIONS: &[&str] = &[".go.buildinfo", "__go_buildinfo", ".data", "__data"];

/// Locates and decodes the build info of a parsed object file. `Ok(None)` when the
/// binary is not a Go binary (no magic found).
pub fn read_build_info<'d, R: object::ReadRef<'d>>(
    file: &object::File<'d, R>,
) -> Result<Option<RawBuildInfo>, CatalogError> {
    for name in SECTIONS {
        let Some(section) = file.section_by_name(name) else {
            continue;
        };
        // PE sections' virtual size includes zero-fill (BSS) beyond the bytes on disk;
        // only the stored part can be read.
        let stored = section
            .file_range()
            .map_or(section.size(), |(_, n)| n.min(section.size()));
        let len = stored.min(SEARCH_LIMIT);
        let Ok(Some(data)) = section.data_range(section.address(), len) else {
            continue;
        };
        let Some(start) = (0..data.len())
            .step_by(16)
            .find(|&i| data.get(i..i + MAGIC.len()) == Some(MAGIC))
        else {
            continue;
        };
        // The inline format's strings may run past the searched window: re-read the
        // section from the header on, bounded.
        let from = section.address().saturating_add(start as u64);
        let avail = stored.saturating_sub(start as u64).min(MAX_STRING);
        let data = match section.data_range(from, avail) {
            Ok(Some(d)) => d,
            _ => data.get(start..).unwrap_or_default(),
        };
        return decode(data, |addr, size| {
            file.sections()
                .find_map(|s| s.data_range(addr, size).ok().flatten())
        })
        .map(Some);
    }
    Ok(None)
}

/// Decodes a build-info blob starting at the magic. `read_mem(addr, len)` resolves a
/// virtual address for the pre-1.18 pointer format.
pub fn decode<'a>(
    data: &'a [u8],
    read_mem: impl Fn(u64, u64) -> Option<&'a [u8]>,
) -> Result<RawBuildInfo, CatalogError> {
    let header = data
        .get(..HEADER_LEN)
        .ok_or_else(|| CatalogError::parse(FORMAT, "truncated header"))?;
    let ptr_size = usize::from(header.get(14).copied().unwrap_or(0));
    let flags = header.get(15).copied().unwrap_or(0);
    let big_endian = flags & 1 != 0;
    if flags & 2 != 0 {
        let (version, rest) = read_varint_string(data.get(HEADER_LEN..).unwrap_or_default())?;
        let (mod_info, _) = read_varint_string(rest)?;
        return Ok(RawBuildInfo {
            go_version: version,
            mod_info: strip_sentinels(&mod_info),
        });
    }
    if ptr_size != 4 && ptr_size != 8 {
        return Err(CatalogError::parse(
            FORMAT,
            format!("pointer size {ptr_size}"),
        ));
    }
    let read_ptr = |b: &[u8]| -> Option<u64> {
        let b = b.get(..ptr_size)?;
        let mut v: u64 = 0;
        for i in 0..ptr_size {
            let byte = if big_endian {
                *b.get(i)?
            } else {
                *b.get(ptr_size - 1 - i)?
            };
            v = (v << 8) | u64::from(byte);
        }
        Some(v)
    };
    let read_string = |hdr_addr: u64| -> Result<String, CatalogError> {
        let hdr = read_mem(hdr_addr, 2 * ptr_size as u64)
            .ok_or_else(|| CatalogError::parse(FORMAT, "string header outside the file"))?;
        let ptr = read_ptr(hdr).ok_or_else(|| CatalogError::parse(FORMAT, "bad pointer"))?;
        let len = hdr
            .get(ptr_size..)
            .and_then(read_ptr)
            .ok_or_else(|| CatalogError::parse(FORMAT, "bad length"))?;
        if len > MAX_STRING {
            return Err(CatalogError::parse(
                FORMAT,
                format!("string of {len} bytes"),
            ));
        }
        let bytes = read_mem(ptr, len)
            .ok_or_else(|| CatalogError::parse(FORMAT, "string data outside the file"))?;
        Ok(String::from_utf8_lossy(bytes).into_owned())
    };
    let version_ptr = header.get(16..).and_then(read_ptr).unwrap_or_default();
    let mod_ptr = header
        .get(16 + ptr_size..)
        .and_then(read_ptr)
        .unwrap_or_default();
    let go_version = read_string(version_ptr)?;
    let mod_info = read_string(mod_ptr)?;
    Ok(RawBuildInfo {
        go_version,
        mod_info: strip_sentinels(&mod_info),
    })
}

fn read_varint_string(data: &[u8]) -> Result<(String, &[u8]), CatalogError> {
    let mut len: u64 = 0;
    let mut shift = 0;
    let mut i = 0;
    loop {
        let b = *data
            .get(i)
            .ok_or_else(|| CatalogError::parse(FORMAT, "truncated length"))?;
        i += 1;
        if shift > 63 {
            return Err(CatalogError::parse(FORMAT, "length overflows"));
        }
        len |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let len = usize::try_from(len)
        .ok()
        .filter(|&l| l as u64 <= MAX_STRING)
        .ok_or_else(|| CatalogError::parse(FORMAT, "string too long"))?;
    let end = i
        .checked_add(len)
        .ok_or_else(|| CatalogError::parse(FORMAT, "string too long"))?;
    let bytes = data
        .get(i..end)
        .ok_or_else(|| CatalogError::parse(FORMAT, "truncated string"))?;
    Ok((
        String::from_utf8_lossy(bytes).into_owned(),
        data.get(end..).unwrap_or_default(),
    ))
}

/// The module info is wrapped in 16-byte sentinels so it can be found in memory dumps.
fn strip_sentinels(s: &str) -> String {
    let b = s.as_bytes();
    if b.len() >= 33 && b.get(b.len() - 17) == Some(&b'\n') {
        if let Some(inner) = b.get(16..b.len() - 16) {
            return String::from_utf8_lossy(inner).into_owned();
        }
    }
    s.to_string()
}

/// `stdlib` version in Trivy's spelling: `go1.22.1 X:loopvar` → `v1.22.1`. `None` for
/// development toolchains, whose version says nothing matchable.
pub fn stdlib_version(go_version: &str) -> Option<String> {
    let v = go_version.split_whitespace().next()?;
    let v = v.strip_prefix("go").unwrap_or(v);
    if v.is_empty() || v.contains("devel") || !v.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Some(format!("v{v}"))
}

/// Turns decoded build info into packages (see the module docs for what is reported).
pub fn packages_from_build_info(info: &RawBuildInfo) -> Vec<Package> {
    let mut main: Option<(String, String)> = None;
    let mut deps: Vec<(String, String)> = Vec::new();
    let mut ldflags = None;
    for line in info.mod_info.lines() {
        let mut f = line.split('\t');
        match f.next() {
            Some("mod") => {
                let path = f.next().unwrap_or("").to_string();
                let version = f.next().unwrap_or("").to_string();
                main = Some((path, version));
            }
            Some("dep") => {
                let path = f.next().unwrap_or("").to_string();
                let version = f.next().unwrap_or("").to_string();
                deps.push((path, version));
            }
            Some("=>") => {
                let path = f.next().unwrap_or("").to_string();
                let version = f.next().unwrap_or("").to_string();
                if let Some(last) = deps.last_mut() {
                    if version.is_empty() {
                        // A local-directory replacement: the code is whatever was on
                        // disk, so keep the module's name but claim no version.
                        last.1.clear();
                    } else {
                        *last = (path, version);
                    }
                }
            }
            Some("build") => {
                if let Some(v) = f.next().and_then(|kv| kv.strip_prefix("-ldflags=")) {
                    ldflags = Some(v.trim_matches('"').to_string());
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Some((path, mut version)) = main.filter(|(p, _)| !p.is_empty()) {
        if version == "(devel)" {
            version = ldflags
                .as_deref()
                .and_then(version_from_ldflags)
                .unwrap_or_default();
        }
        out.push(Package::new(Ecosystem::Golang, path, version, "go-binary"));
    }
    if let Some(v) = stdlib_version(&info.go_version) {
        out.push(Package::new(Ecosystem::Golang, "stdlib", v, "go-binary"));
    }
    for (path, version) in deps {
        if path.is_empty() {
            continue;
        }
        out.push(Package::new(Ecosystem::Golang, path, version, "go-binary"));
    }
    out
}

/// Finds `-X main.version=v1.2.3`-style settings (also `-X=...`, `cmd.Version`, `ver`).
pub fn version_from_ldflags(flags: &str) -> Option<String> {
    let words: Vec<&str> = flags.split_whitespace().collect();
    let mut i = 0;
    while i < words.len() {
        let w = words.get(i).copied().unwrap_or_default();
        let setting = if w == "-X" || w == "--X" {
            i += 1;
            words.get(i).copied()
        } else {
            w.strip_prefix("-X=").or_else(|| w.strip_prefix("--X="))
        };
        i += 1;
        let Some((key, value)) = setting.and_then(|s| s.split_once('=')) else {
            continue;
        };
        let Some((pkg, var)) = key.rsplit_once('.') else {
            continue;
        };
        let pkg_last = pkg.rsplit('/').next().unwrap_or(pkg);
        let var = var.to_ascii_lowercase();
        if matches!(pkg_last, "main" | "cmd")
            && matches!(var.as_str(), "version" | "ver")
            && !value.is_empty()
        {
            return Some(value.trim_matches(|c| c == '\'' || c == '"').to_string());
        }
    }
    None
}
