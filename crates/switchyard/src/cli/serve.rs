//! `switchyard serve`.

use std::{path::PathBuf, sync::Arc, time::Duration};

use clap::Args;
use switchyard_config::ProcessEnv;
use switchyard_http::{AppState, HttpSettings};
use switchyard_platform::{Platform, SystemClock};
use switchyard_store::Store;

use super::{CliError, StoreArgs};
use crate::wiring;

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on (default 127.0.0.1:8080; env SWITCHYARD_LISTEN).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Serve a GGUF file with the local engine, under its file name without extension as the
    /// model id (repeatable; prices 0, context length from the file).
    #[arg(long = "model", value_name = "FILE")]
    pub models: Vec<PathBuf>,
}

pub async fn run(args: ServeArgs) -> Result<(), CliError> {
    let mut config = args.store.load_config(args.listen.clone())?;
    // `hf:REPO:FILE` paths (flags and catalogue) are pulled into the data dir first.
    let hub = super::pull::hub_settings(&config, &ProcessEnv);
    let mut files = Vec::with_capacity(args.models.len());
    for file in &args.models {
        files.push(resolve_hf(file, &hub).await?);
    }
    for m in &mut config.models {
        if let Some(path) = &m.path {
            m.path = Some(resolve_hf(path, &hub).await?);
        }
    }
    for file in &files {
        let id = file
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                CliError::Usage(format!("--model {}: no usable file name", file.display()))
            })?;
        config.add_local_model(id, file.clone(), None)?;
    }
    let router = wiring::build_router(&config, &ProcessEnv)?;
    let url = config.server.effective_database_url();
    let store = Store::open(&url)
        .await
        .map_err(|e| CliError::Runtime(format!("cannot open the store: {e}")))?;
    match store.list_keys().await {
        Ok(keys) if keys.is_empty() => tracing::info!(
            "no API keys yet: create one with `switchyard keys create --name NAME` (same --config/--data-dir)"
        ),
        Ok(_) => {}
        Err(e) => return Err(CliError::Runtime(format!("cannot read the store: {e}"))),
    }
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .map_err(|e| {
            CliError::Runtime(format!("cannot listen on {}: {e}", config.server.listen))
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::Runtime(e.to_string()))?;
    for m in router.models() {
        tracing::info!(model = %m.id, provider = %m.provider(), "serving model");
    }
    let platform = Platform::new(
        store.clone(),
        config.platform.clone(),
        Arc::new(SystemClock),
    );
    // Holds left by a crashed process are released at start-up and every minute.
    let janitor = tokio::spawn(release_holds(platform.clone()));
    let state = AppState::with_platform(
        Arc::new(router),
        platform,
        HttpSettings::from_config(&config.server),
    );
    tracing::info!(%addr, "switchyard listening");
    let served = switchyard_http::serve(listener, state, shutdown_signal()).await;
    janitor.abort();
    served.map_err(|e| CliError::Runtime(format!("server error: {e}")))?;
    store.close().await;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// Releases expired holds now and then every minute (until aborted).
async fn release_holds(platform: Platform) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        if let Err(e) = platform.release_expired_holds().await {
            tracing::warn!(error = %e, "releasing expired holds failed");
        }
    }
}

/// Downloads (or finds, verified) an `hf:REPO[:FILE]` model; other paths pass through.
async fn resolve_hf(
    path: &std::path::Path,
    hub: &switchyard_hub::HubSettings,
) -> Result<PathBuf, CliError> {
    match path.to_str() {
        Some(s) if s.starts_with(switchyard_hub::HF_PREFIX) => {
            switchyard_hub::resolve_model_path(s, hub)
                .await
                .map_err(super::pull::hub_error)
        }
        _ => Ok(path.to_path_buf()),
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received: finishing running requests");
}
