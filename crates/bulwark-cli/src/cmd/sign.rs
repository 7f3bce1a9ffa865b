//! `bulwark key generate` and `bulwark verify-blob`: thin wrappers over `bulwark-sign`.
//!
//! Exit codes for verification: 0 verified, 1 read fine but not verified (the reason
//! is printed), 2 input that cannot be read or used (missing file, malformed bundle or
//! key, no trusted root).

use anyhow::{anyhow, bail, Context, Result};
use bulwark_sign::{Artifact, KeyRef, Matcher, Policy, PrivateKey, TrustedRoot};
use clap::{Args, Subcommand};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Environment variable naming the default trusted root file for keyless verification.
pub const TRUSTED_ROOT_ENV: &str = "BULWARK_TRUSTED_ROOT";

#[derive(Debug, Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    command: KeyCommand,
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Generate a key pair: PREFIX.key (encrypted, cosign format) and PREFIX.pub (PEM).
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
struct GenerateArgs {
    /// Key algorithm: ecdsa-p256 (cosign's default) or ed25519.
    #[arg(long, default_value = "ecdsa-p256")]
    algorithm: String,
    /// Write PREFIX.key and PREFIX.pub (existing files are never overwritten).
    #[arg(long, default_value = "cosign")]
    output_prefix: String,
}

/// Reads the private-key password: `COSIGN_PASSWORD` when set (an empty value means
/// an empty password, on purpose), else a prompt on the terminal. `confirm` asks twice
/// and refuses an empty answer (key generation).
pub fn password(confirm: bool) -> Result<Vec<u8>> {
    if let Some(pw) = std::env::var_os("COSIGN_PASSWORD") {
        return pw
            .into_string()
            .map(String::into_bytes)
            .map_err(|_| anyhow!("COSIGN_PASSWORD is not valid UTF-8"));
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "no password: set COSIGN_PASSWORD (set it to an empty value for an unencrypted-equivalent empty password) or run on a terminal"
        );
    }
    let pw = rpassword::prompt_password("Enter password for private key: ")
        .context("reading the password")?;
    if confirm {
        if pw.is_empty() {
            bail!("empty password refused at the prompt; set COSIGN_PASSWORD= (empty) to ask for one explicitly");
        }
        let again = rpassword::prompt_password("Enter password for private key again: ")
            .context("reading the password")?;
        if again != pw {
            bail!("passwords do not match");
        }
    }
    Ok(pw.into_bytes())
}

pub fn run_key(args: KeyArgs) -> Result<u8> {
    match args.command {
        KeyCommand::Generate(g) => generate(g),
    }
}

fn generate(g: GenerateArgs) -> Result<u8> {
    let alg: bulwark_sign::Algorithm = g.algorithm.parse()?;
    let key_path = PathBuf::from(format!("{}.key", g.output_prefix));
    let pub_path = PathBuf::from(format!("{}.pub", g.output_prefix));
    for p in [&key_path, &pub_path] {
        if std::fs::symlink_metadata(p).is_ok() {
            bail!("{} already exists; not overwriting it", p.display());
        }
    }
    let pw = password(true)?;
    let key = PrivateKey::generate(alg);
    let enc = key.to_encrypted_pem(&pw)?;
    let pub_pem = key.public_key().to_pem()?;
    write_new(&key_path, enc.as_bytes(), 0o600)?;
    if let Err(e) = write_new(&pub_path, pub_pem.as_bytes(), 0o644) {
        let _ = std::fs::remove_file(&key_path);
        return Err(e);
    }
    eprintln!(
        "Private key written to {}\nPublic key written to {}",
        key_path.display(),
        pub_path.display()
    );
    Ok(0)
}

fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = o
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(data)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// Who may have signed: a managed key, or a Fulcio identity and issuer (with the
/// trusted root they chain to). Shared by `verify-blob`, `verify` and
/// `verify-attestation`.
#[derive(Debug, Args)]
pub struct SignerFlags {
    /// Managed public key (PEM path, `file://PATH` or `env://NAME`; a certificate is
    /// accepted).
    #[arg(long, conflicts_with_all = ["certificate_identity", "certificate_identity_regexp"])]
    key: Option<String>,
    /// Expected certificate identity (SAN: e-mail or URI), exact.
    #[arg(long)]
    certificate_identity: Option<String>,
    /// Expected certificate identity as a regular expression (whole-value match).
    #[arg(long, conflicts_with = "certificate_identity")]
    certificate_identity_regexp: Option<String>,
    /// Expected OIDC issuer, exact.
    #[arg(long)]
    certificate_oidc_issuer: Option<String>,
    /// Expected OIDC issuer as a regular expression (whole-value match).
    #[arg(long, conflicts_with = "certificate_oidc_issuer")]
    certificate_oidc_issuer_regexp: Option<String>,
    /// trusted_root.json (Sigstore TrustedRoot). Default: $BULWARK_TRUSTED_ROOT.
    #[arg(long)]
    trusted_root: Option<PathBuf>,
}

/// The signer the flags name.
pub enum Signer {
    /// A managed key.
    Key(bulwark_sign::PublicKey),
    /// A certificate identity and OIDC issuer.
    Identity { san: Matcher, issuer: Matcher },
}

impl SignerFlags {
    /// The key, or the identity and issuer; an error when neither is given fully.
    pub fn signer(&self) -> Result<Signer> {
        if let Some(k) = &self.key {
            let r: KeyRef = k.parse()?;
            return Ok(Signer::Key(r.public_key()?));
        }
        let san = match (&self.certificate_identity, &self.certificate_identity_regexp) {
            (Some(s), _) => Matcher::Exact(s.clone()),
            (None, Some(r)) => Matcher::regex(r)?,
            (None, None) => bail!(
                "give --key, or --certificate-identity/--certificate-identity-regexp with --certificate-oidc-issuer"
            ),
        };
        let issuer = match (
            &self.certificate_oidc_issuer,
            &self.certificate_oidc_issuer_regexp,
        ) {
            (Some(s), _) => Matcher::Exact(s.clone()),
            (None, Some(r)) => Matcher::regex(r)?,
            (None, None) => bail!("keyless verification needs --certificate-oidc-issuer"),
        };
        Ok(Signer::Identity { san, issuer })
    }

    /// The trusted root from `--trusted-root`, else `$BULWARK_TRUSTED_ROOT`, if either.
    pub fn trusted_root(&self) -> Result<Option<TrustedRoot>> {
        self.trusted_root
            .clone()
            .or_else(crate::env::trusted_root)
            .map(|p| TrustedRoot::from_file(&p))
            .transpose()
            .map_err(Into::into)
    }
}

#[derive(Debug, Args)]
pub struct VerifyBlobArgs {
    /// The Sigstore bundle (JSON, v0.1–v0.3).
    #[arg(long)]
    bundle: PathBuf,
    #[command(flatten)]
    signer: SignerFlags,
    /// With --key: accept a bundle that has no transparency log entry (entries that
    /// are present are still verified).
    #[arg(long)]
    insecure_ignore_tlog: bool,
    /// Output: text (one line) or json (what was verified).
    #[arg(long, default_value = "text")]
    format: String,
    /// The artifact file, or `sha256:<hex>` for its digest only.
    artifact: String,
}

/// Largest artifact read into memory (bigger files are hashed while streaming).
const MAX_IN_MEMORY: u64 = 256 << 20;

pub fn run_verify_blob(a: VerifyBlobArgs) -> Result<u8> {
    if a.format != "text" && a.format != "json" {
        bail!("--format {}: use text or json", a.format);
    }
    let policy = match a.signer.signer()? {
        Signer::Key(key) => Policy::Key {
            key,
            require_tlog: !a.insecure_ignore_tlog,
        },
        Signer::Identity { san, issuer } => Policy::Identity { san, issuer },
    };
    let root = match (a.signer.trusted_root()?, &policy) {
        (Some(r), _) => r,
        (None, Policy::Key { require_tlog: false, .. }) => TrustedRoot::default(),
        (None, Policy::Key { .. }) => bail!(
            "--key checks the bundle's transparency log entry, which needs a trusted root: give --trusted-root FILE or set {TRUSTED_ROOT_ENV}, or pass --insecure-ignore-tlog"
        ),
        (None, Policy::Identity { .. }) => bail!(
            "keyless verification needs a trusted root: give --trusted-root FILE or set {TRUSTED_ROOT_ENV} (bulwark never fetches one)"
        ),
    };
    let bundle_bytes =
        bulwark_sign::keys::read_limited(&a.bundle, bulwark_sign::bundle::MAX_BUNDLE)?;
    let bundle = bulwark_sign::Bundle::from_json(&bundle_bytes)
        .with_context(|| format!("reading bundle {}", a.bundle.display()))?;
    let bytes;
    let artifact = if let Some(rest) = a.artifact.strip_prefix("sha256:") {
        let d = Artifact::parse_digest(&a.artifact)
            .ok_or_else(|| anyhow!("sha256:{rest}: not 64 hex digits"))?;
        Artifact::Sha256(d)
    } else {
        let p = Path::new(&a.artifact);
        let len = std::fs::metadata(p)
            .with_context(|| format!("reading artifact {}", p.display()))?
            .len();
        if len <= MAX_IN_MEMORY {
            bytes = bulwark_sign::keys::read_limited(p, MAX_IN_MEMORY)?;
            Artifact::Bytes(&bytes)
        } else {
            let digest = bulwark_image::digest::sha256_of_file(p)
                .with_context(|| format!("reading artifact {}", p.display()))?;
            Artifact::parse_digest(&digest)
                .map(Artifact::Sha256)
                .ok_or_else(|| anyhow!("{digest}: not a sha256 digest"))?
        }
    };
    let now = bulwark_sign::time::now();
    match bulwark_sign::verify_bundle(&bundle, artifact, &policy, &root, now) {
        Ok(out) => {
            if a.format == "json" {
                let mut v = serde_json::to_value(&out)?;
                v["verified"] = serde_json::Value::Bool(true);
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("Verified OK: {}", a.artifact);
            }
            Ok(0)
        }
        Err(e) if e.is_unverified() => {
            if a.format == "json" {
                let v = serde_json::json!({"verified": false, "reason": e.to_string()});
                println!("{}", serde_json::to_string_pretty(&v)?);
            }
            eprintln!("error: {e}");
            Ok(1)
        }
        Err(e) => Err(anyhow!(e).context(format!("verifying bundle {}", a.bundle.display()))),
    }
}
