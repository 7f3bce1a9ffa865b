//! Classifying licence strings as recorded by package databases into what the SBOM
//! formats can carry: a single SPDX license id, a valid SPDX expression, or free text.

/// How one recorded licence string maps onto SPDX.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LicenseKind {
    /// Exactly one identifier from the SPDX license list (`MIT`, `GPL-2.0-only`).
    Id(String),
    /// A valid SPDX license expression (`MIT OR Apache-2.0`, `GPL-2.0+`).
    Expression(String),
    /// Anything else: a name or licence text (`Custom license text`).
    Text(String),
}

/// Parsing rules for "valid expression": the SPDX list and `LicenseRef-`s only, with
/// deprecated identifiers (`GPL-2.0+`, still common in distro metadata) allowed because
/// the SPDX specification and both SBOM schemas still accept them (the `spdx` crate
/// models `GPL-2.0+` as a postfix `+` on a GPL id, hence that flag). Imprecise names are
/// rejected so that free text is never silently rewritten into a different licence.
const MODE: spdx::ParseMode = spdx::ParseMode {
    allow_slash_as_or_operator: false,
    allow_imprecise_license_names: false,
    allow_postfix_plus_on_gpl: true,
    allow_deprecated: true,
    allow_unknown: false,
};

/// Classifies one recorded licence string.
pub fn classify(s: &str) -> LicenseKind {
    let t = s.trim();
    if let Some(id) = spdx::license_id(t) {
        // `license_id` ignores a trailing `+`; only an exact spelling is an id.
        if id.name == t {
            return LicenseKind::Id(t.to_string());
        }
    }
    // An expression must not depend on LicenseRefs, which only make sense inside one
    // document that defines them.
    if !t.is_empty() && !t.contains("LicenseRef-") && spdx::Expression::parse_mode(t, MODE).is_ok()
    {
        return LicenseKind::Expression(t.to_string());
    }
    LicenseKind::Text(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_ids_expressions_and_text() {
        assert_eq!(classify("MIT"), LicenseKind::Id("MIT".into()));
        assert_eq!(
            classify("GPL-2.0-only"),
            LicenseKind::Id("GPL-2.0-only".into())
        );
        assert_eq!(
            classify("GPL-2.0+"),
            LicenseKind::Expression("GPL-2.0+".into())
        );
        assert_eq!(
            classify("MIT OR Apache-2.0"),
            LicenseKind::Expression("MIT OR Apache-2.0".into())
        );
        assert_eq!(
            classify("Custom license text"),
            LicenseKind::Text("Custom license text".into())
        );
        // Lowercase is not the SPDX id; it must not be "corrected" silently.
        assert!(matches!(classify("mit"), LicenseKind::Text(_)));
        assert!(matches!(classify("GPLv2"), LicenseKind::Text(_)));
    }
}
