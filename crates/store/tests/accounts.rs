#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Store tests for accounts, sessions, login failures, invites, settings,
//! account-scoped keys, and the migration of keys made before accounts
//! existed — each on SQLite and on PostgreSQL (skipped with a message when
//! `SWITCHYARD_TEST_POSTGRES_URL` is unset).

use std::{borrow::Cow, future::Future, path::PathBuf};

use switchyard_auth::{GeneratedKey, ParsedKey};
use switchyard_store::{
    AccountInsert, KeyCheck, KeyLimitRow, KeyUpdate, NewAccountRow, NewKeyRow, RateRow, Store,
    now_ms,
    testing::{PgTestDb, TEST_POSTGRES_ENV},
};

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "switchyard-store-accounts-{tag}-{}-{}",
        std::process::id(),
        now_ms()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Runs `test` on a fresh SQLite file and on a fresh PostgreSQL database.
async fn on_both<F, Fut>(tag: &str, test: F)
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = temp_dir(tag);
    let store = Store::open(dir.to_str().unwrap()).await.unwrap();
    let res = tokio::spawn(test(store.clone())).await;
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = res {
        std::panic::resume_unwind(e.into_panic());
    }

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

fn account(id: &str, email: &str, at: i64) -> NewAccountRow {
    NewAccountRow {
        id: id.into(),
        email: email.into(),
        password_hash: Some("$argon2id$fake".into()),
        is_admin: false,
        created_at: at,
    }
}

fn key_of(account_id: &str, name: &str) -> NewKeyRow {
    NewKeyRow {
        account_id: account_id.into(),
        name: Some(name.into()),
        kind: "regular".into(),
        scopes: None,
        limit: None,
        rate: RateRow::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accounts_are_unique_by_id_and_email_and_listed_oldest_first() {
    on_both("accounts", |s: Store| async move {
        assert_eq!(
            s.insert_account(&account("acct_b", "b@x.io", 20), None)
                .await
                .unwrap(),
            AccountInsert::Created
        );
        assert_eq!(
            s.insert_account(&account("acct_a", "a@x.io", 10), None)
                .await
                .unwrap(),
            AccountInsert::Created
        );
        for dup in [
            account("acct_c", "a@x.io", 30),
            account("acct_a", "c@x.io", 30),
        ] {
            assert_eq!(
                s.insert_account(&dup, None).await.unwrap(),
                AccountInsert::Taken
            );
        }
        let ids: Vec<_> = s
            .list_accounts()
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(ids, ["acct_a", "acct_b"]);
        let a = s.account_by_email("a@x.io").await.unwrap().unwrap();
        assert_eq!((a.balance_nanos, a.held_nanos, a.is_admin), (0, 0, false));
        assert!(!format!("{a:?}").contains("fake"), "hash redacted");

        assert!(s.first_admin().await.unwrap().is_none());
        assert!(s.set_account_admin("acct_b", true, 40).await.unwrap());
        assert!(s.set_account_admin("acct_a", true, 40).await.unwrap());
        assert_eq!(s.first_admin().await.unwrap().unwrap().id, "acct_a");
        assert!(s.set_account_disabled("acct_a", true, 41).await.unwrap());
        assert_eq!(s.first_admin().await.unwrap().unwrap().id, "acct_b");
        assert!(!s.set_account_disabled("acct_zz", true, 41).await.unwrap());

        assert!(
            s.set_account_rate("acct_b", Some(5), None, 42)
                .await
                .unwrap()
        );
        let b = s.account_by_id("acct_b").await.unwrap().unwrap();
        assert_eq!(
            (b.rpm_limit, b.tpm_limit, b.updated_at),
            (Some(5), None, 42)
        );

        assert!(
            s.promote_account("c@x.io", "h", 43)
                .await
                .is_ok_and(|found| !found)
        );
        assert!(s.set_account_admin("acct_b", false, 44).await.unwrap());
        assert!(
            s.promote_account("b@x.io", "$argon2id$new", 45)
                .await
                .unwrap()
        );
        let b = s.account_by_id("acct_b").await.unwrap().unwrap();
        assert!(b.is_admin);
        assert_eq!(b.password_hash.as_deref(), Some("$argon2id$new"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_invite_is_used_once_and_only_with_the_account() {
    on_both("invites", |s: Store| async move {
        s.insert_account(&account("acct_admin", "root@x.io", 1), None)
            .await
            .unwrap();
        s.insert_invite("hash1", "acct_admin", 100, 1_000)
            .await
            .unwrap();
        s.insert_invite("hash2", "acct_admin", 100, 200)
            .await
            .unwrap();
        // Email taken: the invite stays usable.
        assert_eq!(
            s.insert_account(&account("acct_x", "root@x.io", 150), Some("hash1"))
                .await
                .unwrap(),
            AccountInsert::Taken
        );
        assert_eq!(
            s.insert_account(&account("acct_1", "one@x.io", 150), Some("hash1"))
                .await
                .unwrap(),
            AccountInsert::Created
        );
        // Used.
        assert_eq!(
            s.insert_account(&account("acct_2", "two@x.io", 160), Some("hash1"))
                .await
                .unwrap(),
            AccountInsert::InviteUnusable
        );
        // Expired (expires_at 200 is not after 200) and unknown.
        for (code, at) in [("hash2", 200), ("nope", 160)] {
            assert_eq!(
                s.insert_account(&account("acct_2", "two@x.io", at), Some(code))
                    .await
                    .unwrap(),
                AccountInsert::InviteUnusable
            );
        }
        assert!(s.account_by_id("acct_2").await.unwrap().is_none());
        assert!(s.account_by_id("acct_x").await.unwrap().is_none());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sessions_failures_and_settings() {
    on_both("sessions", |s: Store| async move {
        s.insert_account(&account("acct_a", "a@x.io", 1), None)
            .await
            .unwrap();
        s.insert_session("th1", "acct_a", "csrf1", 100, 200)
            .await
            .unwrap();
        s.insert_session("th2", "acct_a", "csrf2", 100, 300)
            .await
            .unwrap();
        let got = s.session_by_hash("th1", 199).await.unwrap().unwrap();
        assert_eq!((got.csrf_token.as_str(), got.expires_at), ("csrf1", 200));
        assert_eq!(got.account.id, "acct_a");
        assert!(s.session_by_hash("th1", 200).await.unwrap().is_none());
        assert_eq!(s.delete_expired_sessions(200).await.unwrap(), 1);
        assert!(s.session_by_hash("th2", 250).await.unwrap().is_some());
        s.delete_session("th2").await.unwrap();
        assert!(s.session_by_hash("th2", 250).await.unwrap().is_none());
        s.insert_session("th3", "acct_a", "c", 100, 300)
            .await
            .unwrap();
        s.delete_account_sessions("acct_a").await.unwrap();
        assert!(s.session_by_hash("th3", 250).await.unwrap().is_none());

        for (email, client, at) in [
            ("a@x.io", "1.1.1.1", 10),
            ("a@x.io", "2.2.2.2", 20),
            ("b@x.io", "1.1.1.1", 30),
            ("a@x.io", "1.1.1.1", 40),
        ] {
            s.record_login_failure(email, client, at, 0).await.unwrap();
        }
        assert_eq!(
            s.recent_failures_for_email("a@x.io", 0, 10).await.unwrap(),
            [40, 20, 10]
        );
        assert_eq!(
            s.recent_failures_for_email("a@x.io", 10, 2).await.unwrap(),
            [40, 20]
        );
        assert_eq!(
            s.recent_failures_for_client("1.1.1.1", 0, 10)
                .await
                .unwrap(),
            [40, 30, 10]
        );
        s.clear_login_failures("a@x.io").await.unwrap();
        assert!(
            s.recent_failures_for_email("a@x.io", 0, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            s.recent_failures_for_client("1.1.1.1", 0, 10)
                .await
                .unwrap(),
            [30]
        );
        // Recording prunes what has aged out.
        s.record_login_failure("c@x.io", "3.3.3.3", 50, 30)
            .await
            .unwrap();
        assert!(
            s.recent_failures_for_client("1.1.1.1", 0, 10)
                .await
                .unwrap()
                .is_empty()
        );

        assert_eq!(s.setting("signup_mode").await.unwrap(), None);
        s.put_setting("signup_mode", "invite", 1).await.unwrap();
        s.put_setting("signup_mode", "closed", 2).await.unwrap();
        assert_eq!(
            s.setting("signup_mode").await.unwrap().as_deref(),
            Some("closed")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keys_are_scoped_to_their_account_and_updated_in_place() {
    on_both("account-keys", |s: Store| async move {
        let a1 = s.create_key(&key_of("acct_a", "a1")).await.unwrap();
        let mut mgmt = key_of("acct_a", "am");
        mgmt.kind = "management".into();
        mgmt.scopes = Some(vec!["model:chat".into()]);
        mgmt.limit = Some(KeyLimitRow {
            retention: "day".into(),
            threshold_nanos: 9,
        });
        mgmt.rate = RateRow {
            rpm: Some(1),
            tpm: Some(2),
        };
        let am = s.create_key(&mgmt).await.unwrap();
        let b1 = s.create_key(&key_of("acct_b", "b1")).await.unwrap();

        let stored = s
            .account_key_by_prefix("acct_a", &am.record.prefix)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored, am.record);
        assert_eq!(
            s.key_by_id(&am.record.id).await.unwrap(),
            Some(am.record.clone())
        );
        assert_eq!(
            s.list_account_keys("acct_a", Some("regular"))
                .await
                .unwrap(),
            vec![a1.record.clone()]
        );
        assert_eq!(s.list_account_keys("acct_a", None).await.unwrap().len(), 2);
        assert_eq!(s.list_keys().await.unwrap().len(), 3);
        assert!(
            s.account_key_by_prefix("acct_a", &b1.record.prefix)
                .await
                .unwrap()
                .is_none()
        );

        // Another account's prefix changes nothing.
        let all = KeyUpdate {
            name: Some(None),
            disabled: Some(true),
            scopes: Some(Some(vec![])),
            limit: Some(None),
            rate: Some(RateRow::default()),
        };
        assert!(
            s.update_account_key("acct_a", &b1.record.prefix, &all, 50)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            !s.delete_account_key("acct_a", &b1.record.prefix, 50)
                .await
                .unwrap()
        );
        assert_eq!(
            s.key_by_prefix(&b1.record.prefix).await.unwrap(),
            Some(b1.record.clone())
        );

        // Only flagged fields change.
        let v = s
            .update_account_key(
                "acct_a",
                &am.record.prefix,
                &KeyUpdate {
                    disabled: Some(true),
                    ..KeyUpdate::default()
                },
                51,
            )
            .await
            .unwrap()
            .unwrap();
        assert!(v.disabled);
        assert_eq!(v.updated_at, 51);
        assert_eq!(v.created_at, am.record.created_at);
        assert_eq!(
            (&v.name, &v.scopes, &v.limit, v.rate),
            (
                &am.record.name,
                &am.record.scopes,
                &am.record.limit,
                am.record.rate
            )
        );
        let v = s
            .update_account_key("acct_a", &am.record.prefix, &all, 52)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (v.name, v.disabled, v.scopes, v.limit, v.rate),
            (None, true, Some(vec![]), None, RateRow::default())
        );
        assert!(
            s.delete_account_key("acct_a", &am.record.prefix, 53)
                .await
                .unwrap()
        );
        assert!(s.key_by_id(&am.record.id).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_operator_sets_a_keys_rate_by_prefix_whichever_account_owns_it() {
    on_both("key-rate", |s: Store| async move {
        let a1 = s.create_key_at(&key_of("acct_a", "a1"), 10).await.unwrap();
        let b1 = s.create_key_at(&key_of("acct_b", "b1"), 10).await.unwrap();
        let rate = RateRow {
            rpm: Some(7),
            tpm: Some(0),
        };
        assert!(s.set_key_rate(&b1.record.prefix, rate, 60).await.unwrap());
        let b = s.key_by_prefix(&b1.record.prefix).await.unwrap().unwrap();
        assert_eq!(
            (b.rate, b.updated_at, b.account_id.as_str()),
            (rate, 60, "acct_b")
        );
        // The other account's key is untouched.
        assert_eq!(
            s.key_by_prefix(&a1.record.prefix).await.unwrap(),
            Some(a1.record.clone())
        );
        // The key's authentication record carries the new limits.
        let auth = s
            .find_key_for_auth(&b1.record.public_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(auth.rate, rate);
        // Back to inheriting.
        assert!(
            s.set_key_rate(&b1.record.prefix, RateRow::default(), 61)
                .await
                .unwrap()
        );
        let b = s.key_by_prefix(&b1.record.prefix).await.unwrap().unwrap();
        assert_eq!(b.rate, RateRow::default());
        // Unknown and deleted keys: nothing to set.
        assert!(!s.set_key_rate("sy_nope0", rate, 62).await.unwrap());
        assert!(s.delete_key(&b1.record.prefix).await.unwrap());
        assert!(!s.set_key_rate(&b1.record.prefix, rate, 63).await.unwrap());
    })
    .await;
}

/// Inserts keys as the pre-account binary did: `scopes` `[]` (every scope
/// then) for the first, `["model:chat"]` for the second.
macro_rules! insert_old_keys {
    ($pool:expr, $keys:expr) => {
        for (i, k) in $keys.iter().enumerate() {
            let scopes = if i == 0 { "[]" } else { "[\"model:chat\"]" };
            sqlx::query(
                "INSERT INTO api_keys (id, public_id, prefix, key_hash, name, disabled, scopes, \
                 deleted_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, FALSE, $6, NULL, $7, $7)",
            )
            .bind(format!("key_old{i}"))
            .bind(&k.public_id)
            .bind(&k.prefix)
            .bind(hex(&k.hash))
            .bind(format!("old{i}"))
            .bind(scopes)
            .bind(1_000 + i as i64)
            .execute($pool)
            .await
            .unwrap();
        }
    };
}

/// Creates a database with only the first migration (keys and usage, no
/// accounts), puts two keys in it the way the old binary did, then opens it
/// with the current store (which runs the platform migration).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keys_made_before_accounts_go_to_the_bootstrap_administrator() {
    let old_keys = [GeneratedKey::new(), GeneratedKey::new()];

    // SQLite.
    let dir = temp_dir("migrate");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("switchyard.db");
    {
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&file)
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
        first_migration_only("sqlite")
            .await
            .run(&pool)
            .await
            .unwrap();
        insert_old_keys!(&pool, &old_keys);
        pool.close().await;
    }
    let store = Store::open(file.to_str().unwrap()).await.unwrap();
    check_migrated(&store, &old_keys).await;
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);

    // PostgreSQL.
    let Some(db) = PgTestDb::create().await.unwrap() else {
        eprintln!("skipping the migration test on PostgreSQL: {TEST_POSTGRES_ENV} is not set");
        return;
    };
    {
        let pool = sqlx::PgPool::connect(db.url()).await.unwrap();
        first_migration_only("postgres")
            .await
            .run(&pool)
            .await
            .unwrap();
        insert_old_keys!(&pool, &old_keys);
        pool.close().await;
    }
    let store = Store::open(db.url()).await.unwrap();
    check_migrated(&store, &old_keys).await;
    store.close().await;
    db.drop_db().await.unwrap();
}

/// A fresh database gets no bootstrap account from the migration.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fresh_database_has_no_accounts() {
    on_both("fresh", |s: Store| async move {
        assert!(s.list_accounts().await.unwrap().is_empty());
        assert!(s.first_admin().await.unwrap().is_none());
    })
    .await;
}

async fn first_migration_only(backend: &str) -> sqlx::migrate::Migrator {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let all = sqlx::migrate::Migrator::new(dir).await.unwrap();
    let first: Vec<_> = all
        .migrations
        .iter()
        .filter(|m| m.version == 1)
        .cloned()
        .collect();
    assert_eq!(first.len(), 1);
    sqlx::migrate::Migrator {
        migrations: Cow::Owned(first),
        ..sqlx::migrate::Migrator::DEFAULT
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn check_migrated(store: &Store, old: &[GeneratedKey; 2]) {
    let admin = store.first_admin().await.unwrap().unwrap();
    assert_eq!(admin.id, "acct_bootstrap");
    assert_eq!(admin.email, "admin@localhost");
    assert!(admin.is_admin && !admin.disabled);
    assert_eq!(admin.password_hash, None);
    assert_eq!(admin.created_at, 1_000);
    assert_eq!(store.list_accounts().await.unwrap().len(), 1);

    let keys = store.list_keys().await.unwrap();
    assert_eq!(keys.len(), 2);
    for k in &keys {
        assert_eq!(k.account_id, "acct_bootstrap");
        assert_eq!(k.kind, "regular");
        assert_eq!((k.limit.clone(), k.rate), (None, RateRow::default()));
    }
    assert_eq!(keys[0].scopes, None, "`[]` meant every scope");
    assert_eq!(keys[1].scopes, Some(vec!["model:chat".to_string()]));

    for k in old {
        match store
            .check_key(&ParsedKey::parse(&k.secret).unwrap())
            .await
            .unwrap()
        {
            KeyCheck::Valid(rec) => {
                let acct = rec.account.clone().unwrap();
                assert_eq!(acct.id, "acct_bootstrap");
                assert!(acct.is_admin && !acct.disabled);
            }
            other => panic!("{other:?}"),
        }
    }
}
