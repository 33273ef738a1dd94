//! Accounts: sign-up (open, invite or closed), login with throttling,
//! dashboard sessions with their CSRF tokens, administrators, invites.

use switchyard_config::SignupMode;
use switchyard_store::{AccountInsert, AccountRow, NewAccountRow, StoreError};

use crate::{
    Platform, PlatformError, RateLimits,
    password::{
        hash_password, random_hex_id, random_token, sha256_hex, validate_password, verify_dummy,
        verify_password,
    },
};

/// Longest accepted email address, in characters.
pub const EMAIL_MAX_CHARS: usize = 254;
/// Id and email of the administrator the bootstrap makes when there is none.
pub const BOOTSTRAP_ACCOUNT_ID: &str = "acct_bootstrap";
pub const BOOTSTRAP_EMAIL: &str = "admin@localhost";
/// The stored setting that overrides `config.signup`.
const SIGNUP_MODE_SETTING: &str = "signup_mode";
/// How long an invite code can be used.
const INVITE_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
/// Random bytes in session tokens and CSRF tokens.
const TOKEN_BYTES: usize = 32;
/// Random bytes in invite codes.
const INVITE_BYTES: usize = 18;

/// An account as the platform's callers see it (no password hash, no balance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub is_admin: bool,
    pub disabled: bool,
    /// Default rate limits for the account's keys.
    pub rate: RateLimits,
    pub created_at: i64,
}

/// A session just made by a login: `token` goes into the `sy_session` cookie.
#[derive(Clone, PartialEq, Eq)]
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub account: Account,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession")
            .field("token", &"<redacted>")
            .field("csrf_token", &"<redacted>")
            .field("account", &self.account)
            .finish()
    }
}

/// A live session: its account and the CSRF token every form must carry.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub account: Account,
    pub csrf_token: String,
}

impl std::fmt::Debug for SessionInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionInfo")
            .field("account", &self.account)
            .field("csrf_token", &"<redacted>")
            .finish()
    }
}

impl SessionInfo {
    /// Whether `presented` is this session's CSRF token (constant time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        switchyard_auth::constant_time_eq(self.csrf_token.as_bytes(), presented.as_bytes())
    }
}

/// Lower-cases and trims an email and checks its shape: one `@` with text
/// on both sides, no spaces or control characters, at most 254 characters.
pub fn normalize_email(email: &str) -> Result<String, PlatformError> {
    let e = email.trim().to_lowercase();
    let bad = |m: &str| PlatformError::invalid("email", m);
    if e.is_empty() {
        return Err(bad("An email address is required."));
    }
    if e.chars().count() > EMAIL_MAX_CHARS {
        return Err(bad(
            "The email address is too long (at most 254 characters).",
        ));
    }
    if e.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("The email address must not contain spaces."));
    }
    match e.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
        {
            Ok(e)
        }
        _ => Err(bad("That is not an email address.")),
    }
}

pub(crate) fn account_from_row(row: &AccountRow) -> Result<Account, PlatformError> {
    Ok(Account {
        id: row.id.clone(),
        email: row.email.clone(),
        is_admin: row.is_admin,
        disabled: row.disabled,
        rate: crate::keys::rate_from_row(
            row.rpm_limit,
            row.tpm_limit,
            &format!("account {}", row.id),
        )?,
        created_at: row.created_at,
    })
}

impl Platform {
    /// Makes an account, as the sign-up mode allows. In `invite` mode the
    /// invite code is used up (only if the account is made).
    pub async fn signup(
        &self,
        email: &str,
        password: &str,
        invite: Option<&str>,
    ) -> Result<Account, PlatformError> {
        let mode = self.signup_mode().await?;
        if mode == SignupMode::Closed {
            return Err(PlatformError::SignupClosed);
        }
        let email = normalize_email(email)?;
        validate_password(password)?;
        let invite_hash = match mode {
            SignupMode::Invite => {
                let code = invite.map(str::trim).filter(|c| !c.is_empty());
                Some(sha256_hex(code.ok_or(PlatformError::InviteRequired)?))
            }
            _ => None,
        };
        if self.store.account_by_email(&email).await?.is_some() {
            return Err(PlatformError::EmailTaken);
        }
        let hash = hash_password(password).await?;
        let new = NewAccountRow {
            id: random_hex_id("acct_"),
            email,
            password_hash: Some(hash),
            is_admin: false,
            created_at: self.now_ms(),
        };
        match self
            .store
            .insert_account(&new, invite_hash.as_deref())
            .await?
        {
            AccountInsert::Created => {}
            AccountInsert::Taken => return Err(PlatformError::EmailTaken),
            AccountInsert::InviteUnusable => return Err(PlatformError::InviteRequired),
        }
        tracing::info!(account = %new.id, "account signed up");
        self.account(&new.id)
            .await?
            .ok_or_else(|| PlatformError::Internal("the new account vanished".into()))
    }

    /// Checks email and password and opens a session. `client` is the
    /// caller's address (failed logins are also counted per address; an
    /// empty `client` is counted per email only).
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        client: &str,
    ) -> Result<NewSession, PlatformError> {
        let email = email.trim().to_lowercase();
        let email: String = email.chars().take(EMAIL_MAX_CHARS).collect();
        let client: String = client.chars().take(128).collect();
        self.check_login_throttle(&email, &client).await?;

        let row = self.store.account_by_email(&email).await?;
        let verified = match row.as_ref().and_then(|a| a.password_hash.as_deref()) {
            Some(phc) => verify_password(phc, password).await?,
            None => {
                verify_dummy(password).await?;
                false
            }
        };
        let Some(row) = row.filter(|_| verified) else {
            let now = self.now_ms();
            self.store
                .record_login_failure(&email, &client, now, now - self.login_window_ms())
                .await?;
            return Err(PlatformError::InvalidCredentials);
        };
        if row.disabled {
            return Err(PlatformError::AccountDisabled);
        }
        self.store.clear_login_failures(&email).await?;
        let now = self.now_ms();
        self.store.delete_expired_sessions(now).await?;
        let token = random_token(TOKEN_BYTES);
        let csrf_token = random_token(TOKEN_BYTES);
        let ttl = i64::try_from(self.config.session_ttl.as_millis()).unwrap_or(i64::MAX);
        self.store
            .insert_session(
                &sha256_hex(&token),
                &row.id,
                &csrf_token,
                now,
                now.saturating_add(ttl),
            )
            .await?;
        tracing::info!(account = %row.id, "logged in");
        Ok(NewSession {
            token,
            csrf_token,
            account: account_from_row(&row)?,
        })
    }

    fn login_window_ms(&self) -> i64 {
        i64::try_from(self.config.login_window.as_millis()).unwrap_or(i64::MAX)
    }

    /// `LoginThrottled` when the email or the client has too many recent
    /// failures; the wait lasts until enough of them age out of the window.
    async fn check_login_throttle(&self, email: &str, client: &str) -> Result<(), PlatformError> {
        let now = self.now_ms();
        let window = self.login_window_ms();
        let since = now.saturating_sub(window);
        let max = self.config.login_max_failures.max(1);
        let mut wait_ms = 0i64;
        let by_email = self
            .store
            .recent_failures_for_email(email, since, max)
            .await?;
        let by_client = if client.is_empty() {
            Vec::new()
        } else {
            self.store
                .recent_failures_for_client(client, since, max)
                .await?
        };
        for times in [by_email, by_client] {
            // Newest first: the max-th newest failure is the one whose ageing
            // out brings the count below the limit.
            if times.len() >= max as usize
                && let Some(&t) = times.last()
            {
                wait_ms = wait_ms.max(t.saturating_add(window).saturating_sub(now));
            }
        }
        if wait_ms > 0 {
            let secs = u64::try_from((wait_ms + 999) / 1000).unwrap_or(1).max(1);
            return Err(PlatformError::LoginThrottled {
                retry_after_secs: secs,
            });
        }
        Ok(())
    }

    /// The session for a cookie value; `None` when unknown, expired, or its account is disabled.
    pub async fn session(&self, token: &str) -> Result<Option<SessionInfo>, PlatformError> {
        if !plausible_token(token) {
            return Ok(None);
        }
        let Some(row) = self
            .store
            .session_by_hash(&sha256_hex(token), self.now_ms())
            .await?
        else {
            return Ok(None);
        };
        if row.account.disabled {
            return Ok(None);
        }
        Ok(Some(SessionInfo {
            account: account_from_row(&row.account)?,
            csrf_token: row.csrf_token,
        }))
    }

    /// Ends the session (unknown tokens are ignored).
    pub async fn logout(&self, token: &str) -> Result<(), PlatformError> {
        if plausible_token(token) {
            self.store.delete_session(&sha256_hex(token)).await?;
        }
        Ok(())
    }

    /// Makes an administrator with this password: a new account, or an
    /// existing one promoted (its password replaced).
    pub async fn create_admin(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Account, PlatformError> {
        let email = normalize_email(email)?;
        validate_password(password)?;
        let hash = hash_password(password).await?;
        let new = NewAccountRow {
            id: random_hex_id("acct_"),
            email: email.clone(),
            password_hash: Some(hash.clone()),
            is_admin: true,
            created_at: self.now_ms(),
        };
        match self.store.insert_account(&new, None).await? {
            AccountInsert::Created => tracing::info!(account = %new.id, "administrator created"),
            AccountInsert::Taken | AccountInsert::InviteUnusable => {
                if !self
                    .store
                    .promote_account(&email, &hash, self.now_ms())
                    .await?
                {
                    return Err(PlatformError::Internal(
                        "could not create the administrator: its id is taken".into(),
                    ));
                }
                tracing::info!(email = %email, "account promoted to administrator");
            }
        }
        self.account_by_email(&email)
            .await?
            .ok_or_else(|| PlatformError::Internal("the administrator vanished".into()))
    }

    /// The oldest enabled administrator; when there is none, creates
    /// `admin@localhost` (an administrator without a password).
    pub async fn bootstrap_admin(&self) -> Result<Account, PlatformError> {
        if let Some(row) = self.store.first_admin().await? {
            return account_from_row(&row);
        }
        let new = NewAccountRow {
            id: BOOTSTRAP_ACCOUNT_ID.into(),
            email: BOOTSTRAP_EMAIL.into(),
            password_hash: None,
            is_admin: true,
            created_at: self.now_ms(),
        };
        if self.store.insert_account(&new, None).await? == AccountInsert::Created {
            tracing::info!(
                "created the bootstrap administrator {BOOTSTRAP_EMAIL} (no password; set one with `switchyard admin create {BOOTSTRAP_EMAIL}`)"
            );
        }
        // Created now or by a concurrent caller.
        match self.store.first_admin().await? {
            Some(row) => account_from_row(&row),
            None => Err(PlatformError::Internal(format!(
                "there is no enabled administrator and {BOOTSTRAP_EMAIL} exists but is not one; \
                 make one with `switchyard admin create EMAIL`"
            ))),
        }
    }

    pub async fn account(&self, id: &str) -> Result<Option<Account>, PlatformError> {
        self.store
            .account_by_id(id)
            .await?
            .as_ref()
            .map(account_from_row)
            .transpose()
    }

    /// The account with this email (normalised first; a malformed email finds nothing).
    pub async fn account_by_email(&self, email: &str) -> Result<Option<Account>, PlatformError> {
        let Ok(email) = normalize_email(email) else {
            return Ok(None);
        };
        self.store
            .account_by_email(&email)
            .await?
            .as_ref()
            .map(account_from_row)
            .transpose()
    }

    /// Every account, oldest first.
    pub async fn accounts(&self) -> Result<Vec<Account>, PlatformError> {
        self.store
            .list_accounts()
            .await?
            .iter()
            .map(account_from_row)
            .collect()
    }

    pub async fn set_admin(&self, id: &str, is_admin: bool) -> Result<(), PlatformError> {
        if !self
            .store
            .set_account_admin(id, is_admin, self.now_ms())
            .await?
        {
            return Err(account_not_found());
        }
        Ok(())
    }

    /// A disabled account cannot log in, its sessions end and its keys are refused.
    pub async fn set_account_disabled(
        &self,
        id: &str,
        disabled: bool,
    ) -> Result<(), PlatformError> {
        if !self
            .store
            .set_account_disabled(id, disabled, self.now_ms())
            .await?
        {
            return Err(account_not_found());
        }
        if disabled {
            self.store.delete_account_sessions(id).await?;
        }
        Ok(())
    }

    /// Sets the account's default requests/tokens per minute for its keys.
    pub async fn set_account_rate(&self, id: &str, rate: RateLimits) -> Result<(), PlatformError> {
        if !self
            .store
            .set_account_rate(
                id,
                rate.rpm.map(i64::from),
                rate.tpm.map(i64::from),
                self.now_ms(),
            )
            .await?
        {
            return Err(account_not_found());
        }
        Ok(())
    }

    /// The stored sign-up mode if an administrator set one, else `config.signup`.
    pub async fn signup_mode(&self) -> Result<SignupMode, PlatformError> {
        match self.store.setting(SIGNUP_MODE_SETTING).await? {
            None => Ok(self.config.signup),
            Some(v) => SignupMode::parse(&v).ok_or_else(|| {
                PlatformError::Store(StoreError::Corrupt(format!(
                    "settings.{SIGNUP_MODE_SETTING} is `{v}`, not open, invite or closed"
                )))
            }),
        }
    }

    pub async fn set_signup_mode(&self, mode: SignupMode) -> Result<(), PlatformError> {
        self.store
            .put_setting(SIGNUP_MODE_SETTING, mode.as_str(), self.now_ms())
            .await?;
        Ok(())
    }

    /// A new invite code (valid for 7 days, once). Only administrators may make them.
    pub async fn create_invite(&self, by_account: &str) -> Result<String, PlatformError> {
        let by = self.account(by_account).await?;
        if !by.is_some_and(|a| a.is_admin && !a.disabled) {
            return Err(PlatformError::Forbidden {
                code: "admin_required",
                message: "Only administrators can create invite codes.".into(),
            });
        }
        let code = random_token(INVITE_BYTES);
        let now = self.now_ms();
        self.store
            .insert_invite(&sha256_hex(&code), by_account, now, now + INVITE_TTL_MS)
            .await?;
        Ok(code)
    }
}

fn account_not_found() -> PlatformError {
    PlatformError::NotFound("No such account.".into())
}

/// Session tokens are 43 base64url characters; anything else is not looked up.
fn plausible_token(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalize_email("  Ann@Example.COM ").unwrap(),
            "ann@example.com"
        );
        assert_eq!(
            normalize_email("admin@localhost").unwrap(),
            "admin@localhost"
        );
        for bad in ["", "ann", "@x", "ann@", "a@b@c", "a b@c", "a@b\u{7}"] {
            assert!(normalize_email(bad).is_err(), "{bad:?} accepted");
        }
        let long = format!("{}@x.io", "a".repeat(250));
        assert!(matches!(
            normalize_email(&long),
            Err(PlatformError::InvalidInput { param, .. }) if param == "email"
        ));
    }

    #[test]
    fn debug_output_redacts_tokens() {
        let account = Account {
            id: "acct_1".into(),
            email: "a@b".into(),
            is_admin: false,
            disabled: false,
            rate: RateLimits::default(),
            created_at: 0,
        };
        let s = NewSession {
            token: "tok-secret-value".into(),
            csrf_token: "csrf-secret-value".into(),
            account: account.clone(),
        };
        let d = format!("{s:?}");
        assert!(
            !d.contains("tok-secret") && !d.contains("csrf-secret"),
            "{d}"
        );
        let i = SessionInfo {
            account,
            csrf_token: "csrf-secret-value".into(),
        };
        assert!(!format!("{i:?}").contains("csrf-secret"));
        assert!(i.csrf_matches("csrf-secret-value"));
        assert!(!i.csrf_matches("csrf-secret-valuE"));
        assert!(!i.csrf_matches(""));
    }
}
