//! Configuration: a TOML file, then environment variables, then CLI flags,
//! checked once into a typed [`Config`] that is passed around.
//!
//! Every error names the file, the key and the problem.

mod model;
mod platform;
mod validate;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Deserialize;

pub use model::{FallbackConfig, ModelConfig, ProviderConfig, ProviderKind};
pub use platform::{PlatformConfig, SignupMode};

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default data directory (SQLite file, downloaded models).
pub const DEFAULT_DATA_DIR: &str = "./switchyard-data";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("config {origin}: key `{key}`: {problem}")]
    Invalid {
        origin: String,
        key: String,
        problem: String,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub server: ServerConfig,
    pub platform: PlatformConfig,
    pub providers: Vec<ProviderConfig>,
    pub models: Vec<ModelConfig>,
}

/// `[server]`
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; default: `switchyard.db` in `data_dir`.
    pub database_url: Option<String>,
    /// How long running streams may finish after a shutdown signal.
    pub shutdown_grace: Duration,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
}

impl ServerConfig {
    /// The database URL to use (explicit, or SQLite in the data dir).
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("switchyard.db").display()
            ),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            database_url: None,
            shutdown_grace: Duration::from_secs(30),
            max_body_bytes: 32 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    platform: platform::RawPlatform,
    #[serde(default)]
    catalogue: RawCatalogue,
    #[serde(default)]
    providers: Vec<ProviderConfig>,
    #[serde(default)]
    models: Vec<ModelConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    shutdown_grace_secs: Option<u64>,
    max_body_bytes: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    /// Include the built-in providers and models (xAI's grok-beta).
    #[serde(default = "yes")]
    builtin: bool,
}

impl Default for RawCatalogue {
    fn default() -> Self {
        RawCatalogue { builtin: true }
    }
}

fn yes() -> bool {
    true
}

/// Command-line overrides (highest precedence).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
}

/// Where settings come from besides the file: the process environment, or a map in tests.
pub trait Env {
    fn var(&self, key: &str) -> Option<String>;
}

/// The real process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.is_empty())
    }
}

impl<const N: usize> Env for [(&str, &str); N] {
    fn var(&self, key: &str) -> Option<String> {
        self.iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string())
    }
}

impl Config {
    /// Loads `path` (if given), applies environment variables and overrides,
    /// adds the built-in catalogue, and validates.
    pub fn load(
        path: Option<&Path>,
        env: &dyn Env,
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        let (raw, origin) = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_path_buf(),
                    source,
                })?;
                (
                    parse_toml(&text, &p.display().to_string())?,
                    p.display().to_string(),
                )
            }
            None => (RawFile::default(), "(defaults)".to_string()),
        };
        Self::build(raw, &origin, env, overrides)
    }

    /// Parses TOML text (for tests and `--config -`).
    pub fn from_toml(
        text: &str,
        origin: &str,
        env: &dyn Env,
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        Self::build(parse_toml(text, origin)?, origin, env, overrides)
    }

    fn build(
        raw: RawFile,
        origin: &str,
        env: &dyn Env,
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        let invalid = |key: &str, problem: String| ConfigError::Invalid {
            origin: origin.to_string(),
            key: key.to_string(),
            problem,
        };
        let mut server = ServerConfig::default();
        // listen: file < env < flag
        let listen = overrides
            .listen
            .clone()
            .map(|v| ("--listen", v))
            .or_else(|| {
                env.var("SWITCHYARD_LISTEN")
                    .map(|v| ("SWITCHYARD_LISTEN", v))
            })
            .or_else(|| raw.server.listen.clone().map(|v| ("server.listen", v)));
        if let Some((key, value)) = listen {
            server.listen = value.parse().map_err(|_| {
                invalid(
                    key,
                    format!("`{value}` is not a socket address like 127.0.0.1:8080"),
                )
            })?;
        }
        if let Some(d) = overrides
            .data_dir
            .clone()
            .or_else(|| env.var("SWITCHYARD_DATA_DIR").map(PathBuf::from))
            .or(raw.server.data_dir)
        {
            server.data_dir = d;
        }
        server.database_url = overrides
            .database_url
            .clone()
            .or_else(|| env.var("SWITCHYARD_DATABASE_URL"))
            .or(raw.server.database_url);
        if let Some(url) = &server.database_url
            && !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "server.database_url",
                "must start with sqlite:, postgres:// or postgresql:// (the value is not shown: it may hold a password)".to_string(),
            ));
        }
        if let Some(s) = raw.server.shutdown_grace_secs {
            server.shutdown_grace = Duration::from_secs(s);
        }
        if let Some(b) = raw.server.max_body_bytes {
            if b < 1024 {
                return Err(invalid(
                    "server.max_body_bytes",
                    format!("{b} is below the minimum of 1024"),
                ));
            }
            server.max_body_bytes = b;
        }

        let platform = raw.platform.build(invalid)?;

        let (builtin_providers, builtin_models) = if raw.catalogue.builtin {
            model::builtin()
        } else {
            (Vec::new(), Vec::new())
        };
        // Entries from the file replace built-ins of the same name / id. Labels
        // keep the file's own indices so errors point at the right entry.
        let mut providers: Vec<(String, ProviderConfig)> = builtin_providers
            .into_iter()
            .filter(|b| !raw.providers.iter().any(|p| p.name == b.name))
            .map(|b| (format!("built-in provider `{}`", b.name), b))
            .collect();
        providers.extend(
            raw.providers
                .into_iter()
                .enumerate()
                .map(|(i, p)| (format!("providers[{i}]"), p)),
        );
        let mut models: Vec<(String, ModelConfig)> = builtin_models
            .into_iter()
            .filter(|b| !raw.models.iter().any(|m| m.id == b.id))
            .map(|b| (format!("built-in model `{}`", b.id), b))
            .collect();
        models.extend(
            raw.models
                .into_iter()
                .enumerate()
                .map(|(i, m)| (format!("models[{i}]"), m)),
        );
        validate::check(&providers, &models, origin)?;
        Ok(Config {
            server,
            platform,
            providers: providers.into_iter().map(|(_, p)| p).collect(),
            models: models.into_iter().map(|(_, m)| m).collect(),
        })
    }

    pub fn provider(&self, name: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| p.name == name)
    }

    /// Adds a catalogue entry served by the local engine from a GGUF file (as
    /// `serve --model FILE` does): provider `local`, `upstream_model` = `id`, prices 0.
    /// The whole catalogue is validated again, so a clashing id is refused.
    pub fn add_local_model(
        &mut self,
        id: &str,
        path: PathBuf,
        context_length: Option<u32>,
    ) -> Result<(), ConfigError> {
        let model = ModelConfig {
            id: id.to_string(),
            aliases: Vec::new(),
            provider: "local".into(),
            upstream_model: None,
            path: Some(path),
            context_length,
            max_output: None,
            prices: switchyard_core::Prices::default(),
            capabilities: switchyard_core::Capabilities::default(),
            fallbacks: Vec::new(),
            name: None,
            developer: None,
            description: None,
        };
        let providers: Vec<(String, ProviderConfig)> = self
            .providers
            .iter()
            .map(|p| (format!("provider `{}`", p.name), p.clone()))
            .collect();
        let mut models: Vec<(String, ModelConfig)> = self
            .models
            .iter()
            .map(|m| (format!("model `{}`", m.id), m.clone()))
            .collect();
        models.push((format!("--model `{id}`"), model.clone()));
        validate::check(&providers, &models, "--model")?;
        self.models.push(model);
        Ok(())
    }
}

fn parse_toml(text: &str, origin: &str) -> Result<RawFile, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: origin.to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests;
