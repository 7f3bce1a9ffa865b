//! Registry writes against a real `docker-registry` (distribution 2.8, no referrers API)
//! started by bulwark-testkit with htpasswd auth and TLS from a test CA: blob and manifest
//! pushes, mounts, tags, deletes, referrers through the tag-schema fallback, and the
//! typed errors (401, 404); plus retries, Retry-After and timeouts against scripted
//! loopback servers.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use bulwark_image::oci::{self, Descriptor, MT_EMPTY, MT_OCI_MANIFEST};
use bulwark_image::registry::{
    BlobPush, CredentialConfig, Credentials, ErrorKind, Payload, Reference, ReferrersSource,
    RegistryConfig, Repository, RetryPolicy, Secret, Timeouts,
};
use bulwark_testkit::{hanging_listener, Canned, Registry, RegistryOptions, ScriptedServer};
use std::time::{Duration, Instant};

fn config_for(reg: &Registry, password: Option<&str>) -> RegistryConfig {
    RegistryConfig {
        insecure: reg.ca_file().is_none(),
        ca_file: reg.ca_file(),
        credentials: CredentialConfig {
            explicit: reg.credentials().map(|(u, p)| Credentials::Basic {
                username: u.to_string(),
                password: Secret::new(password.unwrap_or(p)),
            }),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn repo(reg: &Registry, name: &str, cfg: &RegistryConfig) -> Repository {
    let r = Reference::parse(&format!("{}/{name}:x", reg.host())).unwrap_or_else(|e| panic!("{e}"));
    Repository::open(&r, cfg).unwrap_or_else(|e| panic!("{e}"))
}

/// A one-layer OCI image; returns its manifest bytes after pushing its blobs.
fn push_small_image(r: &Repository, marker: &str) -> Vec<u8> {
    let layer = format!("layer {marker}").into_bytes();
    let l = r
        .push_blob_bytes("application/vnd.oci.image.layer.v1.tar", &layer)
        .unwrap_or_else(|e| panic!("{e}"));
    let cfg = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let c = r
        .push_blob_bytes("application/vnd.oci.image.config.v1+json", cfg)
        .unwrap_or_else(|e| panic!("{e}"));
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": MT_OCI_MANIFEST, "config": c, "layers": [l]
    }))
    .unwrap_or_default()
}

fn artifact(r: &Repository, subject: &Descriptor, kind: &str, payload: &[u8]) -> Vec<u8> {
    let empty = r
        .push_blob_bytes(MT_EMPTY, oci::EMPTY_JSON)
        .unwrap_or_else(|e| panic!("{e}"));
    let layer = r
        .push_blob_bytes("application/octet-stream", payload)
        .unwrap_or_else(|e| panic!("{e}"));
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": MT_OCI_MANIFEST, "artifactType": kind,
        "config": empty, "layers": [layer], "subject": subject,
        "annotations": {"org.example.note": kind}
    }))
    .unwrap_or_default()
}

#[test]
fn push_pull_mount_tags_delete_over_tls_with_auth() {
    let Some(reg) = Registry::start(RegistryOptions::tls_with_auth("pusher", "pw-123")) else {
        return;
    };
    let cfg = config_for(&reg, None);
    let r = repo(&reg, "team/app", &cfg);

    // First push uploads, second finds it.
    let data = b"hello blob".to_vec();
    let d = oci::sha256_digest(&data);
    let first = r
        .push_blob(&d, data.len() as u64, Payload::Bytes(&data), None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first, BlobPush::Uploaded);
    let again = r
        .push_blob(&d, data.len() as u64, Payload::Bytes(&data), None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again, BlobPush::Existed);
    assert_eq!(r.fetch_blob(&d, 1024).unwrap_or_default(), data);
    assert_eq!(
        std::fs::read(reg.blob_data_path(&d)).unwrap_or_default(),
        data
    );
    // A wrong digest is refused by the registry.
    let wrong = format!("sha256:{}", "1".repeat(64));
    assert!(r
        .push_blob(&wrong, 3, Payload::Bytes(b"abc"), None)
        .is_err());
    // A content length that disagrees with the descriptor is refused before sending.
    assert!(r.push_blob(&d, 99, Payload::Bytes(&data), None).is_err());

    // Mount into another repository.
    let other = repo(&reg, "team/other", &cfg);
    let m = other
        .push_blob(
            &d,
            data.len() as u64,
            Payload::Bytes(&data),
            Some("team/app"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m, BlobPush::Mounted);

    // Manifests by tag and by digest; Content-Type from mediaType.
    let manifest = push_small_image(&r, "one");
    let pushed = r
        .push_manifest(Some("v1"), &manifest)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pushed.digest, oci::sha256_digest(&manifest));
    let by_digest = r
        .push_manifest(None, &manifest)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(by_digest.digest, pushed.digest);
    let resolved = r.resolve("v1").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resolved.digest, pushed.digest);
    assert_eq!(resolved.media_type, MT_OCI_MANIFEST);
    assert_eq!(resolved.size, manifest.len() as u64);
    let fetched = r
        .fetch_manifest(&pushed.digest)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fetched.bytes, manifest);
    r.push_manifest(Some("v2"), &manifest)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut tags = r.list_tags().unwrap_or_else(|e| panic!("{e}"));
    tags.sort();
    assert_eq!(tags, vec!["v1".to_string(), "v2".to_string()]);

    // Delete a blob, then a manifest by digest (distribution 2.8 with delete enabled):
    // the manifest's tags go with it.
    other.delete_blob(&d).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(other.blob_exists(&d).unwrap_or(Some(1)), None);
    let e = other
        .delete_blob(&d)
        .err()
        .unwrap_or_else(|| panic!("deleted twice"));
    assert!(e.is_not_found(), "{e}");
    r.delete_manifest(&pushed.digest)
        .unwrap_or_else(|e| panic!("{e}"));
    let gone = r
        .fetch_manifest("v1")
        .err()
        .unwrap_or_else(|| panic!("still there"));
    assert!(gone.is_not_found(), "{gone}");
}

#[test]
fn referrers_fall_back_to_the_tag_schema() {
    let Some(reg) = Registry::start(RegistryOptions::tls_with_auth("u", "p")) else {
        return;
    };
    let cfg = config_for(&reg, None);
    let r = repo(&reg, "sig/app", &cfg);
    let manifest = push_small_image(&r, "subject");
    let subject = r
        .push_manifest(Some("1.0"), &manifest)
        .unwrap_or_else(|e| panic!("{e}"))
        .descriptor;

    // Nothing yet: the API is absent (404), the tag does not exist: empty, not an error.
    let none = r
        .referrers(&subject.digest, None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(none.source, ReferrersSource::TagSchema);
    assert!(none.manifests.is_empty());

    let sig = artifact(
        &r,
        &subject,
        "application/vnd.dev.sigstore.bundle.v0.3+json",
        b"sig",
    );
    let att = artifact(&r, &subject, "application/vnd.in-toto+json", b"att");
    let p1 = r
        .push_manifest(None, &sig)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!p1.subject_indexed_by_registry);
    let tag = oci::referrers_tag(&subject.digest);
    assert_eq!(p1.fallback_tag_updated.as_deref(), Some(tag.as_str()));
    r.push_manifest(None, &att)
        .unwrap_or_else(|e| panic!("{e}"));
    // Pushing the same referrer again does not duplicate it.
    r.push_manifest(None, &sig)
        .unwrap_or_else(|e| panic!("{e}"));

    let all = r
        .referrers(&subject.digest, None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.source, ReferrersSource::TagSchema);
    assert_eq!(all.manifests.len(), 2, "{:?}", all.manifests);
    let sigs = r
        .referrers(
            &subject.digest,
            Some("application/vnd.dev.sigstore.bundle.v0.3+json"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sigs.manifests.len(), 1);
    assert_eq!(sigs.manifests[0].digest, p1.digest);
    assert_eq!(
        sigs.manifests[0]
            .annotations
            .get("org.example.note")
            .map(String::as_str),
        Some("application/vnd.dev.sigstore.bundle.v0.3+json")
    );
    // The fallback index is an ordinary tag that any client can read.
    let idx = r.fetch_manifest(&tag).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(idx.media_type, oci::MT_OCI_INDEX);
    // A fresh client (no remembered detection) gets the same answer.
    let r2 = repo(&reg, "sig/app", &cfg);
    let again = r2
        .referrers(&subject.digest, None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.manifests, all.manifests);
}

#[test]
fn wrong_password_is_401_and_missing_repo_is_404() {
    let Some(reg) = Registry::start(RegistryOptions::tls_with_auth("ann", "right")) else {
        return;
    };
    let bad = config_for(&reg, Some("wrong"));
    let r = repo(&reg, "x/y", &bad);
    let e = r
        .fetch_manifest("1")
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert!(matches!(e.kind, ErrorKind::Unauthorized(_)), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("401") && msg.contains("\"ann\""), "{msg}");
    assert!(msg.contains(&reg.host()) && msg.contains("x/y"), "{msg}");
    assert!(!msg.contains("wrong"), "password leaked: {msg}");
    let e = r
        .push_blob_bytes("application/octet-stream", b"z")
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert_eq!(e.status(), Some(401), "{e}");

    let good = config_for(&reg, None);
    let r = repo(&reg, "no/such/repo", &good);
    let e = r
        .fetch_manifest("latest")
        .err()
        .unwrap_or_else(|| panic!("found"));
    assert!(e.is_not_found(), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("404") && msg.contains("no/such/repo") && msg.contains("pull manifest"),
        "{msg}"
    );
    let e = r.list_tags().err().unwrap_or_else(|| panic!("listed"));
    assert_eq!(e.status(), Some(404), "{e}");

    // Without the CA, TLS verification fails (and says where).
    let mut no_ca = good.clone();
    no_ca.ca_file = None;
    let r = repo(&reg, "x/y", &no_ca);
    let e = r
        .fetch_manifest("1")
        .err()
        .unwrap_or_else(|| panic!("trusted"));
    assert!(matches!(e.kind, ErrorKind::Transport(_)), "{e}");
}

fn scripted_repo(host: &str, retry: RetryPolicy, timeouts: Timeouts) -> Repository {
    let cfg = RegistryConfig {
        insecure: true,
        retry,
        timeouts,
        ..Default::default()
    };
    let r = Reference::parse(&format!("{host}/a/b:1")).unwrap_or_else(|e| panic!("{e}"));
    Repository::open(&r, &cfg).unwrap_or_else(|e| panic!("{e}"))
}

fn quick_retry(n: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries: n,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        max_retry_after: Duration::from_secs(1),
    }
}

#[test]
fn credentials_never_follow_a_link_to_another_host() {
    // The second tag page lives on another host (as an upload `Location` may): it is
    // fetched, but without the registry's credentials.
    let other = ScriptedServer::start(vec![Canned::status("200 OK")
        .header("Content-Type", "application/json")
        .body(br#"{"tags":["b"]}"#.to_vec())]);
    let link = format!(
        "<http://{}/v2/a/b/tags/list?n=1&last=a>; rel=\"next\"",
        other.host()
    );
    let reg = ScriptedServer::start(vec![
        Canned::status("401 Unauthorized").header("WWW-Authenticate", "Basic realm=\"t\""),
        Canned::status("200 OK")
            .header("Content-Type", "application/json")
            .header("Link", &link)
            .body(br#"{"tags":["a"]}"#.to_vec()),
    ]);
    let cfg = RegistryConfig {
        insecure: true,
        retry: quick_retry(0),
        credentials: CredentialConfig {
            explicit: Some(Credentials::Basic {
                username: "u".into(),
                password: Secret::new("p"),
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let r = Reference::parse(&format!("{}/a/b:1", reg.host())).unwrap_or_else(|e| panic!("{e}"));
    let repo = Repository::open(&r, &cfg).unwrap_or_else(|e| panic!("{e}"));
    let tags = repo.list_tags().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tags, vec!["a".to_string(), "b".to_string()]);
    assert_eq!(reg.authorized(), vec![false, true], "{:?}", reg.requests());
    assert_eq!(other.authorized(), vec![false], "{:?}", other.requests());
}

#[test]
fn retries_429_and_5xx_then_gives_a_distinct_error() {
    // 503, 429 (Retry-After: 1), then success.
    let body = br#"{"tags":["a"]}"#.to_vec();
    let s = ScriptedServer::start(vec![
        Canned::status("503 Service Unavailable"),
        Canned::status("429 Too Many Requests").header("Retry-After", "1"),
        Canned::status("200 OK")
            .header("Content-Type", "application/json")
            .body(body),
    ]);
    let r = scripted_repo(s.host(), quick_retry(3), Timeouts::default());
    let start = Instant::now();
    let tags = r.list_tags().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tags, vec!["a".to_string()]);
    assert_eq!(s.request_count(), 3);
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "Retry-After ignored"
    );

    // Always 429: bounded attempts, then the rate-limit error.
    let s = ScriptedServer::start(vec![Canned::status("429 Too Many Requests")]);
    let r = scripted_repo(s.host(), quick_retry(2), Timeouts::default());
    let e = r.list_tags().err().unwrap_or_else(|| panic!("succeeded"));
    assert!(
        matches!(e.kind, ErrorKind::RateLimited { attempts: 3, .. }),
        "{e}"
    );
    assert_eq!(s.request_count(), 3);
    assert!(
        e.to_string().contains("429") && e.to_string().contains("a/b"),
        "{e}"
    );

    // Always 500.
    let s = ScriptedServer::start(vec![Canned::status("500 Internal Server Error")
        .body(r#"{"errors":[{"code":"UNKNOWN","message":"disk on fire"}]}"#)]);
    let r = scripted_repo(s.host(), quick_retry(1), Timeouts::default());
    let e = r
        .fetch_manifest("1")
        .err()
        .unwrap_or_else(|| panic!("succeeded"));
    assert!(
        matches!(
            e.kind,
            ErrorKind::Server {
                status: 500,
                attempts: 2,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("disk on fire"), "{e}");

    // 403 is not retried and says who was refused.
    let s = ScriptedServer::start(vec![Canned::status("403 Forbidden")]);
    let r = scripted_repo(s.host(), quick_retry(3), Timeouts::default());
    let e = r
        .fetch_manifest("1")
        .err()
        .unwrap_or_else(|| panic!("succeeded"));
    assert!(matches!(e.kind, ErrorKind::Forbidden(_)), "{e}");
    assert_eq!(s.request_count(), 1);
}

#[test]
fn a_registry_that_never_answers_times_out() {
    let l = hanging_listener();
    let t = Timeouts {
        connect: Duration::from_secs(2),
        response: Duration::from_millis(800),
        io: Duration::from_millis(800),
    };
    let r = scripted_repo(l.host(), quick_retry(3), t);
    let start = Instant::now();
    let e = r
        .fetch_manifest("1")
        .err()
        .unwrap_or_else(|| panic!("answered"));
    let took = start.elapsed();
    assert!(matches!(e.kind, ErrorKind::Timeout(..)), "{e}");
    assert!(e.to_string().contains("timed out"), "{e}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn bearer_tokens_are_scoped_per_repository_and_operation() {
    let Some(reg) = Registry::start(RegistryOptions::token("tokuser", "tokpw")) else {
        return;
    };
    let cfg = config_for(&reg, None);
    let r = repo(&reg, "tok/app", &cfg);
    let manifest = push_small_image(&r, "tok");
    r.push_manifest(Some("1"), &manifest)
        .unwrap_or_else(|e| panic!("{e}"));
    let other = repo(&reg, "tok/copy", &cfg);
    let layer_digest = serde_json::from_slice::<serde_json::Value>(&manifest)
        .ok()
        .and_then(|m| m["layers"][0]["digest"].as_str().map(str::to_string))
        .unwrap_or_default();
    let pushed = other
        .push_blob(
            &layer_digest,
            "layer tok".len() as u64,
            Payload::Bytes(b"layer tok"),
            Some("tok/app"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pushed, BlobPush::Mounted);
    let reader = repo(&reg, "tok/app", &cfg);
    assert_eq!(
        reader
            .fetch_manifest("1")
            .map(|m| m.bytes)
            .unwrap_or_default(),
        manifest
    );
    let scopes = reg.token_requests();
    assert!(
        scopes
            .iter()
            .any(|s| s.contains("repository:tok/app:pull,push")),
        "{scopes:?}"
    );
    assert!(
        scopes
            .iter()
            .any(|s| s.contains("repository:tok/copy:pull,push")
                && s.contains("repository:tok/app:pull")),
        "mount must ask for pull on the source: {scopes:?}"
    );
    assert!(
        scopes.iter().any(|s| s == "repository:tok/app:pull"),
        "{scopes:?}"
    );
    // The token service refuses a wrong password: a 401 from the token request.
    let bad = config_for(&reg, Some("nope"));
    let e = repo(&reg, "tok/app", &bad)
        .fetch_manifest("1")
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert_eq!(e.status(), Some(401), "{e}");
    assert!(e.to_string().contains("get a token from"), "{e}");
}

#[test]
fn referrers_api_is_used_when_the_registry_has_it() {
    let subject = format!("sha256:{}", "c".repeat(64));
    let entry = |t: &str, n: char| {
        serde_json::json!({"mediaType": MT_OCI_MANIFEST, "digest": format!("sha256:{}", n.to_string().repeat(64)),
            "size": 10, "artifactType": t})
    };
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": oci::MT_OCI_INDEX,
        "manifests": [entry("application/x.sig", 'd'), entry("application/x.att", 'e')]});
    let body = serde_json::to_vec(&index).unwrap_or_default();
    // The registry does not filter: bulwark does.
    let s = ScriptedServer::start(vec![Canned::status("200 OK")
        .header("Content-Type", oci::MT_OCI_INDEX)
        .body(body.clone())]);
    let r = scripted_repo(s.host(), quick_retry(0), Timeouts::default());
    let got = r
        .referrers(&subject, Some("application/x.sig"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got.source, ReferrersSource::Api);
    assert_eq!(got.manifests.len(), 1);
    assert_eq!(
        got.manifests[0].artifact_type.as_deref(),
        Some("application/x.sig")
    );
    let line = s.requests().first().cloned().unwrap_or_default();
    assert!(
        line.contains(&format!(
            "/v2/a/b/referrers/{subject}?artifactType=application%2Fx.sig"
        )),
        "{line}"
    );
    // A registry that says it filtered is trusted.
    let s = ScriptedServer::start(vec![Canned::status("200 OK")
        .header("Content-Type", oci::MT_OCI_INDEX)
        .header("OCI-Filters-Applied", "artifactType")
        .body(body)]);
    let r = scripted_repo(s.host(), quick_retry(0), Timeouts::default());
    let got = r
        .referrers(&subject, Some("application/x.sig"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got.manifests.len(), 2);

    // A push the registry indexes itself (OCI-Subject) leaves the tag schema alone: one
    // request only.
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": MT_OCI_MANIFEST, "artifactType": "application/x.sig",
        "config": {"mediaType": MT_EMPTY, "digest": oci::sha256_digest(b"{}"), "size": 2},
        "layers": [], "subject": {"mediaType": MT_OCI_MANIFEST, "digest": subject, "size": 10}
    }))
    .unwrap_or_default();
    let s = ScriptedServer::start(vec![Canned::status("201 Created")
        .header("Docker-Content-Digest", &oci::sha256_digest(&manifest))
        .header("OCI-Subject", &subject)]);
    let r = scripted_repo(s.host(), quick_retry(0), Timeouts::default());
    let p = r
        .push_manifest(None, &manifest)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(p.subject_indexed_by_registry);
    assert_eq!(p.fallback_tag_updated, None);
    assert_eq!(s.request_count(), 1, "{:?}", s.requests());
}
