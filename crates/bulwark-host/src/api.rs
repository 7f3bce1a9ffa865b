//! A minimal client of the Docker-compatible Engine API (Docker, podman's compat API):
//! `GET` requests returning JSON, over a Unix socket or plain TCP.
//!
//! Built on hyper's HTTP/1.1 client connection over tokio's `UnixStream`/`TcpStream`
//! (one connection per request, driven by a current-thread runtime owned by the
//! client) rather than a hand-written parser: hyper does the framing (chunked bodies,
//! keep-alive, header limits) that the API's responses use, and the workspace already
//! builds tokio and hyper for the server and the webhook. Every body is read frame by
//! frame and refused past [`MAX_BODY`]; every request is bounded by a timeout, so a hung
//! or hostile daemon can neither exhaust memory nor block the run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

/// Largest response body accepted (a `/containers/json` listing of thousands of
/// containers fits easily).
pub const MAX_BODY: usize = 32 << 20;
/// Time allowed for one request, connect to last byte.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the API listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A Unix socket path.
    Unix(PathBuf),
    /// `host:port` over plain TCP (no TLS).
    Tcp(String),
}

impl Endpoint {
    /// Parses a `DOCKER_HOST`-style URL: `unix:///run/podman/podman.sock`,
    /// `tcp://127.0.0.1:2375` (or `http://`). TLS (`https://`, `tcp://` with client
    /// certificates) is not supported: use the Unix socket.
    pub fn parse(url: &str) -> Result<Endpoint, ApiError> {
        if let Some(p) = url.strip_prefix("unix://") {
            if p.is_empty() {
                return Err(ApiError::BadUrl(url.to_string()));
            }
            return Ok(Endpoint::Unix(PathBuf::from(p)));
        }
        if let Some(rest) = url
            .strip_prefix("tcp://")
            .or_else(|| url.strip_prefix("http://"))
        {
            let hostport = rest.trim_end_matches('/');
            if hostport.is_empty() || hostport.contains('/') || !hostport.contains(':') {
                return Err(ApiError::BadUrl(url.to_string()));
            }
            return Ok(Endpoint::Tcp(hostport.to_string()));
        }
        Err(ApiError::BadUrl(url.to_string()))
    }

    /// The endpoint as shown to users (`unix:///path`, `tcp://host:port`).
    pub fn display(&self) -> String {
        match self {
            Endpoint::Unix(p) => format!("unix://{}", p.display()),
            Endpoint::Tcp(h) => format!("tcp://{h}"),
        }
    }

    /// The socket path, for Unix endpoints.
    pub fn socket(&self) -> Option<&Path> {
        match self {
            Endpoint::Unix(p) => Some(p),
            Endpoint::Tcp(_) => None,
        }
    }
}

/// Why an API request failed. Each names the endpoint or the request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The URL given is not `unix://PATH` or `tcp://HOST:PORT`.
    #[error("{0}: not a supported runtime API address (expected unix:///PATH or tcp://HOST:PORT; TLS endpoints are not supported)")]
    BadUrl(String),
    /// Connecting failed.
    #[error("cannot connect to the runtime API at {endpoint}: {source}")]
    Connect {
        /// The endpoint.
        endpoint: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The HTTP exchange failed.
    #[error("runtime API {endpoint} GET {path}: {message}")]
    Http {
        /// The endpoint.
        endpoint: String,
        /// The request path.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A non-2xx status.
    #[error("runtime API {endpoint} GET {path}: HTTP {status}: {body}")]
    Status {
        /// The endpoint.
        endpoint: String,
        /// The request path.
        path: String,
        /// The status code.
        status: u16,
        /// The start of the body (the daemon's message).
        body: String,
    },
    /// The body exceeded [`MAX_BODY`].
    #[error("runtime API {endpoint} GET {path}: response larger than {MAX_BODY} bytes")]
    TooLarge {
        /// The endpoint.
        endpoint: String,
        /// The request path.
        path: String,
    },
    /// The body is not JSON.
    #[error("runtime API {endpoint} GET {path}: invalid JSON: {source}")]
    Json {
        /// The endpoint.
        endpoint: String,
        /// The request path.
        path: String,
        /// The parser error.
        source: serde_json::Error,
    },
    /// The async runtime could not be started.
    #[error("starting the I/O runtime: {0}")]
    Runtime(std::io::Error),
}

/// A client of one API endpoint.
#[derive(Debug)]
pub struct Client {
    endpoint: Endpoint,
    rt: tokio::runtime::Runtime,
    timeout: Duration,
}

impl Client {
    /// A client of `endpoint`; nothing is connected yet.
    pub fn new(endpoint: Endpoint) -> Result<Client, ApiError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ApiError::Runtime)?;
        Ok(Client {
            endpoint,
            rt,
            timeout: REQUEST_TIMEOUT,
        })
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// `GET path` and parse the body as JSON.
    pub fn get_json(&self, path: &str) -> Result<serde_json::Value, ApiError> {
        let body = self.get(path)?;
        serde_json::from_slice(&body).map_err(|source| ApiError::Json {
            endpoint: self.endpoint.display(),
            path: path.to_string(),
            source,
        })
    }

    /// `GET path`: the body of a 2xx answer.
    pub fn get(&self, path: &str) -> Result<Vec<u8>, ApiError> {
        let http = |message: String| ApiError::Http {
            endpoint: self.endpoint.display(),
            path: path.to_string(),
            message,
        };
        let fut = self.get_async(path);
        let (status, body) = self.rt.block_on(async {
            match tokio::time::timeout(self.timeout, fut).await {
                Ok(r) => r,
                Err(_) => Err(http(format!(
                    "no complete answer within {}s",
                    self.timeout.as_secs()
                ))),
            }
        })?;
        if !(200..300).contains(&status) {
            let text = String::from_utf8_lossy(&body);
            let text: String = text.chars().take(300).collect();
            return Err(ApiError::Status {
                endpoint: self.endpoint.display(),
                path: path.to_string(),
                status,
                body: text.trim().to_string(),
            });
        }
        Ok(body)
    }

    async fn get_async(&self, path: &str) -> Result<(u16, Vec<u8>), ApiError> {
        let endpoint = self.endpoint.display();
        let connect = |source| ApiError::Connect {
            endpoint: endpoint.clone(),
            source,
        };
        match &self.endpoint {
            Endpoint::Unix(p) => {
                let s = tokio::net::UnixStream::connect(p).await.map_err(connect)?;
                self.exchange(TokioIo::new(s), path).await
            }
            Endpoint::Tcp(h) => {
                let s = tokio::net::TcpStream::connect(h.as_str())
                    .await
                    .map_err(connect)?;
                self.exchange(TokioIo::new(s), path).await
            }
        }
    }

    async fn exchange<I>(&self, io: I, path: &str) -> Result<(u16, Vec<u8>), ApiError>
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let http = |message: String| ApiError::Http {
            endpoint: self.endpoint.display(),
            path: path.to_string(),
            message,
        };
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| http(e.to_string()))?;
        let driver = tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("runtime API connection: {e}");
            }
        });
        let req = hyper::Request::get(path)
            .header(hyper::header::HOST, "localhost")
            .header(hyper::header::ACCEPT, "application/json")
            .body(Empty::<Bytes>::new())
            .map_err(|e| http(e.to_string()))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| http(e.to_string()))?;
        let status = resp.status().as_u16();
        let mut body = resp.into_body();
        let mut buf = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| http(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > MAX_BODY {
                    driver.abort();
                    return Err(ApiError::TooLarge {
                        endpoint: self.endpoint.display(),
                        path: path.to_string(),
                    });
                }
                buf.extend_from_slice(&data);
            }
        }
        driver.abort();
        Ok((status, buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_addresses() {
        assert_eq!(
            Endpoint::parse("unix:///run/podman/podman.sock").unwrap(),
            Endpoint::Unix("/run/podman/podman.sock".into())
        );
        assert_eq!(
            Endpoint::parse("tcp://127.0.0.1:2375").unwrap(),
            Endpoint::Tcp("127.0.0.1:2375".into())
        );
        assert!(Endpoint::parse("https://h:2376").is_err());
        assert!(Endpoint::parse("unix://").is_err());
        assert!(Endpoint::parse("tcp://nohostport").is_err());
    }

    #[test]
    fn refuses_oversized_and_reports_status() {
        use std::io::{Read, Write};
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("api.sock");
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let server = std::thread::spawn(move || {
            for (i, stream) in listener.incoming().take(2).enumerate() {
                let mut s = stream.unwrap();
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                if i == 0 {
                    let body = "x".repeat(MAX_BODY + 10);
                    let _ = write!(
                        s,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                } else {
                    let _ = write!(
                        s,
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nno such x"
                    );
                }
            }
        });
        let c = Client::new(Endpoint::Unix(sock.clone())).unwrap();
        let e = c.get("/big").unwrap_err();
        assert!(matches!(e, ApiError::TooLarge { .. }), "{e}");
        let e = c.get("/missing").unwrap_err();
        assert!(e.to_string().contains("HTTP 404: no such x"), "{e}");
        server.join().unwrap();
        let e = Client::new(Endpoint::Unix(dir.path().join("nope.sock")))
            .unwrap()
            .get("/x")
            .unwrap_err();
        assert!(e.to_string().contains("nope.sock"), "{e}");
    }
}
