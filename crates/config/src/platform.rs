//! `[platform]`: accounts, sign-up, sessions, default rate limits, billing policy.

use std::time::Duration;

use serde::Deserialize;

/// Who may create an account from the sign-up page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignupMode {
    /// Anyone may sign up (new accounts start with a zero balance).
    #[default]
    Open,
    /// Only with an invite code made by an administrator.
    Invite,
    /// Nobody; administrators are made with `switchyard admin create`.
    Closed,
}

impl SignupMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SignupMode::Open => "open",
            SignupMode::Invite => "invite",
            SignupMode::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<SignupMode> {
        match s {
            "open" => Some(SignupMode::Open),
            "invite" => Some(SignupMode::Invite),
            "closed" => Some(SignupMode::Closed),
            _ => None,
        }
    }
}

/// Platform policy, checked once at start-up.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformConfig {
    /// Initial sign-up mode. Administrators can change it in the dashboard;
    /// the stored setting then wins over this one.
    pub signup: SignupMode,
    /// Lifetime of a dashboard session.
    pub session_ttl: Duration,
    /// Send cookies with `Secure` (set when the dashboard is served over HTTPS).
    pub secure_cookies: bool,
    /// Failed logins per email (and per client address) allowed within `login_window`.
    pub login_max_failures: u32,
    pub login_window: Duration,
    /// Administrators' own calls are not refused for lack of balance
    /// (they are still charged, so their balance can go below zero).
    pub admins_bypass_balance: bool,
    /// Requests per minute per key when neither the key nor its account sets one (0: unlimited).
    pub default_rpm: u32,
    /// Tokens per minute per key when neither the key nor its account sets one (0: unlimited).
    pub default_tpm: u32,
    /// A hold older than this (a crashed replica's) is released.
    pub hold_ttl: Duration,
    /// `lowBalance` in `/v1/billing/balance` is true below this many USD.
    pub low_balance_usd: f64,
}

impl Default for PlatformConfig {
    fn default() -> Self {
        PlatformConfig {
            signup: SignupMode::Open,
            session_ttl: Duration::from_secs(7 * 24 * 3600),
            secure_cookies: false,
            login_max_failures: 5,
            login_window: Duration::from_secs(15 * 60),
            admins_bypass_balance: true,
            default_rpm: 3000,
            default_tpm: 10_000_000,
            hold_ttl: Duration::from_secs(3600),
            low_balance_usd: 1.0,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPlatform {
    signup: Option<SignupMode>,
    session_ttl_secs: Option<u64>,
    secure_cookies: Option<bool>,
    login_max_failures: Option<u32>,
    login_window_secs: Option<u64>,
    admins_bypass_balance: Option<bool>,
    default_rpm: Option<u32>,
    default_tpm: Option<u32>,
    hold_ttl_secs: Option<u64>,
    low_balance_usd: Option<f64>,
}

impl RawPlatform {
    /// Applies the file's values; `invalid(key, problem)` builds the error.
    pub(crate) fn build<E>(self, invalid: impl Fn(&str, String) -> E) -> Result<PlatformConfig, E> {
        let mut c = PlatformConfig::default();
        if let Some(v) = self.signup {
            c.signup = v;
        }
        if let Some(v) = self.session_ttl_secs {
            if v < 60 {
                return Err(invalid(
                    "platform.session_ttl_secs",
                    format!("{v} is below the minimum of 60"),
                ));
            }
            c.session_ttl = Duration::from_secs(v);
        }
        if let Some(v) = self.secure_cookies {
            c.secure_cookies = v;
        }
        if let Some(v) = self.login_max_failures {
            if v == 0 {
                return Err(invalid(
                    "platform.login_max_failures",
                    "must be at least 1".to_string(),
                ));
            }
            c.login_max_failures = v;
        }
        if let Some(v) = self.login_window_secs {
            if v == 0 {
                return Err(invalid(
                    "platform.login_window_secs",
                    "must be at least 1".to_string(),
                ));
            }
            c.login_window = Duration::from_secs(v);
        }
        if let Some(v) = self.admins_bypass_balance {
            c.admins_bypass_balance = v;
        }
        if let Some(v) = self.default_rpm {
            c.default_rpm = v;
        }
        if let Some(v) = self.default_tpm {
            c.default_tpm = v;
        }
        if let Some(v) = self.hold_ttl_secs {
            if v < 60 {
                return Err(invalid(
                    "platform.hold_ttl_secs",
                    format!("{v} is below the minimum of 60"),
                ));
            }
            c.hold_ttl = Duration::from_secs(v);
        }
        if let Some(v) = self.low_balance_usd {
            if !v.is_finite() || v < 0.0 {
                return Err(invalid(
                    "platform.low_balance_usd",
                    format!("{v} must be a number ≥ 0"),
                ));
            }
            c.low_balance_usd = v;
        }
        Ok(c)
    }
}
