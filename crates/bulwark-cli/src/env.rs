//! Everything the CLI takes from the process environment, read here and only here: the
//! libraries (the engine above all) get their configuration passed in explicitly, so a
//! server or webhook embedding them is never configured by a stray variable.
//!
//! - `BULWARK_CACHE_DIR` (through clap), else `$XDG_CACHE_HOME/bulwark`, else
//!   `~/.cache/bulwark`: the cache root;
//! - `BULWARK_DB` (through clap), else `<user cache>/bulwark/db`: the vulnerability DB;
//! - `BULWARK_REGISTRY_TOKEN`, or `BULWARK_USERNAME` + `BULWARK_PASSWORD`: registry
//!   credentials; `DOCKER_CONFIG` or `~/.docker`: the Docker config file;
//! - `DOCKER_HOST` (`unix://...`): the daemon socket;
//! - `NO_COLOR`: no colour in table output or log lines.

use anyhow::Result;
use bulwark_image::registry::{
    docker_config_path, CredentialConfig, Credentials, RegistryConfig, Secret,
};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

fn var(name: &str) -> Option<OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

fn var_string(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The default cache directory: `$BULWARK_CACHE_DIR` (which `--cache-dir` also reads),
/// else `$XDG_CACHE_HOME/bulwark` or `~/.cache/bulwark` (the system temp dir as a last
/// resort). Commands without `--cache-dir` (`push`, `config`) thus use the same one.
pub fn default_cache_dir() -> PathBuf {
    if let Some(d) = var("BULWARK_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = var("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("bulwark");
    }
    if let Some(h) = var("HOME") {
        return PathBuf::from(h).join(".cache").join("bulwark");
    }
    std::env::temp_dir().join("bulwark-cache")
}

/// The default DB directory: `<user cache dir>/bulwark/db` (`$XDG_CACHE_HOME` when
/// absolute, `~/.cache`, or `~/Library/Caches` on macOS). `BULWARK_DB` is read by clap.
pub fn default_db_dir() -> Option<PathBuf> {
    let cache = if cfg!(target_os = "macos") {
        var("HOME").map(|h| PathBuf::from(h).join("Library/Caches"))
    } else {
        var("XDG_CACHE_HOME")
            .filter(|p| Path::new(p).is_absolute())
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache")))
    }?;
    Some(cache.join("bulwark").join("db"))
}

/// The DB directory a command uses: `explicit` (`--db` or `BULWARK_DB`), else the user
/// cache.
pub fn db_dir(explicit: Option<&Path>) -> Result<PathBuf> {
    match explicit {
        Some(p) => Ok(p.to_path_buf()),
        None => default_db_dir().ok_or_else(|| {
            anyhow::anyhow!(
                "vulnerability DB: no DB directory: set BULWARK_DB or --db (no user cache directory is known); then run `bulwark db update` or `bulwark db import`"
            )
        }),
    }
}

/// Registry credentials from the environment, by name lookup (a function so tests can
/// check the rules without touching the process environment): `BULWARK_REGISTRY_TOKEN`
/// (a ready bearer token), or `BULWARK_USERNAME` + `BULWARK_PASSWORD` (both or neither).
pub fn credentials_from(get: impl Fn(&str) -> Option<String>) -> Result<Option<Credentials>> {
    if let Some(t) = get("BULWARK_REGISTRY_TOKEN") {
        return Ok(Some(Credentials::Bearer(Secret::new(t))));
    }
    match (get("BULWARK_USERNAME"), get("BULWARK_PASSWORD")) {
        (Some(username), Some(p)) => Ok(Some(Credentials::Basic {
            username,
            password: Secret::new(p),
        })),
        (Some(_), None) | (None, Some(_)) => {
            anyhow::bail!("set both BULWARK_USERNAME and BULWARK_PASSWORD, or neither")
        }
        (None, None) => Ok(None),
    }
}

/// The registry transport and credentials for a command that reads a target.
pub fn registry_config(args: &crate::TargetArgs) -> Result<RegistryConfig> {
    registry_config_for(args.insecure, args.ca_file.clone())
}

/// The registry transport and credentials from `--insecure`, `--ca-file` and the
/// environment: the credentials above override the Docker config; `DOCKER_CONFIG` (else
/// `HOME`) locates the Docker CLI's `config.json`.
pub fn registry_config_for(insecure: bool, ca_file: Option<PathBuf>) -> Result<RegistryConfig> {
    let explicit = credentials_from(var_string)?;
    if let Some(ca) = &ca_file {
        if !ca.is_file() {
            anyhow::bail!("--ca-file {}: no such file", ca.display());
        }
    }
    Ok(RegistryConfig {
        insecure,
        ca_file,
        credentials: CredentialConfig {
            explicit,
            docker_config: docker_config_path(
                var("DOCKER_CONFIG").as_deref(),
                var("HOME").as_deref(),
            ),
            helper_path: None,
        },
        ..Default::default()
    })
}

/// The trusted root file named by `BULWARK_TRUSTED_ROOT`, if set.
pub fn trusted_root() -> Option<PathBuf> {
    var(crate::cmd::sign::TRUSTED_ROOT_ENV).map(PathBuf::from)
}

/// The daemon socket named by `DOCKER_HOST`, if set.
pub fn daemon_socket() -> Result<Option<PathBuf>> {
    match var_string("DOCKER_HOST") {
        Some(h) => Ok(Some(bulwark_image::daemon::parse_docker_host(&h)?)),
        None => Ok(None),
    }
}

/// Whether `NO_COLOR` asks for no colour.
pub fn no_color() -> bool {
    var("NO_COLOR").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_rules() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(credentials_from(env(&[])).ok(), Some(None));
        assert!(credentials_from(env(&[("BULWARK_USERNAME", "bob")])).is_err());
        assert_eq!(
            credentials_from(env(&[
                ("BULWARK_USERNAME", "bob"),
                ("BULWARK_PASSWORD", "pw")
            ]))
            .ok()
            .flatten(),
            Some(Credentials::Basic {
                username: "bob".into(),
                password: Secret::new("pw")
            })
        );
        assert_eq!(
            credentials_from(env(&[
                ("BULWARK_REGISTRY_TOKEN", "t"),
                ("BULWARK_USERNAME", "bob"),
                ("BULWARK_PASSWORD", "pw")
            ]))
            .ok()
            .flatten(),
            Some(Credentials::Bearer(Secret::new("t")))
        );
    }
}
