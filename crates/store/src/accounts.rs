//! Accounts, dashboard sessions, failed-login records, invite codes and settings.
//!
//! Only hashes of session tokens and invite codes are stored; password
//! hashes are opaque PHC strings made by the platform. Ids are made by the
//! caller (the platform), except for failed-login rows.

use crate::{
    Store, StoreError,
    db::{DbRow, on_pool},
    keys::random_id,
    sql_accounts as sql,
};

/// One account row.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountRow {
    pub id: String,
    /// Lower-cased, trimmed.
    pub email: String,
    /// argon2id PHC string; `None`: the account cannot log in.
    pub password_hash: Option<String>,
    pub is_admin: bool,
    pub disabled: bool,
    /// Defaults for the account's keys.
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    pub balance_nanos: i64,
    pub held_nanos: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl std::fmt::Debug for AccountRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRow")
            .field("id", &self.id)
            .field("email", &self.email)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<redacted>"),
            )
            .field("is_admin", &self.is_admin)
            .field("disabled", &self.disabled)
            .field("rpm_limit", &self.rpm_limit)
            .field("tpm_limit", &self.tpm_limit)
            .field("balance_nanos", &self.balance_nanos)
            .field("held_nanos", &self.held_nanos)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// What a new account is made with.
#[derive(Clone, PartialEq, Eq)]
pub struct NewAccountRow {
    pub id: String,
    pub email: String,
    pub password_hash: Option<String>,
    pub is_admin: bool,
    pub created_at: i64,
}

impl std::fmt::Debug for NewAccountRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccountRow")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("is_admin", &self.is_admin)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// The outcome of [`Store::insert_account`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountInsert {
    Created,
    /// Another account has this email (or id); nothing was changed.
    Taken,
    /// The invite code is unknown, used or expired; nothing was changed.
    InviteUnusable,
}

/// A live session and its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub csrf_token: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub account: AccountRow,
}

impl Store {
    /// Inserts an account. With `invite_hash`, the invite is used up in the
    /// same transaction (and left unused when the account cannot be made).
    pub async fn insert_account(
        &self,
        new: &NewAccountRow,
        invite_hash: Option<&str>,
    ) -> Result<AccountInsert, StoreError> {
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            if let Some(code_hash) = invite_hash {
                let used = sqlx::query(sql::USE_INVITE)
                    .bind(&new.id)
                    .bind(new.created_at)
                    .bind(code_hash)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if used == 0 {
                    tx.rollback().await?;
                    return Ok(AccountInsert::InviteUnusable);
                }
            }
            let res = sqlx::query(sql::INSERT_ACCOUNT)
                .bind(&new.id)
                .bind(&new.email)
                .bind(&new.password_hash)
                .bind(new.is_admin)
                .bind(new.created_at)
                .execute(&mut *tx)
                .await;
            match res {
                Ok(_) => {
                    tx.commit().await?;
                    Ok(AccountInsert::Created)
                }
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    tx.rollback().await?;
                    Ok(AccountInsert::Taken)
                }
                Err(e) => Err(e.into()),
            }
        })
    }

    pub async fn account_by_id(&self, id: &str) -> Result<Option<AccountRow>, StoreError> {
        self.one_account(sql::ACCOUNT_BY_ID, id).await
    }

    /// `email` must already be normalised (lower-cased, trimmed).
    pub async fn account_by_email(&self, email: &str) -> Result<Option<AccountRow>, StoreError> {
        self.one_account(sql::ACCOUNT_BY_EMAIL, email).await
    }

    async fn one_account(&self, query: &str, arg: &str) -> Result<Option<AccountRow>, StoreError> {
        on_pool!(&self.pool, p => {
            let row = sqlx::query(query).bind(arg).fetch_optional(p).await?;
            row.as_ref().map(account_row).transpose()
        })
    }

    /// Every account, oldest first.
    pub async fn list_accounts(&self) -> Result<Vec<AccountRow>, StoreError> {
        on_pool!(&self.pool, p => {
            let rows = sqlx::query(sql::LIST_ACCOUNTS).fetch_all(p).await?;
            rows.iter().map(account_row).collect()
        })
    }

    /// The oldest enabled administrator.
    pub async fn first_admin(&self) -> Result<Option<AccountRow>, StoreError> {
        on_pool!(&self.pool, p => {
            let row = sqlx::query(sql::FIRST_ADMIN).fetch_optional(p).await?;
            row.as_ref().map(account_row).transpose()
        })
    }

    /// Returns whether the account exists.
    pub async fn set_account_admin(
        &self,
        id: &str,
        is_admin: bool,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = on_pool!(&self.pool, p => sqlx::query(sql::SET_ACCOUNT_ADMIN)
            .bind(is_admin)
            .bind(now)
            .bind(id)
            .execute(p)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    /// Returns whether the account exists.
    pub async fn set_account_disabled(
        &self,
        id: &str,
        disabled: bool,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = on_pool!(&self.pool, p => sqlx::query(sql::SET_ACCOUNT_DISABLED)
            .bind(disabled)
            .bind(now)
            .bind(id)
            .execute(p)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    /// Sets the account's default rate limits for its keys. Returns whether the account exists.
    pub async fn set_account_rate(
        &self,
        id: &str,
        rpm: Option<i64>,
        tpm: Option<i64>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = on_pool!(&self.pool, p => sqlx::query(sql::SET_ACCOUNT_RATE)
            .bind(rpm)
            .bind(tpm)
            .bind(now)
            .bind(id)
            .execute(p)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    /// Makes the account with this email an administrator with this password
    /// hash. Returns whether the account exists.
    pub async fn promote_account(
        &self,
        email: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = on_pool!(&self.pool, p => sqlx::query(sql::PROMOTE_ACCOUNT)
            .bind(password_hash)
            .bind(now)
            .bind(email)
            .execute(p)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    pub async fn insert_invite(
        &self,
        code_hash: &str,
        created_by: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        on_pool!(&self.pool, p => sqlx::query(sql::INSERT_INVITE)
            .bind(code_hash)
            .bind(created_by)
            .bind(now)
            .bind(expires_at)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    pub async fn insert_session(
        &self,
        token_hash: &str,
        account_id: &str,
        csrf_token: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        on_pool!(&self.pool, p => sqlx::query(sql::INSERT_SESSION)
            .bind(token_hash)
            .bind(account_id)
            .bind(csrf_token)
            .bind(now)
            .bind(expires_at)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    /// The session with this token hash if it has not expired at `now`, with its account.
    pub async fn session_by_hash(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<SessionRow>, StoreError> {
        on_pool!(&self.pool, p => {
            let row = sqlx::query(sql::SESSION_BY_HASH)
                .bind(token_hash)
                .bind(now)
                .fetch_optional(p)
                .await?;
            row.as_ref()
                .map(|r| {
                    Ok(SessionRow {
                        csrf_token: r.text("session_csrf")?,
                        created_at: r.int("session_created_at")?,
                        expires_at: r.int("session_expires_at")?,
                        account: account_row(r)?,
                    })
                })
                .transpose()
        })
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        on_pool!(&self.pool, p => sqlx::query(sql::DELETE_SESSION)
            .bind(token_hash)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Deletes sessions that expired at or before `now`; returns how many.
    pub async fn delete_expired_sessions(&self, now: i64) -> Result<u64, StoreError> {
        Ok(
            on_pool!(&self.pool, p => sqlx::query(sql::DELETE_EXPIRED_SESSIONS)
            .bind(now)
            .execute(p)
            .await?
            .rows_affected()),
        )
    }

    /// Ends every session of an account (it was disabled).
    pub async fn delete_account_sessions(&self, account_id: &str) -> Result<(), StoreError> {
        on_pool!(&self.pool, p => sqlx::query(sql::DELETE_ACCOUNT_SESSIONS)
            .bind(account_id)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Records a failed login (and drops records at or before `prune_before`).
    pub async fn record_login_failure(
        &self,
        email: &str,
        client: &str,
        at: i64,
        prune_before: i64,
    ) -> Result<(), StoreError> {
        let id = random_id("lf_");
        on_pool!(&self.pool, p => {
            sqlx::query(sql::PRUNE_FAILURES)
                .bind(prune_before)
                .execute(p)
                .await?;
            sqlx::query(sql::INSERT_LOGIN_FAILURE)
                .bind(&id)
                .bind(email)
                .bind(client)
                .bind(at)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    /// Times of the newest `limit` failed logins for `email` after `since`, newest first.
    pub async fn recent_failures_for_email(
        &self,
        email: &str,
        since: i64,
        limit: u32,
    ) -> Result<Vec<i64>, StoreError> {
        self.recent_failures(sql::RECENT_FAILURES_BY_EMAIL, email, since, limit)
            .await
    }

    /// Times of the newest `limit` failed logins from `client` after `since`, newest first.
    pub async fn recent_failures_for_client(
        &self,
        client: &str,
        since: i64,
        limit: u32,
    ) -> Result<Vec<i64>, StoreError> {
        self.recent_failures(sql::RECENT_FAILURES_BY_CLIENT, client, since, limit)
            .await
    }

    async fn recent_failures(
        &self,
        query: &str,
        who: &str,
        since: i64,
        limit: u32,
    ) -> Result<Vec<i64>, StoreError> {
        on_pool!(&self.pool, p => {
            let rows = sqlx::query(query)
                .bind(who)
                .bind(since)
                .bind(i64::from(limit))
                .fetch_all(p)
                .await?;
            rows.iter().map(|r| Ok(r.int("at")?)).collect()
        })
    }

    /// Forgets the failed logins for an email (after a successful login).
    pub async fn clear_login_failures(&self, email: &str) -> Result<(), StoreError> {
        on_pool!(&self.pool, p => sqlx::query(sql::CLEAR_FAILURES_FOR_EMAIL)
            .bind(email)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    pub async fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        let v: Option<String> = on_pool!(&self.pool, p => sqlx::query_scalar(sql::GET_SETTING)
            .bind(name)
            .fetch_optional(p)
            .await?);
        Ok(v)
    }

    pub async fn put_setting(&self, name: &str, value: &str, now: i64) -> Result<(), StoreError> {
        on_pool!(&self.pool, p => sqlx::query(sql::PUT_SETTING)
            .bind(name)
            .bind(value)
            .bind(now)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }
}

fn account_row(row: &impl DbRow) -> Result<AccountRow, StoreError> {
    Ok(AccountRow {
        id: row.text("id")?,
        email: row.text("email")?,
        password_hash: row.opt_text("password_hash")?,
        is_admin: row.boolean("is_admin")?,
        disabled: row.boolean("disabled")?,
        rpm_limit: row.opt_int("rpm_limit")?,
        tpm_limit: row.opt_int("tpm_limit")?,
        balance_nanos: row.int("balance_nanos")?,
        held_nanos: row.int("held_nanos")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}
