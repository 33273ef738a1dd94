//! `switchyard bench`: prompt-processing and generation speed, like `llama-bench`.
//!
//! `pp`: `-p` tokens in one batch into an empty sequence. `tg`: `-n` tokens one at a time into
//! an empty sequence (each forward call is timed with the greedy pick of the next token).
//! One untimed warm-up run precedes the `-r` timed repetitions; results are tokens per second,
//! mean ± sample standard deviation. Token ids are a fixed pseudo-random sequence.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use switchyard_engine::{KvType, Logits, Model, ModelOptions};

use super::CliError;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// GGUF model file.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Prompt tokens processed in one batch (0: skip).
    #[arg(short = 'p', long = "n-prompt", default_value_t = 512)]
    pub n_prompt: usize,
    /// Tokens generated one at a time (0: skip).
    #[arg(short = 'n', long = "n-gen", default_value_t = 128)]
    pub n_gen: usize,
    /// Engine threads (0: one per core).
    #[arg(short = 't', long, default_value_t = 0)]
    pub threads: usize,
    /// Timed repetitions.
    #[arg(short = 'r', long, default_value_t = 5)]
    pub reps: usize,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

fn err(e: impl std::fmt::Display) -> CliError {
    CliError::Runtime(format!("engine: {e}"))
}

fn argmax(v: &[f32]) -> u32 {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v.get(best).copied().unwrap_or(f32::NEG_INFINITY) {
            best = i;
        }
    }
    best as u32
}

fn pp(model: &Model, tokens: &[u32]) -> Result<f64, CliError> {
    let mut seq = model.new_sequence(KvType::F16, tokens.len()).map_err(err)?;
    let t = Instant::now();
    model.forward(&mut seq, tokens, Logits::Last).map_err(err)?;
    Ok(tokens.len() as f64 / t.elapsed().as_secs_f64())
}

fn tg(model: &Model, first: u32, n: usize) -> Result<f64, CliError> {
    let mut seq = model.new_sequence(KvType::F16, n).map_err(err)?;
    let mut next = first;
    let t = Instant::now();
    for _ in 0..n {
        let logits = model
            .forward(&mut seq, &[next], Logits::Last)
            .map_err(err)?;
        next = argmax(&logits);
    }
    Ok(n as f64 / t.elapsed().as_secs_f64())
}

/// Mean and sample standard deviation.
fn stats(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

pub fn run(args: &BenchArgs) -> Result<(), CliError> {
    if args.reps == 0 {
        return Err(CliError::Usage("-r must be at least 1".into()));
    }
    let model = Model::load(
        &args.model,
        &ModelOptions {
            threads: args.threads,
            isa: None,
        },
    )
    .map_err(|e| CliError::Runtime(format!("{}: {e}", args.model.display())))?;
    let ctx = model.hparams().n_ctx_train;
    if args.n_prompt > ctx || args.n_gen > ctx {
        return Err(CliError::Usage(format!(
            "-p {} / -n {} exceed the model's context length {ctx}",
            args.n_prompt, args.n_gen
        )));
    }
    let vocab = model.n_vocab() as u64;
    let tokens: Vec<u32> = (0..args.n_prompt as u64)
        .map(|i| ((i * 7919 + 13) % vocab) as u32)
        .collect();
    let mut pps = Vec::new();
    let mut tgs = Vec::new();
    for rep in 0..=args.reps {
        let p = if tokens.is_empty() {
            None
        } else {
            Some(pp(&model, &tokens)?)
        };
        let g = if args.n_gen == 0 {
            None
        } else {
            Some(tg(&model, 1, args.n_gen)?)
        };
        if rep > 0 {
            pps.extend(p);
            tgs.extend(g);
        }
    }
    let (pp_m, pp_sd) = (!pps.is_empty()).then(|| stats(&pps)).unzip();
    let (tg_m, tg_sd) = (!tgs.is_empty()).then(|| stats(&tgs)).unzip();
    if args.json {
        let obj = serde_json::json!({
            "pp_tps": pp_m, "pp_tps_sd": pp_sd,
            "tg_tps": tg_m, "tg_tps_sd": tg_sd,
            "n_prompt": args.n_prompt, "n_gen": args.n_gen,
            "threads": model.threads(), "reps": args.reps,
        });
        println!("{obj}");
    } else {
        println!(
            "model: {}  threads: {}  isa: {:?}",
            args.model.display(),
            model.threads(),
            model.isa()
        );
        if let (Some(m), Some(sd)) = (pp_m, pp_sd) {
            println!("pp{}: {m:.2} ± {sd:.2} t/s", args.n_prompt);
        }
        if let (Some(m), Some(sd)) = (tg_m, tg_sd) {
            println!("tg{}: {m:.2} ± {sd:.2} t/s", args.n_gen);
        }
    }
    Ok(())
}
