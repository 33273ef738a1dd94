//! Writes a deterministic conformance fixture GGUF (`FixtureSpec::conformance`: the tiny
//! 64-wide model, or the 256-wide Q4_K_M one, with a separate output matrix).
//!
//! ```text
//! cargo run -p switchyard-local --example write_fixture -- \
//!     --arch llama|qwen2 --type f32|f16|q8_0|q4_k_m [--vocab FILE] [--n-embd N] [--n-ff N] \
//!     [--qk-scale X] --out FILE
//! ```
//!
//! `--n-embd`, `--n-ff` and `--qk-scale` override the spec (for experiments; the conformance run uses the
//! defaults).
//!
//! Without `--vocab`, `llama` takes `../shared/vocab/ggml-vocab-llama-bpe.gguf` and `qwen2`
//! `../shared/vocab/ggml-vocab-qwen2.gguf` (relative to the repository).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use switchyard_local::fixture::{FixtureSpec, write_fixture};

const USAGE: &str = "usage: write_fixture --arch llama|qwen2 --type f32|f16|q8_0|q4_k_m \
                     [--vocab FILE] [--n-embd N] [--n-ff N] [--qk-scale X] --out FILE";

/// The conformance fixture for `arch` and a file type name.
fn spec(arch: &str, ty: &str) -> Result<FixtureSpec, String> {
    let arch: &'static str = match arch {
        "llama" => "llama",
        "qwen2" => "qwen2",
        other => return Err(format!("unknown --arch {other:?} (llama, qwen2)")),
    };
    FixtureSpec::conformance(arch, &ty.to_ascii_lowercase())
        .ok_or_else(|| format!("unknown --type {ty:?} (f32, f16, q8_0, q4_k_m)"))
}

fn default_vocab(arch: &str) -> PathBuf {
    let name = if arch == "llama" {
        "ggml-vocab-llama-bpe.gguf"
    } else {
        "ggml-vocab-qwen2.gguf"
    };
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vocab")
        .join(name)
}

fn run() -> Result<(), String> {
    let (mut arch, mut ty, mut vocab, mut out) = (None, None, None, None);
    let (mut n_embd, mut n_ff, mut qk) = (None, None, None);
    let num = |s: String, flag: &str| s.parse::<usize>().map_err(|e| format!("{flag} {s:?}: {e}"));
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--arch" => arch = Some(value()?),
            "--type" => ty = Some(value()?),
            "--vocab" => vocab = Some(PathBuf::from(value()?)),
            "--out" => out = Some(PathBuf::from(value()?)),
            "--n-embd" => n_embd = Some(num(value()?, "--n-embd")?),
            "--n-ff" => n_ff = Some(num(value()?, "--n-ff")?),
            "--qk-scale" => {
                qk = Some(
                    value()?
                        .parse::<f32>()
                        .map_err(|e| format!("--qk-scale: {e}"))?,
                );
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    let (Some(arch), Some(ty), Some(out)) = (arch, ty, out) else {
        return Err(USAGE.into());
    };
    let mut spec = spec(&arch, &ty)?;
    spec.n_embd = n_embd.unwrap_or(spec.n_embd);
    spec.n_ff = n_ff.unwrap_or(spec.n_ff);
    spec.qk_scale = qk.unwrap_or(spec.qk_scale);
    let vocab = vocab.unwrap_or_else(|| default_vocab(&arch));
    write_fixture(&spec, &vocab, &out).map_err(|e| format!("{}: {e}", out.display()))
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("write_fixture: {e}");
            ExitCode::FAILURE
        }
    }
}
