//! `switchyard keys …`: API key management against the store, as the
//! operator: keys are made for an account (the first administrator unless
//! `--account` names one) and addressed by prefix whichever account owns them.

use std::{collections::HashMap, sync::Arc};

use clap::{Args, Subcommand};
use serde_json::json;
use switchyard_platform::{KeyKind, NewKey, Platform, PlatformError, Scope, SystemClock};
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
    /// Show or set a key's requests/tokens per minute (`inherit`: its
    /// account's default, else the server's; 0: unlimited).
    Rate(super::rate::KeyRateArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// A name to recognise the key by.
    #[arg(long)]
    pub name: String,
    /// Make a management key (it only calls the key-management API).
    #[arg(long)]
    pub management: bool,
    /// The email of the account that owns the key (default: the first
    /// administrator, created as admin@localhost when there is none).
    #[arg(long, value_name = "EMAIL")]
    pub account: Option<String>,
    /// Print `{"key": …, "prefix": …, "kind": …, "account": …}`.
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

/// Scopes given to regular keys made by the CLI.
const DEFAULT_SCOPES: &[Scope] = &[Scope::Chat];

async fn open(args: &StoreArgs) -> Result<Store, CliError> {
    let config = args.load_config(None)?;
    let url = config.server.effective_database_url();
    Store::open(&url)
        .await
        .map_err(|e| CliError::Runtime(format!("cannot open the store: {e}")))
}

/// The platform over the store named by the config (system clock).
pub(super) async fn open_platform(args: &StoreArgs) -> Result<Platform, CliError> {
    let config = args.load_config(None)?;
    let url = config.server.effective_database_url();
    let store = Store::open(&url)
        .await
        .map_err(|e| CliError::Runtime(format!("cannot open the store: {e}")))?;
    Ok(Platform::new(
        store,
        config.platform.clone(),
        Arc::new(SystemClock),
    ))
}

fn db_err(e: switchyard_store::StoreError) -> CliError {
    CliError::Runtime(format!("store error: {e}"))
}

/// Caller mistakes are usage errors (exit 2); the rest are runtime errors.
pub(super) fn platform_err(e: PlatformError) -> CliError {
    match e {
        PlatformError::InvalidInput { .. } => CliError::Usage(e.to_string()),
        other => CliError::Runtime(other.to_string()),
    }
}

/// The account with this email, or a clear error.
pub(super) async fn account_by_email(
    platform: &Platform,
    email: &str,
) -> Result<switchyard_platform::Account, CliError> {
    platform
        .account_by_email(email)
        .await
        .map_err(platform_err)?
        .ok_or_else(|| {
            CliError::Runtime(format!(
                "no account with email `{}` (make one with `switchyard admin create EMAIL`, or sign up)",
                email.trim()
            ))
        })
}

pub async fn run(cmd: KeysCommand) -> Result<(), CliError> {
    match cmd {
        KeysCommand::Create(a) => create(a).await,
        KeysCommand::List(a) => {
            let store = open(&a.store).await?;
            let keys = store.list_keys().await.map_err(db_err);
            let accounts = store.list_accounts().await.map_err(db_err);
            store.close().await;
            let (keys, accounts) = (keys?, accounts?);
            let emails: HashMap<&str, &str> = accounts
                .iter()
                .map(|acc| (acc.id.as_str(), acc.email.as_str()))
                .collect();
            let email_of = |k: &KeyRecord| emails.get(k.account_id.as_str()).copied().unwrap_or("");
            if a.json {
                let list: Vec<_> = keys.iter().map(|k| key_json(k, email_of(k))).collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                println!(
                    "{:<10} {:<11} {:<9} {:<24} {:<28} NAME",
                    "PREFIX", "KIND", "STATE", "CREATED", "ACCOUNT"
                );
                for k in &keys {
                    println!(
                        "{:<10} {:<11} {:<9} {:<24} {:<28} {}",
                        k.prefix,
                        k.kind,
                        if k.disabled { "disabled" } else { "enabled" },
                        rfc3339(k.created_at),
                        email_of(k),
                        k.name.as_deref().unwrap_or("")
                    );
                }
            }
            Ok(())
        }
        KeysCommand::Rate(a) => super::rate::key_rate(a).await,
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

async fn create(a: CreateArgs) -> Result<(), CliError> {
    if a.name.trim().is_empty() {
        return Err(CliError::Usage("--name must not be empty".into()));
    }
    let platform = open_platform(&a.store).await?;
    let res = create_with(&platform, &a).await;
    platform.store().close().await;
    let (created, owner) = res?;
    let kind = created.info.kind.as_str();
    if a.json {
        println!(
            "{}",
            json!({
                "key": created.secret,
                "prefix": created.info.prefix,
                "kind": kind,
                "account": owner,
            })
        );
    } else {
        println!("{}", created.secret);
        eprintln!(
            "Created {kind} key '{}' (prefix {}) for {owner}. It is shown only once: store it now.",
            a.name, created.info.prefix
        );
    }
    Ok(())
}

async fn create_with(
    platform: &Platform,
    a: &CreateArgs,
) -> Result<(switchyard_platform::CreatedApiKey, String), CliError> {
    let account = match &a.account {
        Some(email) => account_by_email(platform, email).await?,
        None => platform.bootstrap_admin().await.map_err(platform_err)?,
    };
    let (kind, scopes) = if a.management {
        (KeyKind::Management, None)
    } else {
        (KeyKind::Regular, Some(DEFAULT_SCOPES.to_vec()))
    };
    let new = NewKey {
        name: Some(a.name.clone()),
        kind,
        scopes,
        limit: None,
    };
    let created = platform
        .create_key(&account.id, new)
        .await
        .map_err(platform_err)?;
    Ok((created, account.email))
}

fn key_json(k: &KeyRecord, account: &str) -> serde_json::Value {
    json!({
        "prefix": k.prefix,
        "name": k.name,
        "kind": k.kind,
        "account": account,
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
