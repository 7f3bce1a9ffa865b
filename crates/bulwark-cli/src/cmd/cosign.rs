//! `bulwark sign`, `verify`, `attest`, `verify-attestation`, and `--attest` of `sbom`
//! and `scan`: argument parsing and printing over `bulwark-cosign`.
//!
//! Exit codes of the verifying commands: 0 at least one signature (attestation)
//! verified in full (and the policy passed); 1 none did, each with its reason; 2 the
//! image, keys or storage could not be read (registry errors and timeouts included).

use anyhow::{anyhow, bail, Context, Result};
use bulwark_cosign::store::Format as StoreFormat;
use bulwark_cosign::verify::{Report, Requirements, Signer};
use bulwark_cosign::Image;
use bulwark_sign::simple_signing::ReferenceMatch;
use bulwark_sign::KeyRef;
use clap::Args;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Registry transport flags.
#[derive(Debug, Args)]
pub struct Transport {
    /// Allow a plain-HTTP registry (loopback test registries).
    #[arg(long)]
    pub insecure: bool,
    /// PEM file of CA certificates to trust for the registry's TLS.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Bound every registry connection, response and read by this long (`5s`, `2m`;
    /// default 10 s to connect, 60 s for a response or a read). A registry that does not
    /// answer in time is an error (exit 2), never a verdict.
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
}

fn open(image: &str, t: &Transport) -> Result<Image> {
    let mut config = crate::env::registry_config_for(t.insecure, t.ca_file.clone())?;
    if let Some(d) = &t.timeout {
        let d = bulwark_engine::vuln::parse_duration(d).map_err(|e| anyhow!("--timeout: {e}"))?;
        config.timeouts = bulwark_image::registry::Timeouts {
            connect: d,
            response: d,
            io: d,
        };
    }
    Image::open(image, &config).with_context(|| format!("resolving {image}"))
}

fn annotations(list: &[String]) -> Result<BTreeMap<String, String>> {
    list.iter()
        .map(|a| {
            a.split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| anyhow!("-a {a:?}: use KEY=VALUE"))
        })
        .collect()
}

fn private_key(key: &str) -> Result<bulwark_sign::PrivateKey> {
    let r: KeyRef = key.parse()?;
    let pw = crate::cmd::sign::password(false)?;
    Ok(r.private_key(&pw)?)
}

/// Arguments of `bulwark sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// Private key (path, `file://PATH` or `env://NAME`); password from COSIGN_PASSWORD
    /// or a prompt.
    #[arg(long)]
    key: String,
    /// Annotation KEY=VALUE written into the signed payload (repeatable).
    #[arg(short = 'a', long = "annotation")]
    annotations: Vec<String>,
    /// Where to store: legacy (`sha256-<hex>.sig` tag), bundle (OCI 1.1 referrer) or
    /// both.
    #[arg(long, default_value = "both")]
    format: String,
    /// The docker-reference to name in the payload (default: the image's repository;
    /// for an OCI layout, the repository of its ref.name).
    #[arg(long)]
    reference: Option<String>,
    #[command(flatten)]
    transport: Transport,
    /// `[docker://]REGISTRY/REPO(:TAG|@sha256:…)`, or `oci:DIR[:REF]`.
    image: String,
}

/// Runs `bulwark sign`.
pub fn run_sign(a: SignArgs) -> Result<u8> {
    let format: StoreFormat = a.format.parse().map_err(|e| anyhow!("--format: {e}"))?;
    let ann = annotations(&a.annotations)?;
    let key = private_key(&a.key)?;
    let image = open(&a.image, &a.transport)?;
    let stored = bulwark_cosign::store::sign(&image, &key, &ann, a.reference.as_deref(), format)
        .with_context(|| format!("signing {}", a.image))?;
    print_stored(&image, &stored);
    Ok(0)
}

fn print_stored(image: &Image, s: &bulwark_cosign::store::Stored) {
    if let Some(t) = &s.legacy_tag {
        println!("{}: {t}", image.location.describe());
    }
    if let Some(r) = &s.referrer {
        println!(
            "{}: referrer {r} of {}",
            image.location.describe(),
            s.digest
        );
    }
}

/// Who may have signed, as flags, and whether a transparency-log proof is required.
#[derive(Debug, Args)]
pub struct SignerArgs {
    #[command(flatten)]
    who: crate::cmd::sign::SignerFlags,
    /// With --key: require a transparency-log proof (bulwark's own signatures have none).
    #[arg(long)]
    require_tlog: bool,
}

fn requirements(
    s: &SignerArgs,
    reference: ReferenceMatch,
    ann: BTreeMap<String, String>,
) -> Result<Requirements> {
    let root = s.who.trusted_root()?.map(Box::new);
    let signer = match s.who.signer()? {
        crate::cmd::sign::Signer::Key(key) => Signer::Key(key),
        crate::cmd::sign::Signer::Identity { san, issuer } => {
            let Some(root) = root.clone() else {
                bail!(
                    "keyless verification needs a trusted root: give --trusted-root FILE or set {} (bulwark never fetches one)",
                    crate::cmd::sign::TRUSTED_ROOT_ENV
                );
            };
            Signer::Identity { san, issuer, root }
        }
    };
    if s.require_tlog && root.is_none() {
        bail!("--require-tlog needs --trusted-root (the Rekor keys)");
    }
    Ok(Requirements {
        signer,
        reference,
        annotations: ann,
        require_tlog: s.require_tlog,
        root,
    })
}

/// Arguments of `bulwark verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    signer: SignerArgs,
    /// Annotation KEY=VALUE every accepted signature must carry (repeatable).
    #[arg(short = 'a', long = "annotation")]
    annotations: Vec<String>,
    /// The repository the payload's docker-reference must name (default: the image's
    /// own repository for registry images; not checked for OCI layouts).
    #[arg(long, conflicts_with = "ignore_reference")]
    reference: Option<String>,
    /// Do not check the payload's docker-reference (cosign's default).
    #[arg(long)]
    ignore_reference: bool,
    /// Instead of signatures, re-hash every blob of the image against its manifest.
    #[arg(long)]
    integrity: bool,
    /// Output: text or json.
    #[arg(long, default_value = "text")]
    format: String,
    #[command(flatten)]
    report: crate::cmd::server::UploadArgs,
    #[command(flatten)]
    transport: Transport,
    /// `[docker://]REGISTRY/REPO(:TAG|@sha256:…)`, or `oci:DIR[:REF]`.
    image: String,
}

/// Sends the checked entries of `r` to the server named by `a` (when one is).
fn report_to_server(a: &crate::cmd::server::UploadArgs, r: &Report, kind: &str) -> Result<()> {
    let Some(server) = &a.server else {
        return Ok(());
    };
    let token =
        crate::cmd::server::read_server_token(a.server_token_file.as_deref(), &a.server_token_env)?;
    let entries = r
        .signatures
        .iter()
        .map(|c| bulwark_server::signatures::SignatureIn {
            kind: kind.to_string(),
            verified: c.verified,
            predicate_type: c.predicate_type.clone(),
            identity: None,
            issuer: None,
            reference: Some(format!("{} {}", c.source, c.location)),
        })
        .collect();
    let client = bulwark_server::client::ServerClient::new(
        server,
        &token,
        a.server_ca_file.as_deref(),
        std::time::Duration::from_secs(60),
    )?;
    let n = client
        .put_signatures(
            &r.digest,
            &bulwark_server::signatures::SignatureReport {
                signatures: entries,
            },
        )
        .with_context(|| format!("reporting to {server}"))?;
    eprintln!("reported to {server}: {n} {kind} entries for {}", r.digest);
    Ok(())
}

fn check_format(f: &str) -> Result<bool> {
    match f {
        "text" => Ok(false),
        "json" => Ok(true),
        o => bail!("--format {o}: use text or json"),
    }
}

fn print_report(r: &Report, json: bool, what: &str) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
        return Ok(());
    }
    for c in &r.signatures {
        let detail = c
            .predicate_type
            .as_deref()
            .or(c.docker_reference.as_deref())
            .unwrap_or("");
        match (&c.reason, c.verified) {
            (_, true) => println!("verified   {} {} {detail}", c.source, c.location),
            (Some(why), false) => println!("FAILED     {} {}: {why}", c.source, c.location),
            (None, false) => println!("FAILED     {} {}", c.source, c.location),
        }
    }
    if r.signatures.is_empty() {
        println!("no {what} found for {} ({})", r.image, r.digest);
    }
    Ok(())
}

/// Runs `bulwark verify`.
pub fn run_verify(a: VerifyArgs) -> Result<u8> {
    let json = check_format(&a.format)?;
    let image = open(&a.image, &a.transport)?;
    if a.integrity {
        let r = bulwark_cosign::integrity::check_integrity(&image)
            .with_context(|| format!("checking {}", a.image))?;
        if json {
            println!("{}", serde_json::to_string_pretty(&r)?);
        } else {
            for b in &r.blobs {
                match &b.problem {
                    None => println!("ok         {} {}", b.role, b.digest),
                    Some(p) => println!("TAMPERED   {} {}: {p}", b.role, b.digest),
                }
            }
        }
        if r.ok {
            eprintln!(
                "{}: all {} blobs match their digests",
                a.image,
                r.blobs.len()
            );
            return Ok(0);
        }
        let bad: Vec<&str> = r
            .blobs
            .iter()
            .filter(|b| !b.ok)
            .map(|b| b.role.as_str())
            .collect();
        eprintln!(
            "error: {}: integrity check failed: {}",
            a.image,
            bad.join(", ")
        );
        return Ok(1);
    }
    let reference = match (&a.reference, a.ignore_reference, &image.location) {
        (Some(r), _, _) => ReferenceMatch::Repository(r.clone()),
        (None, true, _) | (None, false, bulwark_cosign::Location::Layout(_)) => {
            ReferenceMatch::Ignore
        }
        (None, false, bulwark_cosign::Location::Registry(_)) => {
            ReferenceMatch::Repository(image.docker_reference.clone())
        }
    };
    let req = requirements(&a.signer, reference, annotations(&a.annotations)?)?;
    let r = bulwark_cosign::verify::verify_signatures(&image, &req)
        .with_context(|| format!("verifying {}", a.image))?;
    print_report(&r, json, "signatures")?;
    report_to_server(&a.report, &r, "signature")?;
    if r.verified {
        Ok(0)
    } else {
        eprintln!("error: no valid signature for {} ({})", a.image, r.digest);
        Ok(1)
    }
}

/// `--type` names and their predicate types (cosign's).
pub fn predicate_type(kind: &str, custom: Option<&str>) -> Result<String> {
    Ok(match kind {
        "cyclonedx" => "https://cyclonedx.org/bom".into(),
        "spdx" | "spdxjson" => "https://spdx.dev/Document".into(),
        "slsaprovenance" | "slsaprovenance02" => "https://slsa.dev/provenance/v0.2".into(),
        "slsaprovenance1" => "https://slsa.dev/provenance/v1".into(),
        "vuln" => "https://cosign.sigstore.dev/attestation/vuln/v1".into(),
        "openvex" => "https://openvex.dev/ns".into(),
        "custom" => custom
            .unwrap_or("https://cosign.sigstore.dev/attestation/v1")
            .to_string(),
        uri if uri.contains("://") => uri.to_string(),
        o => {
            bail!("--type {o}: use cyclonedx, spdx, slsaprovenance, vuln, openvex, custom or a URI")
        }
    })
}

/// Arguments of `bulwark attest`.
#[derive(Debug, Args)]
pub struct AttestArgs {
    /// Private key (path, `file://PATH` or `env://NAME`).
    #[arg(long)]
    key: String,
    /// Predicate type: cyclonedx, spdx, slsaprovenance, vuln, openvex, custom.
    #[arg(long = "type", default_value = "custom")]
    kind: String,
    /// Predicate type URI for --type custom.
    #[arg(long)]
    predicate_type: Option<String>,
    /// The predicate (a JSON file).
    #[arg(long)]
    predicate: PathBuf,
    /// Where to store: legacy (`.att` tag), bundle (referrer) or both.
    #[arg(long, default_value = "both")]
    format: String,
    #[command(flatten)]
    transport: Transport,
    /// `[docker://]REGISTRY/REPO(:TAG|@sha256:…)`, or `oci:DIR[:REF]`.
    image: String,
}

/// Largest predicate file read: what still fits, base64-encoded, in the largest
/// envelope verification reads (`attest` refuses a signed result over it anyway).
const MAX_PREDICATE: u64 = bulwark_cosign::verify::MAX_ENVELOPE_BLOB / 4 * 3;

/// Runs `bulwark attest`.
pub fn run_attest(a: AttestArgs) -> Result<u8> {
    let format: StoreFormat = a.format.parse().map_err(|e| anyhow!("--format: {e}"))?;
    if a.predicate_type.is_some() && a.kind != "custom" {
        bail!("--predicate-type goes with --type custom");
    }
    let ptype = predicate_type(&a.kind, a.predicate_type.as_deref())?;
    let bytes = bulwark_sign::keys::read_limited(&a.predicate, MAX_PREDICATE)?;
    let predicate: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not JSON", a.predicate.display()))?;
    let key = private_key(&a.key)?;
    let image = open(&a.image, &a.transport)?;
    let stored = bulwark_cosign::store::attest(&image, &key, &ptype, predicate, format)
        .with_context(|| format!("attesting {}", a.image))?;
    print_stored(&image, &stored);
    Ok(0)
}

/// Arguments of `bulwark verify-attestation`.
#[derive(Debug, Args)]
pub struct VerifyAttestationArgs {
    #[command(flatten)]
    signer: SignerArgs,
    /// Only attestations of this type count (a --type name or a URI).
    #[arg(long = "type")]
    kind: Option<String>,
    /// Rego policy over the verified attestations (`package bulwark.attestation`,
    /// rule `deny`: the set of messages; pass when empty).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Output: text or json.
    #[arg(long, default_value = "text")]
    format: String,
    #[command(flatten)]
    report: crate::cmd::server::UploadArgs,
    #[command(flatten)]
    transport: Transport,
    /// `[docker://]REGISTRY/REPO(:TAG|@sha256:…)`, or `oci:DIR[:REF]`.
    image: String,
}

/// Runs `bulwark verify-attestation`.
pub fn run_verify_attestation(a: VerifyAttestationArgs) -> Result<u8> {
    let json = check_format(&a.format)?;
    let want = a
        .kind
        .as_deref()
        .map(|k| predicate_type(k, None))
        .transpose()?;
    let policy = a
        .policy
        .as_ref()
        .map(|p| {
            bulwark_sign::keys::read_text_limited(p, bulwark_cosign::policy::MAX_POLICY)
                .map(|s| (p.display().to_string(), s))
        })
        .transpose()?;
    let image = open(&a.image, &a.transport)?;
    let req = requirements(&a.signer, ReferenceMatch::Ignore, BTreeMap::new())?;
    let r = bulwark_cosign::verify::verify_attestations(&image, &req, want.as_deref())
        .with_context(|| format!("verifying attestations of {}", a.image))?;
    let denials = match &policy {
        Some((path, src)) => Some(bulwark_cosign::policy::evaluate(
            path,
            src,
            &bulwark_cosign::policy::input(&r, &image.docker_reference),
        )?),
        None => None,
    };
    if json {
        let mut v = serde_json::to_value(&r)?;
        if let Some(d) = &denials {
            v["policy"] = serde_json::json!({"passed": d.is_empty(), "deny": d});
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print_report(&r, false, "attestations")?;
        if let Some(d) = &denials {
            for m in d {
                println!("DENIED     {m}");
            }
        }
    }
    report_to_server(&a.report, &r, "attestation")?;
    if !r.verified {
        eprintln!("error: no valid attestation for {} ({})", a.image, r.digest);
        return Ok(1);
    }
    if let Some(d) = denials.filter(|d| !d.is_empty()) {
        eprintln!("error: the policy denied {}: {}", a.image, d.join("; "));
        return Ok(1);
    }
    Ok(0)
}

/// Whether `target` names an image that signatures can be attached to: a registry
/// reference or an OCI layout directory.
pub fn attachable(target: &str) -> bool {
    if target.starts_with("oci:") || target.starts_with("docker://") {
        return true;
    }
    let p = std::path::Path::new(target);
    if p.join("oci-layout").is_file() {
        return true;
    }
    let transport = [
        "docker-archive:",
        "oci-archive:",
        "dir:",
        "docker-daemon:",
        "sbom:",
    ];
    !p.exists()
        && !transport.iter().any(|t| target.starts_with(t))
        && bulwark_image::registry::Reference::parse(target).is_ok()
}

/// Fails unless `target` can carry attestations (checked before scanning, so nothing
/// is computed for nothing).
pub fn check_attachable(target: &str) -> Result<()> {
    if !attachable(target) {
        bail!(
            "--attest needs an image in a registry or an OCI layout (docker://REF, REGISTRY/REPO:TAG or oci:DIR[:REF]); {target} is neither"
        );
    }
    Ok(())
}

/// Attaches `predicate` to the scanned image right after `sbom`/`scan` (`--attest`):
/// the image must still have the manifest digest the report was made from.
pub fn attach(
    target: &crate::TargetArgs,
    key: &str,
    predicate_type: &str,
    predicate: serde_json::Value,
    scanned_digest: Option<&str>,
) -> Result<()> {
    check_attachable(&target.target)?;
    let key = private_key(key)?;
    let config = crate::env::registry_config(target)?;
    let image = Image::open(&target.target, &config)
        .with_context(|| format!("resolving {}", target.target))?;
    match scanned_digest {
        Some(d) if d == image.digest() => {}
        Some(d) => bail!(
            "{} now resolves to {}, not the scanned {d}; nothing attached",
            target.target,
            image.digest()
        ),
        None => bail!(
            "the report does not name the image's manifest digest; nothing attached to {}",
            target.target
        ),
    }
    let stored =
        bulwark_cosign::store::attest(&image, &key, predicate_type, predicate, StoreFormat::Both)
            .with_context(|| format!("attesting {}", target.target))?;
    eprintln!(
        "attached {predicate_type} attestation to {} ({})",
        target.target, stored.digest
    );
    Ok(())
}
