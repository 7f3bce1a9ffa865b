//! CIS Docker Benchmark checks through a Docker-compatible Engine API and the host's
//! files: the daemon's configuration (section 2), runtime files and sockets (section 3)
//! and every running container (4.1 and section 5).
//!
//! Design choices where the benchmark is written for Docker alone:
//! - **podman** is recognised from `/version` (a "Podman Engine" component). Its settings
//!   come from the libpod `/info` endpoint and containers.conf; Docker-only items (live
//!   restore, icc on the `docker0` bridge) are not applicable to it and are skipped.
//! - **Host namespaces** are read from the API (`NetworkMode`, `PidMode`, `IpcMode`,
//!   `UTSMode` = `host`) and, when the API is local, confirmed from `/proc`: a
//!   container's init process sharing `/proc/1`'s namespace inode shares the host's
//!   namespace whatever the API says (podman 4.3's compat API reports `--ipc host` as
//!   `shareable`; `/proc` catches it).
//! - **Capabilities added** are the API's `CapAdd` (relative to the runtime's default
//!   set, as both Docker and podman report it).
//! - A container that exits between the listing and its inspection is skipped (no stale
//!   data is reported); any other API failure stops the run.

use std::path::Path;

use serde_json::Value;

use crate::api::{Client, Endpoint};
use crate::checks::*;
use crate::files::{check_file, group_gid, read_small};
use crate::{Collector, HostError, HostOptions};

/// Host directories whose mount into a container is sensitive (CIS Docker 5.6), mounted
/// themselves or anything below them (`/` only itself).
const SENSITIVE_DIRS: &[&str] = &[
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib64",
    "/proc",
    "/sys",
    "/usr",
    "/root",
    "/run",
    "/var/run",
    "/var/lib/docker",
    "/var/lib/containers",
    "/var/lib/containerd",
    "/var/lib/kubelet",
    "/etc/kubernetes",
];

/// File names of runtime API sockets (CIS Docker 5.32).
const SOCKET_NAMES: &[&str] = &[
    "docker.sock",
    "podman.sock",
    "containerd.sock",
    "crio.sock",
    "cri-dockerd.sock",
    "dockershim.sock",
];

/// Log drivers that keep logs on the host only.
const LOCAL_LOG_DRIVERS: &[&str] = &["", "json-file", "k8s-file", "local", "none", "passthrough"];

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn i(v: &Value, ptr: &str) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

fn strings(v: &Value, ptr: &str) -> Vec<String> {
    v.pointer(ptr)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Facts about the runtime the checks need.
#[derive(Debug, Clone, Default)]
pub struct Runtime {
    /// podman (rather than Docker).
    pub podman: bool,
    /// `/version`.
    pub version: Value,
    /// `/info` (compat).
    pub info: Value,
    /// libpod `/info` (podman only).
    pub libpod_info: Value,
    /// Docker's daemon.json, when present and valid.
    pub daemon_json: Option<Value>,
    /// podman's containers.conf, merged (later files win per key), when present.
    pub containers_conf: Option<toml::Table>,
}

/// Runs every runtime check against `client`.
pub fn check(client: &Client, opts: &HostOptions, c: &mut Collector) -> Result<(), HostError> {
    // The first request proves the socket is there: failing here is the caller's exit 2.
    let version = client.get_json("/version")?;
    let info = client.get_json("/info")?;
    let podman = version
        .get("Components")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|c| s(c, "/Name") == "Podman Engine"));
    let libpod_info = if podman {
        match client.get_json("/v4.0.0/libpod/info") {
            Ok(v) => v,
            Err(e) => {
                c.warn(None, format!("podman libpod info: {e}"));
                Value::Null
            }
        }
    } else {
        Value::Null
    };
    let mut rt = Runtime {
        podman,
        version,
        info,
        libpod_info,
        ..Runtime::default()
    };
    load_configs(opts, &mut rt, c);
    if opts.versions {
        crate::versions::from_api(&rt, c);
    }
    daemon_checks(client.endpoint(), opts, &rt, c);
    file_checks(client.endpoint(), opts, &rt, c);
    containers(client, opts, &rt, c)?;
    Ok(())
}

fn load_configs(opts: &HostOptions, rt: &mut Runtime, c: &mut Collector) {
    let dj = &opts.paths.daemon_json;
    let shown = dj.display().to_string();
    match read_small(dj) {
        Ok(Some(text)) => match serde_json::from_str::<Value>(&text) {
            Ok(v) if v.is_object() => rt.daemon_json = Some(v),
            Ok(_) => c.unreadable(&shown, "not a JSON object"),
            Err(e) => c.unreadable(&shown, &format!("invalid JSON: {e}")),
        },
        Ok(None) => {}
        Err(e) => c.unreadable(&shown, &e),
    }
    for p in &opts.paths.containers_conf {
        let shown = p.display().to_string();
        match read_small(p) {
            Ok(Some(text)) => match text.parse::<toml::Table>() {
                Ok(t) => {
                    let merged = rt.containers_conf.get_or_insert_with(toml::Table::new);
                    for (section, v) in t {
                        match (merged.get_mut(&section), v) {
                            (Some(toml::Value::Table(into)), toml::Value::Table(from)) => {
                                into.extend(from)
                            }
                            (_, v) => {
                                merged.insert(section, v);
                            }
                        }
                    }
                }
                Err(e) => c.unreadable(&shown, &format!("invalid TOML: {e}")),
            },
            Ok(None) => {}
            Err(e) => c.unreadable(&shown, &e),
        }
    }
}

impl Runtime {
    fn dj(&self, key: &str) -> Option<&Value> {
        self.daemon_json.as_ref().and_then(|d| d.get(key))
    }

    fn conf(&self, section: &str, key: &str) -> Option<&toml::Value> {
        self.containers_conf
            .as_ref()
            .and_then(|t| t.get(section))
            .and_then(|s| s.get(key))
    }

    /// Where the daemon's configuration lives, for findings' paths.
    fn config_path(&self, opts: &HostOptions) -> String {
        if self.podman {
            opts.paths
                .containers_conf
                .last()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "containers.conf".into())
        } else {
            opts.paths.daemon_json.display().to_string()
        }
    }
}

fn daemon_checks(ep: &Endpoint, opts: &HostOptions, rt: &Runtime, c: &mut Collector) {
    let cfg = rt.config_path(opts);
    let api = format!("{} /info", ep.display());
    let secopts = strings(&rt.info, "/SecurityOptions");
    let has_secopt = |name: &str| {
        secopts
            .iter()
            .any(|o| o.split(',').any(|kv| kv == format!("name={name}")))
    };

    // 2.9 user namespaces.
    let userns = has_secopt("userns")
        || has_secopt("rootless")
        || rt.libpod_info.pointer("/host/security/rootless") == Some(&Value::Bool(true))
        || rt
            .dj("userns-remap")
            .and_then(Value::as_str)
            .is_some_and(|v| !v.is_empty())
        || rt
            .conf("containers", "userns")
            .and_then(toml::Value::as_str)
            .is_some_and(|v| !v.is_empty() && v != "host");
    if !userns {
        c.finding(
            &DAEMON_USERNS,
            &cfg,
            None,
            None,
            if rt.podman {
                "podman runs rootful without a default user namespace (containers.conf userns unset)".into()
            } else {
                "the daemon does not remap user namespaces (no userns-remap, /info SecurityOptions lacks name=userns)".into()
            },
        );
    }

    if !rt.podman {
        // 2.15 live restore (Docker only: podman has no daemon that containers depend on).
        if rt.info.get("LiveRestoreEnabled") != Some(&Value::Bool(true)) {
            c.finding(
                &DAEMON_LIVE_RESTORE,
                &cfg,
                None,
                None,
                "live restore is not enabled (/info LiveRestoreEnabled is false)".into(),
            );
        }
        // 2.2 icc: daemon.json, else the default bridge's option (checked by the caller
        // through /networks/bridge is not needed: Docker reflects daemon.json there).
        let icc_off = rt.dj("icc") == Some(&Value::Bool(false));
        if !icc_off {
            c.finding(
                &DAEMON_ICC,
                &cfg,
                None,
                None,
                "inter-container communication on the default bridge is allowed (daemon.json does not set \"icc\": false)".into(),
            );
        }
    }

    // 2.13 log driver.
    let driver = if rt.podman {
        let d = s(&rt.libpod_info, "/host/logDriver");
        if d.is_empty() {
            rt.conf("containers", "log_driver")
                .and_then(toml::Value::as_str)
                .unwrap_or("")
                .to_string()
        } else {
            d.to_string()
        }
    } else {
        s(&rt.info, "/LoggingDriver").to_string()
    };
    if LOCAL_LOG_DRIVERS.contains(&driver.as_str()) {
        c.finding(
            &DAEMON_LOG_DRIVER,
            &cfg,
            None,
            None,
            format!(
                "container logs use the {} log driver, which keeps them on this host only",
                if driver.is_empty() {
                    "default"
                } else {
                    &driver
                }
            ),
        );
    }

    // 2.7 TLS on TCP: the API answered plain HTTP over TCP, or daemon.json listens on TCP
    // without tlsverify.
    if let Endpoint::Tcp(h) = ep {
        c.finding(
            &DAEMON_TCP_NO_TLS,
            &format!("tcp://{h}"),
            None,
            None,
            format!("the runtime API answered unauthenticated plain HTTP on tcp://{h}"),
        );
    }
    let tcp_hosts: Vec<String> = strings(rt.daemon_json.as_ref().unwrap_or(&Value::Null), "/hosts")
        .into_iter()
        .filter(|h| h.starts_with("tcp://"))
        .collect();
    if !tcp_hosts.is_empty() && rt.dj("tlsverify") != Some(&Value::Bool(true)) {
        c.finding(
            &DAEMON_TCP_NO_TLS,
            &opts.paths.daemon_json.display().to_string(),
            None,
            None,
            format!(
                "the daemon listens on {} without \"tlsverify\": true",
                tcp_hosts.join(", ")
            ),
        );
    }

    // 2.14 no-new-privileges by default.
    let nnp = rt.dj("no-new-privileges") == Some(&Value::Bool(true))
        || rt.conf("containers", "no_new_privileges") == Some(&toml::Value::Boolean(true));
    if !nnp {
        c.finding(
            &DAEMON_NO_NEW_PRIVS,
            &cfg,
            None,
            None,
            if rt.podman {
                "containers.conf does not set no_new_privileges = true".into()
            } else {
                "daemon.json does not set \"no-new-privileges\": true".into()
            },
        );
    }

    // 2.5 insecure registries.
    let mut insecure: Vec<String> = strings(&rt.info, "/RegistryConfig/InsecureRegistryCIDRs")
        .into_iter()
        .filter(|c| c != "127.0.0.0/8" && c != "::1/128")
        .collect();
    if let Some(ix) = rt
        .info
        .pointer("/RegistryConfig/IndexConfigs")
        .and_then(Value::as_object)
    {
        for (name, v) in ix {
            if v.get("Secure") == Some(&Value::Bool(false)) {
                insecure.push(name.clone());
            }
        }
    }
    insecure.extend(strings(
        rt.daemon_json.as_ref().unwrap_or(&Value::Null),
        "/insecure-registries",
    ));
    insecure.sort();
    insecure.dedup();
    if !insecure.is_empty() {
        c.finding(
            &DAEMON_INSECURE_REGISTRY,
            &api,
            None,
            None,
            format!("insecure registries: {}", insecure.join(", ")),
        );
    }

    // Seccomp available at all.
    let seccomp = has_secopt("seccomp")
        || rt.libpod_info.pointer("/host/security/seccompEnabled") == Some(&Value::Bool(true));
    if !seccomp {
        c.finding(
            &DAEMON_NO_SECCOMP,
            &api,
            None,
            None,
            "the runtime reports no seccomp support (/info SecurityOptions lacks name=seccomp)"
                .into(),
        );
    }
}

fn file_checks(ep: &Endpoint, opts: &HostOptions, rt: &Runtime, c: &mut Collector) {
    let docker_gid = group_gid(&opts.paths.etc_group, "docker");
    let mut sock_gids = vec![0];
    sock_gids.extend(docker_gid);
    let mut seen = std::collections::BTreeSet::new();
    let sockets = ep
        .socket()
        .map(Path::to_path_buf)
        .into_iter()
        .chain(opts.paths.sockets.iter().cloned());
    for sock in sockets {
        let key = std::fs::canonicalize(&sock).unwrap_or_else(|_| sock.clone());
        if !seen.insert(key) {
            continue;
        }
        check_file(
            c,
            &sock,
            &sock.display().to_string(),
            0o660,
            Some(&FILE_SOCKET_PERMS),
            Some(&FILE_SOCKET_OWNER),
            &sock_gids,
        );
    }
    let mut configs = vec![opts.paths.daemon_json.clone()];
    configs.extend(opts.paths.containers_conf.iter().cloned());
    let mut dirs = std::collections::BTreeSet::new();
    for f in &configs {
        if check_file(
            c,
            f,
            &f.display().to_string(),
            0o644,
            Some(&FILE_CONFIG_PERMS),
            Some(&FILE_CONFIG_OWNER),
            &[],
        ) {
            if let Some(d) = f.parent() {
                dirs.insert(d.to_path_buf());
            }
        }
    }
    for d in dirs {
        check_file(
            c,
            &d,
            &d.display().to_string(),
            0o755,
            Some(&FILE_CONFIG_PERMS),
            Some(&FILE_CONFIG_OWNER),
            &[],
        );
    }
    for u in &opts.paths.units {
        check_file(
            c,
            u,
            &u.display().to_string(),
            0o644,
            Some(&FILE_UNIT_PERMS),
            Some(&FILE_UNIT_OWNER),
            &[],
        );
    }
    if let Some(key) = rt.dj("tlskey").and_then(Value::as_str) {
        check_file(
            c,
            Path::new(key),
            key,
            0o400,
            Some(&FILE_TLS_KEY_PERMS),
            Some(&FILE_TLS_KEY_PERMS),
            &[],
        );
    }
}

fn containers(
    client: &Client,
    opts: &HostOptions,
    rt: &Runtime,
    c: &mut Collector,
) -> Result<(), HostError> {
    let list = client.get_json("/containers/json")?;
    let Some(list) = list.as_array() else {
        return Err(HostError::Api(crate::api::ApiError::Http {
            endpoint: client.endpoint().display(),
            path: "/containers/json".into(),
            message: "expected a JSON array of containers".into(),
        }));
    };
    let api_socket = client
        .endpoint()
        .socket()
        .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()));
    for item in list {
        let id = s(item, "/Id");
        if id.is_empty() || !id.chars().all(|ch| ch.is_ascii_alphanumeric()) {
            c.warn(
                None,
                format!("container listing entry without a usable Id: {id:?}"),
            );
            continue;
        }
        let inspect = match client.get_json(&format!("/containers/{id}/json")) {
            Ok(v) => v,
            Err(crate::api::ApiError::Status { status: 404, .. }) => {
                tracing::debug!("container {id} went away before it was inspected");
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if s(&inspect, "/State/Status") != "running" {
            continue;
        }
        check_container(&inspect, opts, rt, api_socket.as_deref(), c);
    }
    Ok(())
}

/// Whether `pid`'s namespace `ns` is the host's, read from `proc_root`: the same inode
/// as `/proc/1`'s, or as bulwark's own when `/proc/1` may not be read (a process
/// without `CAP_SYS_PTRACE` over init; bulwark then runs in the host's namespaces, as
/// `bulwark host` is meant to).
fn shares_host_ns(proc_root: &Path, pid: i64, ns: &str) -> bool {
    if pid <= 0 {
        return false;
    }
    let Ok(theirs) = std::fs::read_link(proc_root.join(pid.to_string()).join("ns").join(ns)) else {
        return false;
    };
    let host = std::fs::read_link(proc_root.join("1").join("ns").join(ns))
        .or_else(|_| std::fs::read_link(proc_root.join("self").join("ns").join(ns)));
    host.is_ok_and(|h| h == theirs)
}

/// The checks of one inspected, running container.
pub fn check_container(
    ct: &Value,
    opts: &HostOptions,
    rt: &Runtime,
    api_socket: Option<&Path>,
    c: &mut Collector,
) {
    let id = s(ct, "/Id");
    let name = s(ct, "/Name").trim_start_matches('/');
    let image = {
        let cfg_image = s(ct, "/Config/Image");
        if cfg_image.is_empty() {
            s(ct, "/Image")
        } else {
            cfg_image
        }
    };
    let short = id.get(..12).unwrap_or(id);
    let path = format!("container/{}", if name.is_empty() { short } else { name });
    let resource = Some(format!("container {name} ({short}), image {image}"));
    let fire = |c: &mut Collector, check: &bulwark_misconfig::CheckMeta, msg: String| {
        c.finding(check, &path, None, resource.clone(), msg);
    };
    let h = ct.get("HostConfig").cloned().unwrap_or(Value::Null);
    let pid = i(ct, "/State/Pid");

    if h.get("Privileged") == Some(&Value::Bool(true)) {
        fire(c, &CT_PRIVILEGED, "the container runs privileged".into());
    }
    for (check, mode_key, ns, flag) in [
        (&CT_HOST_NETWORK, "NetworkMode", "net", "--network host"),
        (&CT_HOST_PID, "PidMode", "pid", "--pid host"),
        (&CT_HOST_IPC, "IpcMode", "ipc", "--ipc host"),
        (&CT_HOST_UTS, "UTSMode", "uts", "--uts host"),
    ] {
        let api_says = s(&h, &format!("/{mode_key}")) == "host";
        let proc_says = opts
            .proc_root
            .as_deref()
            .is_some_and(|p| shares_host_ns(p, pid, ns));
        if api_says || proc_says {
            let how = match (api_says, proc_says) {
                (true, true) => format!("{mode_key} is host, and /proc confirms pid {pid} is in the host's {ns} namespace"),
                (true, false) => format!("{mode_key} is host"),
                _ => format!("pid {pid} is in the host's {ns} namespace (/proc), although the API reports {mode_key} {:?}", s(&h, &format!("/{mode_key}"))),
            };
            fire(
                c,
                check,
                format!("the container shares the host's {ns} namespace ({flag}): {how}"),
            );
        }
    }
    if s(&h, "/UsernsMode") == "host" {
        fire(c, &CT_HOST_USERNS, "UsernsMode is host".into());
    }

    // Mounts: sensitive directories, runtime sockets, propagation.
    let mounts = ct
        .get("Mounts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for m in &mounts {
        if !matches!(s(m, "/Type"), "bind" | "") {
            continue;
        }
        let src = s(m, "/Source");
        let dst = s(m, "/Destination");
        if src.is_empty() {
            continue;
        }
        let src_path = Path::new(src);
        let canon = std::fs::canonicalize(src_path).unwrap_or_else(|_| src_path.to_path_buf());
        let file = canon.file_name().and_then(|f| f.to_str()).unwrap_or("");
        let is_socket = SOCKET_NAMES.contains(&file)
            || api_socket.is_some_and(|a| a == canon)
            || std::fs::metadata(&canon).is_ok_and(|md| {
                use std::os::unix::fs::FileTypeExt;
                md.file_type().is_socket() && file.ends_with(".sock")
            });
        let rw = m.get("RW") != Some(&Value::Bool(false));
        if is_socket {
            fire(
                c,
                &CT_SOCKET_MOUNT,
                format!(
                    "the runtime socket {src} is mounted at {dst} ({})",
                    if rw {
                        "read-write"
                    } else {
                        "read-only, which still allows API calls"
                    }
                ),
            );
        } else if src == "/"
            || SENSITIVE_DIRS
                .iter()
                .any(|d| src == *d || src.strip_prefix(d).is_some_and(|r| r.starts_with('/')))
        {
            fire(
                c,
                &CT_SENSITIVE_MOUNT,
                format!(
                    "host path {src} is mounted at {dst} ({})",
                    if rw { "read-write" } else { "read-only" }
                ),
            );
        }
        let prop = s(m, "/Propagation");
        if prop == "shared" || prop == "rshared" {
            fire(
                c,
                &CT_SHARED_PROPAGATION,
                format!("the mount of {src} at {dst} has {prop} propagation"),
            );
        }
    }

    let cap_add = strings(&h, "/CapAdd");
    if !cap_add.is_empty() {
        fire(
            c,
            &CT_CAP_ADD,
            format!("capabilities added: {}", cap_add.join(", ")),
        );
    }
    if i(&h, "/Memory") <= 0 {
        fire(
            c,
            &CT_NO_MEMORY_LIMIT,
            "no memory limit (HostConfig.Memory is 0)".into(),
        );
    }
    let shares = i(&h, "/CpuShares");
    if i(&h, "/NanoCpus") <= 0 && i(&h, "/CpuQuota") <= 0 && (shares == 0 || shares == 1024) {
        fire(
            c,
            &CT_NO_CPU_LIMIT,
            "no CPU limit, quota or share (NanoCpus, CpuQuota and CpuShares unset)".into(),
        );
    }
    let pids = h.get("PidsLimit").and_then(Value::as_i64).unwrap_or(0);
    if pids <= 0 {
        fire(
            c,
            &CT_NO_PIDS_LIMIT,
            format!(
                "no PIDs limit (HostConfig.PidsLimit is {})",
                h.get("PidsLimit")
                    .map(Value::to_string)
                    .unwrap_or_else(|| "unset".into())
            ),
        );
    }
    let user = s(ct, "/Config/User");
    let uid = user.split(':').next().unwrap_or("");
    if uid.is_empty() || uid == "root" || uid == "0" {
        fire(
            c,
            &CT_ROOT_USER,
            if user.is_empty() {
                "no user set: the process runs as root (uid 0)".into()
            } else {
                format!("the process runs as {user:?} (root)")
            },
        );
    }
    let secopts = strings(&h, "/SecurityOpt");
    let norm = |o: &str| o.replace(':', "=").to_ascii_lowercase();
    let nnp = secopts.iter().any(|o| {
        let o = norm(o);
        o == "no-new-privileges" || o == "no-new-privileges=true"
    }) || rt.conf("containers", "no_new_privileges") == Some(&toml::Value::Boolean(true))
        || rt.dj("no-new-privileges") == Some(&Value::Bool(true));
    if !nnp {
        fire(
            c,
            &CT_NO_NEW_PRIVS,
            "no-new-privileges is not set (HostConfig.SecurityOpt)".into(),
        );
    }
    if secopts.iter().any(|o| norm(o) == "seccomp=unconfined") {
        fire(c, &CT_SECCOMP_UNCONFINED, "seccomp=unconfined".into());
    }
    if secopts.iter().any(|o| norm(o) == "apparmor=unconfined")
        || s(ct, "/AppArmorProfile") == "unconfined"
    {
        fire(c, &CT_APPARMOR_UNCONFINED, "apparmor=unconfined".into());
    }
    if h.get("ReadonlyRootfs") != Some(&Value::Bool(true)) {
        fire(
            c,
            &CT_WRITABLE_ROOTFS,
            "the root filesystem is writable (HostConfig.ReadonlyRootfs is false)".into(),
        );
    }
    let policy = s(&h, "/RestartPolicy/Name");
    let retries = i(&h, "/RestartPolicy/MaximumRetryCount");
    let unbounded = match policy {
        "always" | "unless-stopped" => true,
        "on-failure" => retries <= 0 || retries > 5,
        _ => false,
    };
    if unbounded {
        fire(
            c,
            &CT_RESTART_POLICY,
            if policy == "on-failure" {
                format!("restart policy on-failure with maximum retry count {retries}")
            } else {
                format!("restart policy {policy}")
            },
        );
    }
    let devices = h
        .get("Devices")
        .and_then(Value::as_array)
        .map(Vec::len)
        .unwrap_or(0);
    if devices > 0 {
        let list: Vec<String> = h
            .get("Devices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|d| s(d, "/PathOnHost").to_string())
            .collect();
        fire(
            c,
            &CT_HOST_DEVICES,
            format!("host devices exposed: {}", list.join(", ")),
        );
    }
}
