//! `switchyard pull REPO[:FILE]`: download a GGUF from the Hugging Face Hub into the data directory.

use clap::Args;
use switchyard_config::{Config, Env, ProcessEnv};
use switchyard_hub::{HubError, HubSettings, HubSpec};

use super::{CliError, StoreArgs};

#[derive(Debug, Args)]
pub struct PullArgs {
    /// `OWNER/NAME[:FILE]` (an `hf:` prefix is accepted). Without FILE, the repository's only
    /// `.gguf` file.
    #[arg(value_name = "REPO[:FILE]")]
    pub spec: String,
    /// Branch, tag or commit.
    #[arg(long, default_value = switchyard_hub::DEFAULT_REVISION)]
    pub revision: String,
    /// Hub URL (default https://huggingface.co; env HF_ENDPOINT).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Hub settings for this config: files go under `{data_dir}/models/`; `HF_ENDPOINT`, `HF_TOKEN`
/// and `HF_HUB_OFFLINE` come from the environment.
pub fn hub_settings(config: &Config, env: &dyn Env) -> HubSettings {
    HubSettings::from_env(config.server.data_dir.clone(), |k| env.var(k))
}

pub fn hub_error(e: HubError) -> CliError {
    match e {
        HubError::BadSpec { .. } => CliError::Usage(e.to_string()),
        e => CliError::Runtime(e.to_string()),
    }
}

pub async fn run(args: PullArgs) -> Result<(), CliError> {
    let config = args.store.load_config(None)?;
    let raw = args
        .spec
        .strip_prefix(switchyard_hub::HF_PREFIX)
        .unwrap_or(&args.spec);
    let spec = HubSpec::parse(raw)
        .and_then(|s| s.with_revision(args.revision.clone()))
        .map_err(hub_error)?;
    let mut settings = hub_settings(&config, &ProcessEnv);
    if let Some(e) = &args.endpoint {
        settings.endpoint = e.clone();
    }
    settings.progress = true;
    let path = switchyard_hub::pull(&spec, &settings)
        .await
        .map_err(hub_error)?;
    println!("{}", path.display());
    Ok(())
}
