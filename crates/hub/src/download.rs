//! The pull itself: file choice, metadata, resumable download, verification, install.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::header::{self, HeaderMap};
use reqwest::{Client, StatusCode, Url, redirect};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncWriteExt, BufWriter};

use crate::progress::Progress;
use crate::spec::{encode_path, encode_segment};
use crate::{HubError, HubSettings, HubSpec};

const USER_AGENT: &str = concat!("switchyard/", env!("CARGO_PKG_VERSION"));
const MAX_HOPS: usize = 10;
const WRITE_BUFFER: usize = 1 << 20;

/// What the Hub says about a file before we fetch it.
#[derive(Debug)]
struct FileMeta {
    /// Where the bytes are (the CDN URL after the Hub's redirect, or the resolve URL itself).
    url: Url,
    /// Lower-case hex SHA-256, when the Hub announced one.
    sha256: Option<String>,
    size: Option<u64>,
    commit: Option<String>,
}

struct Clients {
    /// Follows no redirects: the Hub's headers on its redirect are the ones we want.
    meta: Client,
    /// Follows redirects (to the CDN).
    fetch: Client,
}

fn clients() -> Result<Clients, HubError> {
    let build = |policy| {
        Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(Duration::from_secs(120))
            .redirect(policy)
            .build()
            .map_err(|e| HubError::Client(e.to_string()))
    };
    Ok(Clients {
        meta: build(redirect::Policy::none())?,
        fetch: build(redirect::Policy::limited(MAX_HOPS))?,
    })
}

pub(crate) async fn pull(spec: &HubSpec, settings: &HubSettings) -> Result<PathBuf, HubError> {
    let file = match &spec.file {
        Some(f) => f.clone(),
        None if settings.offline => pick_local_gguf(spec, settings)?,
        None => pick_gguf(&clients()?, spec, settings).await?,
    };
    let dest = spec.local_path(&settings.data_dir, &file);
    let what = format!("{}:{}", spec.repo, file);
    if settings.offline {
        return if dest.is_file() {
            Ok(dest)
        } else {
            Err(HubError::Offline { what })
        };
    }
    let clients = clients()?;
    let resolve = resolve_url(settings, spec, &file)?;
    let meta = match file_meta(&clients.meta, settings, &resolve).await {
        Ok(m) => m,
        Err(HubError::Network { url, reason }) if dest.is_file() => {
            tracing::warn!(%url, error = %reason, path = %dest.display(),
                "cannot reach the Hub; using the file downloaded earlier");
            return Ok(dest);
        }
        Err(e) => return Err(e),
    };
    tracing::debug!(?meta, "hub metadata");

    if dest.is_file() {
        if local_copy_matches(&dest, &meta).await? {
            tracing::info!(path = %dest.display(), "already downloaded and verified");
            return Ok(dest);
        }
        tracing::info!(path = %dest.display(), "local copy differs from the Hub's; downloading again");
    }
    if let Some(parent) = dest.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| HubError::io(parent, e))?;
    }
    let part = part_path(&dest);
    fetch(&clients.fetch, settings, &meta, &part, &what, &resolve).await?;
    install(&part, &dest).await?;
    tracing::info!(path = %dest.display(), commit = meta.commit.as_deref().unwrap_or("?"), "downloaded");
    Ok(dest)
}

fn part_path(dest: &Path) -> PathBuf {
    let mut s = dest.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

fn resolve_url(settings: &HubSettings, spec: &HubSpec, file: &str) -> Result<Url, HubError> {
    let raw = format!(
        "{}/{}/resolve/{}/{}",
        settings.endpoint_base(),
        spec.repo,
        encode_segment(&spec.revision),
        encode_path(file)
    );
    parse_url(&raw)
}

fn parse_url(raw: &str) -> Result<Url, HubError> {
    Url::parse(raw).map_err(|e| HubError::BadSpec {
        spec: raw.to_string(),
        reason: format!("not a valid URL ({e}); check HF_ENDPOINT"),
    })
}

/// The token goes to the configured endpoint only, never to a CDN on another host.
fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

fn with_auth(
    req: reqwest::RequestBuilder,
    settings: &HubSettings,
    url: &Url,
) -> reqwest::RequestBuilder {
    let endpoint = Url::parse(settings.endpoint_base()).ok();
    match (&settings.token, endpoint) {
        (Some(t), Some(ep)) if same_origin(&ep, url) => req.bearer_auth(t),
        _ => req,
    }
}

fn status_error(status: StatusCode, url: &Url) -> HubError {
    let url = url.to_string();
    match status.as_u16() {
        401 | 403 => HubError::Unauthorized {
            status: status.as_u16(),
            url,
        },
        404 => HubError::NotFound { url },
        s => HubError::Http { status: s, url },
    }
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// `"abc…"` or `W/"abc…"` → `abc…` if it is 64 hex digits (an LFS file's SHA-256).
fn sha256_etag(raw: &str) -> Option<String> {
    let v = raw.trim().trim_start_matches("W/").trim_matches('"');
    (v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit())).then(|| v.to_ascii_lowercase())
}

fn linked_etag(h: &HeaderMap) -> Option<String> {
    header_str(h, "x-linked-etag").and_then(sha256_etag)
}

/// HEAD the resolve URL, following same-host redirects (renamed repositories) until the Hub either
/// answers 200 or redirects to its CDN; the LFS headers are on that last answer.
async fn file_meta(
    client: &Client,
    settings: &HubSettings,
    start: &Url,
) -> Result<FileMeta, HubError> {
    let mut url = start.clone();
    let mut commit = None;
    for _ in 0..MAX_HOPS {
        let resp = with_auth(client.head(url.clone()), settings, &url)
            .send()
            .await
            .map_err(|e| HubError::network(url.to_string(), &e))?;
        let h = resp.headers();
        if commit.is_none() {
            commit = header_str(h, "x-repo-commit").map(str::to_string);
        }
        let status = resp.status();
        let size_of = |name: &str| header_str(h, name).and_then(|v| v.parse::<u64>().ok());
        if status.is_success() {
            return Ok(FileMeta {
                sha256: linked_etag(h).or_else(|| header_str(h, "etag").and_then(sha256_etag)),
                size: size_of("x-linked-size").or_else(|| size_of("content-length")),
                commit,
                url,
            });
        }
        if status.is_redirection() {
            let location = header_str(h, "location").ok_or_else(|| HubError::BadResponse {
                url: url.to_string(),
                reason: format!("HTTP {} without a Location header", status.as_u16()),
            })?;
            let next = url.join(location).map_err(|e| HubError::BadResponse {
                url: url.to_string(),
                reason: format!("bad redirect Location {location:?}: {e}"),
            })?;
            let linked = linked_etag(h);
            let cross_host = !same_origin(&url, &next);
            if linked.is_some() || cross_host {
                // The Hub's redirect to the CDN: its headers describe the file. A CDN's own ETag
                // (if we lack a linked one) is read from the download response instead.
                return Ok(FileMeta {
                    sha256: linked,
                    size: size_of("x-linked-size"),
                    commit,
                    url: next,
                });
            }
            url = next;
            continue;
        }
        return Err(status_error(status, &url));
    }
    Err(HubError::BadResponse {
        url: start.to_string(),
        reason: format!("more than {MAX_HOPS} redirects"),
    })
}

#[derive(serde::Deserialize)]
struct ModelInfo {
    #[serde(default)]
    siblings: Vec<Sibling>,
}

#[derive(serde::Deserialize)]
struct Sibling {
    rfilename: String,
}

fn is_gguf(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".gguf")
}

fn choose(repo: &str, mut ggufs: Vec<String>) -> Result<String, HubError> {
    ggufs.sort();
    match ggufs.len() {
        0 => Err(HubError::NoGguf {
            repo: repo.to_string(),
        }),
        1 => Ok(ggufs.remove(0)),
        _ => Err(HubError::SeveralGguf {
            repo: repo.to_string(),
            files: ggufs,
        }),
    }
}

/// Lists the repository (`/api/models/{repo}`) and returns its only `.gguf` file.
async fn pick_gguf(
    clients: &Clients,
    spec: &HubSpec,
    settings: &HubSettings,
) -> Result<String, HubError> {
    let mut raw = format!("{}/api/models/{}", settings.endpoint_base(), spec.repo);
    if spec.revision != crate::DEFAULT_REVISION {
        raw.push_str(&format!("/revision/{}", encode_segment(&spec.revision)));
    }
    let url = parse_url(&raw)?;
    let net = |e: reqwest::Error| HubError::network(&url, &e);
    let resp = with_auth(clients.fetch.get(url.clone()), settings, &url)
        .send()
        .await
        .map_err(net)?;
    if !resp.status().is_success() {
        return Err(status_error(resp.status(), &url));
    }
    let body = resp.bytes().await.map_err(net)?;
    let info: ModelInfo = serde_json::from_slice(&body).map_err(|e| HubError::BadResponse {
        url: url.to_string(),
        reason: format!("not the model info JSON: {e}"),
    })?;
    let files = info
        .siblings
        .into_iter()
        .map(|s| s.rfilename)
        .filter(|f| is_gguf(f))
        .collect();
    let file = choose(&spec.repo, files)?;
    crate::HubSpec::parse(&format!("{}:{file}", spec.repo))?; // the listed name must be a safe path
    Ok(file)
}

/// Offline and no file named: the single `.gguf` already downloaded for this repository.
fn pick_local_gguf(spec: &HubSpec, settings: &HubSettings) -> Result<String, HubError> {
    let dir = spec.local_path(&settings.data_dir, "x");
    let dir = dir.parent().unwrap_or(&settings.data_dir);
    let mut found = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for entry in rd.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_gguf(&name) && entry.path().is_file() {
                found.push(name);
            }
        }
    }
    if found.is_empty() {
        return Err(HubError::Offline {
            what: spec.repo.clone(),
        });
    }
    choose(&spec.repo, found)
}

async fn local_copy_matches(dest: &Path, meta: &FileMeta) -> Result<bool, HubError> {
    let len = tokio::fs::metadata(dest)
        .await
        .map_err(|e| HubError::io(dest, e))?
        .len();
    if meta.size.is_some_and(|s| s != len) {
        return Ok(false);
    }
    match &meta.sha256 {
        Some(expected) => {
            let (_, hasher) = hash_prefix(dest, len).await?;
            Ok(&hex(&hasher.finalize()) == expected)
        }
        // Nothing to check against: the file was verified (or size-checked) when installed.
        None => Ok(true),
    }
}

/// SHA-256 state over the first `len` bytes of `path` (fewer if the file is shorter), and how many
/// bytes that was.
async fn hash_prefix(path: &Path, len: u64) -> Result<(u64, Sha256), HubError> {
    let p = path.to_path_buf();
    let res = tokio::task::spawn_blocking(move || -> std::io::Result<(u64, Sha256)> {
        use std::io::Read;
        let f = std::fs::File::open(&p)?;
        let mut r = f.take(len);
        let mut h = Sha256::new();
        let mut buf = vec![0u8; WRITE_BUFFER];
        let mut n_total = 0u64;
        loop {
            let n = r.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(buf.get(..n).unwrap_or_default());
            n_total += n as u64;
        }
        Ok((n_total, h))
    })
    .await
    .map_err(|e| HubError::io(path, std::io::Error::other(e.to_string())))?;
    res.map_err(|e| HubError::io(path, e))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `bytes START-END/TOTAL` → (START, TOTAL if known).
fn content_range(h: &HeaderMap) -> Option<(u64, Option<u64>)> {
    let v = header_str(h, "content-range")?;
    let rest = v.strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, _) = range.split_once('-')?;
    Some((start.trim().parse().ok()?, total.trim().parse().ok()))
}

/// Downloads into `part`, resuming from what is there, and verifies size and SHA-256.
async fn fetch(
    client: &Client,
    settings: &HubSettings,
    meta: &FileMeta,
    part: &Path,
    what: &str,
    resolve: &Url,
) -> Result<(), HubError> {
    let mut have = match tokio::fs::metadata(part).await {
        Ok(m) => m.len(),
        Err(_) => 0,
    };
    if meta.size.is_some_and(|s| have > s) {
        remove(part).await?;
        have = 0;
    }
    let (mut have, mut hasher) = if have > 0 {
        hash_prefix(part, have).await?
    } else {
        (0, Sha256::new())
    };
    let mut expected_sha = meta.sha256.clone();
    let mut total = meta.size;
    let file = what.split_once(':').map_or(what, |(_, f)| f);
    let label = file.rsplit('/').next().unwrap_or(file).to_string();
    let mut progress = Progress::new(settings.progress, &label);

    if total.is_none_or(|t| have < t) {
        let mut retried_416 = false;
        let resp = loop {
            let mut req = with_auth(client.get(meta.url.clone()), settings, &meta.url);
            if have > 0 {
                req = req.header(header::RANGE, format!("bytes={have}-"));
                tracing::info!(bytes = have, "resuming a partial download");
            }
            let resp = req
                .send()
                .await
                .map_err(|e| HubError::network(resolve.to_string(), &e))?;
            match resp.status() {
                StatusCode::PARTIAL_CONTENT if have > 0 => {
                    match content_range(resp.headers()) {
                        Some((start, t)) if start == have => {
                            total = total.or(t);
                        }
                        _ => {
                            return Err(HubError::BadResponse {
                                url: resolve.to_string(),
                                reason: format!(
                                    "asked for bytes from {have}, got Content-Range {:?}",
                                    header_str(resp.headers(), "content-range")
                                ),
                            });
                        }
                    }
                    break resp;
                }
                StatusCode::OK | StatusCode::PARTIAL_CONTENT => {
                    if have > 0 {
                        tracing::info!("the server ignored the range; downloading from the start");
                        have = 0;
                        hasher = Sha256::new();
                    }
                    if total.is_none() {
                        total = header_str(resp.headers(), "content-length")
                            .and_then(|v| v.parse().ok());
                    }
                    break resp;
                }
                StatusCode::RANGE_NOT_SATISFIABLE if have > 0 && !retried_416 => {
                    retried_416 = true;
                    remove(part).await?;
                    have = 0;
                    hasher = Sha256::new();
                }
                s => return Err(status_error(s, resolve)),
            }
        };
        if expected_sha.is_none() {
            expected_sha = header_str(resp.headers(), "x-linked-etag")
                .and_then(sha256_etag)
                .or_else(|| header_str(resp.headers(), "etag").and_then(sha256_etag));
        }
        have = stream_to(resp, part, have, total, &mut hasher, &mut progress).await?;
    }

    if let Some(t) = total {
        if have < t {
            return Err(HubError::Interrupted {
                part: part.to_path_buf(),
                done: have,
                total,
                reason: "the connection closed early".into(),
            });
        }
        if have > t {
            remove(part).await?;
            return Err(HubError::BadResponse {
                url: resolve.to_string(),
                reason: format!("got {have} bytes, expected {t}; the partial file was deleted"),
            });
        }
    }
    let actual = hex(&hasher.finalize());
    match expected_sha {
        Some(expected) if expected != actual => {
            remove(part).await?;
            Err(HubError::ChecksumMismatch {
                file: what.to_string(),
                expected,
                actual,
            })
        }
        Some(_) => {
            tracing::debug!(sha256 = %actual, "checksum verified");
            Ok(())
        }
        None => {
            tracing::warn!(file = what, sha256 = %actual,
                "the server announced no SHA-256 for this file; size checked, content not verified");
            Ok(())
        }
    }
}

/// Appends the body to `part` (truncating it first if `have` is 0); returns the bytes now in it.
async fn stream_to(
    mut resp: reqwest::Response,
    part: &Path,
    mut have: u64,
    total: Option<u64>,
    hasher: &mut Sha256,
    progress: &mut Progress,
) -> Result<u64, HubError> {
    let file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(have > 0)
        .truncate(have == 0)
        .open(part)
        .await
        .map_err(|e| HubError::io(part, e))?;
    let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
    progress.begin(have, total);
    let result = loop {
        match resp.chunk().await {
            Ok(Some(bytes)) => {
                hasher.update(&bytes);
                if let Err(e) = out.write_all(&bytes).await {
                    break Err(HubError::io(part, e));
                }
                have += bytes.len() as u64;
                progress.advance(bytes.len() as u64);
            }
            Ok(None) => break Ok(()),
            Err(e) => {
                break Err(HubError::Interrupted {
                    part: part.to_path_buf(),
                    done: have,
                    total,
                    reason: e.to_string(),
                });
            }
        }
    };
    progress.finish();
    // Keep what arrived, even after an error, so that the next run can resume from it.
    let flushed = async {
        out.flush().await?;
        out.get_ref().sync_all().await
    }
    .await
    .map_err(|e| HubError::io(part, e));
    result?;
    flushed?;
    Ok(have)
}

async fn remove(path: &Path) -> Result<(), HubError> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(HubError::io(path, e)),
    }
}

/// Renames the verified part file into place (atomic on one filesystem).
async fn install(part: &Path, dest: &Path) -> Result<(), HubError> {
    if let Err(first) = tokio::fs::rename(part, dest).await {
        // Some platforms refuse to rename over an existing file.
        if dest.exists() {
            remove(dest).await?;
            return tokio::fs::rename(part, dest)
                .await
                .map_err(|e| HubError::io(dest, e));
        }
        return Err(HubError::io(dest, first));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn etags() {
        let sha = "A".repeat(64);
        assert_eq!(sha256_etag(&format!("\"{sha}\"")), Some("a".repeat(64)));
        assert_eq!(
            sha256_etag(&format!("W/\"{}\"", "b".repeat(64))),
            Some("b".repeat(64))
        );
        assert_eq!(sha256_etag("\"0123abcd\""), None); // a git blob id or a CDN etag
        assert_eq!(sha256_etag(&format!("\"{}\"", "g".repeat(64))), None);
    }

    #[test]
    fn content_ranges() {
        let mut h = HeaderMap::new();
        h.insert(
            "content-range",
            HeaderValue::from_static("bytes 100-199/200"),
        );
        assert_eq!(content_range(&h), Some((100, Some(200))));
        h.insert("content-range", HeaderValue::from_static("bytes 5-9/*"));
        assert_eq!(content_range(&h), Some((5, None)));
        h.insert("content-range", HeaderValue::from_static("garbage"));
        assert_eq!(content_range(&h), None);
    }

    #[test]
    fn choosing_the_gguf() {
        assert!(matches!(
            choose("a/b", vec![]),
            Err(HubError::NoGguf { .. })
        ));
        assert_eq!(choose("a/b", vec!["x.gguf".into()]).unwrap(), "x.gguf");
        match choose("a/b", vec!["z.gguf".into(), "y.gguf".into()]) {
            Err(e @ HubError::SeveralGguf { .. }) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("a/b:FILE") && msg.contains("y.gguf\n  z.gguf"),
                    "{msg}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn origins() {
        let a = Url::parse("https://huggingface.co/x").unwrap();
        assert!(same_origin(
            &a,
            &Url::parse("https://huggingface.co:443/y").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("https://cdn-lfs.hf.co/y").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("http://huggingface.co/y").unwrap()
        ));
    }

    #[test]
    fn part_paths() {
        assert_eq!(
            part_path(Path::new("/d/x.gguf")),
            Path::new("/d/x.gguf.part")
        );
    }
}
