//! A small blocking client for the Docker-compatible API on a unix socket (podman's
//! `podman system service`, or dockerd): container inspect, pause, and the list of
//! running containers with their images' repo digests (for placement reports).
//!
//! Written by hand over `std::os::unix::net::UnixStream` and `httparse` rather than with
//! hyper/hyper-util: the sensor's event loop is synchronous (it polls libbpf's ring
//! buffer), it needs two requests (inspect, pause), and a tokio runtime plus a hyper
//! connection pool would be the larger and slower part of the sensor for that. Each
//! request opens its own connection (`Connection: close`), has a 2 s timeout and reads at
//! most 4 MiB; chunked and Content-Length bodies are both handled.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

/// Largest response accepted.
const MAX_RESPONSE: usize = 4 << 20;
const TIMEOUT: Duration = Duration::from_secs(2);

/// Why an API call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("connecting to {path}")]
    Connect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("talking to {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("response from {path} larger than {MAX_RESPONSE} bytes")]
    TooLarge { path: PathBuf },
    #[error("malformed HTTP response from {path}: {what}")]
    Malformed { path: PathBuf, what: String },
    #[error("{method} {url} answered {status}: {body}")]
    Status {
        method: &'static str,
        url: String,
        status: u16,
        body: String,
    },
    #[error("decoding the JSON of {url}")]
    Json {
        url: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Container metadata the rules see as `container.*` fields.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ContainerMeta {
    pub id: String,
    pub name: String,
    /// The image reference the container was created from (`Config.Image`).
    pub image: String,
    /// The image id (`sha256:...`).
    pub image_id: String,
    /// The image's repo digest when it has one, else its id.
    pub image_digest: String,
    pub labels: BTreeMap<String, String>,
    pub privileged: bool,
    /// Mount destinations inside the container, with their host sources.
    pub mounts: Vec<(String, String)>,
    pub cap_add: Vec<String>,
    pub user: String,
    pub network_mode: String,
    pub pid_mode: String,
    /// The overlay upper directory on the host (`GraphDriver.Data.UpperDir`): files
    /// written or changed since the container started live there.
    pub upper_dir: String,
    /// The container's addresses (`NetworkSettings`: the default network's and each
    /// named network's).
    pub ips: Vec<std::net::IpAddr>,
}

/// A running container as the runtime lists it (`GET /containers/json`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Running {
    pub id: String,
    /// The name, without Docker's leading `/`.
    pub name: String,
    /// The image reference the container was created from.
    pub image: String,
    /// The image id (`sha256:...` or bare hex, as the runtime gives it).
    pub image_id: String,
    pub labels: BTreeMap<String, String>,
    /// The podman pod's name (podman's own API only; empty otherwise).
    pub pod: String,
    /// A podman pod's infra (pause) container.
    pub infra: bool,
}

/// Whether `s` is `sha256:` and 64 lower-case hex digits.
pub fn is_sha256_digest(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    })
}

/// The repository part of an image reference (`registry/path` without tag or digest).
fn repository(reference: &str) -> &str {
    let r = reference.split('@').next().unwrap_or("");
    match r.rfind(':') {
        // A colon after the last slash starts the tag (one before it is a port).
        Some(i) if !r[i..].contains('/') => &r[..i],
        _ => r,
    }
}

/// The repo digest of an image from its `RepoDigests` (`repo@sha256:...`): the one of
/// `reference`'s repository when there is one, else the first; `None` without a sha256
/// one.
pub fn repo_digest(repo_digests: &[String], reference: &str) -> Option<String> {
    let split = |d: &String| {
        d.split_once('@')
            .filter(|(_, h)| is_sha256_digest(h))
            .map(|(r, h)| (r.to_string(), h.to_string()))
    };
    let all: Vec<(String, String)> = repo_digests.iter().filter_map(split).collect();
    let want = repository(reference);
    all.iter()
        .find(|(r, _)| !want.is_empty() && (r == want || r.ends_with(&format!("/{want}"))))
        .or_else(|| all.first())
        .map(|(_, h)| h.clone())
}

/// The running containers of a list answer (podman's own or the Docker-compatible
/// one); entries without an id are left out.
pub fn parse_running(v: &serde_json::Value) -> Vec<Running> {
    let Some(items) = v.as_array() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for c in items {
        let s = |k: &str| c.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
        if s("Id").is_empty() {
            continue;
        }
        // Without `all=true` both APIs list only containers that run (paused ones
        // too): every entry is a placement, no state filter here.
        let name = c
            .get("Names")
            .and_then(|n| n.as_array())
            .and_then(|n| n.first())
            .and_then(|n| n.as_str())
            .unwrap_or("")
            .trim_start_matches('/')
            .to_string();
        let labels = c
            .get("Labels")
            .and_then(|x| x.as_object())
            .map(|m| {
                m.iter()
                    .map(|(k, x)| (k.clone(), x.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default();
        out.push(Running {
            id: s("Id"),
            name,
            image: s("Image"),
            image_id: s("ImageID"),
            labels,
            pod: s("PodName"),
            infra: c.get("IsInfra").and_then(|x| x.as_bool()).unwrap_or(false),
        });
    }
    out
}

/// A client for one socket.
#[derive(Debug, Clone)]
pub struct Client {
    path: PathBuf,
}

impl Client {
    /// A client for the API socket at `path` (no connection is made yet).
    pub fn new(path: impl Into<PathBuf>) -> Client {
        Client { path: path.into() }
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `GET /_ping` — whether the service answers.
    pub fn ping(&self) -> Result<(), ApiError> {
        self.request("GET", "/_ping").map(|_| ())
    }

    /// `GET /containers/{id}/json`, reduced to [`ContainerMeta`]; image digest from
    /// `GET /images/{image id}/json` (`RepoDigests`).
    pub fn inspect(&self, id: &str) -> Result<ContainerMeta, ApiError> {
        let url = format!("/v1.41/containers/{id}/json");
        let body = self.request("GET", &url)?;
        let v: serde_json::Value =
            serde_json::from_slice(&body).map_err(|source| ApiError::Json {
                url: url.clone(),
                source,
            })?;
        let s = |p: &str| {
            v.pointer(p)
                .and_then(|x| x.as_str())
                .unwrap_or("")
                .to_string()
        };
        let strs = |p: &str| -> Vec<String> {
            v.pointer(p)
                .and_then(|x| x.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let labels = v
            .pointer("/Config/Labels")
            .and_then(|x| x.as_object())
            .map(|m| {
                m.iter()
                    .map(|(k, x)| (k.clone(), x.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let mounts = v
            .pointer("/Mounts")
            .and_then(|x| x.as_array())
            .map(|a| {
                a.iter()
                    .map(|m| {
                        let g =
                            |k: &str| m.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
                        (g("Destination"), g("Source"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let image_id = s("/Image");
        // The same choice the placement reports make: the repo digest of the
        // container's own repository, else the first; the image id when none.
        let image_digest = self
            .repo_digests(&image_id)
            .ok()
            .and_then(|all| repo_digest(&all, &s("/Config/Image")))
            .unwrap_or_else(|| image_id.clone());
        Ok(ContainerMeta {
            id: s("/Id"),
            name: s("/Name").trim_start_matches('/').to_string(),
            image: s("/Config/Image"),
            image_id,
            image_digest,
            labels,
            privileged: v
                .pointer("/HostConfig/Privileged")
                .and_then(|x| x.as_bool())
                .unwrap_or(false),
            mounts,
            cap_add: strs("/HostConfig/CapAdd"),
            user: s("/Config/User"),
            network_mode: s("/HostConfig/NetworkMode"),
            pid_mode: s("/HostConfig/PidMode"),
            upper_dir: s("/GraphDriver/Data/UpperDir"),
            ips: container_ips(&v),
        })
    }

    /// The running containers: podman's own list (`/v4.0.0/libpod/containers/json`,
    /// which names pods and their infra containers), else, when the service does not
    /// have it (dockerd), the Docker-compatible `/v1.41/containers/json`.
    pub fn running(&self) -> Result<Vec<Running>, ApiError> {
        let (url, body) = match self.request("GET", "/v4.0.0/libpod/containers/json") {
            Ok(b) => ("/v4.0.0/libpod/containers/json", b),
            Err(ApiError::Status { status, .. }) if (400..500).contains(&status) => (
                "/v1.41/containers/json",
                self.request("GET", "/v1.41/containers/json")?,
            ),
            Err(e) => return Err(e),
        };
        let v: serde_json::Value =
            serde_json::from_slice(&body).map_err(|source| ApiError::Json {
                url: url.to_string(),
                source,
            })?;
        if !v.is_array() {
            return Err(ApiError::Malformed {
                path: self.path.clone(),
                what: format!("{url} did not answer a JSON array"),
            });
        }
        Ok(parse_running(&v))
    }

    /// `RepoDigests` of the image `image_id` (`GET /images/{id}/json`).
    pub fn repo_digests(&self, image_id: &str) -> Result<Vec<String>, ApiError> {
        if image_id.is_empty()
            || !image_id
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b':')
        {
            return Ok(Vec::new());
        }
        let url = format!("/v1.41/images/{image_id}/json");
        let body = self.request("GET", &url)?;
        let v: serde_json::Value =
            serde_json::from_slice(&body).map_err(|source| ApiError::Json { url, source })?;
        Ok(v.pointer("/RepoDigests")
            .and_then(|x| x.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// `POST /containers/{id}/pause`.
    pub fn pause(&self, id: &str) -> Result<(), ApiError> {
        self.request("POST", &format!("/v1.41/containers/{id}/pause"))
            .map(|_| ())
    }

    /// One request; returns the body of a 2xx answer.
    fn request(&self, method: &'static str, url: &str) -> Result<Vec<u8>, ApiError> {
        let io = |source| ApiError::Io {
            path: self.path.clone(),
            source,
        };
        let mut s = UnixStream::connect(&self.path).map_err(|source| ApiError::Connect {
            path: self.path.clone(),
            source,
        })?;
        s.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
        s.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
        let req = format!(
            "{method} {url} HTTP/1.1\r\nHost: d\r\nUser-Agent: bulwark-sensor\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).map_err(io)?;
        let mut buf = Vec::new();
        (&mut s)
            .take(MAX_RESPONSE as u64 + 1)
            .read_to_end(&mut buf)
            .map_err(io)?;
        if buf.len() > MAX_RESPONSE {
            return Err(ApiError::TooLarge {
                path: self.path.clone(),
            });
        }
        let (status, body) = parse_response(&buf).map_err(|what| ApiError::Malformed {
            path: self.path.clone(),
            what,
        })?;
        if !(200..300).contains(&status) {
            let mut b = String::from_utf8_lossy(&body).trim().to_string();
            b.truncate(300);
            return Err(ApiError::Status {
                method,
                url: url.to_string(),
                status,
                body: b,
            });
        }
        Ok(body)
    }
}

/// The addresses in an inspect answer's `NetworkSettings` (deduplicated).
fn container_ips(v: &serde_json::Value) -> Vec<std::net::IpAddr> {
    let mut out = Vec::new();
    let mut add = |x: Option<&serde_json::Value>| {
        if let Some(ip) = x
            .and_then(|x| x.as_str())
            .and_then(|t| t.parse::<std::net::IpAddr>().ok())
        {
            if !out.contains(&ip) {
                out.push(ip);
            }
        }
    };
    add(v.pointer("/NetworkSettings/IPAddress"));
    add(v.pointer("/NetworkSettings/GlobalIPv6Address"));
    if let Some(nets) = v
        .pointer("/NetworkSettings/Networks")
        .and_then(|n| n.as_object())
    {
        for n in nets.values() {
            add(n.get("IPAddress"));
            add(n.get("GlobalIPv6Address"));
        }
    }
    out
}

/// Splits a complete HTTP/1.1 response into status and (de-chunked) body.
pub fn parse_response(buf: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut r = httparse::Response::new(&mut headers);
    let n = match r.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err("truncated response head".into()),
        Err(e) => return Err(format!("response head: {e}")),
    };
    let status = r.code.ok_or("no status code")?;
    let mut chunked = false;
    let mut len: Option<usize> = None;
    for h in r.headers.iter() {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = String::from_utf8_lossy(h.value)
                .to_ascii_lowercase()
                .contains("chunked");
        } else if h.name.eq_ignore_ascii_case("content-length") {
            len = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok());
        }
    }
    let rest = &buf[n..];
    if chunked {
        return dechunk(rest).map(|b| (status, b));
    }
    match len {
        Some(l) if l > rest.len() => Err(format!(
            "body shorter ({} bytes) than its Content-Length {l}",
            rest.len()
        )),
        Some(l) => Ok((status, rest[..l].to_vec())),
        None => Ok((status, rest.to_vec())),
    }
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunk size line without CRLF")?;
        let line = std::str::from_utf8(&b[..eol]).map_err(|_| "chunk size not text")?;
        let size_txt = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_txt, 16)
            .map_err(|_| format!("bad chunk size {size_txt:?}"))?;
        b = &b[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size + 2 {
            return Err("truncated chunk".into());
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_chunked_and_length_bodies() {
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(r).unwrap(), (200, b"abcde".to_vec()));
        let r = b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope";
        assert_eq!(parse_response(r).unwrap(), (404, b"nope".to_vec()));
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort";
        assert!(parse_response(r).is_err());
        assert!(
            parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err()
        );
    }

    #[test]
    fn absent_socket_is_a_connect_error_naming_the_path() {
        let c = Client::new("/nonexistent/bulwark.sock");
        let e = c.inspect("abc").unwrap_err();
        assert!(matches!(e, ApiError::Connect { .. }));
        assert!(e.to_string().contains("/nonexistent/bulwark.sock"));
    }
}
