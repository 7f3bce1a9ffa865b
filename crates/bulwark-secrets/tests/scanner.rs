//! Scanner behaviour beyond single rules: allow-lists, redaction, multi-line keys,
//! large files, binary skipping, configuration.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;

use bulwark_secrets::{Scanner, SecretConfig, SecretError, Severity, WINDOW_THRESHOLD};
use common::*;

#[test]
fn documented_example_keys_are_allowed() {
    let scanner = default_scanner();
    let text = "[default]\n\
                aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n\
                aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n";
    let findings = scanner.scan("root/.aws/credentials", text.as_bytes());
    assert!(findings.is_empty(), "{findings:?}");

    // The same file with non-example values is reported twice, on lines 2 and 3.
    let id = format!("AKIAFAKE{}", gen(UPPER_DIGIT, 12, 100));
    let key = gen(B64, 40, 101);
    let text = format!("[default]\naws_access_key_id = {id}\naws_secret_access_key = {key}\n");
    let findings = scanner.scan("root/.aws/credentials", text.as_bytes());
    let got: Vec<(&str, Option<u32>)> = findings
        .iter()
        .map(|f| (f.rule_id.as_str(), f.line))
        .collect();
    assert_eq!(
        got,
        vec![
            ("aws-access-key-id", Some(2)),
            ("aws-secret-access-key", Some(3))
        ]
    );
    assert_eq!(findings[0].severity, Severity::Critical);
    assert_eq!(findings[0].redacted, "aws_access_key_id = *****");
    assert_no_leak(&findings, &id);
    assert_no_leak(&findings, &key);
}

#[test]
fn redaction_masks_every_secret_on_the_line() {
    let scanner = default_scanner();
    let id = format!("AKIAFAKE{}", gen(UPPER_DIGIT, 12, 110));
    let token = format!("ghp_{}", gen(ALNUM, 36, 111));
    // Two secrets of different rules on one line, and the token repeated: the repeat
    // would give an identical finding, which is reported once.
    let text = format!("export AWS_KEY={id} GH={token} GH2={token}\n");
    let findings = scanner.scan("etc/profile.d/env.sh", text.as_bytes());
    assert_eq!(findings.len(), 2, "{findings:?}");
    for f in &findings {
        assert_eq!(f.redacted, "export AWS_KEY=***** GH=***** GH2=*****");
    }
    assert_no_leak(&findings, &id);
    assert_no_leak(&findings, &token);
}

#[test]
fn long_lines_are_cut_around_the_secret() {
    let scanner = default_scanner();
    let token = format!("glpat-{}", gen(URLSAFE, 24, 120));
    let filler = "var a=function(){return 1};".repeat(2000);
    let text = format!("{filler}var t=\"{token}\";{filler}\n");
    let findings = scanner.scan("app/static/bundle.min.js", text.as_bytes());
    assert_eq!(findings.len(), 1);
    let f = &findings[0];
    assert_eq!(f.line, Some(1));
    assert!(f.redacted.len() < 400, "{} bytes", f.redacted.len());
    assert!(f.redacted.contains("var t=\"*****\";"), "{}", f.redacted);
    assert!(f.redacted.starts_with('…') && f.redacted.ends_with('…'));
    assert_no_leak(&findings, &token);
    // Not even a prefix of the secret body may survive.
    assert_no_leak(&findings, &token[6..14]);
}

#[test]
fn multi_line_private_keys_report_the_begin_line() {
    let scanner = default_scanner();
    let body = |seed: u64| -> String {
        (0..6)
            .map(|i| format!("{}\n", gen(B64, 64, seed + i)))
            .collect()
    };
    let openssh = body(200);
    let encrypted = body(210);
    let pgp = body(220);
    let ec = body(230);
    let text = format!(
        "#!/bin/sh\n\
         cat > /root/.ssh/id_ed25519 <<EOF\n\
         -----BEGIN OPENSSH PRIVATE KEY-----\n{openssh}-----END OPENSSH PRIVATE KEY-----\n\
         EOF\n\
         -----BEGIN RSA PRIVATE KEY-----\r\nProc-Type: 4,ENCRYPTED\r\nDEK-Info: AES-128-CBC,{iv}\r\n\r\n{enc}-----END RSA PRIVATE KEY-----\r\n\
         -----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2 (GNU/Linux)\n\n{pgp}={crc}\n-----END PGP PRIVATE KEY BLOCK-----\n\
         key: |\n  -----BEGIN EC PRIVATE KEY-----\n{ec_indented}  -----END EC PRIVATE KEY-----\n\
         -----BEGIN CERTIFICATE-----\n{cert}-----END CERTIFICATE-----\n",
        iv = gen("0123456789ABCDEF", 32, 240),
        enc = encrypted.replace('\n', "\r\n"),
        crc = gen(B64, 4, 241),
        ec_indented = ec.lines().map(|l| format!("  {l}\n")).collect::<String>(),
        cert = body(250),
    );
    let findings = scanner.scan("opt/setup.sh", text.as_bytes());
    let got: Vec<(Option<u32>, &str)> = findings
        .iter()
        .map(|f| (f.line, f.redacted.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (Some(3), "-----BEGIN OPENSSH PRIVATE KEY-----"),
            (Some(12), "-----BEGIN RSA PRIVATE KEY-----"),
            (Some(23), "-----BEGIN PGP PRIVATE KEY BLOCK-----"),
            (Some(35), "  -----BEGIN EC PRIVATE KEY-----"),
        ]
    );
    assert!(findings.iter().all(|f| f.rule_id == "private-key"));
    for body in [&openssh, &encrypted, &pgp, &ec] {
        for line in body.lines() {
            assert_no_leak(&findings, line);
        }
    }
}

#[test]
fn private_key_in_a_json_string_is_found_and_masked() {
    let scanner = default_scanner();
    let body: String = (0..4)
        .map(|i| format!("{}\\n", gen(B64, 64, 300 + i)))
        .collect();
    let key_id = gen(HEX, 40, 310);
    let text = format!(
        "{{\n  \"type\": \"service_account\",\n  \"private_key_id\": \"{key_id}\",\n  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\n{body}-----END PRIVATE KEY-----\\n\",\n  \"client_email\": \"fake@fake-project.iam.gserviceaccount.invalid\"\n}}\n"
    );
    let findings = scanner.scan("app/sa.json", text.as_bytes());
    let got: Vec<(&str, Option<u32>)> = findings
        .iter()
        .map(|f| (f.rule_id.as_str(), f.line))
        .collect();
    assert_eq!(
        got,
        vec![
            ("gcp-service-account-key", Some(3)),
            ("private-key", Some(4))
        ]
    );
    assert_eq!(
        findings[1].redacted,
        "  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\n*****-----END PRIVATE KEY-----\\n\","
    );
    assert_no_leak(&findings, &key_id);
    assert_no_leak(&findings, &body[..64]);
}

#[test]
fn five_megabyte_file_with_one_secret_at_the_end() {
    let scanner = default_scanner();
    let mut text = String::new();
    let mut lines = 0u32;
    while text.len() < 5 * 1024 * 1024 {
        // Realistic noise, including keyword hits that must not produce findings.
        text.push_str(&format!(
            "2024-05-01T12:00:{:02}Z INFO request id={} path=/api/v1/items token=<redacted> user=alice status=200\n",
            lines % 60,
            lines
        ));
        lines += 1;
    }
    let token = format!(
        "xoxb-{}-{}-{}",
        gen(DIGITS, 12, 400),
        gen(DIGITS, 13, 401),
        gen(ALNUM, 24, 402)
    );
    text.push_str(&format!("SLACK_TOKEN={token}\n"));
    assert!(text.len() > WINDOW_THRESHOLD);
    let findings = scanner.scan("var/log/app.log", text.as_bytes());
    assert_eq!(
        findings.len(),
        1,
        "{:?}",
        &findings[..findings.len().min(3)]
    );
    assert_eq!(findings[0].rule_id, "slack-token");
    assert_eq!(findings[0].line, Some(lines + 1));
    assert_eq!(findings[0].redacted, "SLACK_TOKEN=*****");
}

#[test]
fn windowed_and_whole_file_scans_agree() {
    let scanner = default_scanner();
    let pem: String = (0..40)
        .map(|i| format!("{}\n", gen(B64, 64, 500 + i)))
        .collect();
    let small = format!(
        "a\npassword: {}\n-----BEGIN PRIVATE KEY-----\n{pem}-----END PRIVATE KEY-----\nurl=mysql://root:{}@db/x\n",
        gen(ALNUM, 20, 510),
        gen(ALNUM, 12, 511)
    );
    let whole = scanner.scan("x.txt", small.as_bytes());
    assert_eq!(whole.len(), 3, "{whole:?}");
    // Push the same content past the window threshold with keyword-free padding.
    let pad_lines = WINDOW_THRESHOLD / 10 + 1;
    let big = format!("{}{small}", "lorem ip\n".repeat(pad_lines));
    let windowed = scanner.scan("x.txt", big.as_bytes());
    assert_eq!(windowed.len(), whole.len());
    for (w, s) in windowed.iter().zip(&whole) {
        assert_eq!(w.rule_id, s.rule_id);
        assert_eq!(w.redacted, s.redacted);
        assert_eq!(w.line.map(|l| l - pad_lines as u32), s.line);
    }
}

#[test]
fn binary_and_noise_files_are_skipped() {
    let scanner = default_scanner();
    let token = format!("ghp_{}", gen(ALNUM, 36, 600));
    let mut binary = b"\x7fELF\x02\x01\x01\0\0\0".to_vec();
    binary.extend_from_slice(format!("\n{token}\n").as_bytes());
    assert!(scanner.scan("usr/bin/tool", &binary).is_empty());
    // The same bytes without the NUL are text and reported.
    let text: Vec<u8> = binary.iter().copied().filter(|&b| b != 0).collect();
    assert_eq!(scanner.scan("usr/bin/tool", &text).len(), 1);

    for (path, size, reason) in [
        (
            "/usr/lib/x86_64-linux-gnu/libssl.so.3",
            10,
            Some("binary extension"),
        ),
        ("usr/lib/libz.so", 10, Some("binary extension")),
        ("/app/static/logo.PNG", 10, Some("binary extension")),
        (
            "/usr/lib/python3.12/__pycache__/os.cpython-312.pyc",
            10,
            Some("binary extension"),
        ),
        ("/usr/share/doc/openssl/README", 10, Some("noise path")),
        (
            "/app/node_modules/jsonwebtoken/README.md",
            10,
            Some("dependency documentation"),
        ),
        (
            "/usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA",
            10,
            Some("dependency documentation"),
        ),
        (
            "/usr/lib/python3/dist-packages/paramiko/tests/test_rsa.key",
            10,
            Some("allowed path"),
        ),
        (
            "/usr/local/go/src/crypto/tls/testdata/example-key.pem",
            10,
            Some("allowed path"),
        ),
        ("/app/big.txt", 11 * 1024 * 1024, Some("too large")),
        ("/app/.env", 100, None),
        ("/root/.ssh/id_rsa", 100, None),
        ("/app/tests/conftest.py", 100, None),
        ("/app/node_modules/pkg/index.js", 100, None),
        ("/usr/lib/libfoo.so.conf", 100, None),
    ] {
        assert_eq!(scanner.skip_reason(path, size), reason, "{path}");
        assert_eq!(scanner.wants(path, size), reason.is_none(), "{path}");
    }
}

#[test]
fn default_allow_paths_can_be_turned_off() {
    let token = format!("ghp_{}", gen(ALNUM, 36, 610));
    let path = "usr/lib/python3/site-packages/lib/tests/data.txt";
    assert!(default_scanner().scan(path, token.as_bytes()).is_empty());
    let config = SecretConfig {
        disable_default_allow_paths: true,
        ..SecretConfig::default()
    };
    let scanner = Scanner::new(&config).expect("scanner");
    assert!(scanner.wants(path, 10));
    assert_eq!(scanner.scan(path, token.as_bytes()).len(), 1);
}

#[test]
fn max_file_size_is_configurable() {
    let config = SecretConfig::from_yaml_str("max-file-size: 100\n", "t").expect("config");
    let scanner = Scanner::new(&config).expect("scanner");
    assert!(!scanner.wants("app/a.txt", 101));
    assert!(scanner.wants("app/a.txt", 100));
    let token = format!("ghp_{}", gen(ALNUM, 36, 620));
    let text = format!("{}\n{token}\n", "#".repeat(100));
    assert!(scanner.scan("app/a.txt", text.as_bytes()).is_empty());
}

#[test]
fn custom_rule_from_config_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bulwark-secret.yaml");
    std::fs::write(
        &path,
        r#"
rules:
  - id: acme-api-token
    category: ACME
    title: ACME API token
    severity: critical
    regex: '(?i)acme_key\s*=\s*(?P<tok>acme_[a-z0-9]{32})'
    keywords: [acme_key]
    secret-group-name: tok
    path: '\.(env|conf)$'
    allow-regexes: ['^acme_0+$']
allow-regexes: ['FAKEALLOWED']
"#,
    )
    .expect("write config");
    let config = SecretConfig::load(&path).expect("config loads");
    let scanner = Scanner::new(&config).expect("scanner");
    let token = format!(
        "acme_{}",
        gen("abcdefghijklmnopqrstuvwxyz0123456789", 32, 700)
    );
    let text = format!(
        "x=1\nACME_KEY = {token}\nacme_key = acme_{}\n",
        "0".repeat(32)
    );
    let findings = scanner.scan("srv/app.env", text.as_bytes());
    assert_eq!(findings.len(), 1, "{findings:?}");
    let f = &findings[0];
    assert_eq!(
        (
            f.rule_id.as_str(),
            f.category.as_str(),
            f.title.as_str(),
            f.severity,
            f.line
        ),
        (
            "acme-api-token",
            "ACME",
            "ACME API token",
            Severity::Critical,
            Some(2)
        )
    );
    // Only the named group is masked.
    assert_eq!(f.redacted, "ACME_KEY = *****");
    // The rule's path filter excludes other files.
    assert!(scanner.scan("srv/app.txt", text.as_bytes()).is_empty());

    // Global allow regexes apply to built-in rules too.
    let allowed = format!("t=ghp_FAKEALLOWED{}\n", gen(ALNUM, 25, 701));
    assert!(scanner.scan("a.env", allowed.as_bytes()).is_empty());
}

#[test]
fn disabled_rules_are_not_run() {
    let jwt = format!(
        "{}.{}.{}",
        "eyJhbGciOiJIUzI1NiJ9",
        "eyJzdWIiOiJmYWtlIn0",
        gen(URLSAFE, 43, 800)
    );
    let text = format!("Authorization: Bearer {jwt}\n");
    assert_eq!(default_scanner().scan("a.txt", text.as_bytes()).len(), 1);
    let config = SecretConfig::from_yaml_str("disable-rules: [jwt]\n", "t").expect("config");
    let scanner = Scanner::new(&config).expect("scanner");
    assert!(scanner.rule_ids().all(|id| id != "jwt"));
    assert!(scanner.scan("a.txt", text.as_bytes()).is_empty());
}

#[test]
fn config_errors_say_what_and_where() {
    let err = SecretConfig::from_yaml_str("disabled-rules: [jwt]\n", "cfg.yaml").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("cfg.yaml") && msg.contains("disabled-rules"),
        "{msg}"
    );

    let err = SecretConfig::from_yaml_str(
        "rules:\n  - id: r\n    category: c\n    title: t\n    severity: SEVERE\n    regex: x\n",
        "cfg.yaml",
    )
    .unwrap_err();
    assert!(err.to_string().contains("unknown severity"), "{err}");

    let config = SecretConfig::from_yaml_str(
        "rules:\n  - id: broken\n    category: c\n    title: t\n    severity: LOW\n    regex: '(unclosed'\n",
        "cfg.yaml",
    )
    .expect("parses");
    match Scanner::new(&config) {
        Err(SecretError::Regex { rule, what, .. }) => {
            assert_eq!((rule.as_str(), what), ("broken", "match"))
        }
        other => panic!("expected a regex error, got {other:?}"),
    }

    let config =
        SecretConfig::from_yaml_str("disable-rules: [no-such-rule]\n", "t").expect("parses");
    assert!(
        matches!(Scanner::new(&config), Err(SecretError::Rule { rule, .. }) if rule == "no-such-rule")
    );

    let config = SecretConfig::from_yaml_str(
        "rules:\n  - id: jwt\n    category: c\n    title: t\n    severity: LOW\n    regex: x\n    keywords: [x]\n",
        "t",
    )
    .expect("parses");
    assert!(matches!(Scanner::new(&config), Err(SecretError::Rule { rule, .. }) if rule == "jwt"));

    let config = SecretConfig::from_yaml_str(
        "rules:\n  - id: g\n    category: c\n    title: t\n    severity: LOW\n    regex: 'a(b)'\n    secret-group: nope\n",
        "t",
    )
    .expect("parses");
    assert!(matches!(Scanner::new(&config), Err(SecretError::Rule { rule, .. }) if rule == "g"));

    // An oversized regex is rejected by the size limit, not compiled for minutes.
    let config = SecretConfig::from_yaml_str(
        "rules:\n  - id: huge\n    category: c\n    title: t\n    severity: LOW\n    regex: '(?u)(?:\\w{100}){100}'\n",
        "t",
    )
    .expect("parses");
    assert!(Scanner::new(&config).is_err());
}

#[test]
fn non_utf8_and_crlf_content() {
    let scanner = default_scanner();
    let token = format!("npm_{}", gen(ALNUM, 36, 900));
    let mut data = b"\xff\xfe\xc3 latin-1 caf\xe9\r\n".to_vec();
    data.extend_from_slice(format!("NPM_TOKEN=\u{e9}{token}\r\n").as_bytes());
    data.extend_from_slice(b"\xe9\xe9\r\n");
    // \u{e9} followed by the token: `\b` needs a non-word byte before `npm_`; é is
    // non-ASCII so it is a boundary.
    let findings = scanner.scan("app/.npmrc", &data);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].line, Some(2));
    assert_eq!(findings[0].redacted, "NPM_TOKEN=\u{e9}*****");
    assert_no_leak(&findings, &token);
}

#[test]
fn generic_rule_ignores_code_and_placeholders() {
    let scanner = default_scanner();
    let text = "password = os.environ.get(\"DB_PASSWORD\")\n\
                token = self.token\n\
                PWD=$(pwd)\n\
                secret: \"{{ .Values.secret }}\"\n\
                api_key = \"<your-api-key>\"\n\
                password: xxxxxxxxxxxx\n\
                tokenizer = AutoTokenizer.from_pretrained(name)\n\
                SECRET_NAME=production_database\n";
    let findings = scanner.scan("app/settings.py", text.as_bytes());
    assert!(findings.is_empty(), "{findings:?}");

    let pw = gen(ALNUM, 14, 950);
    let text = format!("DB_PASSWORD={pw}\n");
    let findings = scanner.scan("app/.env", text.as_bytes());
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].rule_id, "generic-secret");
    assert_eq!(findings[0].redacted, "DB_PASSWORD=*****");
}

#[test]
fn database_urls_of_several_schemes() {
    let scanner = default_scanner();
    let pw = gen(ALNUM, 12, 960);
    for url in [
        format!("mysql://root:{pw}@127.0.0.1:3306/db"),
        format!("mongodb+srv://admin:{pw}@cluster0.mongodb.invalid/test"),
        format!("redis://:{pw}@cache:6379/0"),
        format!("jdbc:postgresql://svc:{pw}@pg/app"),
    ] {
        let findings = scanner.scan("app/config.yml", format!("url: {url}\n").as_bytes());
        assert_eq!(findings.len(), 1, "{url}");
        assert_eq!(findings[0].rule_id, "database-url-password");
        assert!(
            findings[0].redacted.contains(":*****@"),
            "{}",
            findings[0].redacted
        );
        assert_no_leak(&findings, &pw);
    }
    // No password, or a template.
    for url in [
        "postgres://app@db/app",
        "mysql://user:${MYSQL_PASSWORD}@db/x",
        "redis://cache:6379",
    ] {
        assert!(scanner.scan("a.yml", url.as_bytes()).is_empty(), "{url}");
    }
}

#[test]
fn scanner_debug_and_findings_cap() {
    let scanner = default_scanner();
    let dbg = format!("{scanner:?}");
    assert!(dbg.starts_with("Scanner") && dbg.contains("rules"));
    // 1500 distinct tokens: output is capped.
    let text: String = (0..1500)
        .map(|i| format!("ghp_{}\n", gen(ALNUM, 36, 10_000 + i)))
        .collect();
    assert_eq!(
        scanner.scan("a.txt", text.as_bytes()).len(),
        bulwark_secrets::MAX_FINDINGS_PER_FILE
    );
}

#[test]
fn fuzz_entry_points_survive_arbitrary_input() {
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for seed in 0..200u64 {
        let mut state = seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1;
        let len = (seed as usize * 37) % 3000;
        let mut v = Vec::with_capacity(len);
        for _ in 0..len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            v.push((state & 0xff) as u8);
        }
        inputs.push(v);
    }
    // Truncated and spliced fragments of real shapes.
    for frag in [
        "-----BEGIN RSA PRIVATE KEY-----\n",
        "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END",
        "password=",
        "postgres://a:@",
        "\"auth\":\"",
        "eyJ.eyJ.",
        "rules:\n  - id: [",
        "rules:\n  - {id: a, category: b, title: c, severity: LOW, regex: '(?P<secret>a*)*'}",
    ] {
        inputs.push(frag.as_bytes().to_vec());
    }
    for input in &inputs {
        bulwark_secrets::fuzz_scan(input);
        bulwark_secrets::fuzz_config(input);
    }
}

/// The two library lines that `generic-secret` reported on the test app image (issue
/// 11): an indexed expression in node-semver's `semver.js` and a doctest prompt in
/// Django's `django/template/base.py`. Code, not secrets. Real literals on the same
/// kinds of lines (quoted, or a config value) are still found.
#[test]
fn generic_rule_ignores_indexing_and_doctest_prompts() {
    let scanner = default_scanner();
    // The values alone pass the value checks: only their context makes them code.
    assert!(bulwark_secrets::checks::generic_value_is_secret(
        b"safeRegexReplacements"
    ));
    assert!(bulwark_secrets::checks::generic_value_is_secret(
        b"variable|default:"
    ));
    let semver = "function makeSafeRe (value) {\n  for (var i = 0; i < safeRegexReplacements.length; i++) {\n    var token = safeRegexReplacements[i][0]\n    var max = safeRegexReplacements[i][1]\n";
    let f = scanner.scan(
        "usr/lib/node_modules/npm/node_modules/semver/semver.js",
        semver.as_bytes(),
    );
    assert!(f.is_empty(), "{f:?}");
    let django = "    Sample::\n\n        >>> token = 'variable|default:\"Default value\"|date:\"Y-m-d\"'\n        >>> p = Parser('')\n        >>> fe = FilterExpression(token, p)\n";
    let f = scanner.scan(
        "usr/lib/python3/dist-packages/django/template/base.py",
        django.as_bytes(),
    );
    assert!(f.is_empty(), "{f:?}");
    // Other expressions: a call, an indexed member.
    let calls = "const apiKey = deriveApiKey(seedValue)\nsecret = lookupTable[keyIndex2]\n";
    let f = scanner.scan("app/lib.js", calls.as_bytes());
    assert!(f.is_empty(), "{f:?}");

    // Positives next to them: a quoted literal on a JS declaration, a literal in
    // Python source, and a literal followed by an index-looking comment are secrets.
    let v1 = gen(ALNUM, 20, 4242);
    let v2 = gen(ALNUM, 18, 4343);
    let v3 = gen(ALNUM, 16, 4444);
    let text =
        format!("    var token = '{v1}'\ntoken = \"{v2}\"  # not >>> a prompt\nAPI_KEY={v3}\n");
    let f = scanner.scan("app/config.js", text.as_bytes());
    let lines: Vec<Option<u32>> = f.iter().map(|x| x.line).collect();
    assert_eq!(lines, [Some(1), Some(2), Some(3)], "{f:?}");
    assert!(f.iter().all(|x| x.rule_id == "generic-secret"));
    for v in [&v1, &v2, &v3] {
        assert!(f.iter().all(|x| !x.redacted.contains(v.as_str())));
    }
}
