//! One positive and one negative sample per built-in rule. Positive samples must be
//! reported by exactly that rule, on the right line, with the secret redacted; negative
//! samples (wrong length, wrong prefix, placeholder, failed validation) must not be
//! reported by that rule.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;

use base64::Engine as _;
use common::*;

struct Case {
    rule: &'static str,
    /// File text holding one secret.
    positive: String,
    /// The secret inside `positive`.
    secret: String,
    /// 1-based line of the finding.
    line: u32,
    /// Text that must not trigger `rule`.
    negative: String,
}

fn case(rule: &'static str, prefix: &str, secret: String, suffix: &str, negative: String) -> Case {
    Case {
        rule,
        positive: format!("# config\n{prefix}{secret}{suffix}\n"),
        secret,
        line: 2,
        negative,
    }
}

fn b64url(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn pem_body(seed: u64, lines: usize) -> String {
    (0..lines)
        .map(|i| format!("{}\n", gen(B64, 64, seed + i as u64)))
        .collect()
}

fn cases() -> Vec<Case> {
    let jwt_header = b64url(r#"{"alg":"HS256","typ":"JWT"}"#);
    let jwt_payload = b64url(r#"{"sub":"fake-user","iat":1}"#);
    let pem = pem_body(77, 4);
    vec![
        case(
            "aws-access-key-id",
            "aws_access_key_id = ",
            format!("AKIAFAKE{}", gen(UPPER_DIGIT, 12, 1)),
            "",
            format!("id = AKIAFAKE{}", gen(UPPER_DIGIT, 7, 1)),
        ),
        case(
            "aws-secret-access-key",
            "aws_secret_access_key = ",
            gen(B64, 40, 2),
            "",
            format!("aws_secret_access_key = {}", gen(B64, 39, 2)),
        ),
        case(
            "gcp-service-account-key",
            r#"  "private_key_id": ""#,
            gen(HEX, 40, 3),
            r#"","#,
            format!(r#""private_key_id": "{}","#, gen(HEX, 39, 3)),
        ),
        case(
            "gcp-api-key",
            "GOOGLE_MAPS_KEY: ",
            format!("AIza{}", gen(URLSAFE, 35, 4)),
            "",
            format!("k: AIza{} more", gen(URLSAFE, 30, 4)),
        ),
        case(
            "google-oauth-client-secret",
            "client_secret: ",
            format!("GOCSPX-{}", gen(URLSAFE, 28, 5)),
            "",
            format!("client_secret: GOCSPX-{} x", gen(URLSAFE, 20, 5)),
        ),
        case(
            "azure-storage-account-key",
            "DefaultEndpointsProtocol=https;AccountName=fakeacct;AccountKey=",
            format!("{}==", gen(B64, 86, 6)),
            ";EndpointSuffix=core.windows.net",
            format!("AccountKey={}==", gen(B64, 40, 6)),
        ),
        case(
            "azure-client-secret",
            "AZURE_CLIENT_SECRET=",
            format!("{}8Q~{}", gen(ALNUM, 3, 7), gen(ALNUM, 34, 7)),
            "",
            format!("AZURE_CLIENT_SECRET={}8Q~short", gen(ALNUM, 3, 7)),
        ),
        case(
            "github-pat",
            "GITHUB_TOKEN=",
            format!("ghp_{}", gen(ALNUM, 36, 8)),
            "",
            format!("GITHUB_TOKEN=ghp_{}", gen(ALNUM, 35, 8)),
        ),
        case(
            "github-fine-grained-pat",
            "token: ",
            format!("github_pat_{}", gen(URLSAFE.trim_end_matches('-'), 82, 9)),
            "",
            format!("token: github_pat_{}", gen(ALNUM, 40, 9)),
        ),
        case(
            "github-oauth-token",
            "oauth=",
            format!("gho_{}", gen(ALNUM, 36, 10)),
            "",
            format!("oauth=gho_{}", gen(ALNUM, 37, 10)),
        ),
        case(
            "github-user-to-server-token",
            "t=",
            format!("ghu_{}", gen(ALNUM, 36, 11)),
            "",
            format!("t=ghu_{}", gen(ALNUM, 12, 11)),
        ),
        case(
            "github-server-to-server-token",
            "t=",
            format!("ghs_{}", gen(ALNUM, 36, 12)),
            "",
            format!("t=ghs-{}", gen(ALNUM, 36, 12)),
        ),
        case(
            "github-refresh-token",
            "refresh: ",
            format!("ghr_{}", gen(ALNUM, 76, 13)),
            "",
            format!("refresh: ghr_{}", gen(ALNUM, 20, 13)),
        ),
        case(
            "gitlab-pat",
            "GITLAB_TOKEN=",
            format!("glpat-{}", gen(URLSAFE, 20, 14)),
            "",
            format!("GITLAB_TOKEN=glpat-{}", gen(ALNUM, 10, 14)),
        ),
        case(
            "gitlab-pipeline-trigger-token",
            "trigger=",
            format!("glptt-{}", gen(HEX, 40, 15)),
            "",
            format!("trigger=glptt-{}", gen(HEX, 39, 15)),
        ),
        case(
            "gitlab-runner-token",
            "token = \"",
            format!("glrt-{}", gen(URLSAFE, 24, 16)),
            "\"",
            format!("token = \"glrt-{}\"", gen(ALNUM, 8, 16)),
        ),
        case(
            "gitlab-runner-registration-token",
            "registration-token: ",
            format!("GR1348941{}", gen(URLSAFE, 20, 17)),
            "",
            format!("registration-token: GR1348941{}", gen(ALNUM, 10, 17)),
        ),
        case(
            "gitlab-deploy-token",
            "deploy: ",
            format!("gldt-{}", gen(URLSAFE, 20, 18)),
            "",
            format!("deploy: gldt-{}", gen(ALNUM, 12, 18)),
        ),
        case(
            "slack-token",
            "SLACK_BOT_TOKEN=",
            format!(
                "xoxb-{}-{}-{}",
                gen(DIGITS, 12, 19),
                gen(DIGITS, 13, 20),
                gen(ALNUM, 24, 21)
            ),
            "",
            "SLACK_BOT_TOKEN=xoxb-notatoken".to_string(),
        ),
        case(
            "slack-app-token",
            "SLACK_APP_TOKEN=",
            format!(
                "xapp-1-A{}-{}-{}",
                gen(UPPER_DIGIT, 10, 22),
                gen(DIGITS, 13, 23),
                gen(HEX, 64, 24)
            ),
            "",
            "SLACK_APP_TOKEN=xapp-1-short".to_string(),
        ),
        case(
            "slack-webhook-url",
            "url: https://hooks.slack.com/services/",
            format!(
                "T{}/B{}/{}",
                gen(UPPER_DIGIT, 8, 25),
                gen(UPPER_DIGIT, 8, 26),
                gen(ALNUM, 24, 27)
            ),
            "",
            "url: https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
                .to_string(),
        ),
        case(
            "stripe-secret-key",
            "STRIPE_KEY=",
            format!("sk_live_{}", gen(ALNUM, 24, 28)),
            "",
            format!("STRIPE_KEY=sk_test_{}", gen(ALNUM, 24, 28)),
        ),
        case(
            "twilio-api-key",
            "TWILIO_API_KEY=",
            format!("SK{}", gen(HEX, 32, 29)),
            "",
            // Same shape, but the line does not mention Twilio.
            format!("API_KEY_ID=SK{}", gen(HEX, 32, 29)),
        ),
        case(
            "sendgrid-api-key",
            "SENDGRID_API_KEY=",
            format!("SG.{}.{}", gen(URLSAFE, 22, 30), gen(URLSAFE, 43, 31)),
            "",
            "msg.send(payload.body)".to_string(),
        ),
        case(
            "npm-access-token",
            "NPM_TOKEN=",
            format!("npm_{}", gen(ALNUM, 36, 32)),
            "",
            format!("NPM_TOKEN=npm_{}", gen(ALNUM, 20, 32)),
        ),
        case(
            "npmrc-auth",
            "//registry.npmjs.org/:_authToken=",
            gen(ALNUM, 40, 33),
            "",
            "//registry.npmjs.org/:_authToken=${NPM_TOKEN}".to_string(),
        ),
        case(
            "pypi-upload-token",
            "password = ",
            format!("pypi-AgEIcHlwaS5vcmc{}", gen(URLSAFE, 60, 34)),
            "",
            format!("password = pypi-AgEIcHlwaS5vcmc{}", gen(ALNUM, 10, 34)),
        ),
        case(
            "docker-config-auth",
            r#"{"auths":{"registry.invalid":{"auth":""#,
            b64(&format!("fakeuser:{}", gen(ALNUM, 16, 35))),
            r#""}}}"#,
            format!(r#"{{"auths":{{"registry.invalid":{{"auth":"{}"}}}}}}"#, b64("useronly")),
        ),
        case(
            "docker-config-identity-token",
            r#"{"auths":{"r.invalid":{"identitytoken":""#,
            gen(URLSAFE, 40, 36),
            r#""}}}"#,
            r#"{"auths":{"r.invalid":{"identitytoken":"<token>"}}}"#.to_string(),
        ),
        Case {
            rule: "private-key",
            positive: format!(
                "# deploy key\n\n-----BEGIN RSA PRIVATE KEY-----\n{pem}-----END RSA PRIVATE KEY-----\n"
            ),
            secret: pem.clone(),
            line: 3,
            negative: format!("-----BEGIN PUBLIC KEY-----\n{pem}-----END PUBLIC KEY-----\n"),
        },
        case(
            "age-secret-key",
            "",
            format!("AGE-SECRET-KEY-1{}", gen(BECH32_UPPER, 58, 37)),
            "",
            format!("AGE-SECRET-KEY-1{}", gen(BECH32_UPPER, 40, 37)),
        ),
        case(
            "vault-service-token",
            "VAULT_TOKEN=",
            format!("hvs.{}", gen(URLSAFE, 95, 38)),
            "",
            format!("X=hvs.{}", gen(ALNUM, 20, 38)),
        ),
        case(
            "vault-batch-token",
            "VAULT_TOKEN=",
            format!("hvb.{}", gen(URLSAFE, 150, 39)),
            "",
            format!("X=hvb.{}", gen(ALNUM, 20, 39)),
        ),
        case(
            "vault-legacy-token",
            "VAULT_TOKEN=",
            format!("s.{}", gen(ALNUM, 24, 40)),
            "",
            "VAULT_TOKEN=s.short".to_string(),
        ),
        case(
            "openai-api-key",
            "OPENAI_API_KEY=",
            format!("sk-proj-{}T3BlbkFJ{}", gen(ALNUM, 20, 41), gen(ALNUM, 20, 42)),
            "",
            format!("X=sk-{}", gen(ALNUM, 48, 41)),
        ),
        case(
            "anthropic-api-key",
            "ANTHROPIC_API_KEY=",
            format!("sk-ant-api03-{}AA", gen(URLSAFE, 93, 43)),
            "",
            "ANTHROPIC_API_KEY=sk-ant-api03-short".to_string(),
        ),
        case(
            "huggingface-token",
            "HF_TOKEN=",
            format!("hf_{}", gen(LETTERS, 34, 44)),
            "",
            format!("HF_TOKEN=hf_{}", gen(LETTERS, 20, 44)),
        ),
        case(
            "digitalocean-token",
            "DO_TOKEN=",
            format!("dop_v1_{}", gen(HEX, 64, 45)),
            "",
            format!("DO_TOKEN=dop_v1_{}", gen(HEX, 63, 45)),
        ),
        case(
            "shopify-token",
            "SHOPIFY=",
            format!("shpat_{}", gen(HEX, 32, 46)),
            "",
            format!("SHOPIFY=shpat_{}", gen(HEX, 31, 46)),
        ),
        case(
            "databricks-token",
            "DATABRICKS_TOKEN=",
            format!("dapi{}", gen(HEX, 32, 47)),
            "",
            format!("dapi{}", gen(HEX, 20, 47)),
        ),
        case(
            "grafana-service-account-token",
            "GRAFANA=",
            format!("glsa_{}_{}", gen(ALNUM, 32, 48), gen(HEX, 8, 49)),
            "",
            format!("GRAFANA=glsa_{}", gen(ALNUM, 10, 48)),
        ),
        case(
            "jwt",
            "Authorization: Bearer ",
            format!("{jwt_header}.{jwt_payload}.{}", gen(URLSAFE, 43, 50)),
            "",
            // A header without "alg" is not a JWT.
            format!(
                "x = {}.{jwt_payload}.{}",
                b64url(r#"{"foo":"bar-baz"}"#),
                gen(URLSAFE, 43, 50)
            ),
        ),
        case(
            "database-url-password",
            "DATABASE_URL=postgres://app:",
            gen(ALNUM, 16, 51),
            "@db.internal:5432/app",
            "DATABASE_URL=postgres://app:${DB_PASSWORD}@db.internal:5432/app".to_string(),
        ),
        case(
            "generic-secret",
            "api_key = \"",
            gen(ALNUM, 32, 52),
            "\"",
            "password = \"changeme\"".to_string(),
        ),
    ]
}

#[test]
fn every_builtin_rule_has_samples() {
    let scanner = default_scanner();
    let covered: Vec<&str> = cases().iter().map(|c| c.rule).collect();
    for id in scanner.rule_ids() {
        assert!(covered.contains(&id), "rule {id} has no test samples");
    }
}

#[test]
fn positive_samples_are_found_and_redacted() {
    let scanner = default_scanner();
    for c in cases() {
        let findings = scanner.scan("app/settings.conf", c.positive.as_bytes());
        let found: Vec<&str> = findings.iter().map(|f| f.rule_id.as_str()).collect();
        assert_eq!(found, vec![c.rule], "positive sample for {}", c.rule);
        let f = &findings[0];
        assert_eq!(f.line, Some(c.line), "line for {}", c.rule);
        assert_eq!(f.path, "app/settings.conf");
        assert!(f.layer.is_none() && !f.deleted);
        assert!(!f.category.is_empty() && !f.title.is_empty());
        if c.rule != "private-key" {
            // The secret sits on the reported line, so the line shows the mask.
            assert!(f.redacted.contains("*****"), "{}: {}", c.rule, f.redacted);
        }
        for line in c.secret.lines() {
            assert_no_leak(&findings, line);
        }
    }
}

#[test]
fn negative_samples_are_not_reported_by_their_rule() {
    let scanner = default_scanner();
    for c in cases() {
        let findings = scanner.scan("app/settings.conf", c.negative.as_bytes());
        assert!(
            findings.iter().all(|f| f.rule_id != c.rule),
            "negative sample for {} was reported: {findings:?}",
            c.rule
        );
    }
}

/// Lines from real packages that earlier rule versions flagged (perl-base's Cwd.pm,
/// requests' models.py, urllib3's securetransport helper): code, not secrets.
#[test]
fn code_in_real_packages_is_not_a_secret() {
    let scanner = default_scanner();
    for line in [
        "\t$newpwd = Win32::GetFullPathName($newdir);",
        "    $pwd = Win32::GetCwd();",
        "    my $pwd = `/usr/bin/fullpath -t`;",
        "            url_auth = get_auth_from_url(self.url)",
        "    password = base64.b16encode(random_bytes[8:])  # Must be valid UTF-8",
    ] {
        let findings = scanner.scan("lib/module.py", format!("{line}\n").as_bytes());
        assert!(findings.is_empty(), "{line:?} reported: {findings:?}");
    }
    // The same keys with literal values still are.
    let findings = scanner.scan(
        "etc/app.conf",
        b"password = q8Zr2LmV0xT4nB7wKe9d\n_auth=dXNlcjpxOFpyMkxtVjB4VDRuQjd3\n",
    );
    let ids: Vec<&str> = findings.iter().map(|f| f.rule_id.as_str()).collect();
    assert_eq!(ids, ["generic-secret", "npmrc-auth"], "{findings:?}");
}
