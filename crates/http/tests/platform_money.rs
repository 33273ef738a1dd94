//! Money through the HTTP edge: holds before the backend, settlement after
//! it, refusals (403, `x-should-retry: false`, no backend call), failed calls
//! charged nothing, concurrency that never overspends (temp-file SQLite, and
//! two replicas on one PostgreSQL when `SWITCHYARD_TEST_POSTGRES_URL` is
//! set), spending-limit windows that reset at 00:00 UTC (manual clock).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod platform_fixture;

use std::time::Duration;

use axum::{
    body::Body,
    http::{Method, Request},
};
use http_body_util::BodyExt;
use platform_fixture::*;
use serde_json::json;
use switchyard_http::app;
use switchyard_platform::{KeyKind, KeyLimit, Nanos, Retention};
use switchyard_testkit::MockUpstream;
use tower::ServiceExt;

/// Milliseconds of an RFC 3339 instant.
fn ms(s: &str) -> i64 {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap();
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap()
}

#[tokio::test]
async fn out_of_balance_is_403_without_retry_and_never_reaches_the_backend() {
    let mock = MockUpstream::start().await;
    let w = World::memory(&mock).await;
    let a = w.account("a@example.com", 0.0).await;
    let k = w.regular(&a).await;

    let r = w.chat(&k.secret, EXACT, 5).await;
    r.error(403, "insufficient_balance");
    assert_eq!(r.header("x-should-retry"), Some("false"));
    assert!(r.header("x-inference-id").is_some());
    assert_eq!(mock.request_count(), 0);

    // The hold is exact: 0.0049 USD does not cover a 5-token worst case, 0.005 does.
    w.platform()
        .grant(
            &a,
            usd(0.0049),
            switchyard_platform::TxKind::Payment,
            None,
            None,
        )
        .await
        .unwrap();
    w.chat(&k.secret, EXACT, 5)
        .await
        .error(403, "insufficient_balance");
    assert_eq!(mock.request_count(), 0);
    w.platform()
        .grant(
            &a,
            usd(0.0001),
            switchyard_platform::TxKind::Bonus,
            None,
            None,
        )
        .await
        .unwrap();
    let r = w.chat(&k.secret, EXACT, 5).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(mock.request_count(), 1);
    assert_eq!(w.wallet(&a).await, (Nanos::ZERO, Nanos::ZERO));
    // Refusals are logged as failed requests that cost nothing.
    w.clock.advance_ms(1000);
    let logs = w.get("/v2/logs", &k.secret).await;
    let rows = logs.ok()["data"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows.iter()
            .filter(|r| r["status"] == "failed" && r["cost"]["usd"] == 0.0)
            .count(),
        2
    );
}

#[tokio::test]
async fn a_spending_limit_refuses_with_no_retry() {
    let mock = MockUpstream::start().await;
    let w = World::memory(&mock).await;
    let a = w.account("a@example.com", 10.0).await;
    let limit = KeyLimit {
        retention: Retention::NoReset,
        threshold: usd(0.012),
    };
    let k = w.key_with(&a, KeyKind::Regular, None, Some(limit)).await;
    for _ in 0..2 {
        assert_eq!(w.chat(&k.secret, EXACT, 5).await.status, 201);
    }
    let r = w.chat(&k.secret, EXACT, 5).await;
    r.error(403, "key_limit_exceeded");
    assert_eq!(r.header("x-should-retry"), Some("false"));
    assert_eq!(mock.request_count(), 2);
    // A smaller call still fits: 0.010 + 0.002 = 0.012.
    assert_eq!(w.chat(&k.secret, EXACT, 2).await.status, 201);
    w.chat(&k.secret, EXACT, 1)
        .await
        .error(403, "key_limit_exceeded");
    w.settle().await;
    let own = w.get("/v1/key", &k.secret).await;
    assert!((own.ok()["data"]["monthly_usage"].as_f64().unwrap() - 0.012).abs() < 1e-12);
    assert_eq!(w.wallet(&a).await, (usd(10.0 - 0.012), Nanos::ZERO));
    // Another key of the account is not limited by it.
    let free = w.regular(&a).await;
    assert_eq!(w.chat(&free.secret, EXACT, 5).await.status, 201);
}

async fn failed_call_charges_nothing(db: Db) {
    let mock = MockUpstream::start().await;
    let Some(c) = Cluster::start(db, &mock, T0).await else {
        return;
    };
    let w = c.first();
    let a = w.account("a@example.com", 1.0).await;
    let k = w.regular(&a).await;

    let r = w.chat(&k.secret, FAIL, 5).await;
    assert_eq!(r.status, 502, "{}", r.text);
    assert_eq!(mock.request_count(), 1, "the failing upstream was called");
    // Nothing charged, the hold released.
    assert_eq!(w.wallet(&a).await, (usd(1.0), Nanos::ZERO));
    let tx = w
        .get("/v2/billing/transactions?direction=CHARGE", &k.secret)
        .await;
    assert_eq!(tx.ok()["data"], json!([]));
    c.clock.advance_ms(1000);
    let logs = w.get("/v2/logs", &k.secret).await;
    let row = logs.ok()["data"][0].clone();
    assert_eq!(
        (row["status"].as_str(), row["model"].as_str()),
        (Some("failed"), Some(FAIL))
    );
    assert_eq!(row["cost"], json!({"usd": 0.0, "credits": 0}));
    assert_eq!(w.get("/v2/usage", &k.secret).await.ok()["spend"], 0.0);

    // A call that works afterwards is charged its real cost.
    assert_eq!(c.pick(1).chat(&k.secret, EXACT, 5).await.status, 201);
    c.settle().await;
    assert_eq!(w.wallet(&a).await, (usd(0.995), Nanos::ZERO));
    c.close().await;
}

#[tokio::test]
async fn failed_upstream_call_charges_nothing_sqlite() {
    failed_call_charges_nothing(Db::SqliteFile).await;
}

#[tokio::test]
async fn failed_upstream_call_charges_nothing_postgres_two_replicas() {
    failed_call_charges_nothing(Db::Postgres(2)).await;
}

/// 50 concurrent calls against a balance that covers 10 (and, separately,
/// a key limit that covers 10), spread over the replicas.
async fn concurrent_calls_never_overspend(db: Db) {
    let mock = MockUpstream::start().await;
    let Some(c) = Cluster::start(db, &mock, T0).await else {
        return;
    };
    let words = 10;
    let cost = usd(0.010);
    let grant = Nanos(cost.0 * 21 / 2); // 10.5 calls
    let w = c.first();
    let a = w.account("a@example.com", grant.usd()).await;
    let k = w.regular(&a).await;

    let statuses = burst(&c, &k.secret, words).await;
    let ok = statuses.iter().filter(|s| **s == 201).count();
    assert_eq!(ok, 10, "{statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == 403).count(),
        40,
        "{statuses:?}"
    );
    c.settle().await;
    let (balance, held) = w.wallet(&a).await;
    assert_eq!(held, Nanos::ZERO);
    assert_eq!(balance, Nanos(grant.0 - 10 * cost.0));
    assert!(balance >= Nanos::ZERO);
    let totals = w.platform().transaction_totals(&a).await.unwrap();
    assert_eq!(totals.topups.saturating_sub(totals.charges), balance);
    let tx = w
        .get(
            "/v2/billing/transactions?direction=CHARGE&limit=100",
            &k.secret,
        )
        .await;
    assert_eq!(tx.ok()["data"].as_array().unwrap().len(), 10);
    assert_eq!(mock.request_count(), 10);

    // A key limit covering 10 calls on a rich account: same story.
    let rich = w.account("rich@example.com", 100.0).await;
    let limit = KeyLimit {
        retention: Retention::Day,
        threshold: Nanos(cost.0 * 21 / 2),
    };
    let capped = w.key_with(&rich, KeyKind::Regular, None, Some(limit)).await;
    let statuses = burst(&c, &capped.secret, words).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        10,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 403),
        "{statuses:?}"
    );
    c.settle().await;
    assert_eq!(w.wallet(&rich).await, (usd(100.0 - 0.1), Nanos::ZERO));
    c.close().await;
}

/// 50 chat calls at once, round-robin over the replicas.
async fn burst(c: &Cluster, key: &str, words: usize) -> Vec<u16> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let state = c.pick(i).state.clone();
        let body = chat_body(EXACT, words).to_string();
        let key = key.to_owned();
        tasks.spawn(async move {
            let req = Request::post("/v1/chat/completions")
                .header("authorization", format!("Bearer {key}"))
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap();
            let resp = app(state).oneshot(req).await.unwrap();
            let status = resp.status().as_u16();
            let text = resp.into_body().collect().await.unwrap().to_bytes();
            if status == 403 {
                let v: serde_json::Value = serde_json::from_slice(&text).unwrap();
                let code = v["error"]["code"].as_str().unwrap_or_default();
                assert!(
                    code == "insufficient_balance" || code == "key_limit_exceeded",
                    "{v}"
                );
            }
            status
        });
    }
    let mut out = Vec::new();
    while let Some(s) = tasks.join_next().await {
        out.push(s.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_calls_never_overspend_sqlite_file() {
    concurrent_calls_never_overspend(Db::SqliteFile).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_calls_never_overspend_postgres_two_replicas() {
    concurrent_calls_never_overspend(Db::Postgres(2)).await;
}

/// A limit covering two 5-token calls per window: refused just before the
/// boundary, allowed at it (00:00 UTC; Monday for weeks, the 1st for months).
async fn limits_reset_at_the_window_boundary(db: Db) {
    let cases = [
        (
            Retention::Day,
            "2026-03-10T23:59:00Z",
            "2026-03-11T00:00:00Z",
        ),
        // 2026-03-15 is a Sunday.
        (
            Retention::Week,
            "2026-03-15T22:00:00Z",
            "2026-03-16T00:00:00Z",
        ),
        (
            Retention::Month,
            "2026-03-31T23:00:00Z",
            "2026-04-01T00:00:00Z",
        ),
    ];
    for (retention, before, boundary) in cases {
        let mock = MockUpstream::start().await;
        let Some(c) = Cluster::start(db, &mock, ms(before)).await else {
            return;
        };
        let w = c.first();
        let a = w.account("a@example.com", 10.0).await;
        let limit = KeyLimit {
            retention,
            threshold: usd(0.010),
        };
        let k = w.key_with(&a, KeyKind::Regular, None, Some(limit)).await;
        for i in 0..2 {
            let r = c.pick(i).chat(&k.secret, EXACT, 5).await;
            assert_eq!(r.status, 201, "{retention:?}: {}", r.text);
        }
        c.settle().await;
        c.pick(2)
            .chat(&k.secret, EXACT, 5)
            .await
            .error(403, "key_limit_exceeded");
        c.clock.set(ms(boundary) - 1);
        c.pick(3)
            .chat(&k.secret, EXACT, 5)
            .await
            .error(403, "key_limit_exceeded");
        c.clock.set(ms(boundary));
        for i in 0..2 {
            let r = c.pick(i).chat(&k.secret, EXACT, 5).await;
            assert_eq!(r.status, 201, "{retention:?} after the reset: {}", r.text);
        }
        c.settle().await;
        c.pick(0)
            .chat(&k.secret, EXACT, 5)
            .await
            .error(403, "key_limit_exceeded");
        assert_eq!(w.wallet(&a).await, (usd(10.0 - 0.020), Nanos::ZERO));
        c.close().await;
    }
}

#[tokio::test]
async fn limits_reset_at_the_window_boundary_sqlite() {
    limits_reset_at_the_window_boundary(Db::SqliteFile).await;
}

#[tokio::test]
async fn limits_reset_at_the_window_boundary_postgres_two_replicas() {
    limits_reset_at_the_window_boundary(Db::Postgres(2)).await;
}

#[tokio::test]
async fn a_client_leaving_mid_stream_pays_for_what_it_got_and_frees_the_hold() {
    let mock = MockUpstream::start().await;
    let w = World::memory(&mock).await;
    let a = w.account("a@example.com", 1.0).await;
    let k = w.regular(&a).await;
    let mut body = chat_body(SLOW, 40);
    body["stream"] = json!(true);
    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1/chat/completions")
        .header("authorization", format!("Bearer {}", k.secret))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = app(w.state.clone()).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-inference-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let mut body = resp.into_body();
    let mut seen = String::new();
    // Read until two words arrived (the answer is the prompt reversed: w39, w38, …), then hang up.
    while seen.matches("w3").count() < 2 {
        let frame = body
            .frame()
            .await
            .unwrap_or_else(|| panic!("ended: {seen}"))
            .unwrap();
        if let Ok(data) = frame.into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
    drop(body);
    assert!(
        mock.eventually(Duration::from_secs(5), |m| m.cancelled_streams() == 1)
            .await
    );
    let (balance, held) = w.wallet(&a).await;
    assert_eq!(held, Nanos::ZERO, "the hold was released");
    let spent = usd(1.0).0 - balance.0;
    assert!(
        spent >= usd(0.002).0 && spent < usd(0.040).0,
        "charged {spent} nano-USD for a cut stream"
    );
    w.clock.advance_ms(1000);
    let logs = w.get("/v2/logs", &k.secret).await;
    let row = logs.ok()["data"][0].clone();
    assert_eq!(row["inference_id"], id.as_str());
    assert_eq!(row["status"], "succeeded");
    assert_eq!(
        Nanos::from_usd(row["cost"]["usd"].as_f64().unwrap()),
        Some(Nanos(spent))
    );

    // Hanging up before any output costs nothing.
    let before = w.wallet(&a).await.0;
    let mut body = chat_body(SLOW, 40);
    body["stream"] = json!(true);
    let req = Request::post("/v1/chat/completions")
        .header("authorization", format!("Bearer {}", k.secret))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = app(w.state.clone()).oneshot(req).await.unwrap();
    drop(resp);
    assert!(
        mock.eventually(Duration::from_secs(5), |m| m.cancelled_streams() == 2)
            .await
    );
    assert_eq!(w.wallet(&a).await, (before, Nanos::ZERO));
}
