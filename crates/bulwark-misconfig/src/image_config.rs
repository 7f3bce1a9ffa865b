//! Checks on an image's own config JSON (the OCI/Docker image config: `config.User`,
//! `config.Env`, `config.ExposedPorts`, `config.Healthcheck`, `config.Labels` and
//! `history[].created_by`), for images scanned without their Dockerfile. Findings use
//! the path `image config` and name the field (`User`, `Env`, `history[3]`) as the
//! resource. Secret values are never copied into messages.

use bulwark_core::{Misconfiguration, Severity};
use serde_json::Value;

use crate::check::{CheckMeta, CheckSelection};
use crate::dockerfile::shell::{is_shell, parse_script};
use crate::k8s::workload::{literal_secret_value, secret_like_name};

/// The path reported for image-config findings.
pub const PATH: &str = "image config";

/// Most history entries examined (real images have at most a few hundred).
const MAX_HISTORY: usize = 10_000;

macro_rules! ic {
    ($name:ident, $id:literal, $title:literal, $sev:ident, [$($a:literal),*], [$($r:literal),*],
     $desc:literal, $fix:literal) => {
        #[doc = $title]
        pub const $name: CheckMeta = CheckMeta {
            id: $id,
            title: $title,
            severity: Severity::$sev,
            description: $desc,
            remediation: $fix,
            references: &[$($r),*],
            aliases: &[$($a),*],
            sets: &["image-config", "cis-docker"],
        };
    };
}

ic!(ROOT_USER, "BW-IMG-0001", "Image runs as root", Medium, ["DS-0002", "CKV_DOCKER_3"], ["CIS Docker 4.1", "NIST SP 800-190 4.1.2"],
    "The image config has no User, or User is root/0, so containers run as root unless the runtime overrides it.", "Set USER to a non-root uid in the Dockerfile.");
ic!(
    ENV_SECRET,
    "BW-IMG-0002",
    "Secret in image environment",
    Critical,
    ["DS-0031"],
    ["CIS Docker 4.10", "NIST SP 800-190 4.1.4"],
    "Env values are readable by anyone who can pull the image.",
    "Pass secrets at runtime or with build secrets."
);
ic!(
    LABEL_SECRET,
    "BW-IMG-0003",
    "Secret in image label",
    High,
    [],
    ["CIS Docker 4.10", "NIST SP 800-190 4.1.4"],
    "Label values are readable by anyone who can pull the image.",
    "Do not store credentials in labels."
);
ic!(HISTORY_SECRET, "BW-IMG-0004", "Secret in build history", Critical, ["DS-0031"], ["CIS Docker 4.10", "NIST SP 800-190 4.1.4"],
    "Build arguments and commands recorded in history (docker history) expose the secret values used at build time.", "Use RUN --mount=type=secret instead of ARG/ENV for secrets.");
ic!(
    PORT_22,
    "BW-IMG-0005",
    "Port 22 exposed",
    Medium,
    ["DS-0004", "CKV_DOCKER_1"],
    ["CIS Docker 5.7", "NIST SP 800-190 4.1.2"],
    "The image exposes SSH, which suggests an sshd in the container.",
    "Remove EXPOSE 22."
);
ic!(
    NO_HEALTHCHECK,
    "BW-IMG-0006",
    "No HEALTHCHECK",
    Low,
    ["DS-0026", "DL3057", "CKV_DOCKER_2"],
    ["CIS Docker 4.6", "NIST SP 800-190 4.1.2"],
    "The image config has no Healthcheck.",
    "Add a HEALTHCHECK instruction."
);
ic!(
    HISTORY_ADD_URL,
    "BW-IMG-0007",
    "ADD from a remote URL in history",
    Medium,
    [],
    ["CIS Docker 4.9", "CIS Docker 4.12", "NIST SP 800-190 4.1.5"],
    "A layer was built with ADD <url>, fetching unverified remote content.",
    "Download and verify in RUN, or use ADD --checksum."
);
ic!(
    HISTORY_PIPE_SHELL,
    "BW-IMG-0008",
    "Download piped into a shell in history",
    High,
    [],
    ["CIS Docker 4.11", "NIST SP 800-190 4.1.5"],
    "A layer ran curl|sh or wget|sh, executing unverified remote code.",
    "Download, verify the checksum or signature, then run."
);
ic!(
    HISTORY_UPGRADE,
    "BW-IMG-0009",
    "Package manager upgrade in history",
    Low,
    ["DS-0024", "DL3005"],
    ["CIS Docker 4.7", "NIST SP 800-190 4.1.2"],
    "A layer ran apt-get upgrade/dist-upgrade; rebuilding from a patched base is reproducible.",
    "Use a newer base image."
);

/// Every image-config check.
pub const CHECKS: &[CheckMeta] = &[
    ROOT_USER,
    ENV_SECRET,
    LABEL_SECRET,
    HISTORY_SECRET,
    PORT_22,
    NO_HEALTHCHECK,
    HISTORY_ADD_URL,
    HISTORY_PIPE_SHELL,
    HISTORY_UPGRADE,
];

/// Checks an image config (`{"config": {...}, "history": [...]}`; a bare
/// `{"User": ...}` container config is accepted too).
pub fn scan_image_config(config: &Value, sel: &CheckSelection) -> Vec<Misconfiguration> {
    let mut out = Vec::new();
    let mut emit = |c: &CheckMeta, res: String, msg: String| {
        if sel.enabled(c) {
            out.push(c.finding(PATH, None, Some(res), msg));
        }
    };
    let cfg = config
        .get("config")
        .or_else(|| config.get("Config"))
        .unwrap_or(config);
    let user = cfg.get("User").and_then(Value::as_str).unwrap_or("");
    let uname = user.split(':').next().unwrap_or("");
    if uname.is_empty() || uname == "root" || uname == "0" {
        let msg = if uname.is_empty() {
            "no User set: containers run as root".to_string()
        } else {
            format!("User is {user}")
        };
        emit(&ROOT_USER, "User".to_string(), msg);
    }
    if let Some(env) = cfg.get("Env").and_then(Value::as_array) {
        for e in env.iter().filter_map(Value::as_str) {
            let (k, v) = e.split_once('=').unwrap_or((e, ""));
            if secret_like_name(k) && literal_secret_value(v) && !public_name(k) {
                emit(
                    &ENV_SECRET,
                    "Env".to_string(),
                    format!("Env {k} holds a secret-looking value"),
                );
            }
        }
    }
    if let Some(labels) = cfg.get("Labels").and_then(Value::as_object) {
        for (k, v) in labels {
            let v = v.as_str().unwrap_or("");
            if secret_like_name(k) && literal_secret_value(v) && !public_name(k) {
                emit(
                    &LABEL_SECRET,
                    "Labels".to_string(),
                    format!("label {k} holds a secret-looking value"),
                );
            }
        }
    }
    if let Some(ports) = cfg.get("ExposedPorts").and_then(Value::as_object) {
        for p in ports.keys() {
            if p.split('/').next() == Some("22") {
                emit(&PORT_22, "ExposedPorts".to_string(), format!("exposes {p}"));
            }
        }
    }
    let hc = cfg.get("Healthcheck");
    if hc.is_none() || hc.is_some_and(Value::is_null) {
        emit(
            &NO_HEALTHCHECK,
            "Healthcheck".to_string(),
            "no Healthcheck in the image config".to_string(),
        );
    }
    let history = config
        .get("history")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    // `ENV K=V` in history records the same assignment the Env list holds: one secret,
    // one place. Such repeats are not reported again; the Env finding carries the
    // history check's id as an alias instead.
    let env_pairs: Vec<&str> = cfg
        .get("Env")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    // (variable, history resource, message) of the repeats.
    let mut repeated: Vec<(String, String, String)> = Vec::new();
    for (n, h) in history.iter().take(MAX_HISTORY).enumerate() {
        let Some(cmd) = h.get("created_by").and_then(Value::as_str) else {
            continue;
        };
        let res = format!("history[{n}]");
        history_entry(cmd, &res, &env_pairs, &mut repeated, &mut emit);
    }
    for (key, res, msg) in repeated {
        let env_finding = out
            .iter_mut()
            .find(|f| env_secret_key(f) == Some(key.as_str()));
        match env_finding {
            Some(f) if !f.aliases.iter().any(|a| a == HISTORY_SECRET.id) => {
                f.aliases.push(HISTORY_SECRET.id.to_string());
            }
            Some(_) => {}
            // The Env check is not selected: the history report stands on its own.
            None if sel.enabled(&HISTORY_SECRET) => {
                out.push(HISTORY_SECRET.finding(PATH, None, Some(res), msg));
            }
            None => {}
        }
    }
    out
}

/// The variable an [`ENV_SECRET`] finding is about (`Env DB_PASSWORD holds ...` ->
/// `DB_PASSWORD`), so callers can merge other reports of the same secret into it.
pub fn env_secret_key(f: &Misconfiguration) -> Option<&str> {
    if f.check_id != ENV_SECRET.id {
        return None;
    }
    f.message
        .strip_prefix("Env ")?
        .strip_suffix(" holds a secret-looking value")
}

/// The history entry index and variable a [`HISTORY_SECRET`] finding is about
/// (`history[3]`, `build argument TOKEN recorded in history` -> `(3, "TOKEN")`).
pub fn history_secret_key(f: &Misconfiguration) -> Option<(usize, &str)> {
    if f.check_id != HISTORY_SECRET.id {
        return None;
    }
    let n = f
        .resource
        .as_deref()?
        .strip_prefix("history[")?
        .strip_suffix(']')?
        .parse()
        .ok()?;
    let rest = f.message.strip_suffix(" recorded in history")?;
    let key = rest
        .strip_prefix("build argument ")
        .or_else(|| rest.split_once(' ').map(|(_, k)| k))?;
    Some((n, key))
}

/// `K=V` with surrounding quotes of the value removed, for comparing history words
/// with Env entries.
fn unquoted_pair(w: &str) -> String {
    match w.split_once('=') {
        Some((k, v)) => format!("{k}={}", v.trim_matches(['"', '\''])),
        None => w.to_string(),
    }
}

/// True when `word` (`K=V` from an `ENV` line of history) is an assignment the image's
/// Env list holds unchanged.
pub fn env_repeats(word: &str, env_pairs: &[&str]) -> bool {
    let w = unquoted_pair(word);
    env_pairs.iter().any(|e| *e == w)
}

fn public_name(k: &str) -> bool {
    let u = k.to_ascii_uppercase();
    [
        "GPG_KEY",
        "PGP_KEY",
        "PUBLIC_KEY",
        "KEY_ID",
        "_FILE",
        "_PATH",
        "_URL",
    ]
    .iter()
    .any(|s| u.contains(s))
}

fn history_entry(
    cmd: &str,
    res: &str,
    env_pairs: &[&str],
    repeated: &mut Vec<(String, String, String)>,
    emit: &mut impl FnMut(&CheckMeta, String, String),
) {
    let c = cmd.trim();
    // Build args recorded as `|2 A=1 B=2 /bin/sh -c ...`.
    let mut body = c;
    if let Some(rest) = c.strip_prefix('|') {
        let mut words = rest.split_whitespace();
        let count: usize = words.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        for w in words.by_ref().take(count.min(1000)) {
            if let Some((k, v)) = w.split_once('=') {
                if secret_like_name(k) && literal_secret_value(v) && !public_name(k) {
                    emit(
                        &HISTORY_SECRET,
                        res.to_string(),
                        format!("build argument {k} recorded in history"),
                    );
                }
            }
        }
        body = rest;
    }
    let nop = body.contains("#(nop)");
    let script = body
        .split_once("/bin/sh -c ")
        .map(|(_, s)| s)
        .unwrap_or(body)
        .trim_start_matches("#(nop)")
        .trim();
    let words: Vec<&str> = script.split_whitespace().collect();
    let kw = words.first().copied().unwrap_or("");
    if kw.eq_ignore_ascii_case("ADD")
        && words
            .iter()
            .skip(1)
            .any(|w| w.starts_with("http://") || w.starts_with("https://"))
    {
        emit(
            &HISTORY_ADD_URL,
            res.to_string(),
            "ADD from a URL".to_string(),
        );
    }
    if kw.eq_ignore_ascii_case("ENV") || kw.eq_ignore_ascii_case("ARG") {
        for w in words.iter().skip(1) {
            if let Some((k, v)) = w.split_once('=') {
                if secret_like_name(k) && literal_secret_value(v) && !public_name(k) {
                    let msg = format!("{kw} {k} recorded in history");
                    if kw.eq_ignore_ascii_case("ENV") && env_repeats(w, env_pairs) {
                        repeated.push((k.to_string(), res.to_string(), msg));
                        continue;
                    }
                    emit(&HISTORY_SECRET, res.to_string(), msg);
                }
            }
        }
    }
    if nop {
        return;
    }
    // The same shell analysis as a Dockerfile RUN (bounded, the real parser first); a
    // script it could only split roughly is still checked that way.
    let cmds = parse_script(
        script
            .trim_start_matches("RUN ")
            .trim_end_matches("# buildkit"),
    )
    .commands;
    for (i, c) in cmds.iter().enumerate() {
        if matches!(c.name(), "curl" | "wget") && c.piped_out {
            let to_shell = cmds
                .iter()
                .skip(i + 1)
                .take_while(|n| n.pipeline == c.pipeline)
                .any(|n| is_shell(n.name()));
            if to_shell {
                emit(
                    &HISTORY_PIPE_SHELL,
                    res.to_string(),
                    format!("{} piped into a shell", c.name()),
                );
            }
        }
        if matches!(c.name(), "apt-get" | "apt")
            && matches!(
                c.subcommand(&["-o"]),
                Some("upgrade" | "dist-upgrade" | "full-upgrade")
            )
        {
            emit(
                &HISTORY_UPGRADE,
                res.to_string(),
                format!("{} {}", c.name(), c.subcommand(&["-o"]).unwrap_or("")),
            );
        }
    }
}
