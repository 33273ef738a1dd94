//! A local server that imitates the Hub's URLs (nothing is downloaded from the internet):
//! - `GET /api/models/{owner}/{name}` → `{"siblings": [{"rfilename": …}]}`;
//! - `HEAD|GET /{owner}/{name}/resolve/main/{file}` → 302 to `/cdn/{owner}/{name}/{file}`, with the
//!   Hub's `X-Linked-Etag` (SHA-256), `X-Linked-Size` and `x-repo-commit` unless told not to;
//! - `GET /cdn/…` → the bytes with `ETag` = SHA-256, honouring `Range`; it can cut the connection
//!   half-way, ignore `Range`, or announce a wrong checksum.
//!
//! Repositories whose owner is `gated` answer 401 without `Authorization: Bearer hf_secret`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Response, StatusCode, Uri};
use bytes::Bytes;
use sha2::{Digest, Sha256};

pub const TOKEN: &str = "hf_secret";
pub const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

#[derive(Default)]
pub struct State {
    /// repo → (file → bytes)
    pub repos: Mutex<BTreeMap<String, BTreeMap<String, Vec<u8>>>>,
    /// Cut the next CDN body after this many bytes (0: never); reset once used.
    pub cut_at: AtomicU64,
    pub wrong_checksum: AtomicBool,
    /// The redirect omits the Hub's X-Linked-* headers (the CDN's ETag is all there is).
    pub no_linked_headers: AtomicBool,
    pub ignore_range: AtomicBool,
    /// `Range` headers seen by the CDN, in order (None: no Range).
    pub cdn_ranges: Mutex<Vec<Option<String>>>,
    /// Authorization headers seen on the Hub's own URLs.
    pub hub_auth: Mutex<Vec<Option<String>>>,
    pub cdn_gets: AtomicU64,
}

pub struct MockHub {
    pub addr: SocketAddr,
    pub state: Arc<State>,
}

impl MockHub {
    pub async fn start() -> MockHub {
        let state = Arc::new(State::default());
        let s = state.clone();
        let app = Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap| {
            let s = s.clone();
            async move { handle(&s, &method, &uri, &headers) }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        MockHub { addr, state }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn add(&self, repo: &str, file: &str, bytes: Vec<u8>) {
        self.state
            .repos
            .lock()
            .unwrap()
            .entry(repo.to_string())
            .or_default()
            .insert(file.to_string(), bytes);
    }

    fn lookup(&self, repo: &str, file: &str) -> Option<Vec<u8>> {
        lookup(&self.state, repo, file)
    }

    pub fn sha256(&self, repo: &str, file: &str) -> String {
        sha_hex(&self.lookup(repo, file).unwrap())
    }
}

pub fn sha_hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Deterministic pseudo-random bytes (xorshift), so that a wrong byte anywhere changes the hash.
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn lookup(s: &State, repo: &str, file: &str) -> Option<Vec<u8>> {
    s.repos.lock().unwrap().get(repo)?.get(file).cloned()
}

fn status(code: StatusCode) -> Response<Body> {
    Response::builder()
        .status(code)
        .body(Body::empty())
        .unwrap()
}

fn split_repo(rest: &str) -> Option<(String, &str)> {
    let mut it = rest.splitn(3, '/');
    let owner = it.next()?;
    let name = it.next()?;
    Some((format!("{owner}/{name}"), it.next().unwrap_or("")))
}

fn handle(s: &State, method: &Method, uri: &Uri, headers: &HeaderMap) -> Response<Body> {
    let path = uri.path();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(rest) = path.strip_prefix("/cdn/") {
        return cdn(s, method, rest, headers);
    }
    s.hub_auth.lock().unwrap().push(auth.clone());
    let (api, rest) = match path.strip_prefix("/api/models/") {
        Some(r) => (true, r),
        None => (false, path.trim_start_matches('/')),
    };
    let Some((repo, tail)) = split_repo(rest) else {
        return status(StatusCode::NOT_FOUND);
    };
    if repo.starts_with("gated/") && auth.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        return status(StatusCode::UNAUTHORIZED);
    }
    let Some(files) = s.repos.lock().unwrap().get(&repo).cloned() else {
        return status(StatusCode::NOT_FOUND);
    };
    if api {
        let siblings: Vec<_> = files
            .keys()
            .map(|f| serde_json::json!({ "rfilename": f }))
            .chain([serde_json::json!({"rfilename": "README.md"})])
            .collect();
        let body = serde_json::json!({ "id": repo, "siblings": siblings }).to_string();
        return Response::builder()
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
    }
    let Some(file) = tail.strip_prefix("resolve/main/") else {
        return status(StatusCode::NOT_FOUND);
    };
    let Some(bytes) = files.get(file) else {
        return status(StatusCode::NOT_FOUND);
    };
    let mut r = Response::builder()
        .status(StatusCode::FOUND)
        .header("location", format!("/cdn/{repo}/{file}"))
        .header("x-repo-commit", COMMIT);
    if !s.no_linked_headers.load(Ordering::SeqCst) {
        r = r
            .header("x-linked-etag", format!("\"{}\"", announced_sha(s, bytes)))
            .header("x-linked-size", bytes.len().to_string());
    }
    r.body(Body::empty()).unwrap()
}

fn announced_sha(s: &State, bytes: &[u8]) -> String {
    if s.wrong_checksum.load(Ordering::SeqCst) {
        sha_hex(b"something else")
    } else {
        sha_hex(bytes)
    }
}

fn cdn(s: &State, method: &Method, rest: &str, headers: &HeaderMap) -> Response<Body> {
    let Some((repo, file)) = split_repo(rest) else {
        return status(StatusCode::NOT_FOUND);
    };
    let Some(bytes) = lookup(s, &repo, file) else {
        return status(StatusCode::NOT_FOUND);
    };
    let etag = format!("\"{}\"", announced_sha(s, &bytes));
    let len = bytes.len() as u64;
    if method == Method::HEAD {
        return Response::builder()
            .header("etag", etag)
            .header("content-length", len.to_string())
            .body(Body::empty())
            .unwrap();
    }
    s.cdn_gets.fetch_add(1, Ordering::SeqCst);
    let range = headers
        .get("range")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    s.cdn_ranges.lock().unwrap().push(range.clone());
    let start = match range.filter(|_| !s.ignore_range.load(Ordering::SeqCst)) {
        Some(r) => {
            let n: u64 = r
                .strip_prefix("bytes=")
                .and_then(|v| v.strip_suffix('-'))
                .and_then(|v| v.parse().ok())
                .unwrap();
            if n >= len {
                return status(StatusCode::RANGE_NOT_SATISFIABLE);
            }
            Some(n)
        }
        None => None,
    };
    let from = start.unwrap_or(0);
    let body_bytes = Bytes::from(bytes[from as usize..].to_vec());
    let cut = s.cut_at.swap(0, Ordering::SeqCst);
    let builder = match start {
        Some(n) => Response::builder()
            .status(StatusCode::PARTIAL_CONTENT)
            .header("content-range", format!("bytes {n}-{}/{len}", len - 1)),
        None => Response::builder().status(StatusCode::OK),
    }
    .header("etag", etag)
    .header("content-length", (len - from).to_string());
    let body = if cut > 0 && (cut as usize) < body_bytes.len() {
        let head = body_bytes.slice(..cut as usize);
        let stream = async_stream_cut(head);
        Body::from_stream(stream)
    } else {
        Body::from(body_bytes)
    };
    builder.body(body).unwrap()
}

/// Sends `head`, waits a moment so that it reaches the client, then fails (hyper drops the
/// connection before the announced Content-Length is reached).
fn async_stream_cut(
    head: Bytes,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    use futures::StreamExt;
    let first = futures::stream::iter([Ok::<_, std::io::Error>(head)]);
    let fail = futures::stream::once(async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        Err(std::io::Error::other("cut"))
    });
    first.chain(fail)
}
