//! `switchyard generate`: raw-prompt completion with the local engine, like `llama-simple`.
//!
//! The prompt is tokenized as text with BOS as the file's metadata says and special-token
//! text parsed (as `llama-simple` does); `--chat` wraps it as one user message in the model's
//! chat template instead. The default is greedy decoding (temperature 0), as `llama-simple`,
//! so the output is reproducible; `--temperature` with `--seed` samples.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use switchyard_core::{Event, Message, Role, Sampling};
use switchyard_local::{GenerateOptions, LoadOptions, LocalModel, generate, sampling_params};

use super::CliError;

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// GGUF model file.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Prompt text (raw, unless --chat).
    #[arg(long)]
    pub prompt: String,
    /// Tokens to generate at most.
    #[arg(long, default_value_t = 128)]
    pub max_tokens: u32,
    /// Sampling temperature (0: greedy).
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    /// Seed of the sampler's random stream.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Keep going past end-of-generation tokens.
    #[arg(long)]
    pub ignore_eos: bool,
    /// Render the prompt as one user message with the model's chat template.
    #[arg(long)]
    pub chat: bool,
    /// Print `{"prompt_tokens": [...], "tokens": [...], "text": "..."}` at the end.
    #[arg(long)]
    pub json: bool,
    /// Engine threads (0: one per core).
    #[arg(short = 't', long, default_value_t = 0)]
    pub threads: usize,
}

pub fn run(args: &GenerateArgs) -> Result<(), CliError> {
    if !(args.temperature.is_finite() && args.temperature >= 0.0) {
        return Err(CliError::Usage(format!(
            "--temperature {} must be a number ≥ 0",
            args.temperature
        )));
    }
    let lm = LocalModel::load(
        &args.model,
        &LoadOptions {
            threads: args.threads,
            ..LoadOptions::default()
        },
    )
    .map_err(|e| CliError::Runtime(e.to_string()))?;
    let prompt = if args.chat {
        let rendered = lm
            .render_chat(&[Message::text(Role::User, args.prompt.clone())])
            .map_err(|e| CliError::Runtime(format!("chat template: {e}")))?;
        lm.encode_chat(&rendered)
    } else {
        lm.tokenizer().encode(&args.prompt, true, true)
    }
    .map_err(|e| CliError::Runtime(format!("tokenizing the prompt: {e}")))?;
    if prompt.is_empty() {
        return Err(CliError::Usage("the prompt has no tokens".into()));
    }
    let ctx = lm.context_length();
    if prompt.len() + args.max_tokens as usize > ctx {
        return Err(CliError::Usage(format!(
            "{} prompt tokens + --max-tokens {} exceed the context length {ctx}",
            prompt.len(),
            args.max_tokens
        )));
    }
    let sampling = Sampling {
        temperature: Some(args.temperature),
        seed: args.seed,
        ..Sampling::default()
    };
    let opts = GenerateOptions {
        sampling: sampling_params(&sampling, None),
        max_tokens: args.max_tokens,
        n: 1,
        stop: Vec::new(),
        ignore_eos: args.ignore_eos,
    };
    let mut text = String::new();
    let mut stdout = std::io::stdout().lock();
    let json = args.json;
    let mut sink = |ev: Event| {
        if let Event::Delta { delta, .. } = ev
            && let Some(piece) = delta.content
        {
            if !json {
                // A closed stdout (e.g. `| head`) ends generation.
                if stdout
                    .write_all(piece.as_bytes())
                    .and_then(|()| stdout.flush())
                    .is_err()
                {
                    return false;
                }
            }
            text.push_str(&piece);
        }
        true
    };
    let g = generate(&lm, &prompt, &opts, &mut sink)
        .map_err(|e| CliError::Runtime(format!("engine: {e}")))?;
    let out = if json {
        serde_json::json!({
            "prompt_tokens": prompt,
            "tokens": g.tokens.first().cloned().unwrap_or_default(),
            "text": text,
        })
        .to_string()
    } else {
        String::new()
    };
    writeln!(stdout, "{out}").map_err(|e| CliError::Runtime(format!("stdout: {e}")))?;
    Ok(())
}
