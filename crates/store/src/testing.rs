//! Test support (feature `test-support`): a throwaway PostgreSQL database per
//! test, on the server named by [`TEST_POSTGRES_ENV`].
//!
//! `scripts/test.sh` starts such a server and sets the variable. When it is
//! unset, [`PgTestDb::create`] returns `None` and the caller skips its
//! PostgreSQL variant; when it is set but the server cannot be used, it
//! returns an error (tests must fail, not pass silently).

use std::{
    str::FromStr,
    sync::atomic::{AtomicU32, Ordering},
};

use rand::{Rng, rngs::OsRng};
use sqlx::{ConnectOptions, Connection, Executor, postgres::PgConnectOptions};

use crate::StoreError;

/// Admin URL of the PostgreSQL server the tests may create databases on.
pub const TEST_POSTGRES_ENV: &str = "SWITCHYARD_TEST_POSTGRES_URL";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A uniquely named database, created on the test server; drop it with
/// [`PgTestDb::drop_db`].
#[derive(Debug)]
pub struct PgTestDb {
    admin: PgConnectOptions,
    name: String,
    url: String,
}

impl PgTestDb {
    /// Creates a fresh database, or `None` when [`TEST_POSTGRES_ENV`] is unset.
    pub async fn create() -> Result<Option<PgTestDb>, StoreError> {
        let admin_url = match std::env::var(TEST_POSTGRES_ENV) {
            Ok(url) if !url.trim().is_empty() => url.trim().to_owned(),
            _ => return Ok(None),
        };
        let admin = PgConnectOptions::from_str(&admin_url)
            .map_err(|e| StoreError::InvalidUrl(format!("{TEST_POSTGRES_ENV}: {e}")))?;
        let suffix: u32 = OsRng.r#gen();
        let name = format!(
            "sy_test_{}_{}_{suffix:08x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = admin
            .connect()
            .await
            .map_err(|source| StoreError::Connect {
                target: format!(
                    "{TEST_POSTGRES_ENV} ({}:{})",
                    admin.get_host(),
                    admin.get_port()
                ),
                source,
            })?;
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await?;
        conn.close().await?;
        let url = with_database(&admin_url, &name);
        Ok(Some(PgTestDb { admin, name, url }))
    }

    /// URL of the new database, for `Store::open`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops the database (closing any connections still open to it).
    pub async fn drop_db(self) -> Result<(), StoreError> {
        let mut conn = self.admin.connect().await?;
        conn.execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name).as_str())
            .await?;
        conn.close().await?;
        Ok(())
    }
}

/// `url` with its database (path) replaced by `db`, keeping any query string.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base
        .get(authority_start..)
        .and_then(|rest| rest.find('/'))
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{db}", base.get(..authority_end).unwrap_or(base));
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_is_replaced_in_urls() {
        assert_eq!(
            with_database("postgres://u@127.0.0.1:5433/postgres", "t1"),
            "postgres://u@127.0.0.1:5433/t1"
        );
        assert_eq!(
            with_database("postgres://u:p@h:1?sslmode=disable", "t1"),
            "postgres://u:p@h:1/t1?sslmode=disable"
        );
        assert_eq!(
            with_database("postgresql://h/a/b?x=1&y=2", "t"),
            "postgresql://h/t?x=1&y=2"
        );
    }
}
