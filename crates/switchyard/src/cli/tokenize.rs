//! `switchyard tokenize`: a GGUF file's tokenizer on one text.

use std::path::PathBuf;

use clap::Args;
use switchyard_gguf::GgufFile;
use switchyard_tokenizer::Tokenizer;

use super::CliError;

#[derive(Debug, Args)]
pub struct TokenizeArgs {
    /// GGUF file whose vocabulary to use.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Print one JSON array of integers.
    #[arg(long)]
    pub json: bool,
    /// Do not add BOS (by default it is added when the file's metadata says so).
    #[arg(long)]
    pub no_bos: bool,
    /// Turn the text of special tokens (e.g. `<|im_end|>`) into those tokens.
    #[arg(long)]
    pub parse_special: bool,
    /// The text to tokenize.
    pub text: String,
}

pub fn run(args: &TokenizeArgs) -> Result<(), CliError> {
    let file = GgufFile::open(&args.model)
        .map_err(|e| CliError::Runtime(format!("{}: {e}", args.model.display())))?;
    let tok = Tokenizer::from_gguf(&file)
        .map_err(|e| CliError::Runtime(format!("{}: tokenizer: {e}", args.model.display())))?;
    let ids = tok
        .encode(&args.text, !args.no_bos, args.parse_special)
        .map_err(|e| CliError::Runtime(format!("tokenizing: {e}")))?;
    if args.json {
        println!("{}", serde_json::json!(ids));
    } else {
        let s: Vec<String> = ids.iter().map(u32::to_string).collect();
        println!("{}", s.join(" "));
    }
    Ok(())
}
