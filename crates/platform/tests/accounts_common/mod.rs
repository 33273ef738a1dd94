//! Shared fixtures of the account and key tests: a platform over a fresh
//! SQLite file or a fresh PostgreSQL database (skipped with a message when
//! `SWITCHYARD_TEST_POSTGRES_URL` is unset), on a manual clock.
#![allow(dead_code)]

use std::{future::Future, path::PathBuf, sync::Arc, time::Duration};

use switchyard_config::PlatformConfig;
use switchyard_platform::{Account, ManualClock, Platform};
use switchyard_store::{
    Store,
    testing::{PgTestDb, TEST_POSTGRES_ENV},
};

/// 2026-11-25T12:00:00Z, a Wednesday.
pub const T0: i64 = 1_795_608_000_000;

/// A platform under test.
pub struct Env {
    pub platform: Platform,
    pub clock: ManualClock,
}

impl Env {
    pub fn store(&self) -> &Store {
        self.platform.store()
    }

    /// The same database and clock under another policy.
    pub fn with_config(&self, config: PlatformConfig) -> Platform {
        Platform::new(self.store().clone(), config, Arc::new(self.clock.clone()))
    }
}

/// The default policy, with throttling tuned for tests: 3 failures per minute.
pub fn test_config() -> PlatformConfig {
    PlatformConfig {
        login_max_failures: 3,
        login_window: Duration::from_secs(60),
        ..PlatformConfig::default()
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "switchyard-accounts-{tag}-{}-{}",
        std::process::id(),
        switchyard_store::now_ms()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

async fn run<F, Fut>(store: Store, test: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let clock = ManualClock::new(T0);
    let env = Env {
        platform: Platform::new(store.clone(), test_config(), Arc::new(clock.clone())),
        clock,
    };
    let res = tokio::spawn(test(env)).await;
    store.close().await;
    if let Err(e) = res {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Runs `test` on a fresh SQLite file (several connections, like a server).
pub async fn with_sqlite<F, Fut>(tag: &str, test: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = temp_dir(tag);
    let store = Store::open(dir.to_str().unwrap()).await.unwrap();
    assert_eq!(store.backend(), "sqlite");
    run(store, test).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `test` on a fresh PostgreSQL database, dropped afterwards.
pub async fn with_postgres<F, Fut>(tag: &str, test: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(db) = PgTestDb::create().await.unwrap() else {
        eprintln!("skipping {tag} on PostgreSQL: {TEST_POSTGRES_ENV} is not set");
        return;
    };
    let store = Store::open(db.url()).await.unwrap();
    assert_eq!(store.backend(), "postgres");
    run(store, test).await;
    db.drop_db().await.unwrap();
}

/// For each `async fn name(env: Env)`, a module `name` with tests `sqlite` and `postgres`.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                $crate::accounts_common::with_sqlite(stringify!($name), super::$name).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                $crate::accounts_common::with_postgres(stringify!($name), super::$name).await;
            }
        }
    )*};
}

pub const PASSWORD: &str = "correct horse battery";

/// Signs up `email` (open mode) with [`PASSWORD`].
pub async fn signup(p: &Platform, email: &str) -> Account {
    p.signup(email, PASSWORD, None).await.unwrap()
}
