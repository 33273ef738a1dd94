//! Fixture models written once per test binary into the temp directory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use switchyard_gguf::GgmlType;
use switchyard_local::fixture::{FixtureSpec, write_fixture};
use switchyard_local::{LoadOptions, LocalModel};

pub fn vocab(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vocab")
        .join(name)
}

/// Writes (once) and returns the path of the fixture for `arch` / `wtype`.
pub fn fixture_path(arch: &'static str, wtype: GgmlType) -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _g = LOCK.lock().unwrap();
    // Shared between runs (same spec, same bytes); written under a private name, then renamed.
    let dir = std::env::temp_dir().join("switchyard-local-fixtures-v1");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{arch}-{wtype}.gguf"));
    if !path.exists() {
        let v = if arch == "llama" {
            "ggml-vocab-llama-bpe.gguf"
        } else {
            "ggml-vocab-qwen2.gguf"
        };
        let tmp = dir.join(format!("{arch}-{wtype}.{}.tmp", std::process::id()));
        write_fixture(&FixtureSpec::tiny(arch, wtype), &vocab(v), &tmp).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }
    path
}

/// The qwen2 Q8_0 fixture, loaded once.
pub fn qwen() -> Arc<LocalModel> {
    static M: OnceLock<Arc<LocalModel>> = OnceLock::new();
    M.get_or_init(|| {
        let p = fixture_path("qwen2", GgmlType::Q8_0);
        Arc::new(
            LocalModel::load(
                p,
                &LoadOptions {
                    threads: 2,
                    ..Default::default()
                },
            )
            .unwrap(),
        )
    })
    .clone()
}

/// The llama F16 fixture, loaded once.
pub fn llama() -> Arc<LocalModel> {
    static M: OnceLock<Arc<LocalModel>> = OnceLock::new();
    M.get_or_init(|| {
        let p = fixture_path("llama", GgmlType::F16);
        Arc::new(
            LocalModel::load(
                p,
                &LoadOptions {
                    threads: 2,
                    ..Default::default()
                },
            )
            .unwrap(),
        )
    })
    .clone()
}
