#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Store tests. The ones listed in `on_both!` run on SQLite (a fresh file)
//! and on PostgreSQL (a fresh database on the server named by
//! `SWITCHYARD_TEST_POSTGRES_URL`; skipped with a message when it is unset,
//! failing when it is set but unusable).

use std::future::Future;

use switchyard_auth::ParsedKey;
use switchyard_store::{
    KeyCheck, NewKeyRow, RateRow, Store, UsageRow, now_ms,
    testing::{PgTestDb, TEST_POSTGRES_ENV},
};

/// Runs `test` on a fresh SQLite file store.
async fn with_sqlite<F, Fut>(tag: &str, test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = temp_dir(tag);
    let store = Store::open(dir.to_str().unwrap()).await.unwrap();
    assert_eq!(store.backend(), "sqlite");
    let res = tokio::spawn(test(store.clone())).await;
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = res {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Runs `test` on a fresh PostgreSQL database, dropped afterwards (also when the test fails).
async fn with_postgres<F, Fut>(tag: &str, test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(db) = PgTestDb::create().await.unwrap() else {
        eprintln!("skipping {tag} on PostgreSQL: {TEST_POSTGRES_ENV} is not set");
        return;
    };
    let store = Store::open(db.url()).await.unwrap();
    assert_eq!(store.backend(), "postgres");
    let res = tokio::spawn(test(store.clone())).await;
    store.close().await;
    db.drop_db().await.unwrap();
    if let Err(e) = res {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// For each `async fn name(store: Store)`, a module `name` with tests `sqlite` and `postgres`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::with_sqlite(stringify!($name), super::$name).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::with_postgres(stringify!($name), super::$name).await;
            }
        }
    )*};
}

on_both!(
    created_key_authenticates_and_only_its_hash_is_stored,
    a_key_with_the_same_public_id_but_other_secret_is_unknown,
    disable_enable_and_soft_delete_by_prefix,
    usage_is_recorded_once_per_request_id,
    concurrent_inserts_of_the_same_request_id_yield_one_row,
    concurrent_key_creation_gives_distinct_keys,
);

/// A regular key of account `acct_test` with every scope unless given.
fn new_key(name: Option<&str>, scopes: Option<Vec<String>>) -> NewKeyRow {
    NewKeyRow {
        account_id: "acct_test".into(),
        name: name.map(str::to_owned),
        kind: "regular".into(),
        scopes,
        limit: None,
        rate: RateRow::default(),
    }
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "switchyard-store-{tag}-{}-{}",
        std::process::id(),
        now_ms()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn row(id: &str) -> UsageRow {
    UsageRow {
        request_id: id.into(),
        key_id: Some("key_1".into()),
        model: "x-ai/grok-beta".into(),
        provider: "xai".into(),
        prompt_tokens: 77,
        cached_tokens: 5,
        completion_tokens: 926,
        reasoning_tokens: 3,
        cost_usd: 0.0142,
        status_code: 200,
        outcome: "ok".into(),
        latency_ms: 1234,
        ttft_ms: Some(56),
        created_at: now_ms(),
        account_id: Some("acct_1".into()),
        inference_id: Some(format!("chatcmpl-{id}")),
        client_request_id: Some("customer-42".into()),
        origin: "playground".into(),
        charged_nanos: 14_200_000,
        succeeded: true,
    }
}

#[tokio::test]
async fn data_dir_is_created_and_migrated_and_reopens() {
    let dir = temp_dir("dir").join("nested");
    let store = Store::open(dir.to_str().unwrap()).await.unwrap();
    let created = store
        .create_key(&new_key(Some("first"), None))
        .await
        .unwrap();
    store.close().await;
    assert!(dir.join("switchyard.db").is_file());

    // Reopening runs migrations again (a no-op) and sees the same data.
    let store = Store::open(dir.to_str().unwrap()).await.unwrap();
    let keys = store.list_keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].prefix, created.record.prefix);
    store.close().await;
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}

/// The SQLite WAL is folded into the database file by the background
/// checkpointer (not by whichever request happens to commit), while the store
/// is in use and once more when the last handle is dropped.
#[tokio::test]
async fn sqlite_wal_is_checkpointed_in_the_background() {
    let dir = temp_dir("wal");
    let store = Store::open(dir.to_str().unwrap()).await.unwrap();
    for i in 0..200 {
        assert!(store.record_usage(&row(&format!("w{i}"))).await.unwrap());
    }
    let wal = dir.join("switchyard.db-wal");
    let db = dir.join("switchyard.db");
    let db_len = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let before = db_len(&db);
    // While open: within a few checkpoint periods the rows reach the main file.
    let mut grew = false;
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if db_len(&db) > before {
            grew = true;
            break;
        }
    }
    assert!(grew, "the database file never received the WAL's pages");
    // After the last handle is gone: the WAL is truncated.
    store.close().await;
    drop(store);
    let mut truncated = false;
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if db_len(&wal) == 0 {
            truncated = true;
            break;
        }
    }
    assert!(truncated, "WAL still {} bytes", db_len(&wal));
    let reopened = Store::open(dir.to_str().unwrap()).await.unwrap();
    assert_eq!(reopened.count_usage(None).await.unwrap(), 200);
    reopened.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn sqlite_url_with_mode_rwc_creates_the_file() {
    let dir = temp_dir("url");
    let file = dir.join("sub").join("ledger.db");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let store = Store::open(&url).await.unwrap();
    assert!(store.record_usage(&row("r1")).await.unwrap());
    store.close().await;
    assert!(file.is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn unreachable_postgres_fails_at_once_with_the_reason() {
    // Port 1 on loopback: nothing listens there.
    let started = std::time::Instant::now();
    let err = Store::open("postgres://sy:secret-pw@127.0.0.1:1/x")
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("PostgreSQL at 127.0.0.1:1/x"), "{msg}");
    assert!(!msg.contains("secret-pw"), "{msg}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{msg}"
    );
    let err = Store::open("postgres://[bad").await.unwrap_err();
    assert!(err.to_string().contains("invalid database URL"), "{err}");
}

#[tokio::test]
async fn postgres_store_reopens_with_its_data() {
    let Some(db) = PgTestDb::create().await.unwrap() else {
        eprintln!("skipping on PostgreSQL: {TEST_POSTGRES_ENV} is not set");
        return;
    };
    let store = Store::open(db.url()).await.unwrap();
    let created = store
        .create_key(&new_key(Some("first"), None))
        .await
        .unwrap();
    assert!(store.record_usage(&row("r1")).await.unwrap());
    store.close().await;
    // Reopening runs migrations again (a no-op) and sees the same data.
    let store = Store::open(db.url()).await.unwrap();
    let keys = store.list_keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].prefix, created.record.prefix);
    assert_eq!(store.count_usage(None).await.unwrap(), 1);
    store.close().await;
    db.drop_db().await.unwrap();
}

async fn created_key_authenticates_and_only_its_hash_is_stored(store: Store) {
    let created = store
        .create_key(&new_key(Some("ci"), Some(vec!["model:chat".to_string()])))
        .await
        .unwrap();
    assert_eq!(created.record.prefix, &created.secret[..8]);
    assert!(!format!("{created:?}").contains(&created.secret));

    let parsed = ParsedKey::parse(&created.secret).unwrap();
    match store.check_key(&parsed).await.unwrap() {
        KeyCheck::Valid(rec) => {
            assert_eq!(rec.id, created.record.id);
            assert_eq!(rec.public_id, created.record.public_id);
            assert!(rec.hash_matches(&parsed.hash()));
        }
        other => panic!("expected valid, got {other:?}"),
    }

    let listed = store.list_keys().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name.as_deref(), Some("ci"));
    assert_eq!(listed[0].scopes, Some(vec!["model:chat".to_string()]));
    assert!(!listed[0].disabled);
}

async fn a_key_with_the_same_public_id_but_other_secret_is_unknown(store: Store) {
    let created = store.create_key(&new_key(None, None)).await.unwrap();
    let other = store.create_key(&new_key(None, None)).await.unwrap();
    assert_ne!(created.record.prefix, other.record.prefix);
    // Unknown public id.
    let stranger = switchyard_auth::GeneratedKey::new();
    let parsed = ParsedKey::parse(&stranger.secret).unwrap();
    assert_eq!(store.check_key(&parsed).await.unwrap(), KeyCheck::Unknown);
    // The stored record does not match another key's hash.
    let rec = store
        .find_key_for_auth(&created.record.public_id)
        .await
        .unwrap()
        .unwrap();
    assert!(!rec.hash_matches(&stranger.hash));
}

async fn disable_enable_and_soft_delete_by_prefix(store: Store) {
    let k = store.create_key(&new_key(Some("k"), None)).await.unwrap();
    let parsed = ParsedKey::parse(&k.secret).unwrap();

    assert!(store.set_disabled(&k.record.prefix, true).await.unwrap());
    assert_eq!(store.check_key(&parsed).await.unwrap(), KeyCheck::Disabled);
    assert!(store.list_keys().await.unwrap()[0].disabled);

    assert!(store.set_disabled(&k.record.prefix, false).await.unwrap());
    assert!(matches!(
        store.check_key(&parsed).await.unwrap(),
        KeyCheck::Valid(_)
    ));

    assert!(store.delete_key(&k.record.prefix).await.unwrap());
    assert_eq!(store.check_key(&parsed).await.unwrap(), KeyCheck::Deleted);
    assert!(store.list_keys().await.unwrap().is_empty());
    assert!(
        store
            .key_by_prefix(&k.record.prefix)
            .await
            .unwrap()
            .is_none()
    );
    // Deleted keys can be neither deleted again nor re-enabled.
    assert!(!store.delete_key(&k.record.prefix).await.unwrap());
    assert!(!store.set_disabled(&k.record.prefix, false).await.unwrap());
    assert!(!store.set_disabled("nonexist", true).await.unwrap());
}

async fn usage_is_recorded_once_per_request_id(store: Store) {
    let r = row("gen-1-abc");
    assert!(store.record_usage(&r).await.unwrap());
    let mut dup = r.clone();
    dup.completion_tokens = 1;
    dup.outcome = "client_disconnected".into();
    assert!(!store.record_usage(&dup).await.unwrap());
    assert_eq!(store.count_usage(Some("gen-1-abc")).await.unwrap(), 1);
    let got = store.usage_for_request("gen-1-abc").await.unwrap().unwrap();
    assert_eq!(got, r);

    let mut other = row("gen-2-def");
    other.key_id = None;
    other.ttft_ms = None;
    other.status_code = 502;
    other.outcome = "upstream_error".into();
    other.account_id = None;
    other.inference_id = None;
    other.client_request_id = None;
    other.origin = "api".into();
    other.charged_nanos = 0;
    other.succeeded = false;
    assert!(store.record_usage(&other).await.unwrap());
    assert_eq!(store.count_usage(None).await.unwrap(), 2);
    let recent = store.recent_usage(10).await.unwrap();
    assert_eq!(recent.len(), 2);
    assert!(recent.contains(&other));
    assert!(store.usage_for_request("missing").await.unwrap().is_none());
}

async fn concurrent_inserts_of_the_same_request_id_yield_one_row(store: Store) {
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = store.clone();
        tasks.push(tokio::spawn(
            async move { s.record_usage(&row("same")).await },
        ));
    }
    let mut inserted = 0;
    for t in tasks {
        if t.await.unwrap().unwrap() {
            inserted += 1;
        }
    }
    assert_eq!(inserted, 1);
    assert_eq!(store.count_usage(Some("same")).await.unwrap(), 1);
    assert_eq!(store.count_usage(None).await.unwrap(), 1);
}

async fn concurrent_key_creation_gives_distinct_keys(store: Store) {
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.create_key(&new_key(Some(&format!("k{i}")), None)).await
        }));
    }
    let mut prefixes = std::collections::HashSet::new();
    for t in tasks {
        let created = t.await.unwrap().unwrap();
        let parsed = ParsedKey::parse(&created.secret).unwrap();
        assert!(matches!(
            store.check_key(&parsed).await.unwrap(),
            KeyCheck::Valid(_)
        ));
        prefixes.insert(created.record.prefix);
    }
    assert_eq!(prefixes.len(), 16);
    assert_eq!(store.list_keys().await.unwrap().len(), 16);
}
