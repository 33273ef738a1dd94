//! `pull` against a local imitation of the Hub.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use support::{MockHub, TOKEN, payload};
use switchyard_hub::{HubError, HubSettings, HubSpec, pull, resolve_model_path};

const REPO: &str = "owner/Model-GGUF";
const FILE: &str = "model-q4_k_m.gguf";
const SIZE: usize = 300_000;

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("sy-hub-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn hub_with_model() -> MockHub {
    let hub = MockHub::start().await;
    hub.add(REPO, FILE, payload(SIZE, 7));
    hub
}

fn settings(hub: &MockHub, dir: &TempDir) -> HubSettings {
    let mut s = HubSettings::new(&dir.0);
    s.endpoint = hub.endpoint();
    s
}

fn spec(s: &str) -> HubSpec {
    HubSpec::parse(s).unwrap()
}

fn expected_dest(dir: &TempDir, file: &str) -> PathBuf {
    dir.0.join("models").join("owner--Model-GGUF").join(file)
}

fn part_of(p: &Path) -> PathBuf {
    PathBuf::from(format!("{}.part", p.display()))
}

#[tokio::test]
async fn downloads_verifies_and_installs_then_skips_when_present() {
    let hub = hub_with_model().await;
    let dir = TempDir::new("basic");
    let s = settings(&hub, &dir);
    let path = pull(&spec(&format!("{REPO}:{FILE}")), &s).await.unwrap();
    assert_eq!(path, expected_dest(&dir, FILE));
    assert_eq!(std::fs::read(&path).unwrap(), payload(SIZE, 7));
    assert!(!part_of(&path).exists());
    assert_eq!(hub.state.cdn_gets.load(Ordering::SeqCst), 1);
    assert_eq!(hub.state.cdn_ranges.lock().unwrap().as_slice(), &[None]);

    // Present and verified: no second download.
    let again = pull(&spec(&format!("{REPO}:{FILE}")), &s).await.unwrap();
    assert_eq!(again, path);
    assert_eq!(hub.state.cdn_gets.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_corrupted_local_copy_is_downloaded_again() {
    let hub = hub_with_model().await;
    let dir = TempDir::new("corrupt");
    let s = settings(&hub, &dir);
    let path = pull(&spec(&format!("{REPO}:{FILE}")), &s).await.unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[1000] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    pull(&spec(&format!("{REPO}:{FILE}")), &s).await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), payload(SIZE, 7));
    assert_eq!(hub.state.cdn_gets.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn without_a_file_the_single_gguf_is_chosen() {
    let hub = hub_with_model().await;
    let dir = TempDir::new("single");
    let path = pull(&spec(REPO), &settings(&hub, &dir)).await.unwrap();
    assert_eq!(path, expected_dest(&dir, FILE));
    assert_eq!(std::fs::read(&path).unwrap(), payload(SIZE, 7));
}

#[tokio::test]
async fn several_ggufs_need_a_file_name() {
    let hub = hub_with_model().await;
    hub.add(REPO, "model-q8_0.gguf", payload(100, 3));
    let dir = TempDir::new("several");
    match pull(&spec(REPO), &settings(&hub, &dir)).await {
        Err(e @ HubError::SeveralGguf { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains(FILE) && msg.contains("model-q8_0.gguf"),
                "{msg}"
            );
            assert!(msg.contains(&format!("{REPO}:FILE")), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    // A repository without any .gguf.
    hub.add("owner/empty", "weights.safetensors", vec![1, 2, 3]);
    let e = pull(&spec("owner/empty"), &settings(&hub, &dir)).await;
    assert!(matches!(e, Err(HubError::NoGguf { .. })), "{e:?}");
}

#[tokio::test]
async fn an_interrupted_download_resumes_from_the_part_file() {
    let hub = hub_with_model().await;
    let dir = TempDir::new("resume");
    let s = settings(&hub, &dir);
    hub.state.cut_at.store(SIZE as u64 / 2, Ordering::SeqCst);
    let dest = expected_dest(&dir, FILE);
    match pull(&spec(&format!("{REPO}:{FILE}")), &s).await {
        Err(e @ HubError::Interrupted { .. }) => {
            assert!(e.to_string().contains("resume"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!dest.exists(), "an incomplete file must not be installed");
    let part = part_of(&dest);
    let have = std::fs::metadata(&part).unwrap().len();
    assert!(have > 0 && have < SIZE as u64, "part has {have} bytes");
    assert_eq!(
        std::fs::read(&part).unwrap(),
        payload(SIZE, 7)[..have as usize]
    );

    let path = pull(&spec(&format!("{REPO}:{FILE}")), &s).await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), payload(SIZE, 7));
    assert!(!part.exists());
    let ranges = hub.state.cdn_ranges.lock().unwrap().clone();
    assert_eq!(ranges, vec![None, Some(format!("bytes={have}-"))]);
}

#[tokio::test]
async fn a_server_that_ignores_range_gets_a_fresh_download() {
    let hub = hub_with_model().await;
    let dir = TempDir::new("norange");
    let s = settings(&hub, &dir);
    let dest = expected_dest(&dir, FILE);
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    // A stale part file with wrong bytes: if it were kept, the checksum would fail.
    std::fs::write(part_of(&dest), vec![0u8; 5000]).unwrap();
    hub.state.ignore_range.store(true, Ordering::SeqCst);
    let path = pull(&spec(&format!("{REPO}:{FILE}")), &s).await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), payload(SIZE, 7));
    assert_eq!(
        hub.state.cdn_ranges.lock().unwrap().as_slice(),
        &[Some("bytes=5000-".to_string())]
    );
}

#[tokio::test]
async fn a_wrong_checksum_is_an_error_and_removes_the_part() {
    let hub = hub_with_model().await;
    let dir = TempDir::new("badsum");
    hub.state.wrong_checksum.store(true, Ordering::SeqCst);
    let dest = expected_dest(&dir, FILE);
    match pull(&spec(&format!("{REPO}:{FILE}")), &settings(&hub, &dir)).await {
        Err(HubError::ChecksumMismatch { actual, .. }) => {
            assert_eq!(actual, hub.sha256(REPO, FILE));
        }
        other => panic!("{other:?}"),
    }
    assert!(!dest.exists());
    assert!(!part_of(&dest).exists());
}

#[tokio::test]
async fn without_linked_headers_the_cdn_etag_is_checked() {
    let hub = hub_with_model().await;
    hub.state.no_linked_headers.store(true, Ordering::SeqCst);
    let dir = TempDir::new("cdnetag");
    let s = settings(&hub, &dir);
    hub.state.wrong_checksum.store(true, Ordering::SeqCst);
    let e = pull(&spec(&format!("{REPO}:{FILE}")), &s).await;
    assert!(matches!(e, Err(HubError::ChecksumMismatch { .. })), "{e:?}");
    hub.state.wrong_checksum.store(false, Ordering::SeqCst);
    let path = pull(&spec(&format!("{REPO}:{FILE}")), &s).await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), payload(SIZE, 7));
}

#[tokio::test]
async fn not_found_names_the_url() {
    let hub = hub_with_model().await;
    let dir = TempDir::new("404");
    let s = settings(&hub, &dir);
    for bad in [
        format!("{REPO}:missing.gguf"),
        "owner/nope:x.gguf".to_string(),
        "owner/nope".to_string(),
    ] {
        match pull(&spec(&bad), &s).await {
            Err(e @ HubError::NotFound { .. }) => {
                assert!(e.to_string().contains("404"), "{e}");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn gated_repos_need_the_token() {
    let hub = MockHub::start().await;
    hub.add("gated/Llama-GGUF", "l.gguf", payload(4096, 9));
    let dir = TempDir::new("gated");
    let mut s = settings(&hub, &dir);
    match pull(&spec("gated/Llama-GGUF:l.gguf"), &s).await {
        Err(e @ HubError::Unauthorized { status: 401, .. }) => {
            assert!(e.to_string().contains("HF_TOKEN"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    s.token = Some(TOKEN.to_string());
    let path = pull(&spec("gated/Llama-GGUF"), &s).await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), payload(4096, 9));
    let auth = hub.state.hub_auth.lock().unwrap().clone();
    assert_eq!(
        auth.last().unwrap().as_deref(),
        Some(&*format!("Bearer {TOKEN}"))
    );
}

#[tokio::test]
async fn hf_paths_resolve_through_pull_and_work_offline_afterwards() {
    let hub = hub_with_model().await;
    let dir = TempDir::new("resolve");
    let mut s = settings(&hub, &dir);
    let uri = format!("hf:{REPO}:{FILE}");

    s.offline = true;
    let e = resolve_model_path(&uri, &s).await;
    assert!(matches!(e, Err(HubError::Offline { .. })), "{e:?}");
    s.offline = false;

    let p = resolve_model_path(&uri, &s).await.unwrap();
    assert_eq!(p, expected_dest(&dir, FILE));
    let gets = hub.state.cdn_gets.load(Ordering::SeqCst);

    s.offline = true;
    assert_eq!(resolve_model_path(&uri, &s).await.unwrap(), p);
    assert_eq!(
        resolve_model_path(&format!("hf:{REPO}"), &s).await.unwrap(),
        p
    );

    // Hub unreachable: the verified local copy is used.
    s.offline = false;
    s.endpoint = "http://127.0.0.1:9".to_string();
    assert_eq!(resolve_model_path(&uri, &s).await.unwrap(), p);
    assert_eq!(hub.state.cdn_gets.load(Ordering::SeqCst), gets);
}

#[tokio::test]
async fn an_unreachable_hub_is_a_network_error() {
    let dir = TempDir::new("net");
    let mut s = HubSettings::new(&dir.0);
    s.endpoint = "http://127.0.0.1:9".to_string();
    let e = pull(&spec(&format!("{REPO}:{FILE}")), &s).await;
    assert!(matches!(e, Err(HubError::Network { .. })), "{e:?}");
}
