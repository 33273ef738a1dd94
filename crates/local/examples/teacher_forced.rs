//! Runs a whole token sequence through the engine in one batch with every position's logits
//! (teacher forcing) and prints, as one JSON object, per position the argmax, the top logit
//! and the margin to the second; `--logits-out` writes every logit row as little-endian f32
//! (`positions × n_vocab`) for the conformance script to compare.
//!
//! ```text
//! cargo run -p switchyard-local --example teacher_forced -- \
//!     --model FILE --tokens 1,2,3 [--threads 2] [--kv f16|f32] [--isa scalar|avx2|avx512]
//!     [--step] [--logits-out FILE] [--dump DIR]
//! ```
//!
//! `--tokens` takes a comma-separated list or a JSON array; no BOS is added. `--step` runs one
//! forward call per token (the decode path) instead of one batch. `--dump DIR` (batch only)
//! writes every intermediate activation of the forward pass as `DIR/NAME.f32` (little-endian
//! f32, `positions × width`) named as llama.cpp's graph nodes, and `DIR/index.json` (name →
//! width), to compare the two engines op by op.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use switchyard_engine::kernels::Isa;
use switchyard_engine::{KvType, Logits, Model, ModelOptions};

const USAGE: &str = "usage: teacher_forced --model FILE --tokens IDS [--threads N] \
                     [--kv f16|f32] [--isa scalar|avx2|avx512] [--step] [--logits-out FILE] \
                     [--dump DIR]";

struct Args {
    model: PathBuf,
    tokens: Vec<u32>,
    threads: usize,
    kv: KvType,
    isa: Option<Isa>,
    /// One forward call per token (the decode path) instead of one batch.
    step: bool,
    logits_out: Option<PathBuf>,
    dump: Option<PathBuf>,
}

fn parse_tokens(s: &str) -> Result<Vec<u32>, String> {
    s.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| t.parse::<u32>().map_err(|e| format!("token {t:?}: {e}")))
        .collect()
}

fn parse() -> Result<Option<Args>, String> {
    let (mut model, mut tokens, mut threads, mut kv, mut isa, mut logits_out) =
        (None, None, 2, KvType::F16, None, None);
    let mut step = false;
    let mut dump = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--model" => model = Some(PathBuf::from(value()?)),
            "--tokens" => tokens = Some(parse_tokens(&value()?)?),
            "--threads" => {
                threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?;
            }
            "--kv" => {
                kv = match value()?.as_str() {
                    "f16" => KvType::F16,
                    "f32" => KvType::F32,
                    other => return Err(format!("--kv {other:?} (f16, f32)")),
                }
            }
            "--step" => step = true,
            "--isa" => isa = Some(parse_isa(&value()?)?),
            "--logits-out" => logits_out = Some(PathBuf::from(value()?)),
            "--dump" => dump = Some(PathBuf::from(value()?)),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    let (Some(model), Some(tokens)) = (model, tokens) else {
        return Err(USAGE.into());
    };
    if tokens.is_empty() {
        return Err("--tokens is empty".into());
    }
    if step && dump.is_some() {
        return Err("--dump works on the batch path only (without --step)".into());
    }
    Ok(Some(Args {
        model,
        tokens,
        threads,
        kv,
        isa,
        step,
        logits_out,
        dump,
    }))
}

/// A kernel set by name (the engine refuses one this CPU lacks).
fn parse_isa(name: &str) -> Result<Isa, String> {
    match name {
        "scalar" => Ok(Isa::Scalar),
        #[cfg(target_arch = "x86_64")]
        "avx2" => Ok(Isa::X86(switchyard_engine::kernels::x86::X86Level::Avx2)),
        #[cfg(target_arch = "x86_64")]
        "avx512" => Ok(Isa::X86(
            switchyard_engine::kernels::x86::X86Level::Avx512Vnni,
        )),
        other => Err(format!("--isa {other:?} (scalar, avx2, avx512)")),
    }
}

/// Index of the largest value (the first on ties), the value, and its margin over the second.
fn top2(row: &[f32]) -> (usize, f32, f32) {
    let (mut best, mut a, mut b) = (0, f32::NEG_INFINITY, f32::NEG_INFINITY);
    for (i, &x) in row.iter().enumerate() {
        if x > a {
            (best, b, a) = (i, a, x);
        } else if x > b {
            b = x;
        }
    }
    (best, a, a - b)
}

fn run(args: &Args) -> Result<(), String> {
    let opts = ModelOptions {
        threads: args.threads,
        isa: args.isa,
    };
    let model = Model::load(&args.model, &opts).map_err(|e| format!("{e}"))?;
    let n_vocab = model.n_vocab();
    if let Some(&bad) = args.tokens.iter().find(|&&t| t as usize >= n_vocab) {
        return Err(format!("token {bad} is outside the vocabulary ({n_vocab})"));
    }
    let mut seq = model
        .new_sequence(args.kv, args.tokens.len())
        .map_err(|e| format!("{e}"))?;
    let logits = if args.step {
        let mut all = Vec::with_capacity(args.tokens.len() * n_vocab);
        for t in &args.tokens {
            let row = model
                .forward(&mut seq, std::slice::from_ref(t), Logits::Last)
                .map_err(|e| format!("{e}"))?;
            all.extend_from_slice(&row);
        }
        all
    } else if let Some(dir) = &args.dump {
        forward_dumped(&model, &mut seq, &args.tokens, dir)?
    } else {
        model
            .forward(&mut seq, &args.tokens, Logits::All)
            .map_err(|e| format!("{e}"))?
    };
    let rows: Vec<(usize, f32, f32)> = logits.chunks_exact(n_vocab).map(top2).collect();
    if let Some(path) = &args.logits_out {
        let mut bytes = Vec::with_capacity(logits.len() * 4);
        for x in &logits {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
        std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let out = serde_json::json!({
        "n_vocab": n_vocab,
        "isa": format!("{:?}", model.isa()),
        "argmax": rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        "max_logit": rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        "margin": rows.iter().map(|r| r.2).collect::<Vec<_>>(),
    });
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{out}").map_err(|e| format!("stdout: {e}"))
}

/// One batch through [`Model::forward_traced`], every activation written under `dir`.
fn forward_dumped(
    model: &Model,
    seq: &mut switchyard_engine::SeqState,
    tokens: &[u32],
    dir: &std::path::Path,
) -> Result<Vec<f32>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut index = serde_json::Map::new();
    let mut failed = None;
    let logits = model
        .forward_traced(seq, tokens, Logits::All, &mut |name, data| {
            let mut bytes = Vec::with_capacity(data.len() * 4);
            for x in data {
                bytes.extend_from_slice(&x.to_le_bytes());
            }
            let path = dir.join(format!("{name}.f32"));
            if let Err(e) = std::fs::write(&path, bytes) {
                failed.get_or_insert(format!("{}: {e}", path.display()));
            }
            index.insert(name.into(), (data.len() / tokens.len()).into());
        })
        .map_err(|e| format!("{e}"))?;
    if let Some(e) = failed {
        return Err(e);
    }
    let path = dir.join("index.json");
    std::fs::write(&path, serde_json::Value::Object(index).to_string())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(logits)
}

fn main() -> ExitCode {
    let result = parse().and_then(|a| a.map_or(Ok(()), |a| run(&a)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("teacher_forced: {e}");
            ExitCode::FAILURE
        }
    }
}
