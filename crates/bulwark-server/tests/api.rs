//! The API against a real server on 127.0.0.1 over HTTPS (test CA): authentication,
//! the role × endpoint matrix, uploads of real SBOMs and reports, bad input, graceful
//! shutdown and the OpenAPI document.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bulwark_server::authz::{Endpoint, Method, Role};
use common::{digest, TestServer};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const LAYER_BASE: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const LAYER_APP: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

/// A bulwark report of an image with a base layer (a deb package) and an app layer (an
/// npm package with a finding), as `bulwark scan --format json` writes it.
fn report(manifest: &str, team: Option<&str>) -> Vec<u8> {
    let mut labels = serde_json::Map::new();
    if let Some(t) = team {
        labels.insert("io.bulwark.team".into(), json!(t));
    }
    labels.insert("io.bulwark.owner".into(), json!("alice"));
    serde_json::to_vec(&json!({
        "schema_version": 2,
        "tool": "bulwark 0.1.0",
        "created_at": "2026-12-02T12:00:00Z",
        "target": {
            "name": "registry.example:5000/acme/shop:1.4",
            "kind": "image",
            "image": {
                "id": "sha256:3333333333333333333333333333333333333333333333333333333333333333",
                "manifest_digest": manifest,
                "repo_tags": ["registry.example:5000/acme/shop:1.4"],
                "platform": "linux/amd64",
                "layers": [
                    {"digest": LAYER_BASE, "diff_id": LAYER_BASE, "size": 100, "created_by": "ADD rootfs /"},
                    {"digest": LAYER_APP, "diff_id": LAYER_APP, "size": 10, "created_by": "COPY app /app"}
                ],
                "config": {"config": {"Labels": labels}}
            }
        },
        "os": {"family": "debian", "version": "12.5"},
        "packages": [
            {"name": "libssl3", "version": "3.0.11-1~deb12u2", "ecosystem": "deb",
             "purl": "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?distro=debian-12.5",
             "source": {"name": "openssl", "version": "3.0.11-1~deb12u2"},
             "locations": [{"path": "/var/lib/dpkg/status", "layer_digest": LAYER_BASE}],
             "found_by": "dpkg"},
            {"name": "lodash", "version": "4.17.20", "ecosystem": "npm",
             "purl": "pkg:npm/lodash@4.17.20",
             "locations": [{"path": "/app/package-lock.json", "layer_digest": LAYER_APP}],
             "found_by": "npm-lock"}
        ],
        "vulnerabilities": [
            {"id": "CVE-2021-23337", "aliases": ["GHSA-35jh-r3h4-6jhm"], "package": "lodash",
             "purl": "pkg:npm/lodash@4.17.20", "installed_version": "4.17.20",
             "fixed_versions": ["4.17.21"], "status": "fixed", "severity": "HIGH",
             "title": "Command injection in lodash", "layer": LAYER_APP}
        ]
    }))
    .unwrap()
}

fn cyclonedx(n: usize) -> Vec<u8> {
    let comps: Vec<Value> = (0..n)
        .map(|i| {
            json!({"type": "library", "name": format!("pkg{i}"), "version": "1.0.0",
                   "purl": format!("pkg:npm/pkg{i}@1.0.0")})
        })
        .collect();
    serde_json::to_vec(&json!({
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "metadata": {"component": {"type": "container", "name": "shop"}},
        "components": comps
    }))
    .unwrap()
}

fn code(r: &common::Resp) -> &str {
    r.json["error"]["code"].as_str().unwrap_or("")
}

#[test]
fn health_readiness_and_unknown_routes() {
    let s = TestServer::start();
    let r = s.call("GET", "/healthz", None, None);
    assert_eq!(r.status, 200);
    let r = s.call("GET", "/readyz", None, None);
    assert_eq!((r.status, r.json["status"].as_str()), (200, Some("ready")));
    let r = s.call("GET", "/v2/nothing", None, None);
    assert_eq!((r.status, code(&r)), (404, "not_found"));
    let r = s.call("PATCH", "/v1/images", None, None);
    assert_eq!((r.status, code(&r)), (405, "method_not_allowed"));
    let r = s.call("GET", "/v1/images", None, None);
    assert_eq!((r.status, code(&r)), (401, "unauthenticated"));
    // Prometheus metrics, for an auditor token; counted by route template.
    let auditor = s.token("auditor", &[]);
    let m = s.get("/metrics", &auditor);
    assert_eq!(m.status, 200);
    let text = m.json.as_str().unwrap();
    assert!(
        text.contains(
            r#"bulwark_http_requests_total{route="/v1/images",method="GET",status="401"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(
        r#"bulwark_http_request_duration_seconds_bucket{route="/healthz",method="GET",le="+Inf"} 1"#
    ));
    let dev = s.token("developer", &["a"]);
    assert_eq!(s.get("/metrics", &dev).status, 403);
}

#[test]
fn tokens_malformed_unknown_forged_expired_revoked() {
    let s = TestServer::start();
    let admin = s.token("admin", &[]);
    assert_eq!(s.get("/v1/whoami", &admin).json["role"], "admin");

    let r = s.get("/v1/images", "not-a-token");
    assert_eq!((r.status, code(&r)), (401, "token_malformed"));
    let r = s.call("GET", "/v1/images", None, None);
    assert_eq!(code(&r), "unauthenticated");
    // Right shape, unknown id.
    let unknown = format!("bwk_{}_{}", "0".repeat(16), "A".repeat(43));
    let r = s.get("/v1/images", &unknown);
    assert_eq!((r.status, code(&r)), (401, "token_unknown"));
    // Known id, forged secret: unknown too (no status is told without the secret).
    let (id, _) = admin.strip_prefix("bwk_").unwrap().split_once('_').unwrap();
    let forged = format!("bwk_{id}_{}", "B".repeat(43));
    let r = s.get("/v1/images", &forged);
    assert_eq!((r.status, code(&r)), (401, "token_unknown"));

    // Expired: a token that lived 1 s.
    let short = s.token_expiring("security", &[], Some("1s"));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let r = s.get("/v1/images", &short);
    assert_eq!((r.status, code(&r)), (401, "token_expired"));

    // Created through the API, revoked through the API.
    let r = s.post_json(
        "/v1/tokens",
        &admin,
        br#"{"name":"ci","role":"ci-uploader","expires_in":"30d"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.json);
    let ci = r.json["token"].as_str().unwrap().to_string();
    let ci_id = r.json["details"]["id"].as_str().unwrap().to_string();
    assert_eq!(s.get("/v1/whoami", &ci).json["role"], "ci-uploader");
    // The list never shows a secret or a hash.
    let list = s.get("/v1/tokens", &admin);
    let text = list.json.to_string();
    assert!(!text.contains(&ci[4 + 16 + 1..]));
    assert!(!text.contains("argon2"));
    let r = s.call("DELETE", &format!("/v1/tokens/{ci_id}"), Some(&admin), None);
    assert_eq!(r.status, 200);
    let r = s.get("/v1/whoami", &ci);
    assert_eq!((r.status, code(&r)), (401, "token_revoked"));
    // Developer tokens need a team.
    let r = s.post_json("/v1/tokens", &admin, br#"{"name":"d","role":"developer"}"#);
    assert_eq!((r.status, code(&r)), (422, "team_required"));
    let r = s.post_json("/v1/tokens", &admin, br#"{"name":"d","role":"root"}"#);
    assert_eq!((r.status, code(&r)), (422, "invalid_role"));

    // No token ever reaches the audit log.
    let all: Vec<String> =
        s.db.query_strings("SELECT actor || resource || detail FROM audit_log");
    assert!(!all.is_empty());
    for secret in [&admin, &ci, &short] {
        let tail = &secret[4 + 16 + 1..];
        assert!(all.iter().all(|l| !l.contains(tail)));
    }
}

/// A request for `ep` that succeeds when the caller may make it.
/// A `POST /v1/admission/decisions` body with `n` decisions (the first a denial).
fn decisions(n: usize) -> Vec<u8> {
    let ds: Vec<Value> = (0..n)
        .map(|i| {
            json!({"uid": format!("uid-{i}"), "time": "2026-12-02T16:00:00Z", "phase": "validate",
                   "operation": "CREATE", "kind": "Deployment", "namespace": "shop",
                   "name": format!("web-{i}"), "user": "alice", "allowed": i != 0,
                   "reasons": if i == 0 { json!(["image ghcr.io/acme/shop:1 is not signed"]) } else { json!([]) },
                   "warnings": [], "patch_ops": 1})
        })
        .collect();
    serde_json::to_vec(&json!({"cluster": "prod", "decisions": ds})).unwrap()
}

/// A `POST /v1/runtime/alerts` body with `n` alerts of `bulwark sensor`.
fn runtime_alerts(n: usize) -> Vec<u8> {
    let a: Vec<Value> = (0..n)
        .map(|i| {
            json!({"time": "2026-12-02T16:40:01.123456789Z", "rule": "Read sensitive file",
                   "priority": "WARNING", "output": format!("Sensitive file opened ({i})"),
                   "tags": ["container"], "container_id": format!("{:064x}", i + 1),
                   "image": "localhost/web:1", "pid": 4242, "actions": []})
        })
        .collect();
    serde_json::to_vec(&json!({"node": "node-1", "alerts": a})).unwrap()
}

/// An OpenVEX document: `vuln` is not_affected in `purl`.
fn openvex(vuln: &str, purl: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.com/vex/1",
        "author": "security@example.com",
        "timestamp": "2026-12-01T00:00:00Z",
        "version": 1,
        "statements": [{
            "vulnerability": {"name": vuln},
            "products": [{"@id": purl}],
            "status": "not_affected",
            "justification": "vulnerable_code_not_in_execute_path"
        }]
    }))
    .unwrap()
}

fn request_for(
    s: &TestServer,
    ep: Endpoint,
    role: Role,
    admin: &str,
    image: &str,
    n: usize,
) -> (&'static str, String, Option<Vec<u8>>) {
    let (m, path) = ep.route();
    let method = m.as_str();
    let path = path.replace("{digest}", image);
    match ep {
        Endpoint::UploadSbom => (
            method,
            format!("{path}?digest={}&team=b", digest(1000 + n as u32)),
            Some(cyclonedx(3)),
        ),
        Endpoint::UploadReport => (
            method,
            format!("{path}?digest={}", digest(2000 + n as u32)),
            Some(report(&digest(2000 + n as u32), Some("b"))),
        ),
        Endpoint::PutPlacements => {
            let reporter = if role == Role::Admission {
                "admission"
            } else {
                "sensor"
            };
            let body = json!({"cluster": "prod", "reporter": reporter, "placements": [
                {"namespace": "shop", "workload_kind": "Deployment", "workload": "web",
                 "container": "web", "image_digest": image}]});
            (method, path, Some(serde_json::to_vec(&body).unwrap()))
        }
        Endpoint::CreateToken => (
            method,
            path,
            Some(br#"{"name":"x","role":"auditor"}"#.to_vec()),
        ),
        Endpoint::AdmissionDecisions => (method, path, Some(decisions(1))),
        Endpoint::RuntimeAlerts => (method, path, Some(runtime_alerts(1))),
        Endpoint::ImportOsv => (
            method,
            path,
            Some(
                serde_json::to_vec(&json!({
                    "id": format!("TEST-{n}"), "modified": "2026-12-01T00:00:00Z",
                    "affected": [{"package": {"ecosystem": "npm", "name": "left-pad"},
                        "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.3.0"}]}]}]
                }))
                .unwrap(),
            ),
        ),
        Endpoint::RegisterBase => (
            method,
            path,
            Some(serde_json::to_vec(&json!({"name": "debian:12", "layers": [LAYER_BASE]})).unwrap()),
        ),
        Endpoint::CreateWebhook => (
            method,
            path,
            Some(
                serde_json::to_vec(
                    &json!({"url": "http://127.0.0.1:9/hook", "secret": "0123456789abcdef0123"}),
                )
                .unwrap(),
            ),
        ),
        Endpoint::DeleteWebhook => {
            let r = s.post_json(
                "/v1/webhooks",
                admin,
                br#"{"url":"http://127.0.0.1:9/gone","secret":"0123456789abcdef0123"}"#,
            );
            assert_eq!(r.status, 201, "{}", r.json);
            let id = r.json["id"].as_str().unwrap().to_string();
            (method, path.replace("{id}", &id), None)
        }
        Endpoint::CreateVex => (method, path, Some(openvex("CVE-2024-0001", "pkg:npm/left-pad"))),
        Endpoint::DeleteVex => {
            let r = s.post_json("/v1/vex", admin, &openvex("CVE-2024-0002", "pkg:npm/x"));
            assert_eq!(r.status, 201, "{}", r.json);
            let id = r.json["id"].as_str().unwrap().to_string();
            (method, path.replace("{id}", &id), None)
        }
        Endpoint::CreateIgnore => (
            method,
            path,
            Some(br#"{"vulnerability":"CVE-2024-0003","reason":"not reachable"}"#.to_vec()),
        ),
        Endpoint::DeleteIgnore => {
            let r = s.post_json(
                "/v1/ignores",
                admin,
                br#"{"vulnerability":"CVE-2024-0004","reason":"gone"}"#,
            );
            assert_eq!(r.status, 201, "{}", r.json);
            let id = r.json["id"].as_str().unwrap().to_string();
            (method, path.replace("{id}", &id), None)
        }
        Endpoint::CreateJob => (
            method,
            path,
            Some(br#"{"kind":"scan","image":"127.0.0.1:9/matrix/app:1"}"#.to_vec()),
        ),
        Endpoint::GetJob => {
            let r = s.post_json(
                "/v1/jobs",
                admin,
                br#"{"kind":"scan","image":"127.0.0.1:9/matrix/app:1","team":"b"}"#,
            );
            assert_eq!(r.status, 202, "{}", r.json);
            let id = r.json["id"].as_str().unwrap().to_string();
            (method, path.replace("{id}", &id), None)
        }
        Endpoint::RevokeToken => {
            let victim = s.token("auditor", &[]);
            let id = victim[4..20].to_string();
            let _ = admin;
            (method, path.replace("{id}", &id), None)
        }
        _ => (method, path, None),
    }
}

#[test]
fn authorization_matrix_every_role_every_endpoint() {
    let s = TestServer::start();
    let admin = s.token("admin", &[]);
    // An image of team b, and one of team a.
    let img_b = digest(1);
    let img_a = digest(2);
    assert_eq!(
        s.post_json(
            &format!("/v1/reports?team=b&digest={img_b}"),
            &admin,
            &report(&img_b, None)
        )
        .status,
        201
    );
    assert_eq!(
        s.post_json(
            &format!("/v1/reports?team=a&digest={img_a}"),
            &admin,
            &report(&img_a, None)
        )
        .status,
        201
    );
    let mut n = 0;
    let mut checked = 0;
    for role in Role::ALL {
        let teams: &[&str] = if role == Role::Developer { &["a"] } else { &[] };
        let token = s.token(role.as_str(), teams);
        for ep in Endpoint::ALL {
            n += 1;
            let (method, path, body) = request_for(&s, ep, role, &admin, &img_b, n);
            let r = s.call(
                method,
                &path,
                Some(&token),
                body.map(|b| ("application/json", b)),
            );
            let allowed = ep.admits(role);
            if !allowed {
                assert_eq!(
                    (r.status, code(&r)),
                    (403, "forbidden"),
                    "{role} {method} {path} should be denied: {}",
                    r.json
                );
            } else if role == Role::Developer
                && matches!(
                    ep,
                    Endpoint::GetImage
                        | Endpoint::ImagePackages
                        | Endpoint::ImageFindings
                        | Endpoint::ImagePlacements
                )
            {
                // Allowed endpoint, other team's image: reads as absent.
                assert_eq!((r.status, code(&r)), (404, "not_found"), "{role} {path}");
                let own = path.replace(&img_b, &img_a);
                let r = s.call(method, &own, Some(&token), None);
                assert_eq!(
                    r.status, 200,
                    "{role} reading its own team's {own}: {}",
                    r.json
                );
            } else {
                assert!(
                    (200..300).contains(&r.status),
                    "{role} {method} {path} should be allowed: HTTP {} {}",
                    r.status,
                    r.json
                );
            }
            // Without a token, every non-public endpoint is 401.
            if ep.allowed().is_some() && role == Role::Admin {
                let r = s.call(method, &path, None, None);
                assert_eq!(r.status, 401, "{method} {path} without a token");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, Role::ALL.len() * Endpoint::ALL.len());

    // The developer's list holds its team's image only.
    let dev = s.token("developer", &["a"]);
    let list = s.get("/v1/images", &dev);
    let digests: Vec<&str> = list.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["digest"].as_str().unwrap())
        .collect();
    assert_eq!(digests, vec![img_a.as_str()]);

    // Every decision was audited, denials included.
    let denies: i64 = s.db.query_i64(
        "SELECT COUNT(*) FROM audit_log WHERE decision = 'deny' AND action != 'admission.decision'",
    );
    let expected_denies = Role::ALL
        .iter()
        .map(|r| Endpoint::ALL.iter().filter(|e| !e.admits(*r)).count())
        .sum::<usize>();
    // Forbidden calls plus the unauthenticated ones.
    let unauth = Endpoint::ALL
        .iter()
        .filter(|e| e.allowed().is_some())
        .count();
    assert_eq!(denies as usize, expected_denies + unauth);
}

#[test]
fn team_scoped_uploader_cannot_write_another_team() {
    let s = TestServer::start();
    let up_a = s.token("ci-uploader", &["a"]);
    let d = digest(9);
    let r = s.post_json(
        &format!("/v1/reports?digest={d}"),
        &up_a,
        &report(&d, Some("b")),
    );
    assert_eq!((r.status, code(&r)), (403, "forbidden"));
    let r = s.post_json(&format!("/v1/reports?digest={d}"), &up_a, &report(&d, None));
    assert_eq!((r.status, code(&r)), (403, "forbidden"), "no team at all");
    assert_eq!(s.count("images"), 0);
    let r = s.post_json(
        &format!("/v1/reports?digest={d}"),
        &up_a,
        &report(&d, Some("a")),
    );
    assert_eq!(r.status, 201);
    // An admin moves it to team b; the team-a uploader can no longer overwrite it.
    let admin = s.token("admin", &[]);
    assert_eq!(
        s.post_json(
            &format!("/v1/reports?digest={d}&team=b"),
            &admin,
            &report(&d, None)
        )
        .status,
        201
    );
    let r = s.post_json(
        &format!("/v1/reports?digest={d}"),
        &up_a,
        &report(&d, Some("a")),
    );
    assert_eq!((r.status, code(&r)), (403, "forbidden"));
}

#[test]
fn report_upload_is_stored_deduplicated_and_readable() {
    let s = TestServer::start();
    let up = s.token("ci-uploader", &[]);
    let sec = s.token("security", &[]);
    let d1 = digest(1);
    let r = s.post_json("/v1/reports", &up, &report(&d1, Some("shop")));
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["digest"], d1.as_str());
    assert_eq!(r.json["packages"], 2);
    assert_eq!(r.json["layers_new"], 2);
    assert_eq!(r.json["findings"], 1);
    let pkgs_after_one = s.count("packages");
    let lp_after_one = s.count("layer_packages");

    // A second image on the same layers: nothing re-stored per layer.
    let d2 = digest(2);
    let r = s.post_json("/v1/reports", &up, &report(&d2, Some("shop")));
    assert_eq!(r.status, 201);
    assert_eq!(
        (
            r.json["layers_new"].as_i64(),
            r.json["layers_reused"].as_i64()
        ),
        (Some(0), Some(2))
    );
    assert_eq!(s.count("packages"), pkgs_after_one);
    assert_eq!(s.count("layer_packages"), lp_after_one);
    assert_eq!(s.count("layers"), 2);

    let img = s.get(&format!("/v1/images/{d1}"), &sec);
    assert_eq!(img.status, 200);
    assert_eq!(img.json["team"], "shop");
    assert_eq!(img.json["owner"], "alice");
    assert_eq!(img.json["registry"], "registry.example:5000");
    assert_eq!(img.json["layers"].as_array().unwrap().len(), 2);
    assert_eq!(img.json["layers"][0]["created_by"], "ADD rootfs /");
    assert_eq!(img.json["finding_counts"]["affected"]["HIGH"], 1);
    // The tag moved to d2 with the second upload: one image per repository:tag.
    assert!(img.json["repositories"].as_array().unwrap().is_empty());
    let img2 = s.get(&format!("/v1/images/{d2}"), &sec);
    assert_eq!(
        img2.json["repositories"][0]["repository"],
        "registry.example:5000/acme/shop"
    );
    assert_eq!(img2.json["repositories"][0]["tag"], "1.4");

    let pk = s.get(&format!("/v1/images/{d2}/packages"), &sec);
    let names: BTreeSet<&str> = pk.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, BTreeSet::from(["libssl3", "lodash"]));
    let libssl = pk.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "libssl3")
        .unwrap();
    assert_eq!(libssl["layer"], LAYER_BASE);
    assert_eq!(libssl["source_name"], "openssl");

    let f = s.get(&format!("/v1/images/{d2}/findings"), &sec);
    let f0 = &f.json["items"][0];
    assert_eq!(f0["id"], "CVE-2021-23337");
    assert_eq!(f0["fixed_version"], "4.17.21");
    assert_eq!(f0["layer"], LAYER_APP);
    assert_eq!(f0["state"], "affected");

    // Packages are indexed by (ecosystem, name) for the re-match. SQLite's planner
    // takes that index here; PostgreSQL's, on a table of a few rows, may take any index
    // led by ecosystem, so there the test checks that the index exists as declared.
    match &s.db {
        common::TestDb::Sqlite(_) => {
            let plan: String =
                s.db.plan("SELECT id FROM packages WHERE ecosystem = 'npm' AND name = 'lodash'");
            assert!(plan.contains("packages_ecosystem_name"), "{plan}");
        }
        common::TestDb::Postgres(_) => {
            let def = s.db.query_strings(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'packages_ecosystem_name'",
            );
            assert_eq!(def.len(), 1, "{def:?}");
            assert!(def[0].ends_with("(ecosystem, name)"), "{def:?}");
        }
    }
}

#[test]
fn real_sbom_fixtures_upload() {
    let Some(fx) = common::fixtures() else {
        bulwark_fixtures::absent("fixtures", &bulwark_fixtures::fixtures_message());
        return;
    };
    let s = TestServer::start();
    let up = s.token("ci-uploader", &[]);
    let sec = s.token("security", &[]);
    for (i, file) in [
        "dpkg/debian-bookworm-minbase.trivy-0.76.0.cdx.json",
        "dpkg/debian-bookworm-minbase.trivy-0.76.0.spdx.json",
        "sbom/trivy-analyzer/postgresql.spdx.json",
    ]
    .iter()
    .enumerate()
    {
        let bytes = std::fs::read(fx.join(file)).unwrap();
        let expected = bulwark_report::read_sbom(&bytes).unwrap().packages.len();
        assert!(expected > 0, "{file}");
        let d = digest(10 + i as u32);
        let r = s.call(
            "POST",
            &format!(
                "/v1/sboms?digest={d}&repository=ghcr.io/acme/base&tags=12,latest&team=platform"
            ),
            Some(&up),
            Some(("application/vnd.cyclonedx+json", bytes)),
        );
        assert_eq!(r.status, 201, "{file}: {}", r.json);
        assert_eq!(r.json["packages"].as_u64(), Some(expected as u64), "{file}");
        let pk = s.get(&format!("/v1/images/{d}/packages"), &sec);
        let listed = pk.json["items"].as_array().unwrap().len();
        assert!(listed >= expected.min(1), "{file}: {listed} listed");
        let img = s.get(&format!("/v1/images/{d}"), &sec);
        assert_eq!(img.json["repositories"].as_array().unwrap().len(), 2);
        let fmt = if file.ends_with("cdx.json") {
            "cyclonedx"
        } else {
            "spdx"
        };
        assert_eq!(img.json["sbom"]["format"], fmt, "{file}");
    }
    // The same Debian packages from the CycloneDX and SPDX documents share rows.
    let distinct: i64 =
        s.db.query_i64("SELECT COUNT(DISTINCT name) FROM packages WHERE ecosystem = 'deb'");
    assert!(distinct > 50, "{distinct}");
}

#[test]
fn bad_input_gets_clear_4xx_and_stores_nothing() {
    let s = TestServer::start_with(64 * 1024);
    let up = s.token("ci-uploader", &[]);
    let admin = s.token("admin", &[]);
    let d = digest(1);
    type Case<'a> = (String, Option<&'a str>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            format!("/v1/sboms?digest={d}"),
            Some("application/json"),
            b"{\"bomFormat\": ".to_vec(),
            400,
            "invalid_json",
        ),
        (
            format!("/v1/sboms?digest={d}"),
            Some("application/json"),
            b"{\"hello\": 1}".to_vec(),
            422,
            "invalid_sbom",
        ),
        (
            format!("/v1/sboms?digest={d}"),
            Some("application/json"),
            b"[1,2]".to_vec(),
            422,
            "invalid_sbom",
        ),
        (
            format!("/v1/sboms?digest={d}"),
            Some("application/json"),
            br#"{"bomFormat":"CycloneDX","specVersion":"9.9","components":[]}"#.to_vec(),
            422,
            "invalid_sbom",
        ),
        (
            format!("/v1/sboms?digest={d}"),
            Some("application/json"),
            cyclonedx(2000),
            413,
            "too_large",
        ),
        (
            format!("/v1/sboms?digest={d}"),
            Some("text/plain"),
            cyclonedx(1),
            415,
            "unsupported_media_type",
        ),
        (
            "/v1/sboms".to_string(),
            Some("application/json"),
            cyclonedx(1),
            400,
            "missing_digest",
        ),
        (
            "/v1/sboms?digest=sha256:xyz".to_string(),
            Some("application/json"),
            cyclonedx(1),
            400,
            "invalid_digest",
        ),
        (
            format!("/v1/sboms?digest={d}&colour=red"),
            Some("application/json"),
            cyclonedx(1),
            400,
            "unknown_field",
        ),
        (
            format!("/v1/reports?digest={d}"),
            Some("application/json"),
            {
                let mut v: Value = serde_json::from_slice(&report(&d, None)).unwrap();
                v["packages"][0]["surprise"] = json!(true);
                serde_json::to_vec(&v).unwrap()
            },
            400,
            "unknown_field",
        ),
        (
            format!("/v1/reports?digest={d}"),
            Some("application/json"),
            {
                let mut v: Value = serde_json::from_slice(&report(&d, None)).unwrap();
                v["schema_version"] = json!(1);
                serde_json::to_vec(&v).unwrap()
            },
            422,
            "unsupported_schema_version",
        ),
        (
            format!("/v1/reports?digest={d}"),
            Some("application/json"),
            br#"{"schema_version":"two"}"#.to_vec(),
            422,
            "invalid_report",
        ),
        (
            "/v1/reports".to_string(),
            Some("application/json"),
            {
                let mut v: Value = serde_json::from_slice(&report(&d, None)).unwrap();
                v["target"]["kind"] = json!("directory");
                v["target"]["image"] = Value::Null;
                serde_json::to_vec(&v).unwrap()
            },
            422,
            "not_an_image",
        ),
        (
            format!("/v1/reports?digest={d}&team=bad%20team"),
            Some("application/json"),
            report(&d, None),
            400,
            "invalid_name",
        ),
    ];
    for (path, ct, body, status, want) in cases {
        let r = s.call("POST", &path, Some(&up), Some((ct.unwrap_or(""), body)));
        assert_eq!((r.status, code(&r)), (status, want), "{path}: {}", r.json);
        assert!(!r.json["error"]["message"].as_str().unwrap_or("").is_empty());
    }
    // A huge body on a small endpoint: the announced size alone is refused (1 MiB limit),
    // without the server reading (or the client sending) the body.
    let r = s.call_head_only(
        "PUT",
        "/v1/placements",
        &admin,
        "application/json",
        (1 << 20) + 1024,
    );
    assert_eq!((r.status, code(&r)), (413, "too_large"));
    // A client that just sends a body three times the limit still reads the 413 (the
    // server discards the body before answering), not a connection reset.
    let r = s.call(
        "PUT",
        "/v1/placements",
        Some(&admin),
        Some(("application/json", vec![b' '; 3 << 20])),
    );
    assert_eq!((r.status, code(&r)), (413, "too_large"));
    let r = s.call(
        "PUT",
        "/v1/placements",
        Some(&admin),
        Some((
            "application/json",
            br#"{"cluster":"c","reporter":"sensor","placements":[],"extra":1}"#.to_vec(),
        )),
    );
    assert_eq!((r.status, code(&r)), (400, "unknown_field"));
    let r = s.call(
        "PUT",
        "/v1/placements",
        Some(&admin),
        Some(("application/json", br#"{"cluster":"c","reporter":"sensor","placements":[{"namespace":"n","workload_kind":"Pod","workload":"w","container":"c","image_digest":"latest"}]}"#.to_vec())),
    );
    assert_eq!((r.status, code(&r)), (422, "invalid_digest"));
    let r = s.call(
        "POST",
        "/v1/tokens",
        Some(&admin),
        Some((
            "application/json",
            br#"{"name":"x","role":"auditor","admin":true}"#.to_vec(),
        )),
    );
    assert_eq!((r.status, code(&r)), (400, "unknown_field"));
    for t in [
        "images",
        "packages",
        "layers",
        "scans",
        "sboms",
        "findings",
        "placements",
    ] {
        assert_eq!(s.count(t), 0, "{t} has rows after refused uploads");
    }
}

#[test]
fn placements_report_and_replace() {
    let s = TestServer::start();
    let sensor = s.token("sensor", &[]);
    let sec = s.token("security", &[]);
    let admin = s.token("admin", &[]);
    let d = digest(5);
    assert_eq!(
        s.post_json(
            &format!("/v1/reports?digest={d}"),
            &admin,
            &report(&d, None)
        )
        .status,
        201
    );
    let body = |names: &[&str]| {
        let pl: Vec<Value> = names
            .iter()
            .map(|n| {
                json!({"namespace": "shop", "workload_kind": "Deployment", "workload": n,
                            "container": "app", "image_digest": d})
            })
            .collect();
        serde_json::to_vec(
            &json!({"cluster": "prod", "node": "node-1", "complete": true, "placements": pl}),
        )
        .unwrap()
    };
    let r = s.call(
        "PUT",
        "/v1/placements",
        Some(&sensor),
        Some(("application/json", body(&["web", "worker"]))),
    );
    assert_eq!(r.status, 200, "{}", r.json);
    let p = s.get(&format!("/v1/images/{d}/placements"), &sec);
    assert_eq!(p.json["items"].as_array().unwrap().len(), 2);
    assert_eq!(p.json["items"][0]["node"], "node-1");
    assert_eq!(p.json["items"][0]["reporter"], "sensor");
    std::thread::sleep(std::time::Duration::from_millis(5));
    let r = s.call(
        "PUT",
        "/v1/placements",
        Some(&sensor),
        Some(("application/json", body(&["web"]))),
    );
    assert_eq!(r.json["removed"], 1);
    let p = s.get(&format!("/v1/images/{d}/placements"), &sec);
    assert_eq!(p.json["items"].as_array().unwrap().len(), 1);
    // A sensor cannot pose as admission.
    let mut v: Value = serde_json::from_slice(&body(&["web"])).unwrap();
    v["reporter"] = json!("admission");
    let r = s.call(
        "PUT",
        "/v1/placements",
        Some(&sensor),
        Some(("application/json", serde_json::to_vec(&v).unwrap())),
    );
    assert_eq!((r.status, code(&r)), (422, "invalid_reporter"));
}

#[test]
fn graceful_shutdown_finishes_an_in_flight_upload() {
    use std::io::Read;
    use std::sync::mpsc;
    let mut s = TestServer::start();
    let up = s.token("ci-uploader", &[]);
    let d = digest(7);
    let body = report(&d, Some("shop"));

    /// Gives the first half, says so, waits for the go-ahead, then gives the rest.
    struct Gated {
        data: Vec<u8>,
        pos: usize,
        started: Option<mpsc::Sender<()>>,
        go: mpsc::Receiver<()>,
    }
    impl Read for Gated {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let half = self.data.len() / 2;
            if self.pos == half {
                if let Some(tx) = self.started.take() {
                    let _ = tx.send(());
                    let _ = self.go.recv();
                }
            }
            let end = if self.pos < half {
                half
            } else {
                self.data.len()
            };
            let n = (end - self.pos).min(buf.len());
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }
    let (started_tx, started_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel();
    let agent = s.agent.clone();
    let url = format!("{}/v1/reports", s.base);
    let len = body.len();
    let upload = std::thread::spawn(move || {
        let mut gated = Gated {
            data: body,
            pos: 0,
            started: Some(started_tx),
            go: go_rx,
        };
        let resp = agent
            .post(&url)
            .header("Authorization", &format!("Bearer {up}"))
            .header("Content-Type", "application/json")
            .header("Content-Length", &len.to_string())
            .send(ureq::SendBody::from_reader(&mut gated));
        resp.map(|r| r.status().as_u16())
    });
    started_rx.recv().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    // Shut down while the body is half sent, then let the client finish.
    let tx = s.shutdown_sender();
    tx.send(()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    go_tx.send(()).unwrap();
    let status = upload.join().unwrap().unwrap();
    assert_eq!(status, 201);
    s.stop();
    assert_eq!(s.count("images"), 1);
    // The listener is closed.
    assert!(std::net::TcpStream::connect(
        s.base
            .trim_start_matches("https://")
            .replace("localhost", "127.0.0.1")
    )
    .is_err());
}

#[test]
fn openapi_document_matches_the_router() {
    let s = TestServer::start();
    let r = s.call("GET", "/openapi.json", None, None);
    assert_eq!(r.status, 200);
    let doc = r.json;
    let mut in_doc = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            in_doc.insert((method.to_uppercase(), path.clone()));
            let ep = Endpoint::ALL
                .into_iter()
                .find(|e| {
                    let (m, p) = e.route();
                    m.as_str() == method.to_uppercase() && p == path
                })
                .unwrap_or_else(|| panic!("{method} {path} is documented but not routed"));
            // The roles documented are the roles enforced.
            let documented: BTreeSet<String> = op["x-bulwark-roles"]
                .as_array()
                .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
                .unwrap_or_default();
            let enforced: BTreeSet<String> = ep
                .allowed()
                .map(|rs| rs.iter().map(|r| r.as_str().to_string()).collect())
                .unwrap_or_default();
            assert_eq!(documented, enforced, "{method} {path}");
        }
    }
    let routed: BTreeSet<(String, String)> = Endpoint::ALL
        .into_iter()
        .map(|e| {
            let (m, p) = e.route();
            (m.as_str().to_string(), p.to_string())
        })
        .collect();
    assert_eq!(in_doc, routed);
    // And every endpoint of the table is really routed (no fallback 404/405).
    for ep in Endpoint::ALL {
        let (m, p) = ep.route();
        let path = p
            .replace("{digest}", &digest(1))
            .replace("{id}", "0123456789abcdef");
        let method = match m {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        };
        let r = s.call(method, &path, None, None);
        assert!(
            r.status == 200 || r.status == 401,
            "{method} {path}: HTTP {} {}",
            r.status,
            r.json
        );
    }
}

#[test]
fn finding_on_a_package_a_reused_layer_did_not_list_is_stored() {
    let s = TestServer::start();
    let admin = s.token("admin", &[]);
    let d1 = digest(1);
    // First document: the app layer lists no lodash.
    let mut first: Value = serde_json::from_slice(&report(&d1, None)).unwrap();
    first["packages"].as_array_mut().unwrap().truncate(1);
    first["vulnerabilities"] = json!([]);
    let r = s.post_json("/v1/reports", &admin, &serde_json::to_vec(&first).unwrap());
    assert_eq!(r.status, 201, "{}", r.json);
    // Second image, same layers, a finding on lodash: stored, not a constraint error.
    let d2 = digest(2);
    let r = s.post_json("/v1/reports", &admin, &report(&d2, None));
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["findings"], 1);
    let f = s.get(&format!("/v1/images/{d2}/findings"), &admin);
    assert_eq!(f.json["items"][0]["package"], "lodash");
}

#[test]
fn image_list_and_audit_pages() {
    let s = TestServer::start();
    let admin = s.token("admin", &[]);
    let auditor = s.token("auditor", &[]);
    for i in 1..=3 {
        let d = digest(i);
        let team = if i == 3 { "other" } else { "shop" };
        let r = s.post_json(
            &format!("/v1/reports?team={team}"),
            &admin,
            &report(&d, None),
        );
        assert_eq!(r.status, 201);
    }
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let r = s.get(
            &format!("/v1/images?limit=2&team=shop&after={after}"),
            &admin,
        );
        assert_eq!(r.status, 200, "{}", r.json);
        for i in r.json["items"].as_array().unwrap() {
            seen.push(i["digest"].as_str().unwrap().to_string());
        }
        match r.json["next"].as_str() {
            Some(n) => after = n.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, vec![digest(1), digest(2)]);
    let r = s.get(
        "/v1/images?repository=registry.example:5000/acme/shop",
        &admin,
    );
    assert_eq!(
        r.json["items"].as_array().unwrap().len(),
        1,
        "the tag moved to the last upload"
    );
    // Docker Hub names are one repository however they are written.
    let d9 = digest(9);
    let r = s.call(
        "POST",
        &format!("/v1/sboms?digest={d9}&repository=nginx&tags=1.27"),
        Some(&admin),
        Some(("application/vnd.cyclonedx+json", cyclonedx(1))),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    for spelled in [
        "nginx",
        "library/nginx",
        "docker.io/library/nginx",
        "index.docker.io/nginx",
    ] {
        let r = s.get(&format!("/v1/images?repository={spelled}"), &admin);
        let items = r.json["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{spelled}: {}", r.json);
        assert_eq!(items[0]["digest"], d9.as_str());
    }
    let img = s.get(&format!("/v1/images/{d9}"), &admin);
    assert_eq!(
        img.json["repositories"][0]["repository"],
        "docker.io/library/nginx"
    );

    // The audit log, in pages, chained.
    let a = s.get("/v1/audit?limit=2", &auditor);
    let items = a.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["prev_hash"], items[0]["hash"]);
    let next = a.json["next"].as_str().unwrap();
    let b = s.get(&format!("/v1/audit?limit=2&after={next}"), &auditor);
    assert_eq!(b.json["items"][0]["prev_hash"], items[1]["hash"]);
    let stores = s.get("/v1/audit?limit=1000", &auditor).json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "report.store")
        .count();
    assert_eq!(stores, 3);
}

#[test]
fn runtime_alerts_land_in_the_audit_chain() {
    let s = TestServer::start();
    let sensor = s.token("sensor", &[]);
    let auditor = s.token("auditor", &[]);
    let r = s.post_json("/v1/runtime/alerts", &sensor, &runtime_alerts(2));
    assert_eq!(
        (r.status, r.json["recorded"].as_u64()),
        (201, Some(2)),
        "{}",
        r.json
    );
    let a = s.get("/v1/audit?limit=1000", &auditor);
    let entries: Vec<&Value> = a.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "runtime.alert")
        .collect();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["decision"], "warning");
    assert_eq!(
        entries[0]["resource"],
        format!("node-1/{:064x}", 1).as_str()
    );
    assert_eq!(entries[0]["role"], "sensor");
    let detail: Value = serde_json::from_str(entries[0]["detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail["rule"], "Read sensitive file");
    // Refused: an uploader token, an alert without a rule, too many; no alert written
    // (the refusals themselves are audited as mutations).
    let ci = s.token("ci-uploader", &[]);
    let r = s.post_json("/v1/runtime/alerts", &ci, &runtime_alerts(1));
    assert_eq!((r.status, code(&r)), (403, "forbidden"));
    let mut v: Value = serde_json::from_slice(&runtime_alerts(2)).unwrap();
    v["alerts"][1].as_object_mut().unwrap().remove("rule");
    let r = s.post_json(
        "/v1/runtime/alerts",
        &sensor,
        &serde_json::to_vec(&v).unwrap(),
    );
    assert_eq!((r.status, code(&r)), (422, "invalid_request"));
    let r = s.post_json("/v1/runtime/alerts", &sensor, &runtime_alerts(1001));
    assert_eq!((r.status, code(&r)), (413, "too_large"));
    let a = s.get("/v1/audit?limit=1000", &auditor);
    let alerts = a.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "runtime.alert")
        .count();
    assert_eq!(alerts, 2);
}

#[test]
fn admission_decisions_land_in_the_audit_chain() {
    let s = TestServer::start();
    let adm = s.token("admission", &[]);
    let auditor = s.token("auditor", &[]);
    let r = s.post_json("/v1/admission/decisions", &adm, &decisions(3));
    assert_eq!(
        (r.status, r.json["recorded"].as_u64()),
        (201, Some(3)),
        "{}",
        r.json
    );
    let a = s.get("/v1/audit?limit=1000", &auditor);
    let entries: Vec<&Value> = a.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "admission.decision")
        .collect();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0]["decision"], "deny");
    assert_eq!(entries[0]["resource"], "prod/shop/Deployment/web-0");
    assert!(entries[0]["detail"]
        .as_str()
        .unwrap()
        .contains("is not signed"));
    assert_eq!(entries[1]["decision"], "allow");
    // Bad input: unknown fields, too many, a field with control characters; nothing
    // half-written.
    let before = s.count("audit_log");
    let mut v: Value = serde_json::from_slice(&decisions(1)).unwrap();
    v["decisions"][0]["surprise"] = json!(1);
    let r = s.post_json(
        "/v1/admission/decisions",
        &adm,
        &serde_json::to_vec(&v).unwrap(),
    );
    assert_eq!((r.status, code(&r)), (400, "unknown_field"));
    let r = s.post_json("/v1/admission/decisions", &adm, &decisions(1001));
    assert_eq!((r.status, code(&r)), (413, "too_large"));
    let mut v: Value = serde_json::from_slice(&decisions(2)).unwrap();
    v["decisions"][1]["name"] = json!("web\u{1b}[2J");
    let r = s.post_json(
        "/v1/admission/decisions",
        &adm,
        &serde_json::to_vec(&v).unwrap(),
    );
    assert_eq!((r.status, code(&r)), (422, "invalid_request"));
    // Each refusal is itself an audited decision, but no decision entry was added.
    let after: Vec<Value> = s.get("/v1/audit?limit=1000", &auditor).json["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(
        after
            .iter()
            .filter(|e| e["action"] == "admission.decision")
            .count(),
        3
    );
    assert!(s.count("audit_log") >= before);
}

/// The security role's VEX documents and ignore rules mark the findings they cover
/// suppressed (with the reason), for every reader; deleting them undoes it; they are
/// audited; bad ones are refused naming the field; other roles may not write them.
#[test]
fn vex_and_ignore_rules_suppress_findings_when_read() {
    let s = TestServer::start();
    let admin = s.token("admin", &[]);
    let security = s.token("security", &[]);
    let developer = s.token("developer", &["b"]);
    let img = digest(7);
    let other = digest(8);
    for d in [&img, &other] {
        let r = s.post_json(
            &format!("/v1/reports?team=b&digest={d}"),
            &admin,
            &report(d, None),
        );
        assert_eq!(r.status, 201, "{}", r.json);
    }
    let lodash = |d: &str, tok: &str| -> Value {
        let r = s.get(&format!("/v1/images/{d}/findings"), tok);
        assert_eq!(r.status, 200, "{}", r.json);
        let items = r.json["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{}", r.json);
        items[0]["suppressed"].clone()
    };
    assert_eq!(lodash(&img, &developer), Value::Null);

    // VEX by alias, for the package without a version: both images.
    let r = s.post_json(
        "/v1/vex?name=lodash-vendor",
        &security,
        &openvex("GHSA-35jh-r3h4-6jhm", "pkg:npm/lodash"),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(
        (r.json["format"].as_str(), r.json["statements"].as_i64()),
        (Some("openvex"), Some(1))
    );
    let vex_id = r.json["id"].as_str().unwrap().to_string();
    for d in [&img, &other] {
        let why = lodash(d, &developer);
        let why = why
            .as_str()
            .unwrap_or_else(|| panic!("not suppressed: {why}"));
        assert!(
            why.contains("not_affected") && why.contains(&vex_id),
            "{why}"
        );
    }
    // A newer statement saying `affected` for the same product wins over it.
    let mut affected: Value =
        serde_json::from_slice(&openvex("CVE-2021-23337", "pkg:npm/lodash@4.17.20")).unwrap();
    affected["statements"][0]["status"] = json!("affected");
    affected["statements"][0]["timestamp"] = json!("2026-12-02T00:00:00Z");
    affected["statements"][0]
        .as_object_mut()
        .unwrap()
        .remove("justification");
    affected["statements"][0]["action_statement"] = json!("upgrade to 4.17.21");
    let r = s.post_json(
        "/v1/vex",
        &security,
        &serde_json::to_vec(&affected).unwrap(),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    let newer = r.json["id"].as_str().unwrap().to_string();
    assert_eq!(
        lodash(&img, &developer),
        Value::Null,
        "the newer `affected` statement decides"
    );
    assert_eq!(
        s.call("DELETE", &format!("/v1/vex/{newer}"), Some(&security), None)
            .status,
        200
    );
    assert!(lodash(&img, &developer).is_string());
    assert_eq!(
        s.call(
            "DELETE",
            &format!("/v1/vex/{vex_id}"),
            Some(&security),
            None
        )
        .status,
        200
    );
    assert_eq!(lodash(&img, &developer), Value::Null);
    assert_eq!(
        s.call(
            "DELETE",
            &format!("/v1/vex/{vex_id}"),
            Some(&security),
            None
        )
        .status,
        404
    );

    // An ignore rule for one image only; an expired one does nothing.
    let body = json!({"vulnerability": "CVE-2021-23337", "image": img, "reason": "not reachable from the entry point", "expires": "2999-12-31"});
    let r = s.post_json(
        "/v1/ignores",
        &security,
        &serde_json::to_vec(&body).unwrap(),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    let ign = r.json["id"].as_str().unwrap().to_string();
    let why = lodash(&img, &developer);
    assert!(
        why.as_str()
            .is_some_and(|w| w.contains("not reachable") && w.contains("2999-12-31")),
        "{why}"
    );
    assert_eq!(
        lodash(&other, &developer),
        Value::Null,
        "another image is not covered"
    );
    let old = json!({"vulnerability": "CVE-2021-23337", "reason": "old", "expires": "2020-01-01"});
    assert_eq!(
        s.post_json("/v1/ignores", &security, &serde_json::to_vec(&old).unwrap())
            .status,
        201
    );
    assert_eq!(
        lodash(&other, &developer),
        Value::Null,
        "an expired rule does nothing"
    );
    let list = s.get("/v1/ignores", &developer);
    assert_eq!(list.status, 200);
    assert_eq!(list.json["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        s.call("DELETE", &format!("/v1/ignores/{ign}"), Some(&admin), None)
            .status,
        200
    );
    assert_eq!(lodash(&img, &developer), Value::Null);

    // Refused: other roles, bad documents and fields (422 naming what is wrong).
    let r = s.post_json(
        "/v1/ignores",
        &developer,
        &serde_json::to_vec(&body).unwrap(),
    );
    assert_eq!((r.status, code(&r)), (403, "forbidden"));
    for (b, want) in [
        (
            json!({"vulnerability": "CVE-1", "reason": "x", "expires": "31/12/2030"}),
            "expires",
        ),
        (
            json!({"vulnerability": "CVE-1", "reason": "x", "image": "latest"}),
            "image",
        ),
        (
            json!({"vulnerability": "CVE-1", "reason": "x", "purl": "lodash"}),
            "purl",
        ),
        (
            json!({"vulnerability": "CVE 1", "reason": "x"}),
            "vulnerability",
        ),
        (json!({"vulnerability": "CVE-1", "reason": ""}), "reason"),
    ] {
        let r = s.post_json("/v1/ignores", &security, &serde_json::to_vec(&b).unwrap());
        assert_eq!(r.status, 422, "{b}: {}", r.json);
        assert!(
            r.json["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(want),
            "{}",
            r.json
        );
    }
    let r = s.post_json(
        "/v1/ignores",
        &security,
        br#"{"vulnerability":"CVE-1","reason":"x","team":"b"}"#,
    );
    assert_eq!((r.status, code(&r)), (400, "unknown_field"), "{}", r.json);
    let r = s.post_json("/v1/vex", &security, br#"{"hello": "world"}"#);
    assert_eq!((r.status, code(&r)), (422, "invalid_vex"), "{}", r.json);
    let r = s.post_json("/v1/vex", &security, b"{not json");
    assert_eq!((r.status, code(&r)), (422, "invalid_vex"), "{}", r.json);

    // Every change is in the audit chain.
    let audit = s.get("/v1/audit?limit=1000", &admin);
    assert_eq!(audit.status, 200, "{}", audit.json);
    let actions: Vec<&str> = audit.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in ["vex.create", "vex.delete", "ignore.create", "ignore.delete"] {
        assert!(actions.contains(&a), "{a} not audited: {actions:?}");
    }
}
