//! Exporting an image from a Docker-compatible daemon (Docker or podman) as a
//! docker-archive tar.
//!
//! The daemon API is plain HTTP/1.1 over a Unix socket, and we need exactly two GETs, so
//! this speaks it directly over a `UnixStream` (headers parsed by `httparse`, bodies
//! framed by `Content-Length`, chunked encoding or end of stream) rather than pulling in
//! an async runtime and a full client for it. The archive is streamed into the cache dir
//! under a size limit and handed back as a path for the docker-archive reader.

use crate::ImageError;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default refusal size for one exported archive (64 GiB).
pub const DEFAULT_MAX_ARCHIVE_SIZE: u64 = 64 << 30;
/// Largest response header block we accept.
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Largest `/images/{name}/json` document we accept.
const MAX_INSPECT_BYTES: u64 = 16 << 20;
/// A daemon that sends nothing for this long is considered hung.
const IO_TIMEOUT: Duration = Duration::from_secs(300);

/// Sockets tried, in order, when the options name none.
const DEFAULT_SOCKETS: [&str; 2] = ["/var/run/docker.sock", "/run/podman/podman.sock"];

/// How to reach the daemon and where to put the archive.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// The archive is written to `<cache_dir>/daemon/<image id hex>.tar`.
    pub cache_dir: PathBuf,
    /// The API socket (the CLI derives it from `DOCKER_HOST` with
    /// [`parse_docker_host`]); when unset, `/var/run/docker.sock`, then
    /// `/run/podman/podman.sock`.
    pub socket: Option<PathBuf>,
    /// Refuse archives larger than this many bytes.
    pub max_size: u64,
    /// Stops the export between chunks (the scan's cancellation and deadline).
    pub cancel: crate::Cancel,
}

impl DaemonOptions {
    /// Options with the default socket search and the 64 GiB limit.
    pub fn new(cache_dir: impl Into<PathBuf>) -> DaemonOptions {
        DaemonOptions {
            cache_dir: cache_dir.into(),
            socket: None,
            max_size: DEFAULT_MAX_ARCHIVE_SIZE,
            cancel: crate::Cancel::default(),
        }
    }
}

/// The socket named by a `DOCKER_HOST` value (`unix:///run/podman/podman.sock`).
pub fn parse_docker_host(host: &str) -> Result<PathBuf, ImageError> {
    match host.strip_prefix("unix://") {
        Some(p) if !p.is_empty() => Ok(PathBuf::from(p)),
        _ => Err(ImageError::Remote {
            what: format!("DOCKER_HOST={host}"),
            message: "only unix:// daemon sockets are supported".into(),
        }),
    }
}

/// Finds the daemon socket: `explicit`, else the first default socket that exists.
pub fn socket_path(explicit: Option<&Path>) -> Result<PathBuf, ImageError> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    DEFAULT_SOCKETS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or_else(|| ImageError::Remote {
            what: "docker daemon".into(),
            message: format!(
                "no daemon socket found (none given, DOCKER_HOST unset; tried {})",
                DEFAULT_SOCKETS.join(", ")
            ),
        })
}

/// Exports image `name` from the daemon into the cache and returns the archive's path.
pub fn export(name: &str, opts: &DaemonOptions) -> Result<PathBuf, ImageError> {
    export_pinned(name, opts).map(|e| e.archive)
}

/// An image exported from the daemon, pinned to the id the name resolved to.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The docker-archive in the cache.
    pub archive: PathBuf,
    /// The image id (`sha256:<hex>`) the name resolved to when it was inspected.
    pub id: String,
}

/// Resolves `name` to an image id once (inspect), then exports that id — never the
/// name again, so a tag moved in between cannot mix two images in one scan.
pub fn export_pinned(name: &str, opts: &DaemonOptions) -> Result<Exported, ImageError> {
    let name = name.strip_prefix("docker-daemon:").unwrap_or(name);
    if name.is_empty() || name.len() > 1024 || name.chars().any(|c| c.is_control()) {
        return Err(ImageError::Target {
            target: name.to_string(),
            message: "not a valid image name".into(),
        });
    }
    let socket = socket_path(opts.socket.as_deref())?;
    let encoded = encode_path_segment(name);

    let inspect_path = format!("/images/{encoded}/json");
    let what = format!("GET {inspect_path} on {}", socket.display());
    let mut resp = request(&socket, &inspect_path)?;
    if resp.status == 404 {
        return Err(ImageError::Remote {
            what,
            message: format!("image {name:?} not found in daemon at {}", socket.display()),
        });
    }
    let body = resp
        .read_limited(MAX_INSPECT_BYTES)
        .map_err(|e| remote(&what, e))?;
    if resp.status != 200 {
        return Err(remote(&what, status_message(resp.status, &body)));
    }
    let doc: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| remote(&what, format!("inspect response is not JSON: {e}")))?;
    let id = doc
        .get("Id")
        .and_then(|v| v.as_str())
        .ok_or_else(|| remote(&what, "inspect response has no \"Id\"".into()))?;
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    if hex.is_empty() || hex.len() > 128 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(remote(&what, format!("unexpected image id {id:?}")));
    }
    if let Some(size) = doc.get("Size").and_then(|v| v.as_u64()) {
        if size > opts.max_size {
            return Err(remote(
                &what,
                format!(
                    "image is {size} bytes, over the limit of {} bytes",
                    opts.max_size
                ),
            ));
        }
    }

    let dir = opts.cache_dir.join("daemon");
    std::fs::create_dir_all(&dir).map_err(|source| ImageError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    // By id, not by name: the name is resolved exactly once, by the inspect above.
    let get_path = format!("/images/{hex}/get");
    let what = format!("GET {get_path} on {}", socket.display());
    let mut resp = request(&socket, &get_path)?;
    if resp.status != 200 {
        let body = resp.read_limited(64 * 1024).unwrap_or_default();
        if resp.status == 404 {
            return Err(remote(
                &what,
                format!("image {name:?} not found in daemon at {}", socket.display()),
            ));
        }
        return Err(remote(&what, status_message(resp.status, &body)));
    }
    let io_err = |path: &Path, source| ImageError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".partial-")
        .suffix(".tar")
        .tempfile_in(&dir)
        .map_err(|e| io_err(&dir, e))?;
    let limit = opts.max_size;
    // Copied in chunks, not with io::copy, so that a cancelled scan or an expired
    // deadline stops a long export, and a full disk is told from a broken stream.
    let tmp_path = tmp.path().to_path_buf();
    let mut body = (&mut resp.body).take(limit.saturating_add(1));
    let mut buf = vec![0u8; 256 * 1024];
    let mut copied: u64 = 0;
    loop {
        opts.cancel.check()?;
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(remote(&what, format!("streaming the archive: {e}"))),
        };
        tmp.as_file_mut()
            .write_all(buf.get(..n).unwrap_or_default())
            .map_err(|e| io_err(&tmp_path, e))?;
        copied += n as u64;
    }
    if copied > limit {
        return Err(remote(
            &what,
            format!("archive is larger than the limit of {limit} bytes"),
        ));
    }
    if copied == 0 {
        return Err(remote(&what, "daemon sent an empty archive".into()));
    }
    let out = dir.join(format!("{hex}.tar"));
    tmp.persist(&out).map_err(|e| io_err(&out, e.error))?;
    tracing::debug!("exported {name} ({copied} bytes) to {}", out.display());
    Ok(Exported {
        archive: out,
        id: format!("sha256:{hex}"),
    })
}

fn remote(what: &str, message: String) -> ImageError {
    ImageError::Remote {
        what: what.to_string(),
        message,
    }
}

fn status_message(status: u16, body: &[u8]) -> String {
    let msg = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|d| {
            d.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect());
    format!("daemon answered HTTP {status}: {}", msg.trim())
}

/// Percent-encodes an image name for the URL path; `/`, `:` and `@` stay, as the
/// daemon's router expects them literally.
fn encode_path_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/' | b':' | b'@')
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A response: status plus a body reader that ends where the message ends.
struct Response {
    status: u16,
    body: Box<dyn Read>,
}

impl Response {
    fn read_limited(&mut self, limit: u64) -> Result<Vec<u8>, String> {
        let mut buf = Vec::new();
        (&mut self.body)
            .take(limit + 1)
            .read_to_end(&mut buf)
            .map_err(|e| format!("reading response: {e}"))?;
        if buf.len() as u64 > limit {
            return Err(format!("response larger than {limit} bytes"));
        }
        Ok(buf)
    }
}

/// Sends one `GET` over a fresh connection and parses the response head.
fn request(socket: &Path, path: &str) -> Result<Response, ImageError> {
    let what = format!("GET {path} on {}", socket.display());
    let stream = UnixStream::connect(socket).map_err(|e| {
        remote(
            &what,
            format!(
                "cannot connect to the daemon socket {}: {e}",
                socket.display()
            ),
        )
    })?;
    let setup = |e: std::io::Error| remote(&what, e.to_string());
    stream.set_read_timeout(Some(IO_TIMEOUT)).map_err(setup)?;
    stream.set_write_timeout(Some(IO_TIMEOUT)).map_err(setup)?;
    let mut writer = stream.try_clone().map_err(setup)?;
    write!(
        writer,
        "GET {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: bulwark/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
    .map_err(|e| remote(&what, format!("sending request: {e}")))?;

    let mut reader = BufReader::new(stream);
    let mut head = Vec::new();
    // Read line by line until the blank line ending the head, never past the limit.
    loop {
        let n = (&mut reader)
            .take((MAX_HEADER_BYTES - head.len()) as u64)
            .read_until(b'\n', &mut head)
            .map_err(|e| remote(&what, format!("reading response head: {e}")))?;
        if n == 0 {
            return Err(remote(
                &what,
                "daemon closed the connection before responding".into(),
            ));
        }
        if head.ends_with(b"\r\n\r\n") || head.ends_with(b"\n\n") {
            break;
        }
        if head.len() >= MAX_HEADER_BYTES {
            return Err(remote(
                &what,
                format!("response head over {MAX_HEADER_BYTES} bytes"),
            ));
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut headers);
    match parsed.parse(&head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(remote(&what, "incomplete response head".into()))
        }
        Err(e) => return Err(remote(&what, format!("malformed response head: {e}"))),
    }
    let status = parsed
        .code
        .ok_or_else(|| remote(&what, "response without status".into()))?;
    let header = |name: &str| {
        parsed
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
    };
    let chunked =
        header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let body: Box<dyn Read> = if chunked {
        Box::new(ChunkedReader::new(reader))
    } else if let Some(len) = header("content-length") {
        let len: u64 = len
            .parse()
            .map_err(|_| remote(&what, format!("bad Content-Length {len:?}")))?;
        Box::new(ExactReader {
            inner: reader.take(len),
            remaining: len,
        })
    } else {
        // HTTP/1.1 with Connection: close and no framing: the body ends at EOF.
        Box::new(reader)
    };
    Ok(Response { status, body })
}

/// Reads exactly `Content-Length` bytes; an early end of stream is an error, not a
/// silently truncated archive.
struct ExactReader<R> {
    inner: std::io::Take<R>,
    remaining: u64,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "connection closed with {} bytes still to come",
                    self.remaining
                ),
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Decodes `Transfer-Encoding: chunked`.
struct ChunkedReader<R> {
    inner: R,
    /// Bytes left in the current chunk.
    left: u64,
    done: bool,
}

impl<R: BufRead> ChunkedReader<R> {
    fn new(inner: R) -> Self {
        ChunkedReader {
            inner,
            left: 0,
            done: false,
        }
    }

    fn read_line(&mut self) -> std::io::Result<String> {
        let mut line = Vec::new();
        (&mut self.inner).take(4096).read_until(b'\n', &mut line)?;
        if !line.ends_with(b"\n") {
            return Err(invalid("chunk framing line missing or over 4096 bytes"));
        }
        Ok(String::from_utf8_lossy(&line).trim().to_string())
    }
}

fn invalid(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_string())
}

impl<R: BufRead> Read for ChunkedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let line = self.read_line()?;
            let size = line.split(';').next().unwrap_or("").trim();
            self.left = u64::from_str_radix(size, 16)
                .map_err(|_| invalid(&format!("bad chunk size {size:?}")))?;
            if self.left == 0 {
                // Trailers, if any, end with an empty line.
                loop {
                    if self.read_line()?.is_empty() {
                        break;
                    }
                }
                self.done = true;
                return Ok(0);
            }
        }
        let want = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let dst = buf.get_mut(..want).unwrap_or_default();
        let n = self.inner.read(dst)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed inside a chunk",
            ));
        }
        self.left -= n as u64;
        if self.left == 0 && !self.read_line()?.is_empty() {
            return Err(invalid("chunk not followed by CRLF"));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_decoding() {
        let raw = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: a\r\n\r\n";
        let mut out = String::new();
        ChunkedReader::new(&raw[..])
            .read_to_string(&mut out)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out, "hello, world");
        let truncated = b"a\r\nhello";
        let mut out = Vec::new();
        assert!(ChunkedReader::new(&truncated[..])
            .read_to_end(&mut out)
            .is_err());
        let bad = b"zz\r\n";
        assert!(ChunkedReader::new(&bad[..]).read_to_end(&mut out).is_err());
    }

    #[test]
    fn exact_reader_reports_short_body() {
        let data = b"abc";
        let mut r = ExactReader {
            inner: (&data[..]).take(5),
            remaining: 5,
        };
        let mut out = Vec::new();
        assert!(r.read_to_end(&mut out).is_err());
    }

    #[test]
    fn name_encoding_keeps_reference_syntax() {
        assert_eq!(encode_path_segment("localhost/x:1"), "localhost/x:1");
        assert_eq!(encode_path_segment("a b?c#"), "a%20b%3Fc%23");
    }
}
