#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Money: holds, settlement, grants, the wallet, transactions — on SQLite
//! and PostgreSQL, including concurrent callers and two replicas.

mod billing_common;

use std::sync::Arc;

use billing_common::*;
use switchyard_config::PlatformConfig;
use switchyard_platform::{
    KeyLimit, Nanos, Platform, PlatformError, RateLimits, Retention, Settlement, TxDirection,
    TxKind, TxQuery,
};
use tokio::sync::Barrier;

on_both!(
    a_hold_is_settled_to_the_real_cost_once,
    the_charge_is_capped_at_the_hold,
    a_failed_call_is_charged_nothing,
    a_call_without_a_hold_writes_only_the_ledger_row,
    insufficient_balance_refuses_and_reserves_nothing,
    administrators_bypass_the_balance_only_when_configured,
    fifty_concurrent_calls_never_overspend_the_balance,
    fifty_concurrent_calls_never_exceed_the_key_limit,
    two_replicas_never_overspend_the_balance_or_the_limit,
    concurrent_settlements_of_one_request_charge_once,
    day_limit_resets_at_midnight_utc,
    week_limit_resets_on_monday_and_month_limit_on_the_first,
    no_reset_limit_never_resets,
    expired_holds_are_released_without_charge,
    balance_reconciles_after_many_operations,
    grants_are_validated,
    transactions_page_newest_first_with_filters,
    bad_transaction_queries_name_the_parameter,
);

async fn a_hold_is_settled_to_the_real_cost_once(env: Env) {
    let p = &env.platform;
    let acct = account(p, false).await;
    let auth = key(p, &acct, false, None, RateLimits::default()).await;
    fund(p, &acct, Nanos(1_000_000_000)).await;
    env.clock.advance_ms(1);

    let hold = p.authorize(hold_request(&auth)).await.unwrap();
    assert_eq!(hold.amount, HOLD);
    assert_eq!(hold.account_id, acct);
    assert_eq!(hold.key_id, auth.key_id);
    let w = p.wallet(&acct).await.unwrap();
    assert_eq!((w.balance, w.held), (Nanos(1_000_000_000), HOLD));
    assert_eq!(w.available(), Nanos(1_000_000_000 - HOLD.0));

    let mut row = usage(Some(&auth), "req-1", "x-ai/grok-beta", p.now_ms());
    row.account_id = None; // settle fills it from the hold
    let cost = Nanos(1_234_567);
    let s = Settlement {
        row: row.clone(),
        cost,
        succeeded: true,
    };
    assert!(p.settle(Some(&hold), s.clone()).await.unwrap());
    let w = p.wallet(&acct).await.unwrap();
    assert_eq!(
        (w.balance, w.held),
        (Nanos(1_000_000_000 - cost.0), Nanos::ZERO)
    );

    // The ledger row carries the charge.
    let stored = p.store().usage_for_request("req-1").await.unwrap().unwrap();
    assert_eq!(stored.charged_nanos, cost.0);
    assert!(stored.succeeded);
    assert_eq!(stored.account_id.as_deref(), Some(acct.as_str()));

    // The charge is a MODEL_USAGE transaction referring to the inference.
    let page = p
        .transactions(
            &acct,
            TxQuery {
                limit: 10,
                ..TxQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.rows.len(), 2);
    let charge = &page.rows[0];
    assert_eq!(charge.direction, TxDirection::Charge);
    assert_eq!(charge.kind, TxKind::ModelUsage);
    assert_eq!(charge.amount, cost);
    assert_eq!(charge.model.as_deref(), Some("x-ai/grok-beta"));
    assert_eq!(charge.reference_id.as_deref(), Some("chatcmpl-req-1"));
    assert_eq!(page.rows[1].direction, TxDirection::Topup);

    // Settling the same request again changes nothing.
    assert!(!p.settle(Some(&hold), s).await.unwrap());
    let w = p.wallet(&acct).await.unwrap();
    assert_eq!(
        (w.balance, w.held),
        (Nanos(1_000_000_000 - cost.0), Nanos::ZERO)
    );
    assert_eq!(p.store().count_usage(Some("req-1")).await.unwrap(), 1);
    assert_reconciles(p, &acct).await;
}

async fn the_charge_is_capped_at_the_hold(env: Env) {
    let p = &env.platform;
    let acct = account(p, false).await;
    let auth = key(p, &acct, false, None, RateLimits::default()).await;
    fund(p, &acct, Nanos(10_000_000)).await;
    let hold = p.authorize(hold_request(&auth)).await.unwrap();
    assert!(settle_ok(p, &auth, &hold, Nanos(HOLD.0 * 5)).await);
    let w = p.wallet(&acct).await.unwrap();
    assert_eq!(w.balance, Nanos(10_000_000 - HOLD.0));
    assert_eq!(w.held, Nanos::ZERO);
    assert_reconciles(p, &acct).await;
}

async fn a_failed_call_is_charged_nothing(env: Env) {
    let p = &env.platform;
    let acct = account(p, false).await;
    let auth = key(
        p,
        &acct,
        false,
        Some(KeyLimit {
            retention: Retention::Day,
            threshold: HOLD,
        }),
        RateLimits::default(),
    )
    .await;
    fund(p, &acct, HOLD).await;
    let hold = p.authorize(hold_request(&auth)).await.unwrap();
    let mut row = usage(Some(&auth), "req-failed", "mock/fail", p.now_ms());
    row.status_code = 502;
    row.outcome = "upstream_error".into();
    let settled = p
        .settle(
            Some(&hold),
            Settlement {
                row,
                cost: Nanos(2_000_000),
                succeeded: false,
            },
        )
        .await
        .unwrap();
    assert!(settled);
    let w = p.wallet(&acct).await.unwrap();
    assert_eq!((w.balance, w.held), (HOLD, Nanos::ZERO));
    let stored = p
        .store()
        .usage_for_request("req-failed")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.charged_nanos, 0);
    assert!(!stored.succeeded);
    let charges = p
        .transactions(
            &acct,
            TxQuery {
                direction: Some(TxDirection::Charge),
                limit: 10,
                ..TxQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(charges.rows.is_empty());
    // Neither the balance nor the key's limit was used: the full amount can be held again.
    p.authorize(hold_request(&auth)).await.unwrap();
    assert_reconciles(p, &acct).await;
}

async fn a_call_without_a_hold_writes_only_the_ledger_row(env: Env) {
    let p = &env.platform;
    let acct = account(p, false).await;
    let auth = key(p, &acct, false, None, RateLimits::default()).await;
    fund(p, &acct, Nanos(5_000_000)).await;
    let mut row = usage(Some(&auth), "req-400", "mock/model", p.now_ms());
    row.status_code = 400;
    let s = Settlement {
        row,
        cost: Nanos(1_000_000),
        succeeded: false,
    };
    assert!(p.settle(None, s.clone()).await.unwrap());
    assert!(!p.settle(None, s).await.unwrap());
    let w = p.wallet(&acct).await.unwrap();
    assert_eq!((w.balance, w.held), (Nanos(5_000_000), Nanos::ZERO));
    assert_eq!(p.store().count_usage(Some("req-400")).await.unwrap(), 1);
    // An unauthenticated request has no account at all.
    let anon = usage(None, "req-401", "", p.now_ms());
    assert!(
        p.settle(
            None,
            Settlement {
                row: anon,
                cost: Nanos::ZERO,
                succeeded: false
            }
        )
        .await
        .unwrap()
    );
    assert_reconciles(p, &acct).await;
}

async fn insufficient_balance_refuses_and_reserves_nothing(env: Env) {
    let p = &env.platform;
    let acct = account(p, false).await;
    let auth = key(p, &acct, false, None, RateLimits::default()).await;
    // No balance at all.
    match p.authorize(hold_request(&auth)).await.unwrap_err() {
        PlatformError::InsufficientBalance { available, needed } => {
            assert_eq!((available, needed), (Nanos::ZERO, HOLD));
        }
        other => panic!("{other:?}"),
    }
    // Enough for one hold and a half: the second is refused while the first is open.
    fund(p, &acct, Nanos(HOLD.0 * 3 / 2)).await;
    let first = p.authorize(hold_request(&auth)).await.unwrap();
    match p.authorize(hold_request(&auth)).await.unwrap_err() {
        PlatformError::InsufficientBalance { available, needed } => {
            assert_eq!((available, needed), (Nanos(HOLD.0 / 2), HOLD));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(p.wallet(&acct).await.unwrap().held, HOLD);
    // A cheap first call frees room for the second.
    assert!(settle_ok(p, &auth, &first, Nanos(1_000)).await);
    p.authorize(hold_request(&auth)).await.unwrap();
    // Unknown accounts and someone else's key are not found.
    let stranger = account(p, false).await;
    let mut foreign = auth.clone();
    foreign.account_id = stranger.clone();
    fund(p, &stranger, Nanos(1_000_000_000)).await;
    assert!(matches!(
        p.authorize(hold_request(&foreign)).await.unwrap_err(),
        PlatformError::NotFound(_)
    ));
    assert_eq!(p.wallet(&stranger).await.unwrap().held, Nanos::ZERO);
    let mut ghost = auth.clone();
    ghost.account_id = "acct_missing".into();
    assert!(matches!(
        p.authorize(hold_request(&ghost)).await.unwrap_err(),
        PlatformError::NotFound(_)
    ));
    assert!(matches!(
        p.wallet("acct_missing").await.unwrap_err(),
        PlatformError::NotFound(_)
    ));
}

async fn administrators_bypass_the_balance_only_when_configured(env: Env) {
    let p = &env.platform;
    assert!(p.config().admins_bypass_balance);
    let admin = account(p, true).await;
    let auth = key(p, &admin, true, None, RateLimits::default()).await;
    let hold = p.authorize(hold_request(&auth)).await.unwrap();
    assert!(settle_ok(p, &auth, &hold, Nanos(1_000_000)).await);
    // Still charged: the balance goes below zero.
    assert_eq!(p.wallet(&admin).await.unwrap().balance, Nanos(-1_000_000));
    assert_reconciles(p, &admin).await;

    let strict = env.with_config(PlatformConfig {
        admins_bypass_balance: false,
        ..PlatformConfig::default()
    });
    assert!(is_insufficient(
        &strict.authorize(hold_request(&auth)).await.unwrap_err()
    ));
}

/// 50 tasks start together; each authorizes the worst case and settles it
/// at that cost. The balance covers exactly 10.
async fn run_fifty(platforms: &[Platform], auth: &switchyard_platform::KeyAuth) -> (usize, usize) {
    let barrier = Arc::new(Barrier::new(50));
    let mut tasks = Vec::new();
    for i in 0..50 {
        let p = platforms[i % platforms.len()].clone();
        let auth = auth.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            match p.authorize(hold_request(&auth)).await {
                Ok(hold) => {
                    assert!(settle_ok(&p, &auth, &hold, HOLD).await);
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }));
    }
    let (mut ok, mut refused) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(e) => {
                assert!(is_insufficient(&e) || is_over_limit(&e), "{e:?}");
                refused += 1;
            }
        }
    }
    (ok, refused)
}

async fn fifty_concurrent_calls_never_overspend_the_balance(env: Env) {
    let p = &env.platform;
    let acct = account(p, false).await;
    let auth = key(p, &acct, false, None, RateLimits::default()).await;
    fund(p, &acct, Nanos(HOLD.0 * 10)).await;
    let (ok, refused) = run_fifty(std::slice::from_ref(p), &auth).await;
    assert_eq!(ok, 10, "exactly the ten the balance covers");
    assert_eq!(refused, 40);
    let w = p.wallet(&acct).await.unwrap();
    assert_eq!((w.balance, w.held), (Nanos::ZERO, Nanos::ZERO));
    assert_reconciles(p, &acct).await;
}

async fn fifty_concurrent_calls_never_exceed_the_key_limit(env: Env) {
    let p = &env.platform;
    let acct = account(p, false).await;
    let limit = KeyLimit {
        retention: Retention::Month,
        threshold: Nanos(HOLD.0 * 10),
    };
    let auth = key(p, &acct, false, Some(limit), RateLimits::default()).await;
    fund(p, &acct, Nanos(HOLD.0 * 1000)).await;
    let (ok, refused) = run_fifty(std::slice::from_ref(p), &auth).await;
    assert_eq!(ok, 10, "exactly the ten the limit allows");
    assert_eq!(refused, 40);
    match p.authorize(hold_request(&auth)).await.unwrap_err() {
        PlatformError::KeyLimitExceeded {
            retention,
            threshold,
            spent,
            needed,
            resets_at,
        } => {
            assert_eq!(retention, Retention::Month);
            assert_eq!(threshold, limit.threshold);
            assert_eq!(spent, limit.threshold);
            assert_eq!(needed, HOLD);
            assert_eq!(resets_at, Some(ms("2026-12-01T00:00:00Z")));
        }
        other => panic!("{other:?}"),
    }
    let w = p.wallet(&acct).await.unwrap();
    assert_eq!((w.balance, w.held), (Nanos(HOLD.0 * 990), Nanos::ZERO));
    assert_reconciles(p, &acct).await;
}

async fn two_replicas_never_overspend_the_balance_or_the_limit(env: Env) {
    let a = env.platform.clone();
    let b = env.replica().await;
    let replicas = [a.clone(), b.clone()];

    // The balance, shared through the database.
    let acct = account(&a, false).await;
    let auth = key(&a, &acct, false, None, RateLimits::default()).await;
    fund(&b, &acct, Nanos(HOLD.0 * 10)).await;
    let (ok, _) = run_fifty(&replicas, &auth).await;
    assert_eq!(ok, 10);
    assert_eq!(b.wallet(&acct).await.unwrap().balance, Nanos::ZERO);
    assert_reconciles(&b, &acct).await;

    // A key's limit, shared through the database.
    let rich = account(&b, false).await;
    let limited = key(
        &b,
        &rich,
        false,
        Some(KeyLimit {
            retention: Retention::Day,
            threshold: Nanos(HOLD.0 * 10),
        }),
        RateLimits::default(),
    )
    .await;
    fund(&a, &rich, Nanos(HOLD.0 * 1000)).await;
    let (ok, _) = run_fifty(&replicas, &limited).await;
    assert_eq!(ok, 10);
    assert!(is_over_limit(
        &a.authorize(hold_request(&limited)).await.unwrap_err()
    ));
    assert!(is_over_limit(
        &b.authorize(hold_request(&limited)).await.unwrap_err()
    ));
    assert_reconciles(&a, &rich).await;
    b.store().close().await;
}

async fn concurrent_settlements_of_one_request_charge_once(env: Env) {
    let p = &env.platform;
    let b = env.replica().await;
    let acct = account(p, false).await;
    let auth = key(p, &acct, false, None, RateLimits::default()).await;
    fund(p, &acct, Nanos(1_000_000_000)).await;
    let hold = p.authorize(hold_request(&auth)).await.unwrap();
    let row = usage(Some(&auth), "req-dup", "mock/model", p.now_ms());
    let mut tasks = Vec::new();
    for i in 0..16 {
        let q = if i % 2 == 0 { p.clone() } else { b.clone() };
        let s = Settlement {
            row: row.clone(),
            cost: Nanos(1_000_000),
            succeeded: true,
        };
        let hold = hold.clone();
        tasks.push(tokio::spawn(async move {
            q.settle(Some(&hold), s).await.unwrap()
        }));
    }
    let mut settled = 0;
    for t in tasks {
        if t.await.unwrap() {
            settled += 1;
        }
    }
    assert_eq!(settled, 1);
    let w = p.wallet(&acct).await.unwrap();
    assert_eq!((w.balance, w.held), (Nanos(999_000_000), Nanos::ZERO));
    assert_reconciles(p, &acct).await;
    b.store().close().await;
}

/// Spends the whole `threshold` with one call, then checks that the next
/// call is refused 1 ms before `boundary` and allowed at it.
async fn check_reset(env: &Env, retention: Retention, spend_at: &str, boundary: &str) {
    let p = &env.platform;
    env.clock.set(ms(spend_at));
    let acct = account(p, false).await;
    let auth = key(
        p,
        &acct,
        false,
        Some(KeyLimit {
            retention,
            threshold: HOLD,
        }),
        RateLimits::default(),
    )
    .await;
    fund(p, &acct, Nanos(HOLD.0 * 100)).await;
    let hold = p.authorize(hold_request(&auth)).await.unwrap();
    assert!(settle_ok(p, &auth, &hold, HOLD).await);

    env.clock.set(ms(boundary) - 1);
    match p.authorize(hold_request(&auth)).await.unwrap_err() {
        PlatformError::KeyLimitExceeded {
            resets_at, spent, ..
        } => {
            assert_eq!(resets_at, Some(ms(boundary)), "{retention:?}");
            assert_eq!(spent, HOLD);
        }
        other => panic!("{retention:?}: {other:?}"),
    }
    env.clock.set(ms(boundary));
    let hold = p.authorize(hold_request(&auth)).await.unwrap();
    assert!(settle_ok(p, &auth, &hold, HOLD).await);
    // The new window is full again.
    assert!(is_over_limit(
        &p.authorize(hold_request(&auth)).await.unwrap_err()
    ));
    assert_reconciles(p, &acct).await;
}

async fn day_limit_resets_at_midnight_utc(env: Env) {
    check_reset(
        &env,
        Retention::Day,
        "2026-11-25T12:00:00Z",
        "2026-11-26T00:00:00Z",
    )
    .await;
}

async fn week_limit_resets_on_monday_and_month_limit_on_the_first(env: Env) {
    // 2026-11-25 is a Wednesday; the week ends on Monday 2026-11-30.
    check_reset(
        &env,
        Retention::Week,
        "2026-11-25T12:00:00Z",
        "2026-11-30T00:00:00Z",
    )
    .await;
    check_reset(
        &env,
        Retention::Month,
        "2026-12-10T08:00:00Z",
        "2027-01-01T00:00:00Z",
    )
    .await;
}

async fn no_reset_limit_never_resets(env: Env) {
    let p = &env.platform;
    let acct = account(p, false).await;
    let auth = key(
        p,
        &acct,
        false,
        Some(KeyLimit {
            retention: Retention::NoReset,
            threshold: HOLD,
        }),
        RateLimits::default(),
    )
    .await;
    fund(p, &acct, Nanos(HOLD.0 * 100)).await;
    let hold = p.authorize(hold_request(&auth)).await.unwrap();
    assert!(settle_ok(p, &auth, &hold, HOLD).await);
    env.clock.advance_ms(400 * 24 * 3_600_000);
    match p.authorize(hold_request(&auth)).await.unwrap_err() {
        PlatformError::KeyLimitExceeded { resets_at, .. } => assert_eq!(resets_at, None),
        other => panic!("{other:?}"),
    }
}

async fn expired_holds_are_released_without_charge(env: Env) {
    let p = &env.platform;
    let acct = account(p, false).await;
    let auth = key(
        p,
        &acct,
        false,
        Some(KeyLimit {
            retention: Retention::Month,
            threshold: Nanos(HOLD.0 * 2),
        }),
        RateLimits::default(),
    )
    .await;
    fund(p, &acct, Nanos(HOLD.0 * 2)).await;
    let crashed = p.authorize(hold_request(&auth)).await.unwrap();
    let ttl = i64::try_from(p.config().hold_ttl.as_millis()).unwrap();
    env.clock.advance_ms(ttl / 2);
    let live = p.authorize(hold_request(&auth)).await.unwrap();
    // Both the balance and the limit are fully held.
    assert!(is_insufficient(
        &p.authorize(hold_request(&auth)).await.unwrap_err()
    ));

    env.clock.advance_ms(ttl / 2 - 1);
    assert_eq!(p.release_expired_holds().await.unwrap(), 0);
    env.clock.advance_ms(1);
    assert_eq!(p.release_expired_holds().await.unwrap(), 1);
    assert_eq!(p.release_expired_holds().await.unwrap(), 0);
    let w = p.wallet(&acct).await.unwrap();
    assert_eq!((w.balance, w.held), (Nanos(HOLD.0 * 2), HOLD));
    // The released room (on the account and on the key) can be held again.
    let again = p.authorize(hold_request(&auth)).await.unwrap();

    // A late settlement of the released hold still bills the call, without
    // releasing its amount twice.
    assert!(settle_ok(p, &auth, &crashed, Nanos(1_000)).await);
    let w = p.wallet(&acct).await.unwrap();
    assert_eq!(
        (w.balance, w.held),
        (Nanos(HOLD.0 * 2 - 1_000), Nanos(HOLD.0 * 2))
    );
    assert!(settle_ok(p, &auth, &live, Nanos(1_000)).await);
    assert!(settle_ok(p, &auth, &again, Nanos(1_000)).await);
    let w = p.wallet(&acct).await.unwrap();
    assert_eq!(
        (w.balance, w.held),
        (Nanos(HOLD.0 * 2 - 3_000), Nanos::ZERO)
    );
    assert_reconciles(p, &acct).await;
}

async fn balance_reconciles_after_many_operations(env: Env) {
    let p = &env.platform;
    let acct = account(p, false).await;
    let keys = [
        key(p, &acct, false, None, RateLimits::default()).await,
        key(
            p,
            &acct,
            false,
            Some(KeyLimit {
                retention: Retention::Day,
                threshold: Nanos(HOLD.0 * 7),
            }),
            RateLimits::default(),
        )
        .await,
    ];
    let kinds = [
        TxKind::Payment,
        TxKind::Bonus,
        TxKind::Refund,
        TxKind::Adjustment,
        TxKind::Init,
    ];
    let mut refused = 0;
    for i in 0..120_i64 {
        env.clock.advance_ms(97_000);
        if i % 9 == 0 {
            let kind = kinds[(i as usize / 9) % kinds.len()];
            p.grant(&acct, Nanos(HOLD.0 * 3 + i), kind, None, Some("acct_admin"))
                .await
                .unwrap();
        }
        let auth = &keys[(i % 2) as usize];
        match p.authorize(hold_request(auth)).await {
            Ok(hold) => {
                let mut row = usage(Some(auth), &format!("many-{i}"), "m/a", p.now_ms());
                let succeeded = i % 5 != 0;
                row.succeeded = succeeded;
                let s = Settlement {
                    row,
                    cost: Nanos(HOLD.0 / 3 + i * 1_001),
                    succeeded,
                };
                if i % 7 == 3 {
                    // Left open: released as expired below.
                    continue;
                }
                assert!(p.settle(Some(&hold), s).await.unwrap());
            }
            Err(e) => {
                assert!(is_insufficient(&e) || is_over_limit(&e), "{e:?}");
                refused += 1;
            }
        }
        assert_reconciles(p, &acct).await;
    }
    assert!(refused > 0, "the test should also exercise refusals");
    env.clock
        .advance_ms(i64::try_from(p.config().hold_ttl.as_millis()).unwrap());
    assert!(p.release_expired_holds().await.unwrap() > 0);
    let w = p.wallet(&acct).await.unwrap();
    assert_eq!(w.held, Nanos::ZERO);
    assert!(w.balance >= Nanos::ZERO);
    assert_reconciles(p, &acct).await;
}

async fn grants_are_validated(env: Env) {
    let p = &env.platform;
    let acct = account(p, false).await;
    let param = |e: PlatformError| match e {
        PlatformError::InvalidInput { param, .. } => param,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        param(
            p.grant(&acct, Nanos::ZERO, TxKind::Bonus, None, None)
                .await
                .unwrap_err()
        ),
        "amount"
    );
    assert_eq!(
        param(
            p.grant(&acct, Nanos(-5), TxKind::Bonus, None, None)
                .await
                .unwrap_err()
        ),
        "amount"
    );
    assert_eq!(
        param(
            p.grant(&acct, Nanos(5), TxKind::ModelUsage, None, None)
                .await
                .unwrap_err()
        ),
        "kind"
    );
    assert!(matches!(
        p.grant("acct_missing", Nanos(5), TxKind::Bonus, None, None)
            .await
            .unwrap_err(),
        PlatformError::NotFound(_)
    ));
    let tx = p
        .grant(
            &acct,
            Nanos(25_000_000_000),
            TxKind::Payment,
            Some("  welcome  "),
            Some("acct_admin"),
        )
        .await
        .unwrap();
    assert_eq!(tx.direction, TxDirection::Topup);
    assert_eq!(tx.kind, TxKind::Payment);
    assert_eq!(tx.amount, Nanos(25_000_000_000));
    assert_eq!(tx.note.as_deref(), Some("welcome"));
    assert_eq!(tx.created_at, p.now_ms());
    assert_eq!(
        p.wallet(&acct).await.unwrap().balance,
        Nanos(25_000_000_000)
    );
    let listed = p
        .transactions(
            &acct,
            TxQuery {
                limit: 5,
                ..TxQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.rows, vec![tx]);
    assert_eq!(listed.next_cursor, None);
}

async fn transactions_page_newest_first_with_filters(env: Env) {
    let p = &env.platform;
    let acct = account(p, false).await;
    let other = account(p, false).await;
    let auth = key(p, &acct, false, None, RateLimits::default()).await;
    fund(p, &other, Nanos(1)).await;
    // 25 entries; several share a millisecond, so the cursor must break ties.
    let mut made = Vec::new();
    for i in 0..20_i64 {
        if i % 3 != 0 {
            env.clock.advance_ms(1_000);
        }
        made.push(
            p.grant(&acct, Nanos(HOLD.0 + i), TxKind::Bonus, None, None)
                .await
                .unwrap(),
        );
    }
    for _ in 0..5 {
        env.clock.advance_ms(10);
        let hold = p.authorize(hold_request(&auth)).await.unwrap();
        assert!(settle_ok(p, &auth, &hold, Nanos(7)).await);
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = p
            .transactions(
                &acct,
                TxQuery {
                    limit: 10,
                    cursor: cursor.clone(),
                    ..TxQuery::default()
                },
            )
            .await
            .unwrap();
        pages += 1;
        assert!(page.rows.len() <= 10);
        seen.extend(page.rows);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 25);
    let ids: std::collections::HashSet<_> = seen.iter().map(|t| t.id.clone()).collect();
    assert_eq!(ids.len(), 25, "no entry twice");
    assert!(
        seen.windows(2).all(|w| w[0].created_at >= w[1].created_at),
        "newest first"
    );
    assert!(seen[..5].iter().all(|t| t.kind == TxKind::ModelUsage));
    for m in &made {
        assert!(ids.contains(&m.id));
    }

    // Filters.
    let mine: &str = &acct;
    let q = |f: TxQuery| async move { p.transactions(mine, f).await.unwrap().rows };
    let charges = q(TxQuery {
        direction: Some(TxDirection::Charge),
        limit: 100,
        ..TxQuery::default()
    })
    .await;
    assert_eq!(charges.len(), 5);
    assert!(
        charges
            .iter()
            .all(|t| t.direction == TxDirection::Charge && t.amount == Nanos(7))
    );
    let bonus = q(TxQuery {
        kind: Some(TxKind::Bonus),
        limit: 100,
        ..TxQuery::default()
    })
    .await;
    assert_eq!(bonus.len(), 20);
    let none = q(TxQuery {
        kind: Some(TxKind::Refund),
        limit: 100,
        ..TxQuery::default()
    })
    .await;
    assert!(none.is_empty());
    let (from, to) = (made[4].created_at, made[10].created_at);
    let window = q(TxQuery {
        from: Some(from),
        to: Some(to),
        limit: 100,
        ..TxQuery::default()
    })
    .await;
    let expected = made
        .iter()
        .filter(|t| t.created_at >= from && t.created_at < to)
        .count();
    assert!(expected > 0);
    assert_eq!(window.len(), expected);
    assert!(
        window
            .iter()
            .all(|t| t.created_at >= from && t.created_at < to)
    );
    // Another account's entries never show.
    let theirs = p
        .transactions(
            &other,
            TxQuery {
                limit: 100,
                ..TxQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(theirs.rows.len(), 1);
}

async fn bad_transaction_queries_name_the_parameter(env: Env) {
    let p = &env.platform;
    let acct = account(p, false).await;
    let param = |e: PlatformError| match e {
        PlatformError::InvalidInput { param, .. } => param,
        other => panic!("{other:?}"),
    };
    for limit in [0, 101] {
        let e = p
            .transactions(
                &acct,
                TxQuery {
                    limit,
                    ..TxQuery::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(param(e), "limit");
    }
    let e = p
        .transactions(
            &acct,
            TxQuery {
                from: Some(10),
                to: Some(10),
                limit: 5,
                ..TxQuery::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(param(e), "to");
    for cursor in [
        "",
        "abc",
        "eyJ2IjoxLCJjIjoiMjAyNi0wOC0xN1QxMDowMDowMC4wMDBaIn0",
    ] {
        let e = p
            .transactions(
                &acct,
                TxQuery {
                    limit: 5,
                    cursor: Some(cursor.into()),
                    ..TxQuery::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(param(e), "cursor", "{cursor}");
    }
}
