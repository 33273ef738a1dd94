#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Keys that belong to accounts: kinds, scopes, limits, ownership, updates,
//! authentication and monthly usage — on SQLite and PostgreSQL.

mod accounts_common;

use accounts_common::*;
use switchyard_auth::{GeneratedKey, ParsedKey};
use switchyard_platform::{
    KeyAuthResult, KeyKind, KeyLimit, KeyPatch, Nanos, NewKey, PlatformError, RateLimits,
    Retention, Scope,
};
use switchyard_store::UsageRow;

on_both!(
    keys_are_created_listed_by_kind_and_read_back,
    scopes_are_null_or_a_list,
    invalid_key_fields_name_the_parameter,
    an_account_never_sees_or_changes_another_accounts_key,
    patches_change_only_the_given_fields,
    deleted_keys_are_gone_and_refused,
    authenticate_tells_valid_disabled_deleted_and_disabled_account_apart,
    authenticate_merges_key_and_account_rate_limits,
    the_operator_sets_a_keys_rate_by_prefix_and_it_is_enforced,
    monthly_usage_counts_this_months_charges_only,
);

fn regular(name: &str) -> NewKey {
    NewKey {
        name: Some(name.into()),
        kind: KeyKind::Regular,
        scopes: None,
        limit: None,
    }
}

fn management(name: &str) -> NewKey {
    NewKey {
        kind: KeyKind::Management,
        ..regular(name)
    }
}

fn parsed(secret: &str) -> ParsedKey {
    ParsedKey::parse(secret).unwrap()
}

async fn keys_are_created_listed_by_kind_and_read_back(env: Env) {
    let p = &env.platform;
    let a = signup(p, "a@example.com").await;
    let limit = KeyLimit {
        retention: Retention::Week,
        threshold: Nanos(5_000_000_000),
    };
    let r1 = p
        .create_key(
            &a.id,
            NewKey {
                limit: Some(limit),
                ..regular("first")
            },
        )
        .await
        .unwrap();
    assert!(!format!("{r1:?}").contains(&r1.secret));
    assert_eq!(parsed(&r1.secret).prefix(), r1.info.prefix);
    assert_eq!(r1.info.name.as_deref(), Some("first"));
    assert_eq!(r1.info.kind, KeyKind::Regular);
    assert!(!r1.info.disabled);
    assert_eq!(r1.info.limit, Some(limit));
    assert_eq!(r1.info.rate, RateLimits::default());
    assert_eq!(r1.info.monthly_usage, Nanos::ZERO);
    // Stamped by the platform's clock.
    assert_eq!((r1.info.created_at, r1.info.updated_at), (T0, T0));
    let m1 = p.create_key(&a.id, management("admin tool")).await.unwrap();
    assert_eq!(m1.info.kind, KeyKind::Management);
    env.clock.advance_ms(1);
    let r2 = p
        .create_key(
            &a.id,
            NewKey {
                name: None,
                ..regular("")
            },
        )
        .await
        .unwrap();
    assert_eq!(r2.info.name, None);

    let prefixes = |keys: Vec<switchyard_platform::KeyInfo>| {
        keys.into_iter().map(|k| k.prefix).collect::<Vec<_>>()
    };
    assert_eq!(
        prefixes(p.list_keys(&a.id, Some(KeyKind::Regular)).await.unwrap()),
        vec![r1.info.prefix.clone(), r2.info.prefix.clone()]
    );
    assert_eq!(
        prefixes(p.list_keys(&a.id, Some(KeyKind::Management)).await.unwrap()),
        vec![m1.info.prefix.clone()]
    );
    assert_eq!(p.list_keys(&a.id, None).await.unwrap().len(), 3);

    let got = p.key(&a.id, &r1.info.prefix).await.unwrap().unwrap();
    assert_eq!(got, r1.info);
    assert_eq!(
        p.key_by_id(&r1.info.id).await.unwrap(),
        Some(r1.info.clone())
    );
    assert_eq!(p.key_by_id("key_missing").await.unwrap(), None);
    assert_eq!(p.key(&a.id, "sy_nope0").await.unwrap(), None);

    // Keys of unknown accounts cannot be made.
    assert!(matches!(
        p.create_key("acct_missing", regular("x")).await,
        Err(PlatformError::NotFound(_))
    ));
}

async fn scopes_are_null_or_a_list(env: Env) {
    let p = &env.platform;
    let a = signup(p, "a@example.com").await;
    let all = p.create_key(&a.id, regular("all")).await.unwrap();
    assert_eq!(all.info.scopes, None);
    env.clock.advance_ms(1);
    let some = p
        .create_key(
            &a.id,
            NewKey {
                scopes: Some(vec![Scope::Image, Scope::Chat, Scope::Image]),
                ..regular("some")
            },
        )
        .await
        .unwrap();
    assert_eq!(some.info.scopes, Some(vec![Scope::Image, Scope::Chat]));
    env.clock.advance_ms(1);
    let none = p
        .create_key(
            &a.id,
            NewKey {
                scopes: Some(vec![]),
                ..regular("none")
            },
        )
        .await
        .unwrap();
    assert_eq!(none.info.scopes, Some(vec![]));

    // Stored as JSON `null` vs arrays.
    let rows = p.store().list_account_keys(&a.id, None).await.unwrap();
    let stored: Vec<_> = rows.iter().map(|r| r.scopes.clone()).collect();
    assert_eq!(
        stored,
        vec![
            None,
            Some(vec!["model:image".to_string(), "model:chat".to_string()]),
            Some(vec![])
        ]
    );

    // Authentication carries them.
    for (k, want) in [
        (&all, None),
        (&some, Some(vec![Scope::Image, Scope::Chat])),
        (&none, Some(vec![])),
    ] {
        match p.authenticate(&parsed(&k.secret)).await.unwrap() {
            KeyAuthResult::Valid(auth) => assert_eq!(auth.scopes, want),
            other => panic!("{other:?}"),
        }
    }
    // null → list → null.
    let patched = p
        .update_key(
            &a.id,
            &all.info.prefix,
            KeyPatch {
                scopes: Some(Some(vec![Scope::Embeddings])),
                ..KeyPatch::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(patched.scopes, Some(vec![Scope::Embeddings]));
    let patched = p
        .update_key(
            &a.id,
            &all.info.prefix,
            KeyPatch {
                scopes: Some(None),
                ..KeyPatch::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(patched.scopes, None);
}

async fn invalid_key_fields_name_the_parameter(env: Env) {
    let p = &env.platform;
    let a = signup(p, "a@example.com").await;
    let param = |r: Result<_, PlatformError>| match r {
        Err(PlatformError::InvalidInput { param, .. }) => param,
        other => panic!("{:?}", other.map(|_: ()| ())),
    };
    let long = "n".repeat(257);
    assert_eq!(
        param(p.create_key(&a.id, regular(&long)).await.map(|_| ())),
        "name"
    );
    let negative = NewKey {
        limit: Some(KeyLimit {
            retention: Retention::Day,
            threshold: Nanos(-1),
        }),
        ..regular("x")
    };
    assert_eq!(
        param(p.create_key(&a.id, negative).await.map(|_| ())),
        "limit.threshold"
    );
    assert!(p.list_keys(&a.id, None).await.unwrap().is_empty());

    let k = p.create_key(&a.id, regular("ok")).await.unwrap();
    let patch = KeyPatch {
        name: Some(Some("n".repeat(257))),
        disabled: Some(true),
        ..KeyPatch::default()
    };
    assert_eq!(
        param(p.update_key(&a.id, &k.info.prefix, patch).await.map(|_| ())),
        "name"
    );
    // Nothing was applied.
    assert!(
        !p.key(&a.id, &k.info.prefix)
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    // 256 characters are fine.
    let ok = "é".repeat(256);
    assert_eq!(
        p.create_key(&a.id, regular(&ok)).await.unwrap().info.name,
        Some(ok)
    );
}

async fn an_account_never_sees_or_changes_another_accounts_key(env: Env) {
    let p = &env.platform;
    let a = signup(p, "a@example.com").await;
    let b = signup(p, "b@example.com").await;
    let ka = p.create_key(&a.id, regular("a's")).await.unwrap();
    let kb = p.create_key(&b.id, regular("b's")).await.unwrap();
    let mb = p.create_key(&b.id, management("b's mgmt")).await.unwrap();

    for prefix in [&kb.info.prefix, &mb.info.prefix] {
        assert_eq!(p.key(&a.id, prefix).await.unwrap(), None);
        let patch = KeyPatch {
            name: Some(Some("stolen".into())),
            disabled: Some(true),
            scopes: Some(Some(vec![])),
            limit: Some(Some(KeyLimit {
                retention: Retention::Day,
                threshold: Nanos(1),
            })),
            rate: Some(RateLimits {
                rpm: Some(1),
                tpm: Some(1),
            }),
        };
        assert_eq!(p.update_key(&a.id, prefix, patch).await.unwrap(), None);
        assert!(!p.delete_key(&a.id, prefix).await.unwrap());
    }
    // B's keys are untouched and still work.
    let kb_now = p.key(&b.id, &kb.info.prefix).await.unwrap().unwrap();
    assert_eq!(kb_now, kb.info);
    assert!(matches!(
        p.authenticate(&parsed(&kb.secret)).await.unwrap(),
        KeyAuthResult::Valid(_)
    ));
    assert!(p.key(&b.id, &mb.info.prefix).await.unwrap().is_some());
    // Listings hold only the account's own keys.
    let listed: Vec<_> = p
        .list_keys(&a.id, None)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.prefix)
        .collect();
    assert_eq!(listed, vec![ka.info.prefix.clone()]);
    assert_eq!(p.list_keys(&b.id, None).await.unwrap().len(), 2);
}

async fn patches_change_only_the_given_fields(env: Env) {
    let p = &env.platform;
    let a = signup(p, "a@example.com").await;
    let limit = KeyLimit {
        retention: Retention::Month,
        threshold: Nanos(2_000_000_000),
    };
    let k = p
        .create_key(
            &a.id,
            NewKey {
                scopes: Some(vec![Scope::Chat]),
                limit: Some(limit),
                ..regular("orig")
            },
        )
        .await
        .unwrap();
    let prefix = k.info.prefix.clone();
    env.clock.advance_ms(60_000);
    let upd = |patch: KeyPatch| {
        let (p, a, prefix) = (p.clone(), a.id.clone(), prefix.clone());
        async move { p.update_key(&a, &prefix, patch).await.unwrap().unwrap() }
    };

    let v = upd(KeyPatch {
        disabled: Some(true),
        ..KeyPatch::default()
    })
    .await;
    assert!(v.disabled);
    assert_eq!(
        (v.name.as_deref(), v.scopes.clone(), v.limit),
        (Some("orig"), Some(vec![Scope::Chat]), Some(limit))
    );

    let v = upd(KeyPatch {
        name: Some(Some("renamed".into())),
        rate: Some(RateLimits {
            rpm: Some(30),
            tpm: None,
        }),
        ..KeyPatch::default()
    })
    .await;
    assert_eq!(v.name.as_deref(), Some("renamed"));
    assert!(v.disabled, "untouched");
    assert_eq!(
        v.rate,
        RateLimits {
            rpm: Some(30),
            tpm: None
        }
    );
    assert_eq!(v.limit, Some(limit));

    let day = KeyLimit {
        retention: Retention::Day,
        threshold: Nanos(0),
    };
    let v = upd(KeyPatch {
        limit: Some(Some(day)),
        disabled: Some(false),
        ..KeyPatch::default()
    })
    .await;
    assert_eq!(v.limit, Some(day));
    assert!(!v.disabled);
    assert_eq!(v.name.as_deref(), Some("renamed"));

    let v = upd(KeyPatch {
        name: Some(None),
        limit: Some(None),
        ..KeyPatch::default()
    })
    .await;
    assert_eq!((v.name, v.limit), (None, None));
    assert_eq!(v.scopes, Some(vec![Scope::Chat]));
    assert_eq!(v.rate.rpm, Some(30));
    assert_eq!((v.created_at, v.updated_at), (T0, T0 + 60_000));
    // An empty patch changes nothing but still finds the key.
    let same = upd(KeyPatch::default()).await;
    assert_eq!(
        (same.name, same.limit, same.scopes),
        (None, None, Some(vec![Scope::Chat]))
    );
    assert_eq!(
        p.key(&a.id, &prefix).await.unwrap().unwrap().rate.rpm,
        Some(30)
    );
}

async fn deleted_keys_are_gone_and_refused(env: Env) {
    let p = &env.platform;
    let a = signup(p, "a@example.com").await;
    let k = p.create_key(&a.id, regular("k")).await.unwrap();
    assert!(p.delete_key(&a.id, &k.info.prefix).await.unwrap());
    assert!(!p.delete_key(&a.id, &k.info.prefix).await.unwrap());
    assert_eq!(p.key(&a.id, &k.info.prefix).await.unwrap(), None);
    assert_eq!(p.key_by_id(&k.info.id).await.unwrap(), None);
    assert!(p.list_keys(&a.id, None).await.unwrap().is_empty());
    let patch = KeyPatch {
        disabled: Some(false),
        ..KeyPatch::default()
    };
    assert_eq!(
        p.update_key(&a.id, &k.info.prefix, patch).await.unwrap(),
        None
    );
    assert_eq!(
        p.authenticate(&parsed(&k.secret)).await.unwrap(),
        KeyAuthResult::Deleted
    );
}

async fn authenticate_tells_valid_disabled_deleted_and_disabled_account_apart(env: Env) {
    let p = &env.platform;
    let a = signup(p, "a@example.com").await;
    let admin = p.create_admin("root@example.com", PASSWORD).await.unwrap();
    let k = p
        .create_key(
            &a.id,
            NewKey {
                scopes: Some(vec![Scope::Chat]),
                ..regular("k")
            },
        )
        .await
        .unwrap();
    let m = p.create_key(&admin.id, management("m")).await.unwrap();

    match p.authenticate(&parsed(&k.secret)).await.unwrap() {
        KeyAuthResult::Valid(auth) => {
            assert_eq!(auth.key_id, k.info.id);
            assert_eq!(auth.prefix, k.info.prefix);
            assert_eq!(auth.public_id, parsed(&k.secret).public_id());
            assert_eq!(auth.account_id, a.id);
            assert!(!auth.account_is_admin);
            assert_eq!(auth.kind, KeyKind::Regular);
            assert_eq!(auth.scopes, Some(vec![Scope::Chat]));
        }
        other => panic!("{other:?}"),
    }
    match p.authenticate(&parsed(&m.secret)).await.unwrap() {
        KeyAuthResult::Valid(auth) => {
            assert_eq!(auth.kind, KeyKind::Management);
            assert!(auth.account_is_admin);
            assert_eq!(auth.account_id, admin.id);
        }
        other => panic!("{other:?}"),
    }
    // A well-formed key that was never issued.
    let stranger = GeneratedKey::new();
    assert_eq!(
        p.authenticate(&parsed(&stranger.secret)).await.unwrap(),
        KeyAuthResult::Unknown
    );

    let disable = |d: bool| KeyPatch {
        disabled: Some(d),
        ..KeyPatch::default()
    };
    p.update_key(&a.id, &k.info.prefix, disable(true))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        p.authenticate(&parsed(&k.secret)).await.unwrap(),
        KeyAuthResult::Disabled
    );
    p.update_key(&a.id, &k.info.prefix, disable(false))
        .await
        .unwrap()
        .unwrap();
    p.set_account_disabled(&a.id, true).await.unwrap();
    assert_eq!(
        p.authenticate(&parsed(&k.secret)).await.unwrap(),
        KeyAuthResult::AccountDisabled
    );
    p.set_account_disabled(&a.id, false).await.unwrap();
    assert!(matches!(
        p.authenticate(&parsed(&k.secret)).await.unwrap(),
        KeyAuthResult::Valid(_)
    ));
    // The account's admin flag is read at authentication time.
    p.set_admin(&a.id, true).await.unwrap();
    match p.authenticate(&parsed(&k.secret)).await.unwrap() {
        KeyAuthResult::Valid(auth) => assert!(auth.account_is_admin),
        other => panic!("{other:?}"),
    }
}

async fn authenticate_merges_key_and_account_rate_limits(env: Env) {
    let p = &env.platform;
    let a = signup(p, "a@example.com").await;
    let k = p.create_key(&a.id, regular("k")).await.unwrap();
    let rate_of = |secret: String| {
        let p = p.clone();
        async move {
            match p.authenticate(&parsed(&secret)).await.unwrap() {
                KeyAuthResult::Valid(auth) => auth.rate,
                other => panic!("{other:?}"),
            }
        }
    };
    // Nothing set: the server default applies (None).
    assert_eq!(rate_of(k.secret.clone()).await, RateLimits::default());
    p.set_account_rate(
        &a.id,
        RateLimits {
            rpm: Some(100),
            tpm: Some(50_000),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        rate_of(k.secret.clone()).await,
        RateLimits {
            rpm: Some(100),
            tpm: Some(50_000)
        }
    );
    // The key's own value wins per dimension.
    p.update_key(
        &a.id,
        &k.info.prefix,
        KeyPatch {
            rate: Some(RateLimits {
                rpm: Some(7),
                tpm: None,
            }),
            ..KeyPatch::default()
        },
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        rate_of(k.secret.clone()).await,
        RateLimits {
            rpm: Some(7),
            tpm: Some(50_000)
        }
    );
}

async fn the_operator_sets_a_keys_rate_by_prefix_and_it_is_enforced(env: Env) {
    let p = &env.platform;
    let a = signup(p, "a@example.com").await;
    let b = signup(p, "b@example.com").await;
    let ka = p.create_key(&a.id, regular("ka")).await.unwrap();
    let kb = p.create_key(&b.id, regular("kb")).await.unwrap();
    let auth = |secret: String| {
        let p = p.clone();
        async move {
            match p.authenticate(&parsed(&secret)).await.unwrap() {
                KeyAuthResult::Valid(auth) => auth,
                other => panic!("{other:?}"),
            }
        }
    };

    // The operator's lookup finds any account's key and names its owner.
    let found = p.key_by_prefix(&kb.info.prefix).await.unwrap().unwrap();
    assert_eq!(found.account_id, b.id);
    assert_eq!(found, kb.info);
    assert_eq!(p.key_by_prefix("sy_nope0").await.unwrap(), None);

    env.clock.advance_ms(5);
    let set = p
        .set_key_rate(
            &kb.info.prefix,
            RateLimits {
                rpm: Some(1),
                tpm: None,
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        set.rate,
        RateLimits {
            rpm: Some(1),
            tpm: None
        }
    );
    assert_eq!(set.updated_at, T0 + 5);
    // Only that key changed.
    assert_eq!(
        p.key(&a.id, &ka.info.prefix).await.unwrap().unwrap().rate,
        RateLimits::default()
    );

    // rpm 1: the second request in the minute is refused.
    let kb_auth = auth(kb.secret.clone()).await;
    let (rpm, tpm) = p.effective_rate(&kb_auth);
    assert_eq!((rpm, tpm), (1, p.config().default_tpm));
    p.rate_check(&kb_auth).await.unwrap();
    assert!(matches!(
        p.rate_check(&kb_auth).await,
        Err(PlatformError::RateLimited { limit: 1, .. })
    ));

    // The account default applies where the key has none; 0 is unlimited.
    p.set_account_rate(
        &b.id,
        RateLimits {
            rpm: Some(40),
            tpm: Some(0),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        p.effective_rate(&auth(kb.secret.clone()).await),
        (1, 0),
        "key's rpm, account's tpm"
    );
    assert_eq!(
        p.effective_rate_of(
            RateLimits::default(),
            RateLimits {
                rpm: Some(40),
                tpm: None
            }
        ),
        (40, p.config().default_tpm)
    );
    // Cleared: back to the account's default.
    p.set_key_rate(&kb.info.prefix, RateLimits::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.effective_rate(&auth(kb.secret.clone()).await), (40, 0));

    // Unknown and deleted keys: nothing set.
    assert_eq!(
        p.set_key_rate("sy_nope0", RateLimits::default())
            .await
            .unwrap(),
        None
    );
    assert!(p.delete_key(&b.id, &kb.info.prefix).await.unwrap());
    assert_eq!(p.key_by_prefix(&kb.info.prefix).await.unwrap(), None);
    assert_eq!(
        p.set_key_rate(&kb.info.prefix, RateLimits::default())
            .await
            .unwrap(),
        None
    );
}

fn charged(key_id: &str, request_id: &str, at: i64, nanos: i64) -> UsageRow {
    UsageRow {
        request_id: request_id.into(),
        key_id: Some(key_id.into()),
        model: "m".into(),
        provider: "p".into(),
        prompt_tokens: 1,
        cached_tokens: 0,
        completion_tokens: 1,
        reasoning_tokens: 0,
        cost_usd: nanos as f64 / 1e9,
        status_code: 200,
        outcome: "ok".into(),
        latency_ms: 1,
        ttft_ms: None,
        created_at: at,
        account_id: None,
        inference_id: None,
        client_request_id: None,
        origin: "api".into(),
        charged_nanos: nanos,
        succeeded: nanos > 0,
    }
}

async fn monthly_usage_counts_this_months_charges_only(env: Env) {
    let p = &env.platform;
    let a = signup(p, "a@example.com").await;
    let b = signup(p, "b@example.com").await;
    let k1 = p.create_key(&a.id, regular("k1")).await.unwrap();
    let k2 = p.create_key(&a.id, regular("k2")).await.unwrap();
    let kb = p.create_key(&b.id, regular("kb")).await.unwrap();
    // T0 is 2026-11-25; the month started 2026-11-01T00:00:00Z.
    let month_start = Retention::Month.window_start(T0);
    let s = p.store();
    for row in [
        charged(&k1.info.id, "r1", month_start - 1, 1_000_000_000),
        charged(&k1.info.id, "r2", month_start, 250_000_000),
        charged(&k1.info.id, "r3", T0, 5),
        charged(&k1.info.id, "r4", T0, 0),
        charged(&k2.info.id, "r5", T0, 7),
        charged(&kb.info.id, "r6", T0, 1_000),
    ] {
        assert!(s.record_usage(&row).await.unwrap());
    }
    let want = Nanos(250_000_005);
    assert_eq!(
        p.key(&a.id, &k1.info.prefix)
            .await
            .unwrap()
            .unwrap()
            .monthly_usage,
        want
    );
    assert_eq!(
        p.key_by_id(&k1.info.id)
            .await
            .unwrap()
            .unwrap()
            .monthly_usage,
        want
    );
    let listed = p.list_keys(&a.id, None).await.unwrap();
    let mut usage: Vec<_> = listed
        .iter()
        .map(|k| (k.prefix.clone(), k.monthly_usage))
        .collect();
    usage.sort();
    let mut expected = vec![
        (k1.info.prefix.clone(), want),
        (k2.info.prefix.clone(), Nanos(7)),
    ];
    expected.sort();
    assert_eq!(usage, expected);

    // On the 1st of the next month it starts again.
    env.clock.set(Retention::Month.window_end(T0).unwrap());
    assert_eq!(
        p.key(&a.id, &k1.info.prefix)
            .await
            .unwrap()
            .unwrap()
            .monthly_usage,
        Nanos::ZERO
    );
}
