//! Property tests for every scheme: reflexivity, antisymmetry,
//! transitivity, and agreement of `parse` + `Ord` with `compare`, over
//! strings drawn from each scheme's grammar (with its edge cases).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use std::cmp::Ordering;

use bulwark_version::{compare, parse, Scheme};
use proptest::prelude::*;

fn grammar(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::Dpkg => "([0-9]:)?[0-9]{1,3}([.+~][0-9a-zA-Z~]{0,3}){0,3}(-[0-9a-z.+~]{1,4})?",
        Scheme::Rpm => "([0-9]:)?[0-9a-z]{1,3}([._+~^][0-9a-z~^]{0,3}){0,3}(-[0-9a-z._~^]{1,4})?",
        Scheme::Apk => {
            "v?[0-9]{1,3}(\\.0{0,3}[0-9]{1,2}){0,3}[a-c]?(_(alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]{0,2}){0,2}(-r[0-9]{0,2})?"
        }
        Scheme::Pep440 => {
            "([0-9]!)?[0-9]{1,2}(\\.[0-9]{1,2}){0,2}([-_.]?(a|b|rc|c|alpha|pre)[0-9]?)?((\\.post|-|\\.r)[0-9])?(\\.dev[0-9]?)?(\\+[a-z0-9]{1,3}(\\.[a-z0-9]{1,2})?)?"
        }
        Scheme::Npm => "[v=]?[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,3}(-?[0-9a-z-]{1,3}(\\.[0-9a-z]{1,2}){0,2})?(\\+[a-z0-9]{1,3})?",
        Scheme::Cargo | Scheme::Semver => {
            "(0|[1-9][0-9]?)\\.(0|[1-9])\\.(0|[1-9][0-9]?)(-(0|[1-9]|[a-z][a-z0-9-]{0,2})(\\.(0|[1-9][0-9]?|[a-z]{1,2})){0,2})?(\\+[a-z0-9]{1,3})?"
        }
        Scheme::Go => {
            "v(0|[1-9])(\\.(0|[1-9])(\\.(0|[1-9])(-(0|[1-9]|[a-z]{1,3})(\\.(0|[1-9][0-9]{0,13}|[a-z][a-z0-9]{0,2})){0,2})?(\\+incompatible)?)?)?"
        }
        Scheme::Maven => "[0-9]{1,2}([.-]?([0-9]{1,2}|a|b|m|alpha|beta|rc|cr|snapshot|ga|final|sp|foo|x)){0,5}",
        Scheme::RubyGems => "[0-9]{1,2}(\\.([0-9]{1,2}|[a-z]{1,3}[0-9]?)){0,4}(-[a-z0-9]{1,3})?",
        Scheme::NuGet => "[0-9]{1,2}(\\.[0-9]{1,2}){0,3}(-([0-9]{1,2}|[a-zA-Z][a-zA-Z0-9-]{0,2})(\\.([0-9]{1,2}|[a-zA-Z]{1,2})){0,2})?(\\+[a-z0-9]{1,3})?",
        Scheme::Composer => {
            "v?[0-9]{1,2}(\\.[0-9]{1,2}){0,3}([-._]?(alpha|a|beta|b|RC|rc|patch|pl|p|stable)[0-9]{0,2})?(-dev)?|dev-[a-z]{1,3}|[0-9]\\.x-dev"
        }
    }
}

fn check_triple(scheme: Scheme, a: &str, b: &str, c: &str) -> Result<(), TestCaseError> {
    let (Ok(pa), Ok(pb), Ok(pc)) = (parse(scheme, a), parse(scheme, b), parse(scheme, c)) else {
        // The grammars are built to be valid; an error here is a bug.
        return Err(TestCaseError::fail(format!(
            "{scheme}: rejected a grammar-generated version among {a:?} {b:?} {c:?}"
        )));
    };
    let vs = [(&pa, a), (&pb, b), (&pc, c)];
    for (x, xs) in vs {
        prop_assert_eq!(x.cmp(x), Ordering::Equal, "{} reflexive {}", scheme, xs);
        for (y, ys) in vs {
            let xy = x.cmp(y);
            prop_assert_eq!(
                xy,
                y.cmp(x).reverse(),
                "{} antisymmetry {} {}",
                scheme,
                xs,
                ys
            );
            prop_assert_eq!(
                compare(scheme, xs, ys).ok(),
                Some(x.native_cmp(y)),
                "{} compare() {} {}",
                scheme,
                xs,
                ys
            );
            prop_assert_eq!(x == y, xy == Ordering::Equal);
            prop_assert_eq!(
                x.native_cmp(y),
                y.native_cmp(x).reverse(),
                "{} native antisymmetry {} {}",
                scheme,
                xs,
                ys
            );
            if scheme != Scheme::Maven {
                prop_assert_eq!(x.native_cmp(y), xy, "{} native = Ord {} {}", scheme, xs, ys);
            }
            for (z, zs) in vs {
                // `Ord` is total for every scheme, Maven included (Maven's own
                // pairwise answers are `native_cmp`, checked below).
                if xy != Ordering::Greater && y.cmp(z) != Ordering::Greater {
                    prop_assert_ne!(
                        x.cmp(z),
                        Ordering::Greater,
                        "{} transitivity {} {} {}",
                        scheme,
                        xs,
                        ys,
                        zs
                    );
                }
                if xy == Ordering::Less && y.cmp(z) == Ordering::Less {
                    prop_assert_eq!(
                        x.cmp(z),
                        Ordering::Less,
                        "{} strict transitivity {} {} {}",
                        scheme,
                        xs,
                        ys,
                        zs
                    );
                }
            }
        }
    }
    Ok(())
}

macro_rules! scheme_props {
    ($name:ident, $scheme:expr) => {
        proptest! {
            #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]
            #[test]
            fn $name(
                a in grammar($scheme),
                b in grammar($scheme),
                c in grammar($scheme),
                // A mutated copy of `a` makes near-equal pairs common.
                cut in 0usize..8,
            ) {
                let a2: String = a.chars().take(a.chars().count().saturating_sub(cut)).collect();
                let a2 = if parse($scheme, &a2).is_ok() { a2 } else { a.clone() };
                check_triple($scheme, &a, &b, &c)?;
                check_triple($scheme, &a, &a2, &b)?;
            }
        }
    };
}

scheme_props!(dpkg_order_is_total, Scheme::Dpkg);
scheme_props!(rpm_order_is_total, Scheme::Rpm);
scheme_props!(apk_order_is_total, Scheme::Apk);
scheme_props!(pep440_order_is_total, Scheme::Pep440);
scheme_props!(npm_order_is_total, Scheme::Npm);
scheme_props!(cargo_order_is_total, Scheme::Cargo);
scheme_props!(go_order_is_total, Scheme::Go);
scheme_props!(maven_order_is_total, Scheme::Maven);
scheme_props!(rubygems_order_is_total, Scheme::RubyGems);
scheme_props!(nuget_order_is_total, Scheme::NuGet);
scheme_props!(composer_order_is_total, Scheme::Composer);
scheme_props!(semver_order_is_total, Scheme::Semver);

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    /// No input panics any parser, and errors name the right scheme.
    #[test]
    fn arbitrary_input_never_panics(s in "\\PC{0,40}", i in 0usize..12) {
        let scheme = Scheme::ALL[i];
        if let Err(e) = parse(scheme, &s) {
            prop_assert_eq!(e.scheme, scheme);
            prop_assert!(!e.reason.is_empty());
        }
    }

    /// Same with inputs made of version-ish characters.
    #[test]
    fn versionish_input_never_panics(s in "[0-9a-zA-Z.~^+_:!=v -]{0,30}", i in 0usize..12) {
        let scheme = Scheme::ALL[i];
        let _ = parse(scheme, &s);
    }
}

/// Maven's ComparableVersion (maven-artifact 3.x, checked with tests/oracles/MavenOracle.java)
/// orders `6.aa-0-0` < `6alpha` < `6.` but `6.aa-0-0` > `6.`: a string item after `.` sorts
/// below a `-` list item, yet an unknown qualifier (or `sp`) sorts above a release. Matching must
/// agree with Maven, quirks included, so bulwark gives the same three answers.
#[test]
fn maven_is_intransitive_like_maven() {
    let cmp = |a: &str, b: &str| compare(Scheme::Maven, a, b).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cmp("6.aa-0-0", "6alpha"), Ordering::Less);
    assert_eq!(cmp("6alpha", "6."), Ordering::Less);
    assert_eq!(cmp("6.aa-0-0", "6."), Ordering::Greater);
    // And `0sp` < `0.alpha-0` < `0` but `0sp` > `0` (same oracle).
    assert_eq!(cmp("0sp", "0.alpha-0"), Ordering::Less);
    assert_eq!(cmp("0.alpha-0", "0"), Ordering::Less);
    assert_eq!(cmp("0sp", "0"), Ordering::Greater);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]
    /// Sorting never panics and gives a consistent order, for any list of versions
    /// of any scheme (Rust's sort panics on a comparator that is not a total order;
    /// Maven's own comparison is not one).
    #[test]
    fn sorting_any_versions_never_panics(
        vs in proptest::collection::vec("[0-9a-z.-]{0,12}", 0..150),
        i in 0usize..12,
    ) {
        let scheme = Scheme::ALL[i];
        let mut parsed: Vec<_> = vs.iter().filter_map(|s| parse(scheme, s).ok()).collect();
        parsed.sort();
        prop_assert!(parsed.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn sorting_maven_versions_never_panics(
        vs in proptest::collection::vec(grammar(Scheme::Maven), 0..150),
    ) {
        let mut parsed: Vec<_> = vs.iter().filter_map(|s| parse(Scheme::Maven, s).ok()).collect();
        parsed.sort();
        for (i, a) in parsed.iter().enumerate() {
            for b in parsed.iter().skip(i) {
                prop_assert_ne!(a.cmp(b), Ordering::Greater, "{} {}", a, b);
            }
        }
    }
}
