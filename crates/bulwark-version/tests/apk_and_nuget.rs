//! Schemes with no native implementation runnable here.
//!
//! apk: pairs chosen from the orderings exercised by apk-tools'
//! `test/version.data` (rewritten as a table here), plus apk-tools 2.x's rules
//! on leading zeros, a bare `-r`, a leading `v` and large numbers.
//! NuGet: cases from the NuGet "Package versioning" documentation and the
//! semantics of `VersionComparer.Default`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use std::cmp::Ordering::{self, Equal, Greater, Less};

use bulwark_version::{compare, Scheme};

fn check(scheme: Scheme, cases: &[(&str, Ordering, &str)]) {
    let mut bad = Vec::new();
    for &(a, want, b) in cases {
        match compare(scheme, a, b) {
            Ok(got) if got == want => {}
            other => bad.push(format!("{a} vs {b}: want {want:?}, got {other:?}")),
        }
        match compare(scheme, b, a) {
            Ok(got) if got == want.reverse() => {}
            other => bad.push(format!(
                "{b} vs {a}: want {:?}, got {other:?}",
                want.reverse()
            )),
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn apk_orderings_from_apk_tools_test_data() {
    check(
        Scheme::Apk,
        &[
            ("2.34", Greater, "0.1.0_alpha"),
            ("0.1.0_alpha", Equal, "0.1.0_alpha"),
            ("0.1.0_alpha", Less, "0.1.3_alpha"),
            ("0.1.0_alpha2", Greater, "0.1.0_alpha"),
            ("0.1.0_alpha", Less, "2.2.39-r1"),
            ("1.0.4-r3", Less, "1.0.4-r4"),
            ("1.1", Greater, "1.1_alpha1"),
            ("1.2.1", Greater, "1.2"),
            ("1.2", Less, "1.3_alpha"),
            ("1.3_alpha2", Less, "1.3_alpha3"),
            ("0.8_beta1", Less, "0.8_beta2"),
            ("2.3.0b-r1", Less, "2.3.0b-r2"),
            ("3.10.18-r1", Greater, "2.3.0b-r1"),
            ("0.12.3", Greater, "0.12"),
            ("0.12", Less, "0.13_beta1"),
            ("1.2.12.1", Less, "1.2.13"),
            ("3.1_p16", Less, "3.1_p17"),
            ("3.1_p17", Greater, "1.06-r6"),
            ("1.06-r6", Less, "006"),
            ("006", Greater, "1.0.0"),
            ("1.2.2-r1", Greater, "1.2.2"),
            ("9.3.4-r2", Greater, "9.3.4"),
            ("3.9.8-r5", Greater, "2.01.01_alpha10"),
            ("1.0", Greater, "0.99.3.20040818"),
            ("1.39", Greater, "1.00_beta2"),
            ("7.15.1-r1", Greater, "1.02"),
            ("1.02", Less, "1.03-r1"),
            ("4.2.52_p2-r1", Less, "4.2.52_p4-r2"),
            ("4.2.52_p4-r2", Greater, "1.02.07"),
            ("1.02.07", Less, "1.02.10-r1"),
            ("2.18.3-r10", Greater, "1.05-r18"),
            ("2.11-r1", Greater, "2.11"),
            ("20060720", Greater, "3.0.20060720"),
            ("3.0.20060720", Less, "20060720"),
            ("2.5.1-r8", Less, "2.5.1a-r1"),
            ("1.3.5-r10", Greater, "1.3.5-r8"),
            ("20040401", Greater, "2.0.0_rc3-r1"),
            ("3.0.0-r2", Less, "021109-r3"),
            ("021109-r3", Less, "20060512"),
            ("0.9.16-r1", Less, "3.9_pre20060124"),
            ("0.01", Less, "0.06"),
            ("1.1.7", Less, "6b-r7"),
            ("0.10.0-r1", Greater, "0.10.0"),
            ("0.10.0", Less, "0.10.1_rc1"),
            ("1.1a", Less, "1.3a"),
            ("1.0-r1", Greater, "0.15.1b"),
            ("0.15.1b-r2", Greater, "0.15.1b"),
            ("22.7-r1", Less, "22.7.3-r1"),
            ("22.7.3-r1", Greater, "22.7"),
            ("2.1_pre20", Less, "2.1_pre26"),
            ("2.10.1", Greater, "02.08.01b"),
            ("1.6d", Greater, "1.2.07.8"),
            ("1.2.07.8", Less, "1.2.12.04"),
            ("1.2.12.04", Less, "1.2.12.05"),
            ("1.07-r1", Less, "1.07.5"),
            ("0.1_pre20060810", Less, "0.1_pre20060817"),
            ("0.59s-r11", Less, "0.65"),
            ("4.01", Less, "4.20"),
            ("4.20", Greater, "0.20070118"),
            ("0.20070118", Less, "0.20070207_rc1"),
            ("4.5_p1-r1", Greater, "4.5_p1"),
            ("0.9.8c-r1", Less, "0.9.8d"),
            ("013", Less, "014-r1"),
            ("1.7", Less, "1.7b"),
            ("1.8.5", Less, "1.8.5_p2"),
            ("2.9.11_pre20051101-r3", Greater, "2.9.11_pre20051101"),
            ("1.6.8_p12-r1", Greater, "1.6.8_p9-r2"),
            ("0.9.28.1", Less, "087-r1"),
            ("104-r11", Greater, "104-r9"),
            ("20040406-r1", Greater, "2.12r-r4"),
            ("7.0.17", Less, "7.0.174"),
            ("1.3-r0", Less, "1.3.1-r0"),
            ("1.3_pre1-r1", Less, "1.3.2"),
            ("1.0_p10-r0", Greater, "1.0_p9-r0"),
            ("0.1.0_alpha_pre2", Less, "0.1.0_alpha"),
            (
                "1.0.0_pre20191002222144-r0",
                Less,
                "1.0.0_pre20210530193627-r0",
            ),
        ],
    );
}

#[test]
fn apk_tools_2_rules() {
    check(
        Scheme::Apk,
        &[
            // A number after a dot that starts with 0 is two tokens: minus the zeros
            // before the last leading zero, then the rest as a number (apk-tools 2.x;
            // apk-tools 3 compares such tokens as strings and answers 8.2.0015 < 8.2.002).
            ("8.2.0015", Greater, "8.2.002"),
            ("8.2.0015", Less, "8.2.015"),
            ("8.2.002", Less, "8.2.02"),
            ("1.01", Less, "1.1"),
            ("1.010", Greater, "1.01"),
            ("1.0", Greater, "1.00"),
            ("1.09", Less, "1.1"),
            ("1.05", Less, "1.5"),
            // ...but not in the first number.
            ("01.0", Equal, "1.0"),
            // A trailing `-r` without a number is revision 0.
            ("1.0-r", Equal, "1.0-r0"),
            ("1.0-r", Greater, "1.0"),
            ("1.0-r", Less, "1.0-r1"),
            // A leading `v` is a first number of 0 followed by a letter.
            ("v1.0", Less, "1.0"),
            ("v1.0", Equal, "0v1.0"),
            ("v2.0", Greater, "v1.9"),
            ("v1.0", Less, "0.9"),
            // Numbers up to 17 digits.
            ("1.0_git20240101123456", Less, "1.0_git20240101123457"),
            ("99999999999999999", Greater, "99999999999999998"),
            // Suffix ranks.
            ("1_alpha", Less, "1_beta"),
            ("1_beta", Less, "1_pre"),
            ("1_pre", Less, "1_rc"),
            ("1_rc", Less, "1"),
            ("1", Less, "1_cvs"),
            ("1_cvs", Less, "1_svn"),
            ("1_svn", Less, "1_git"),
            ("1_git", Less, "1_hg"),
            ("1_hg", Less, "1_p"),
            ("1_p", Less, "1.0"),
        ],
    );
    for bad in [
        "23_foo",
        "1.0bc",
        "999999999999999999",
        "1.0-rc1",
        "1.0~abc",
        "1.0 ",
    ] {
        assert!(compare(Scheme::Apk, bad, "1").is_err(), "{bad}");
    }
}

#[test]
fn apk_compare_any_answers_like_apk_version_t() {
    use bulwark_version::apk::compare_any;
    // `apk version -t` (2.x) compares invalid versions too, up to the first bad token
    // (pairs from apk-tools' test/version.data).
    assert_eq!(compare_any("23_foo", "4_beta"), Greater);
    assert_eq!(compare_any("1.0", "1.0bc"), Less);
    assert_eq!(compare_any("1.0bc", "1.0"), Greater);
}

#[test]
fn nuget_documented_orderings() {
    check(
        Scheme::NuGet,
        &[
            ("1.0", Equal, "1.0.0"),
            ("1.0.0", Equal, "1.0.0.0"),
            ("1.0.0.1", Greater, "1.0.0"),
            ("1.0.01", Equal, "1.0.1"),
            ("1.0.0-alpha", Less, "1.0.0"),
            ("1.0.0-alpha", Less, "1.0.0-alpha.1"),
            ("1.0.0-alpha.1", Less, "1.0.0-alpha.beta"),
            ("1.0.0-alpha.beta", Less, "1.0.0-beta"),
            ("1.0.0-beta", Less, "1.0.0-beta.2"),
            ("1.0.0-beta.2", Less, "1.0.0-beta.11"),
            ("1.0.0-beta.11", Less, "1.0.0-rc.1"),
            ("1.0.0-rc.1", Less, "1.0.0"),
            ("1.0.0-RC.1", Equal, "1.0.0-rc.1"),
            ("1.0.0-Beta", Equal, "1.0.0-beta"),
            ("1.0.0-a", Less, "1.0.0-B"),
            ("1.0.0+build", Equal, "1.0.0"),
            ("1.0.0-pre+a", Equal, "1.0.0-pre+b"),
            ("1.0.0-01", Equal, "1.0.0-1"),
            ("1.0.0-2147483648", Greater, "1.0.0-9"),
            ("2147483647.0", Greater, "1.0.0.2147483647"),
            ("1.0.0.0-alpha", Less, "1.0.0.1-alpha"),
        ],
    );
}
