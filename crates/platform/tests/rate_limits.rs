#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Requests and tokens per minute, in windows shared through the database.

mod billing_common;

use std::sync::Arc;

use billing_common::*;
use switchyard_config::PlatformConfig;
use switchyard_platform::{
    Dim, KeyAuth, Nanos, Platform, PlatformError, RateKind, RateLimits, Settlement,
};
use tokio::sync::Barrier;

on_both!(
    requests_per_minute_are_counted_and_reset_with_the_minute,
    tokens_per_minute_count_settled_tokens,
    limits_fall_back_to_the_server_default_and_zero_is_unlimited,
    concurrent_requests_and_replicas_share_one_window,
    old_windows_are_pruned,
);

fn rate(rpm: Option<u32>, tpm: Option<u32>) -> RateLimits {
    RateLimits { rpm, tpm }
}

async fn requests_per_minute_are_counted_and_reset_with_the_minute(env: Env) {
    let p = &env.platform;
    let acct = account(p, false).await;
    let auth = key(p, &acct, false, None, rate(Some(3), Some(1_000))).await;
    // 48 s into a minute: 12 s until it resets.
    let minute = T0 - T0.rem_euclid(60_000);
    env.clock.set(minute + 48_000);
    for remaining in [2, 1, 0] {
        let s = p.rate_check(&auth).await.unwrap();
        assert_eq!(
            s.requests,
            Some(Dim {
                limit: 3,
                remaining,
                reset_ms: 12_000
            })
        );
        assert_eq!(
            s.tokens,
            Some(Dim {
                limit: 1_000,
                remaining: 1_000,
                reset_ms: 12_000
            })
        );
    }
    env.clock.advance_ms(1_500);
    match p.rate_check(&auth).await.unwrap_err() {
        PlatformError::RateLimited {
            kind,
            limit,
            retry_after_secs,
        } => {
            assert_eq!((kind, limit), (RateKind::Requests, 3));
            // 10.5 s left: rounded up.
            assert_eq!(retry_after_secs, 11);
        }
        other => panic!("{other:?}"),
    }
    // Another key of the same account has its own window.
    let other = key(p, &acct, false, None, rate(Some(3), None)).await;
    assert!(p.rate_check(&other).await.is_ok());
    // The next minute starts afresh.
    env.clock.set(minute + 60_000);
    let s = p.rate_check(&auth).await.unwrap();
    assert_eq!(s.requests.unwrap().remaining, 2);
    assert_eq!(s.requests.unwrap().reset_ms, 60_000);
}

async fn settle_tokens(p: &Platform, auth: &KeyAuth, id: &str, prompt: u64, completion: u64) {
    let mut row = usage(Some(auth), id, "mock/model", p.now_ms());
    row.prompt_tokens = prompt;
    row.completion_tokens = completion;
    let hold = p.authorize(hold_request(auth)).await.unwrap();
    let s = Settlement {
        row,
        cost: Nanos(1),
        succeeded: true,
    };
    assert!(p.settle(Some(&hold), s).await.unwrap());
}

async fn tokens_per_minute_count_settled_tokens(env: Env) {
    let p = &env.platform;
    let acct = account(p, false).await;
    fund(p, &acct, Nanos(1_000_000_000)).await;
    let auth = key(p, &acct, false, None, rate(None, Some(1_000))).await;
    let minute = T0 - T0.rem_euclid(60_000);
    env.clock.set(minute + 1_000);
    p.rate_check(&auth).await.unwrap();
    settle_tokens(p, &auth, "t-1", 300, 400).await;
    let s = p.rate_check(&auth).await.unwrap();
    assert_eq!(s.tokens.unwrap().remaining, 300);
    settle_tokens(p, &auth, "t-2", 200, 100).await;
    // Exactly at the limit: refused until the minute ends.
    match p.rate_check(&auth).await.unwrap_err() {
        PlatformError::RateLimited {
            kind,
            limit,
            retry_after_secs,
        } => {
            assert_eq!((kind, limit), (RateKind::Tokens, 1_000));
            assert_eq!(retry_after_secs, 59);
        }
        other => panic!("{other:?}"),
    }
    env.clock.set(minute + 60_000);
    let s = p.rate_check(&auth).await.unwrap();
    assert_eq!(s.tokens.unwrap().remaining, 1_000);
}

async fn limits_fall_back_to_the_server_default_and_zero_is_unlimited(env: Env) {
    let p = env.with_config(PlatformConfig {
        default_rpm: 2,
        default_tpm: 0,
        ..PlatformConfig::default()
    });
    let acct = account(&p, false).await;
    let defaulted = key(&p, &acct, false, None, RateLimits::default()).await;
    assert_eq!(p.effective_rate(&defaulted), (2, 0));
    let s = p.rate_check(&defaulted).await.unwrap();
    assert_eq!(s.requests.unwrap().limit, 2);
    assert_eq!(s.tokens, None, "tpm 0: unlimited, no headers");
    p.rate_check(&defaulted).await.unwrap();
    assert!(matches!(
        p.rate_check(&defaulted).await.unwrap_err(),
        PlatformError::RateLimited {
            kind: RateKind::Requests,
            limit: 2,
            ..
        }
    ));
    // The key's own (or its account's) setting wins; 0 means unlimited.
    let unlimited = key(&p, &acct, false, None, rate(Some(0), None)).await;
    for _ in 0..5 {
        assert_eq!(p.rate_check(&unlimited).await.unwrap(), Default::default());
    }
}

async fn concurrent_requests_and_replicas_share_one_window(env: Env) {
    let a = env.platform.clone();
    let b = env.replica().await;
    let acct = account(&a, false).await;
    let auth = key(&a, &acct, false, None, rate(Some(7), None)).await;
    let minute = T0 - T0.rem_euclid(60_000);
    env.clock.set(minute + 5_000);
    let barrier = Arc::new(Barrier::new(30));
    let mut tasks = Vec::new();
    for i in 0..30 {
        let p = if i % 2 == 0 { a.clone() } else { b.clone() };
        let auth = auth.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            p.rate_check(&auth).await
        }));
    }
    let mut ok = 0;
    let mut remaining = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(s) => {
                ok += 1;
                remaining.push(s.requests.unwrap().remaining);
            }
            Err(e) => assert!(matches!(e, PlatformError::RateLimited { .. }), "{e:?}"),
        }
    }
    assert_eq!(ok, 7);
    remaining.sort_unstable();
    assert_eq!(remaining, vec![0, 1, 2, 3, 4, 5, 6]);
    b.store().close().await;
}

async fn old_windows_are_pruned(env: Env) {
    let p = &env.platform;
    let acct = account(p, false).await;
    let auth = key(p, &acct, false, None, rate(Some(1), None)).await;
    let minute = T0 - T0.rem_euclid(60_000);
    env.clock.set(minute);
    p.rate_check(&auth).await.unwrap();
    assert_eq!(
        p.store()
            .rate_window(&auth.key_id, minute)
            .await
            .unwrap()
            .requests,
        1
    );
    env.clock.set(minute + 10 * 60_000);
    assert_eq!(p.prune_rate_windows().await.unwrap(), 0);
    env.clock.set(minute + 11 * 60_000);
    p.rate_check(&auth).await.unwrap();
    // The housekeeping that releases holds prunes too.
    p.release_expired_holds().await.unwrap();
    assert_eq!(
        p.store()
            .rate_window(&auth.key_id, minute)
            .await
            .unwrap()
            .requests,
        0
    );
    assert_eq!(
        p.store()
            .rate_window(&auth.key_id, minute + 11 * 60_000)
            .await
            .unwrap()
            .requests,
        1
    );
}
