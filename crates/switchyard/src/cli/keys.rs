//! `switchyard keys …`: API key management against the store.

use clap::{Args, Subcommand};
use serde_json::json;
use switchyard_store::{KeyRecord, Store};

use super::{CliError, StoreArgs};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it (the only time it is shown).
    Create(CreateArgs),
    /// List keys (never their secrets).
    List(ListArgs),
    /// Disable a key: calls with it get 401 until it is enabled again.
    Disable(PrefixArgs),
    /// Enable a disabled key.
    Enable(PrefixArgs),
    /// Delete a key for good.
    Delete(PrefixArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// A name to recognise the key by.
    #[arg(long)]
    pub name: String,
    /// Print `{"key": …, "prefix": …}`.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print a JSON array.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct PrefixArgs {
    /// The key's prefix (its first 8 characters, as `keys list` shows).
    pub prefix: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Scopes given to keys made by the CLI.
const DEFAULT_SCOPES: &[&str] = &["model:chat"];

async fn open(args: &StoreArgs) -> Result<Store, CliError> {
    let config = args.load_config(None)?;
    let url = config.server.effective_database_url();
    Store::open(&url)
        .await
        .map_err(|e| CliError::Runtime(format!("cannot open the store: {e}")))
}

fn db_err(e: switchyard_store::StoreError) -> CliError {
    CliError::Runtime(format!("store error: {e}"))
}

pub async fn run(cmd: KeysCommand) -> Result<(), CliError> {
    match cmd {
        KeysCommand::Create(a) => {
            if a.name.trim().is_empty() {
                return Err(CliError::Usage("--name must not be empty".into()));
            }
            let store = open(&a.store).await?;
            let scopes: Vec<String> = DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect();
            let created = store
                .create_key(Some(&a.name), &scopes)
                .await
                .map_err(db_err)?;
            store.close().await;
            if a.json {
                println!(
                    "{}",
                    json!({"key": created.secret, "prefix": created.record.prefix})
                );
            } else {
                println!("{}", created.secret);
                eprintln!(
                    "Created key '{}' (prefix {}). It is shown only once: store it now.",
                    a.name, created.record.prefix
                );
            }
            Ok(())
        }
        KeysCommand::List(a) => {
            let store = open(&a.store).await?;
            let keys = store.list_keys().await.map_err(db_err)?;
            store.close().await;
            if a.json {
                let list: Vec<_> = keys.iter().map(key_json).collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                println!("{:<10} {:<9} {:<24} NAME", "PREFIX", "STATE", "CREATED");
                for k in &keys {
                    println!(
                        "{:<10} {:<9} {:<24} {}",
                        k.prefix,
                        if k.disabled { "disabled" } else { "enabled" },
                        rfc3339(k.created_at),
                        k.name.as_deref().unwrap_or("")
                    );
                }
            }
            Ok(())
        }
        KeysCommand::Disable(a) => set_disabled(a, true).await,
        KeysCommand::Enable(a) => set_disabled(a, false).await,
        KeysCommand::Delete(a) => {
            let store = open(&a.store).await?;
            let found = store.delete_key(&a.prefix).await.map_err(db_err)?;
            store.close().await;
            if !found {
                return Err(CliError::Runtime(format!(
                    "no key with prefix `{}`",
                    a.prefix
                )));
            }
            eprintln!("Deleted key {}.", a.prefix);
            Ok(())
        }
    }
}

async fn set_disabled(a: PrefixArgs, disabled: bool) -> Result<(), CliError> {
    let store = open(&a.store).await?;
    let found = store
        .set_disabled(&a.prefix, disabled)
        .await
        .map_err(db_err)?;
    store.close().await;
    if !found {
        return Err(CliError::Runtime(format!(
            "no key with prefix `{}`",
            a.prefix
        )));
    }
    eprintln!(
        "Key {} is now {}.",
        a.prefix,
        if disabled { "disabled" } else { "enabled" }
    );
    Ok(())
}

fn key_json(k: &KeyRecord) -> serde_json::Value {
    json!({
        "prefix": k.prefix,
        "name": k.name,
        "disabled": k.disabled,
        "scopes": k.scopes,
        "created_at": rfc3339(k.created_at),
        "updated_at": rfc3339(k.updated_at),
    })
}

/// Unix milliseconds as an RFC 3339 UTC timestamp with milliseconds.
fn rfc3339(ms: i64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_answers() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_771_397_950_031), "2026-02-18T06:59:10.031Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
