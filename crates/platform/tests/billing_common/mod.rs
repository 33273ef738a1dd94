//! Shared fixtures of the money, rate-limit and report tests: a platform
//! over a fresh SQLite file or a fresh PostgreSQL database (skipped with a
//! message when `SWITCHYARD_TEST_POSTGRES_URL` is unset), a manual clock,
//! accounts and keys.
#![allow(dead_code)]

use std::{future::Future, path::PathBuf, sync::Arc};

use switchyard_config::PlatformConfig;
use switchyard_core::Prices;
use switchyard_platform::{
    Hold, HoldRequest, KeyAuth, KeyKind, KeyLimit, ManualClock, Nanos, Platform, PlatformError,
    RateLimits, Settlement,
};
use switchyard_store::{
    KeyLimitRow, NewAccountRow, NewKeyRow, RateRow, Store, UsageRow,
    testing::{PgTestDb, TEST_POSTGRES_ENV},
};

/// 2026-11-25T12:00:00Z, a Wednesday.
pub const T0: i64 = 1_795_608_000_000;

/// A platform under test and how to open another replica of its database.
pub struct Env {
    pub platform: Platform,
    pub clock: ManualClock,
    /// Where the database is (a SQLite file path or a PostgreSQL URL).
    pub target: String,
}

impl Env {
    pub fn store(&self) -> &Store {
        self.platform.store()
    }

    /// Another `Platform` on the same database through its own pool (a
    /// second replica), sharing the clock.
    pub async fn replica(&self) -> Platform {
        let store = Store::open(&self.target).await.unwrap();
        Platform::new(
            store,
            self.platform.config().clone(),
            Arc::new(self.clock.clone()),
        )
    }

    /// The same database with another policy.
    pub fn with_config(&self, config: PlatformConfig) -> Platform {
        Platform::new(self.store().clone(), config, Arc::new(self.clock.clone()))
    }
}

fn platform(store: Store, clock: &ManualClock) -> Platform {
    Platform::new(store, PlatformConfig::default(), Arc::new(clock.clone()))
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "switchyard-platform-{tag}-{}-{}",
        std::process::id(),
        switchyard_store::now_ms()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Runs `test` on a fresh SQLite file (several connections, like a server).
pub async fn with_sqlite<F, Fut>(tag: &str, test: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = temp_dir(tag);
    let target = dir.join("switchyard.db").display().to_string();
    let store = Store::open(&target).await.unwrap();
    assert_eq!(store.backend(), "sqlite");
    let clock = ManualClock::new(T0);
    let env = Env {
        platform: platform(store.clone(), &clock),
        clock,
        target,
    };
    let res = tokio::spawn(test(env)).await;
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = res {
        std::panic::resume_unwind(e.into_panic());
    }
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
    let clock = ManualClock::new(T0);
    let env = Env {
        platform: platform(store.clone(), &clock),
        clock,
        target: db.url().to_owned(),
    };
    let res = tokio::spawn(test(env)).await;
    store.close().await;
    db.drop_db().await.unwrap();
    if let Err(e) = res {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// For each `async fn name(env: Env)`, a module `name` with tests `sqlite` and `postgres`.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                $crate::billing_common::with_sqlite(stringify!($name), super::$name).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                $crate::billing_common::with_postgres(stringify!($name), super::$name).await;
            }
        }
    )*};
}

/// A fresh account (no balance).
pub async fn account(p: &Platform, is_admin: bool) -> String {
    let id = format!("acct_{}", unique());
    let created = p
        .store()
        .insert_account(
            &NewAccountRow {
                id: id.clone(),
                email: format!("{id}@example.com"),
                password_hash: None,
                is_admin,
                created_at: p.now_ms(),
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(created, switchyard_store::AccountInsert::Created);
    id
}

/// A fresh regular key of `account_id`, as authentication would describe it.
pub async fn key(
    p: &Platform,
    account_id: &str,
    is_admin: bool,
    limit: Option<KeyLimit>,
    rate: RateLimits,
) -> KeyAuth {
    let created = p
        .store()
        .create_key(&NewKeyRow {
            account_id: account_id.to_owned(),
            name: Some("test".into()),
            kind: "regular".into(),
            scopes: None,
            limit: limit.map(|l| KeyLimitRow {
                retention: l.retention.as_str().into(),
                threshold_nanos: l.threshold.0,
            }),
            rate: RateRow {
                rpm: rate.rpm.map(i64::from),
                tpm: rate.tpm.map(i64::from),
            },
        })
        .await
        .unwrap();
    KeyAuth {
        key_id: created.record.id,
        public_id: created.record.public_id,
        prefix: created.record.prefix,
        account_id: account_id.to_owned(),
        account_is_admin: is_admin,
        kind: KeyKind::Regular,
        scopes: None,
        rate,
    }
}

/// A process-unique suffix.
pub fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// $1 per million prompt tokens, $2 per million completion tokens:
/// a hold for 1000 + 1000 tokens is $0.003.
pub const PRICES: Prices = Prices {
    prompt: 1.0,
    cached_prompt: None,
    completion: 2.0,
};

/// What [`hold_request`] reserves.
pub const HOLD: Nanos = Nanos(3_000_000);

pub fn hold_request(auth: &KeyAuth) -> HoldRequest<'_> {
    HoldRequest {
        auth,
        prices: PRICES,
        prompt_tokens_max: 1000,
        completion_tokens_max: 1000,
    }
}

/// A ledger row of a call made with `auth` (settle fills the money columns).
pub fn usage(auth: Option<&KeyAuth>, request_id: &str, model: &str, created_at: i64) -> UsageRow {
    UsageRow {
        request_id: request_id.to_owned(),
        key_id: auth.map(|a| a.key_id.clone()),
        model: model.to_owned(),
        provider: "mock".into(),
        prompt_tokens: 400,
        cached_tokens: 0,
        completion_tokens: 600,
        reasoning_tokens: 0,
        cost_usd: 0.0,
        status_code: 200,
        outcome: "ok".into(),
        latency_ms: 12,
        ttft_ms: Some(3),
        created_at,
        account_id: auth.map(|a| a.account_id.clone()),
        inference_id: Some(format!("chatcmpl-{request_id}")),
        client_request_id: None,
        origin: "api".into(),
        charged_nanos: 0,
        succeeded: false,
    }
}

/// Settles `hold` as a success costing `cost`.
pub async fn settle_ok(p: &Platform, auth: &KeyAuth, hold: &Hold, cost: Nanos) -> bool {
    let row = usage(
        Some(auth),
        &format!("req-{}", hold.id),
        "mock/model",
        p.now_ms(),
    );
    p.settle(
        Some(hold),
        Settlement {
            row,
            cost,
            succeeded: true,
        },
    )
    .await
    .unwrap()
}

/// Grants `amount` as a BONUS.
pub async fn fund(p: &Platform, account_id: &str, amount: Nanos) {
    p.grant(
        account_id,
        amount,
        switchyard_platform::TxKind::Bonus,
        Some("test credit"),
        None,
    )
    .await
    .unwrap();
}

/// Balance = TOPUPs − CHARGEs, and the ledger's charges
/// equal the CHARGE transactions.
pub async fn assert_reconciles(p: &Platform, account_id: &str) {
    let w = p.wallet(account_id).await.unwrap();
    let t = p.transaction_totals(account_id).await.unwrap();
    assert_eq!(w.balance, t.topups.saturating_sub(t.charges), "{w:?} {t:?}");
    let everything = switchyard_platform::ReportRange {
        start_ms: 0,
        end_ms: i64::MAX,
    };
    let ledger = p.usage_summary(account_id, None, everything).await.unwrap();
    assert_eq!(
        ledger.spend, t.charges,
        "ledger charges vs CHARGE transactions"
    );
}

pub fn is_insufficient(e: &PlatformError) -> bool {
    matches!(e, PlatformError::InsufficientBalance { .. })
}

pub fn is_over_limit(e: &PlatformError) -> bool {
    matches!(e, PlatformError::KeyLimitExceeded { .. })
}

/// Unix ms of an RFC 3339 time.
pub fn ms(s: &str) -> i64 {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap();
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}
