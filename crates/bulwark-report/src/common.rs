//! Helpers shared by the SBOM writers and the reader: property names, timestamps,
//! digest mapping, identifier sanitising.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Property names bulwark writes (CycloneDX properties, SPDX annotations) and reads back.
pub(crate) mod prop {
    pub const FOUND_BY: &str = "bulwark:found_by";
    pub const PATH: &str = "bulwark:path";
    pub const LAYER_DIGEST: &str = "bulwark:layer_digest";
    pub const LAYER_DIFF_ID: &str = "bulwark:layer_diff_id";
    pub const SOURCE_NAME: &str = "bulwark:source_name";
    pub const SOURCE_VERSION: &str = "bulwark:source_version";
    pub const DEV: &str = "bulwark:dev";
    pub const DIGEST: &str = "bulwark:digest";
    pub const LICENSE: &str = "bulwark:license";
    pub const OS_PRETTY_NAME: &str = "bulwark:os_pretty_name";
    pub const OS_CODENAME: &str = "bulwark:os_codename";
    pub const TARGET_KIND: &str = "bulwark:target_kind";
    /// `true` when the scan missed something; one `INCOMPLETE_REASON` per reason.
    pub const INCOMPLETE: &str = "bulwark:incomplete";
    pub const INCOMPLETE_REASON: &str = "bulwark:incomplete_reason";
    /// Count of packages not checked for vulnerabilities.
    pub const NOT_CHECKED: &str = "bulwark:not_checked";
    pub const KEV: &str = "bulwark:kev";
    pub const EPSS: &str = "bulwark:epss";
    pub const EPSS_PERCENTILE: &str = "bulwark:epss_percentile";
}

/// The report's creation time as `YYYY-MM-DDThh:mm:ssZ` (UTC, whole seconds), the form
/// SPDX requires and CycloneDX accepts. An unparsable time falls back to now, because
/// both formats require a valid timestamp and the report's is only informational.
pub(crate) fn utc_timestamp(created_at: &str) -> String {
    let t =
        OffsetDateTime::parse(created_at, &Rfc3339).unwrap_or_else(|_| OffsetDateTime::now_utc());
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Replaces every character outside `[A-Za-z0-9.-]` with `-` (SPDX id charset).
pub(crate) fn sanitize_id(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// A digest algorithm as bulwark spells it (`sha256`), CycloneDX (`SHA-256`) and SPDX
/// (`SHA256`), with the hex length that identifies a well-formed value.
pub(crate) struct HashAlg {
    pub bulwark: &'static str,
    pub cyclonedx: &'static str,
    pub spdx: &'static str,
    pub hex_len: usize,
}

pub(crate) const HASH_ALGS: &[HashAlg] = &[
    HashAlg {
        bulwark: "md5",
        cyclonedx: "MD5",
        spdx: "MD5",
        hex_len: 32,
    },
    HashAlg {
        bulwark: "sha1",
        cyclonedx: "SHA-1",
        spdx: "SHA1",
        hex_len: 40,
    },
    HashAlg {
        bulwark: "sha256",
        cyclonedx: "SHA-256",
        spdx: "SHA256",
        hex_len: 64,
    },
    HashAlg {
        bulwark: "sha384",
        cyclonedx: "SHA-384",
        spdx: "SHA384",
        hex_len: 96,
    },
    HashAlg {
        bulwark: "sha512",
        cyclonedx: "SHA-512",
        spdx: "SHA512",
        hex_len: 128,
    },
];

/// Splits a bulwark digest (`sha256:abcd…`) into its algorithm and lowercase hex value,
/// when it is a well-formed hex digest both SBOM formats can carry as a checksum.
/// Other digests (base64 integrity strings, unknown algorithms) return `None` and are
/// carried as a property instead.
pub(crate) fn split_digest(digest: &str) -> Option<(&'static HashAlg, String)> {
    let (alg, value) = digest.split_once(':')?;
    let alg = alg.to_ascii_lowercase();
    let h = HASH_ALGS.iter().find(|h| h.bulwark == alg)?;
    if value.len() == h.hex_len && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        Some((h, value.to_ascii_lowercase()))
    } else {
        None
    }
}

/// The bulwark name of the target's root for SBOM metadata: the first repo tag of an
/// image, else the name the user typed.
pub(crate) fn root_name(report: &bulwark_core::Report) -> String {
    report
        .target
        .image
        .as_ref()
        .and_then(|i| i.repo_tags.first().cloned())
        .unwrap_or_else(|| report.target.name.clone())
}

/// A short, human-friendly form of a layer digest: `sha256:` plus 12 hex digits.
pub(crate) fn short_digest(d: &str) -> String {
    match d.split_once(':') {
        Some((alg, hex)) => format!("{alg}:{}", hex.chars().take(12).collect::<String>()),
        None => d.chars().take(12).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_normalise_to_utc_seconds() {
        assert_eq!(
            utc_timestamp("2024-05-01T12:30:45.123+02:00"),
            "2024-05-01T10:30:45Z"
        );
        assert_eq!(
            utc_timestamp("2024-05-01T12:30:45Z"),
            "2024-05-01T12:30:45Z"
        );
        // Garbage falls back to "now", which is still well-formed.
        let now = utc_timestamp("not a time");
        assert_eq!(now.len(), 20);
        assert!(now.ends_with('Z'));
    }

    #[test]
    fn digests_split_only_when_hex_of_right_length() {
        let (h, v) =
            split_digest("sha256:ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789")
                .expect("well-formed");
        assert_eq!(h.cyclonedx, "SHA-256");
        assert!(v.starts_with("abcdef"));
        assert!(split_digest("sha512-Zm9vYmFy").is_none());
        assert!(split_digest("sha1:abc").is_none());
        assert!(split_digest("crc32:deadbeef").is_none());
    }

    #[test]
    fn sanitize() {
        assert_eq!(sanitize_id("@babel/core_7.0+x"), "-babel-core-7.0-x");
    }
}
