//! Command-line interface: argument types and dispatch.

mod admin;
mod bench;
mod chat;
mod credits;
mod generate;
mod keys;
mod pull;
mod rate;
mod serve;
mod tokenize;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use switchyard_config::{Config, Overrides, ProcessEnv};

/// Switchyard: an OpenAI-compatible AI/ML API platform in one binary.
#[derive(Debug, Parser)]
#[command(name = "switchyard", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API server.
    Serve(serve::ServeArgs),
    /// Manage API keys in the store.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Manage administrators.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Grant credit to accounts.
    #[command(subcommand)]
    Credits(credits::CreditsCommand),
    /// Chat with a Switchyard server from the terminal (streams the answer).
    Chat(chat::ChatArgs),
    /// Download a GGUF model from the Hugging Face Hub into the data directory.
    Pull(pull::PullArgs),
    /// Print the token ids of a text under a GGUF file's tokenizer.
    Tokenize(tokenize::TokenizeArgs),
    /// Complete a raw prompt with a GGUF model on the local engine.
    Generate(generate::GenerateArgs),
    /// Measure prompt-processing and generation speed (like llama-bench).
    Bench(bench::BenchArgs),
}

/// Options shared by every command that opens the store.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// TOML config file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory (SQLite file, models). Default: ./switchyard-data
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

impl StoreArgs {
    /// Loads the config with env and flag overrides applied.
    pub fn load_config(&self, listen: Option<String>) -> Result<Config, CliError> {
        let overrides = Overrides {
            listen,
            data_dir: self.data_dir.clone(),
            database_url: None,
        };
        Ok(Config::load(
            self.config.as_deref(),
            &ProcessEnv,
            &overrides,
        )?)
    }
}

/// Errors that end a command; each maps to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] switchyard_config::ConfigError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Runtime(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Config(_) | CliError::Usage(_) => 2,
            CliError::Runtime(_) => 1,
        }
    }
}

pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Serve(a) => serve::run(a).await,
        Command::Keys(k) => keys::run(k).await,
        Command::Admin(c) => admin::run(c).await,
        Command::Credits(c) => credits::run(c).await,
        Command::Chat(a) => chat::run(a).await,
        Command::Pull(a) => pull::run(a).await,
        Command::Tokenize(a) => tokenize::run(&a),
        Command::Generate(a) => generate::run(&a),
        Command::Bench(a) => bench::run(&a),
    }
}

/// Logs go to stderr; `RUST_LOG` filters (default `info`), `SWITCHYARD_LOG_FORMAT=json` for JSON lines.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if std::env::var("SWITCHYARD_LOG_FORMAT").is_ok_and(|v| v == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}
