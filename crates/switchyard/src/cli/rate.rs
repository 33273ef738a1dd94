//! `switchyard keys rate PREFIX` and `switchyard admin rate EMAIL`: show or
//! set requests and tokens per minute, of one key or as an account's default
//! for its keys.
//!
//! `--rpm`/`--tpm` take a whole number (0: unlimited) or `inherit` (clear
//! this level: a key then follows its account's default, an account the
//! server's `[platform] default_rpm/default_tpm`). A flag left out keeps
//! that dimension as it is; with neither flag the command only shows the
//! limits. The effective value and where it comes from are printed either way.

use std::str::FromStr;

use clap::Args;
use serde_json::json;
use switchyard_platform::{Platform, RateLimits};

use super::{
    CliError, StoreArgs,
    keys::{account_by_email, open_platform, platform_err},
};

/// Largest per-minute limit accepted (the dashboard's bound too).
const MAX_PER_MINUTE: u32 = 1_000_000_000;

/// One dimension's new value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateValue {
    /// Clear this level's value.
    Inherit,
    /// Requests or tokens per minute; 0 is unlimited.
    Limit(u32),
}

impl FromStr for RateValue {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("inherit") {
            return Ok(RateValue::Inherit);
        }
        match s.parse::<u32>() {
            Ok(n) if n <= MAX_PER_MINUTE => Ok(RateValue::Limit(n)),
            _ => Err(format!(
                "expected a whole number from 0 (unlimited) to {MAX_PER_MINUTE}, or `inherit`, not `{s}`"
            )),
        }
    }
}

/// The flags shared by both commands.
#[derive(Debug, Clone, Args)]
pub struct RateFlags {
    /// Requests per minute: a number (0: unlimited) or `inherit`. Left out: unchanged.
    #[arg(long, value_name = "N|inherit", allow_negative_numbers = true)]
    pub rpm: Option<RateValue>,
    /// Tokens per minute: a number (0: unlimited) or `inherit`. Left out: unchanged.
    #[arg(long, value_name = "N|inherit", allow_negative_numbers = true)]
    pub tpm: Option<RateValue>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

impl RateFlags {
    fn changes(&self) -> bool {
        self.rpm.is_some() || self.tpm.is_some()
    }

    /// `current` with the flags applied.
    pub fn apply(&self, current: RateLimits) -> RateLimits {
        let one = |flag: Option<RateValue>, now: Option<u32>| match flag {
            None => now,
            Some(RateValue::Inherit) => None,
            Some(RateValue::Limit(n)) => Some(n),
        };
        RateLimits {
            rpm: one(self.rpm, current.rpm),
            tpm: one(self.tpm, current.tpm),
        }
    }
}

#[derive(Debug, Args)]
pub struct KeyRateArgs {
    /// The key's prefix (its first 8 characters, as `keys list` shows).
    pub prefix: String,
    #[command(flatten)]
    pub flags: RateFlags,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct AccountRateArgs {
    /// The account's email.
    pub email: String,
    #[command(flatten)]
    pub flags: RateFlags,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// One dimension as shown: its own value at this level, the effective one, and where that comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shown {
    own: Option<u32>,
    effective: u32,
    source: &'static str,
}

/// `key`: the key's own limits (`None` when showing an account); `account`: the account's defaults.
fn shown(key: Option<RateLimits>, account: RateLimits, server: (u32, u32)) -> [Shown; 2] {
    let one = |k: Option<u32>, a: Option<u32>, s: u32| match (k, a) {
        (Some(n), _) => Shown {
            own: Some(n),
            effective: n,
            source: "key",
        },
        (None, Some(n)) => Shown {
            own: None,
            effective: n,
            source: "account default",
        },
        (None, None) => Shown {
            own: None,
            effective: s,
            source: "server default",
        },
    };
    match key {
        Some(k) => [
            one(k.rpm, account.rpm, server.0),
            one(k.tpm, account.tpm, server.1),
        ],
        // An account's own values are its defaults.
        None => [
            one(None, account.rpm, server.0),
            one(None, account.tpm, server.1),
        ]
        .map(|s| Shown {
            own: (s.source == "account default").then_some(s.effective),
            ..s
        }),
    }
}

fn per_minute(n: u32) -> String {
    if n == 0 {
        "unlimited".to_owned()
    } else {
        n.to_string()
    }
}

fn print(what: &str, id: serde_json::Value, dims: [Shown; 2], json: bool) {
    let [rpm, tpm] = dims;
    if json {
        let dim = |d: Shown| json!({"own": d.own, "effective": d.effective, "source": d.source});
        let mut v = json!({"rpm": dim(rpm), "tpm": dim(tpm)});
        v[what] = id;
        println!("{v}");
    } else {
        println!(
            "requests/min: {} ({})",
            per_minute(rpm.effective),
            rpm.source
        );
        println!(
            "tokens/min:   {} ({})",
            per_minute(tpm.effective),
            tpm.source
        );
    }
}

/// The server's defaults under this config.
fn server(platform: &Platform) -> (u32, u32) {
    platform.effective_rate_of(RateLimits::default(), RateLimits::default())
}

pub async fn key_rate(a: KeyRateArgs) -> Result<(), CliError> {
    let platform = open_platform(&a.store).await?;
    let res = key_rate_with(&platform, &a).await;
    platform.store().close().await;
    let (rate, account_rate) = res?;
    if a.flags.changes() {
        eprintln!(
            "Key {} rate limits saved; running servers apply them within seconds.",
            a.prefix
        );
    }
    print(
        "prefix",
        json!(a.prefix),
        shown(Some(rate), account_rate, server(&platform)),
        a.flags.json,
    );
    Ok(())
}

async fn key_rate_with(
    platform: &Platform,
    a: &KeyRateArgs,
) -> Result<(RateLimits, RateLimits), CliError> {
    let no_key = || CliError::Runtime(format!("no key with prefix `{}`", a.prefix));
    let key = platform
        .key_by_prefix(&a.prefix)
        .await
        .map_err(platform_err)?
        .ok_or_else(no_key)?;
    let key = if a.flags.changes() {
        platform
            .set_key_rate(&a.prefix, a.flags.apply(key.rate))
            .await
            .map_err(platform_err)?
            .ok_or_else(no_key)?
    } else {
        key
    };
    let account = platform
        .account(&key.account_id)
        .await
        .map_err(platform_err)?
        .map(|acc| acc.rate)
        .unwrap_or_default();
    Ok((key.rate, account))
}

pub async fn account_rate(a: AccountRateArgs) -> Result<(), CliError> {
    let platform = open_platform(&a.store).await?;
    let res = account_rate_with(&platform, &a).await;
    platform.store().close().await;
    let (email, rate) = res?;
    if a.flags.changes() {
        eprintln!(
            "Default rate limits of {email}'s keys saved (a key's own limits win); \
             running servers apply them within seconds."
        );
    }
    print(
        "account",
        json!(email),
        shown(None, rate, server(&platform)),
        a.flags.json,
    );
    Ok(())
}

async fn account_rate_with(
    platform: &Platform,
    a: &AccountRateArgs,
) -> Result<(String, RateLimits), CliError> {
    let account = account_by_email(platform, &a.email).await?;
    if !a.flags.changes() {
        return Ok((account.email, account.rate));
    }
    let rate = a.flags.apply(account.rate);
    platform
        .set_account_rate(&account.id, rate)
        .await
        .map_err(platform_err)?;
    Ok((account.email, rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(rpm: Option<RateValue>, tpm: Option<RateValue>) -> RateFlags {
        RateFlags {
            rpm,
            tpm,
            json: false,
        }
    }

    #[test]
    fn values_are_numbers_or_inherit() {
        assert_eq!("inherit".parse(), Ok(RateValue::Inherit));
        assert_eq!(" INHERIT ".parse(), Ok(RateValue::Inherit));
        assert_eq!("0".parse(), Ok(RateValue::Limit(0)));
        assert_eq!("60".parse(), Ok(RateValue::Limit(60)));
        for bad in ["-1", "1.5", "", "lots", "1000000001", "none"] {
            assert!(bad.parse::<RateValue>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn left_out_flags_keep_the_current_value() {
        let now = RateLimits {
            rpm: Some(5),
            tpm: Some(100),
        };
        assert_eq!(flags(None, None).apply(now), now);
        assert_eq!(
            flags(Some(RateValue::Limit(0)), None).apply(now),
            RateLimits {
                rpm: Some(0),
                tpm: Some(100)
            }
        );
        assert_eq!(
            flags(None, Some(RateValue::Inherit)).apply(now),
            RateLimits {
                rpm: Some(5),
                tpm: None
            }
        );
    }

    #[test]
    fn the_source_of_each_limit_is_named() {
        let server = (3000, 0);
        let account = RateLimits {
            rpm: Some(40),
            tpm: None,
        };
        let key = RateLimits {
            rpm: None,
            tpm: Some(7),
        };
        let [rpm, tpm] = shown(Some(key), account, server);
        assert_eq!(
            (rpm.own, rpm.effective, rpm.source),
            (None, 40, "account default")
        );
        assert_eq!((tpm.own, tpm.effective, tpm.source), (Some(7), 7, "key"));
        let [rpm, tpm] = shown(None, account, server);
        assert_eq!(
            (rpm.own, rpm.effective, rpm.source),
            (Some(40), 40, "account default")
        );
        assert_eq!(
            (tpm.own, tpm.effective, tpm.source),
            (None, 0, "server default")
        );
        assert_eq!(per_minute(0), "unlimited");
    }
}
