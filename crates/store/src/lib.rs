//! Persistence (SQLite by default, PostgreSQL for replicas): API keys and the
//! usage ledger.
//!
//! Architecture Invariant: the store never sees an API key's secret, only its
//! SHA-256. All SQL lives in [`sql`]; it is portable between SQLite and
//! PostgreSQL, and every query is written once and run on either pool through
//! `db::on_pool!`. The database is created (SQLite) and migrated (embedded
//! `migrations/sqlite` or `migrations/postgres`, same schema) when opened.

mod accounts;
mod db;
mod keys;
mod money;
mod reports;
mod sql;
mod sql_accounts;
mod sql_money;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
mod usage;

use std::{path::Path, str::FromStr, time::Duration};

use sqlx::{
    ConnectOptions, Connection, SqlitePool,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::db::Pool;

pub use accounts::{AccountInsert, AccountRow, NewAccountRow, SessionRow};
pub use keys::{
    AuthAccount, AuthRecord, CreatedKey, KeyCheck, KeyLimitRow, KeyRecord, KeyUpdate, NewKeyRow,
    RateRow,
};
pub use money::{
    AccountMoney, HoldOutcome, HoldRef, NewHold, RateCounts, SettleSpec, TxFilter, TxRecord,
    TxTotals, WindowStarts,
};
pub use reports::{
    BucketSums, GroupSums, LogFilter, LogRecord, ModelTotals, ReportScope, SpendTotals,
};
pub use usage::UsageRow;

/// Name of the SQLite file inside a data directory.
pub const DB_FILE_NAME: &str = "switchyard.db";

/// Store errors. Messages never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    #[error("cannot connect to PostgreSQL at {target}: {source}")]
    Connect {
        /// `host:port/database` (never the password).
        target: String,
        source: sqlx::Error,
    },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("could not generate a unique API key after {0} attempts")]
    KeyCollision(u32),
}

/// Handle to the database. Cheap to clone (a connection pool).
#[derive(Debug, Clone)]
pub struct Store {
    /// Every write and every short read. For a SQLite file this is ONE
    /// connection: writes queue in-process (FIFO, no busy-sleeping on the
    /// file lock) instead of contending inside SQLite.
    pool: Pool,
    /// Long read-only queries (reports, request logs): a separate pool, so a
    /// 92-day report never delays a chat call's hold. The same pool as
    /// `pool` for PostgreSQL and in-memory SQLite.
    read: Pool,
    /// Keeps the SQLite checkpointer task running while any clone is alive.
    _alive: Option<std::sync::Arc<()>>,
}

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Read-only connections for reports on a SQLite file.
const SQLITE_READERS: u32 = 4;
/// How often the background checkpointer folds the SQLite WAL into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Folds the WAL into the database file (`PRAGMA wal_checkpoint(PASSIVE)`:
/// never waits for, nor blocks, readers and the writer) until every clone of
/// the store is dropped. Its fsyncs happen here, off the request path.
async fn checkpointer(opts: SqliteConnectOptions, alive: std::sync::Weak<()>) {
    let mut conn = match opts.connect().await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "SQLite checkpointer could not connect; the WAL grows until restart");
            return;
        }
    };
    while alive.strong_count() > 0 {
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut conn)
            .await
        {
            tracing::warn!(error = %e, "SQLite checkpoint failed");
        }
    }
    // Last one out: fold everything in, so the file is complete on its own.
    let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
}

/// Connections per PostgreSQL pool (per `switchyard` process).
const PG_MAX_CONNECTIONS: u32 = 16;
/// How long to wait for a PostgreSQL connection before failing.
const PG_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

impl Store {
    /// Opens (creating and migrating if needed) the database named by `target`:
    /// a `postgres://` / `postgresql://` URL (the database must exist; its
    /// tables are created), a `sqlite:` URL (e.g.
    /// `sqlite:///var/lib/sy/switchyard.db?mode=rwc`, `sqlite::memory:`), a
    /// path to a `.db`/`.sqlite` file, or a data directory (the file is
    /// `switchyard.db` inside it).
    pub async fn open(target: &str) -> Result<Store, StoreError> {
        let target = target.trim();
        if target.starts_with("postgres:") || target.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(target)
                .map_err(|e| StoreError::InvalidUrl(e.to_string()))?
                // No NOTICEs such as "relation … already exists, skipping" on every start.
                .options([("client_min_messages", "warning")]);
            return Self::open_postgres(opts).await;
        }
        if target.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(target)
                .map_err(|e| StoreError::InvalidUrl(e.to_string()))?;
            if is_memory(target) {
                return Self::open_memory(opts).await;
            }
            if let Some(parent) = opts.get_filename().parent() {
                create_dir(parent)?;
            }
            return Self::open_file(opts).await;
        }
        if target.is_empty() {
            return Err(StoreError::InvalidUrl("empty database location".into()));
        }
        let path = Path::new(target);
        let is_file = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "db" | "sqlite" | "sqlite3"))
            && !path.is_dir();
        let file = if is_file {
            if let Some(parent) = path.parent() {
                create_dir(parent)?;
            }
            path.to_path_buf()
        } else {
            create_dir(path)?;
            path.join(DB_FILE_NAME)
        };
        Self::open_file(SqliteConnectOptions::new().filename(file)).await
    }

    /// A private in-memory database (for tests).
    pub async fn open_in_memory() -> Result<Store, StoreError> {
        Self::open("sqlite::memory:").await
    }

    async fn open_file(opts: SqliteConnectOptions) -> Result<Store, StoreError> {
        let opts = opts
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            // No checkpoint inside a committing transaction (its fsyncs would
            // stall whichever request commits): `checkpointer` does it in the
            // background on its own connection.
            .pragma("wal_autocheckpoint", "0");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts.clone())
            .await?;
        SQLITE_MIGRATOR.run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(SQLITE_READERS)
            .connect_with(opts.clone())
            .await?;
        let alive = std::sync::Arc::new(());
        tokio::spawn(checkpointer(opts, std::sync::Arc::downgrade(&alive)));
        Ok(Store {
            pool: Pool::Sqlite(writer),
            read: Pool::Sqlite(reader),
            _alive: Some(alive),
        })
    }

    async fn open_memory(opts: SqliteConnectOptions) -> Result<Store, StoreError> {
        // Every in-memory connection is its own database: keep exactly one, forever.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(opts)
            .await?;
        Self::migrated(pool).await
    }

    async fn migrated(pool: SqlitePool) -> Result<Store, StoreError> {
        SQLITE_MIGRATOR.run(&pool).await?;
        Ok(Store {
            read: Pool::Sqlite(pool.clone()),
            pool: Pool::Sqlite(pool),
            _alive: None,
        })
    }

    async fn open_postgres(opts: PgConnectOptions) -> Result<Store, StoreError> {
        // One direct connection first, so that a wrong host, password or
        // database fails at once with the server's reason (the pool would
        // retry a refused connection until its timeout and then only say so).
        let probe = opts.connect().await.map_err(|source| StoreError::Connect {
            target: format!(
                "{}:{}/{}",
                opts.get_host(),
                opts.get_port(),
                opts.get_database().unwrap_or("")
            ),
            source,
        })?;
        probe.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(PG_MAX_CONNECTIONS)
            .acquire_timeout(PG_ACQUIRE_TIMEOUT)
            .connect_with(opts)
            .await?;
        // Concurrent migrations (several replicas starting at once) are
        // serialised by sqlx with an advisory lock.
        POSTGRES_MIGRATOR.run(&pool).await?;
        Ok(Store {
            read: Pool::Postgres(pool.clone()),
            pool: Pool::Postgres(pool),
            _alive: None,
        })
    }

    /// Which database this store uses: `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// Closes the pools, waiting for connections to finish.
    pub async fn close(&self) {
        db::on_pool!(&self.read, p => p.close().await);
        db::on_pool!(&self.pool, p => p.close().await);
    }
}

fn is_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

fn create_dir(path: &Path) -> Result<(), StoreError> {
    if path.as_os_str().is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(path).map_err(|source| StoreError::DataDir {
        path: path.display().to_string(),
        source,
    })
}

/// Current time in unix milliseconds.
pub fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
