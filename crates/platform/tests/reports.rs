#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Usage summaries, groups (by day in a time zone, by model) and the request log.

mod billing_common;

use billing_common::*;
use switchyard_platform::{
    GroupBy, KeyAuth, LogQuery, LogStatus, Nanos, Platform, PlatformError, RateLimits, ReportRange,
    UsageGroup, parse_tz,
};

on_both!(
    summary_counts_charged_requests_and_orders_models_by_spend,
    groups_by_day_follow_the_time_zone_and_dst,
    groups_by_model_and_by_day_and_model,
    logs_filter_page_and_count,
    settled_calls_show_up_in_the_reports,
);

/// Records a ledger row directly (reports only read the ledger).
#[allow(clippy::too_many_arguments)]
async fn put(
    p: &Platform,
    auth: &KeyAuth,
    id: &str,
    model: &str,
    at: &str,
    charged: i64,
    succeeded: bool,
    tokens: (u64, u64),
) {
    let mut row = usage(Some(auth), id, model, ms(at));
    row.charged_nanos = charged;
    row.succeeded = succeeded;
    (row.prompt_tokens, row.completion_tokens) = tokens;
    if !succeeded {
        row.status_code = 502;
        row.outcome = "upstream_error".into();
    }
    assert!(p.store().record_usage(&row).await.unwrap());
}

fn range(start: &str, end: &str) -> ReportRange {
    ReportRange {
        start_ms: ms(start),
        end_ms: ms(end),
    }
}

async fn summary_counts_charged_requests_and_orders_models_by_spend(env: Env) {
    let p = &env.platform;
    let acct = account(p, false).await;
    let k1 = key(p, &acct, false, None, RateLimits::default()).await;
    let k2 = key(p, &acct, false, None, RateLimits::default()).await;
    let stranger = account(p, false).await;
    let ks = key(p, &stranger, false, None, RateLimits::default()).await;
    put(
        p,
        &k1,
        "a1",
        "openai/gpt-5",
        "2026-07-01T10:00:00Z",
        500,
        true,
        (10, 20),
    )
    .await;
    put(
        p,
        &k1,
        "a2",
        "openai/gpt-5",
        "2026-07-01T11:00:00Z",
        700,
        true,
        (10, 20),
    )
    .await;
    put(
        p,
        &k2,
        "a3",
        "x-ai/grok-beta",
        "2026-07-02T10:00:00Z",
        2_000,
        true,
        (10, 20),
    )
    .await;
    put(
        p,
        &k2,
        "a4",
        "mock/fail",
        "2026-07-02T10:00:00Z",
        0,
        false,
        (10, 0),
    )
    .await;
    // Outside the window: one at its end (exclusive), one before its start.
    put(
        p,
        &k1,
        "a5",
        "openai/gpt-5",
        "2026-07-03T00:00:00Z",
        9_000,
        true,
        (1, 1),
    )
    .await;
    put(
        p,
        &k1,
        "a6",
        "openai/gpt-5",
        "2026-06-30T23:59:59.999Z",
        9_000,
        true,
        (1, 1),
    )
    .await;
    // Another account's spend never shows.
    put(
        p,
        &ks,
        "s1",
        "openai/gpt-5",
        "2026-07-01T10:00:00Z",
        50_000,
        true,
        (1, 1),
    )
    .await;

    let r = range("2026-07-01T00:00:00Z", "2026-07-03T00:00:00Z");
    let all = p.usage_summary(&acct, None, r).await.unwrap();
    assert_eq!(all.spend, Nanos(3_200));
    assert_eq!(all.requests, 3, "the failed call is not a charged request");
    let models: Vec<_> = all
        .models
        .iter()
        .map(|m| (m.model.as_str(), m.spend.0, m.requests))
        .collect();
    assert_eq!(
        models,
        vec![("x-ai/grok-beta", 2_000, 1), ("openai/gpt-5", 1_200, 2)]
    );

    let one = p.usage_summary(&acct, Some(&k1.key_id), r).await.unwrap();
    assert_eq!((one.spend, one.requests), (Nanos(1_200), 2));
    assert_eq!(one.models.len(), 1);

    let wider = range("2026-06-30T23:59:59.999Z", "2026-07-03T00:00:00.001Z");
    assert_eq!(
        p.usage_summary(&acct, None, wider).await.unwrap().spend,
        Nanos(21_200)
    );
    // A key of another account reports nothing for this account.
    let cross = p.usage_summary(&acct, Some(&ks.key_id), r).await.unwrap();
    assert_eq!(
        (cross.spend, cross.requests, cross.models.len()),
        (Nanos::ZERO, 0, 0)
    );

    // Per key: this account's keys only, highest spend first, failed calls
    // counted as requests but not charged.
    let by_key: Vec<_> = p
        .usage_by_key(&acct, r)
        .await
        .unwrap()
        .into_iter()
        .map(|k| {
            (
                k.key_id.unwrap(),
                k.usage.spend.0,
                k.usage.total,
                k.usage.succeeded,
                k.usage.input_tokens,
            )
        })
        .collect();
    assert_eq!(
        by_key,
        vec![
            (k2.key_id.clone(), 2_000, 2, 1, 20),
            (k1.key_id.clone(), 1_200, 2, 2, 20),
        ]
    );
    let wide_keys = p.usage_by_key(&acct, wider).await.unwrap();
    assert_eq!(wide_keys[0].key_id.as_deref(), Some(k1.key_id.as_str()));
    assert_eq!(wide_keys[0].usage.spend, Nanos(19_200));
    assert_eq!(
        p.usage_by_key(&acct, range("2027-01-01T00:00:00Z", "2027-01-02T00:00:00Z"))
            .await
            .unwrap(),
        vec![]
    );
}

fn days(groups: &[UsageGroup]) -> Vec<(String, i64, u64)> {
    groups
        .iter()
        .map(|g| (g.day.clone().unwrap(), g.spend.0, g.total))
        .collect()
}

async fn groups_by_day_follow_the_time_zone_and_dst(env: Env) {
    let p = &env.platform;
    let acct = account(p, false).await;
    let k = key(p, &acct, false, None, RateLimits::default()).await;
    // Europe/Berlin switches to summer time at 2026-03-29T01:00:00Z.
    put(
        p,
        &k,
        "d1",
        "m/a",
        "2026-03-28T22:59:59.999Z",
        1,
        true,
        (1, 1),
    )
    .await; // 23:59 CET, 28th
    put(p, &k, "d2", "m/a", "2026-03-28T23:00:00Z", 10, true, (1, 1)).await; // 00:00 CET, 29th
    put(
        p,
        &k,
        "d3",
        "m/a",
        "2026-03-29T21:59:59.999Z",
        100,
        true,
        (1, 1),
    )
    .await; // 23:59 CEST, 29th
    put(
        p,
        &k,
        "d4",
        "m/a",
        "2026-03-29T22:00:00Z",
        1_000,
        true,
        (1, 1),
    )
    .await; // 00:00 CEST, 30th
    let r = range("2026-03-28T00:00:00Z", "2026-03-31T00:00:00Z");

    let berlin = parse_tz("Europe/Berlin").unwrap();
    let g = p
        .usage_groups(&acct, None, r, GroupBy::Day, berlin)
        .await
        .unwrap();
    assert_eq!(
        days(&g),
        vec![
            ("2026-03-28".into(), 1, 1),
            ("2026-03-29".into(), 110, 2),
            ("2026-03-30".into(), 1_000, 1),
        ]
    );
    assert!(g.iter().all(|g| g.model.is_none()));
    let utc = parse_tz("UTC").unwrap();
    let g = p
        .usage_groups(&acct, None, r, GroupBy::Day, utc)
        .await
        .unwrap();
    assert_eq!(
        days(&g),
        vec![
            ("2026-03-28".into(), 11, 2),
            ("2026-03-29".into(), 1_100, 2)
        ]
    );
    // A zone 5:45 ahead: local midnight falls on a quarter hour.
    let kathmandu = parse_tz("Asia/Kathmandu").unwrap();
    put(
        p,
        &k,
        "n1",
        "m/a",
        "2026-03-30T18:14:59.999Z",
        7,
        true,
        (1, 1),
    )
    .await; // 23:59 on the 30th
    put(p, &k, "n2", "m/a", "2026-03-30T18:15:00Z", 70, true, (1, 1)).await; // 00:00 on the 31st
    let r = range("2026-03-30T12:00:00Z", "2026-03-31T00:00:00Z");
    let g = p
        .usage_groups(&acct, None, r, GroupBy::Day, kathmandu)
        .await
        .unwrap();
    assert_eq!(
        days(&g),
        vec![("2026-03-30".into(), 7, 1), ("2026-03-31".into(), 70, 1)]
    );
}

async fn groups_by_model_and_by_day_and_model(env: Env) {
    let p = &env.platform;
    let acct = account(p, false).await;
    let k = key(p, &acct, false, None, RateLimits::default()).await;
    put(
        p,
        &k,
        "g1",
        "m/cheap",
        "2026-07-01T01:00:00Z",
        100,
        true,
        (10, 20),
    )
    .await;
    put(
        p,
        &k,
        "g2",
        "m/cheap",
        "2026-07-01T02:00:00Z",
        0,
        false,
        (5, 0),
    )
    .await;
    put(
        p,
        &k,
        "g3",
        "m/dear",
        "2026-07-01T03:00:00Z",
        900,
        true,
        (30, 40),
    )
    .await;
    put(
        p,
        &k,
        "g4",
        "m/cheap",
        "2026-07-02T01:00:00Z",
        300,
        true,
        (1, 2),
    )
    .await;
    let r = range("2026-07-01T00:00:00Z", "2026-07-03T00:00:00Z");
    let utc = parse_tz("UTC").unwrap();

    let g = p
        .usage_groups(&acct, None, r, GroupBy::Model, utc)
        .await
        .unwrap();
    assert_eq!(g.len(), 2);
    assert_eq!(g[0].model.as_deref(), Some("m/dear"), "highest spend first");
    let cheap = &g[1];
    assert_eq!(cheap.day, None);
    assert_eq!(cheap.spend, Nanos(400));
    assert_eq!((cheap.input_tokens, cheap.output_tokens), (16, 22));
    assert_eq!(
        (cheap.total, cheap.charged, cheap.succeeded, cheap.failed),
        (3, 2, 2, 1)
    );

    let g = p
        .usage_groups(&acct, None, r, GroupBy::DayModel, utc)
        .await
        .unwrap();
    let got: Vec<_> = g
        .iter()
        .map(|g| {
            (
                g.day.clone().unwrap(),
                g.model.clone().unwrap(),
                g.spend.0,
                g.total,
                g.failed,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("2026-07-01".into(), "m/dear".into(), 900, 1, 0),
            ("2026-07-01".into(), "m/cheap".into(), 100, 2, 1),
            ("2026-07-02".into(), "m/cheap".into(), 300, 1, 0),
        ]
    );
    // Groups reconcile with the summary: spend and charged requests.
    let sum = p.usage_summary(&acct, None, r).await.unwrap();
    assert_eq!(sum.spend.0, g.iter().map(|g| g.spend.0).sum::<i64>());
    assert_eq!(sum.requests, g.iter().map(|g| g.charged).sum::<u64>());
    assert_eq!(GroupBy::parse("day,model").unwrap(), GroupBy::DayModel);
    assert!(matches!(
        GroupBy::parse("model,day").unwrap_err(),
        PlatformError::InvalidInput { ref param, .. } if param == "group_by"
    ));
}

fn query(range: ReportRange) -> LogQuery {
    LogQuery {
        key_id: None,
        range,
        models: Vec::new(),
        statuses: Vec::new(),
        limit: 50,
        offset: 0,
    }
}

async fn logs_filter_page_and_count(env: Env) {
    let p = &env.platform;
    let acct = account(p, false).await;
    let k1 = key(p, &acct, false, None, RateLimits::default()).await;
    let k2 = key(p, &acct, false, None, RateLimits::default()).await;
    let stranger = account(p, false).await;
    let ks = key(p, &stranger, false, None, RateLimits::default()).await;
    for i in 0..12 {
        let (k, model) = match i % 3 {
            0 => (&k1, "openai/gpt-5"),
            1 => (&k2, "openai/gpt-5-mini"),
            _ => (&k1, "x-ai/grok-beta"),
        };
        let at = format!("2026-07-01T10:{i:02}:00Z");
        let ok = i % 4 != 0;
        let charged = if ok { 10 * i } else { 0 };
        put(
            p,
            k,
            &format!("l{i:02}"),
            model,
            &at,
            charged,
            ok,
            (i as u64, 1),
        )
        .await;
    }
    put(
        p,
        &ks,
        "theirs",
        "openai/gpt-5",
        "2026-07-01T10:30:00Z",
        5,
        true,
        (1, 1),
    )
    .await;
    let r = range("2026-07-01T00:00:00Z", "2026-07-02T00:00:00Z");

    let all = p.logs(&acct, query(r)).await.unwrap();
    assert_eq!(all.total, 12);
    let ids: Vec<_> = all.rows.iter().map(|r| r.request_id.as_str()).collect();
    assert_eq!(ids.first(), Some(&"l11"), "newest first");
    assert_eq!(ids.last(), Some(&"l00"));
    let newest = &all.rows[0];
    assert_eq!(newest.model, "x-ai/grok-beta");
    assert_eq!(newest.cost, Nanos(110));
    assert_eq!((newest.input_tokens, newest.output_tokens), (11, 1));
    assert_eq!(newest.inference_id.as_deref(), Some("chatcmpl-l11"));
    assert_eq!(newest.key_prefix.as_deref(), Some(k1.prefix.as_str()));
    assert_eq!(newest.origin, "api");
    assert!(newest.succeeded);
    assert_eq!(newest.created_at, ms("2026-07-01T10:11:00Z"));

    // Pages.
    let mut q = query(r);
    q.limit = 5;
    q.offset = 10;
    let page = p.logs(&acct, q).await.unwrap();
    assert_eq!(page.total, 12);
    let ids: Vec<_> = page.rows.iter().map(|r| r.request_id.clone()).collect();
    assert_eq!(ids, vec!["l01", "l00"]);

    // Models: exact, several, bare alias; a comma list is one (unknown) name.
    let models = |m: &[&str]| {
        let mut q = query(r);
        q.models = m.iter().map(|s| s.to_string()).collect();
        q
    };
    assert_eq!(
        p.logs(&acct, models(&["openai/gpt-5"]))
            .await
            .unwrap()
            .total,
        4
    );
    assert_eq!(
        p.logs(&acct, models(&["openai/gpt-5", "x-ai/grok-beta"]))
            .await
            .unwrap()
            .total,
        8
    );
    assert_eq!(p.logs(&acct, models(&["gpt-5"])).await.unwrap().total, 4);
    assert_eq!(
        p.logs(&acct, models(&["gpt-5-mini", "grok-beta"]))
            .await
            .unwrap()
            .total,
        8
    );
    assert_eq!(p.logs(&acct, models(&["gpt"])).await.unwrap().total, 0);
    assert_eq!(
        p.logs(&acct, models(&["openai/gpt"])).await.unwrap().total,
        0
    );
    assert_eq!(
        p.logs(&acct, models(&["OPENAI/GPT-5"]))
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(
        p.logs(&acct, models(&["openai/gpt-5,x-ai/grok-beta"]))
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(p.logs(&acct, models(&["%", "_"])).await.unwrap().total, 0);

    // Status.
    let status = |s: &[LogStatus]| {
        let mut q = query(r);
        q.statuses = s.to_vec();
        q
    };
    let failed = p.logs(&acct, status(&[LogStatus::Failed])).await.unwrap();
    assert_eq!(failed.total, 3);
    assert!(
        failed
            .rows
            .iter()
            .all(|r| !r.succeeded && r.cost == Nanos::ZERO)
    );
    assert_eq!(
        p.logs(&acct, status(&[LogStatus::Succeeded]))
            .await
            .unwrap()
            .total,
        9
    );
    assert_eq!(
        p.logs(&acct, status(&[LogStatus::Succeeded, LogStatus::Failed]))
            .await
            .unwrap()
            .total,
        12
    );
    assert_eq!(LogStatus::parse("failed").unwrap(), LogStatus::Failed);
    assert!(LogStatus::parse("succeeded,failed").is_err());

    // Key.
    let mut q = query(r);
    q.key_id = Some(k2.key_id.clone());
    let by_key = p.logs(&acct, q).await.unwrap();
    assert_eq!(by_key.total, 4);
    assert!(
        by_key
            .rows
            .iter()
            .all(|r| r.key_prefix.as_deref() == Some(k2.prefix.as_str()))
    );
    // Another account's key shows nothing.
    let mut q = query(r);
    q.key_id = Some(ks.key_id.clone());
    assert_eq!(p.logs(&acct, q).await.unwrap().total, 0);

    // Combined: a model, a status and a window.
    let mut q = models(&["openai/gpt-5"]);
    q.statuses = vec![LogStatus::Succeeded];
    q.range = range("2026-07-01T10:01:00Z", "2026-07-01T10:10:00Z");
    let ids: Vec<_> = p
        .logs(&acct, q)
        .await
        .unwrap()
        .rows
        .into_iter()
        .map(|r| r.request_id)
        .collect();
    assert_eq!(ids, vec!["l09", "l06", "l03"]);

    // Bad pages.
    for limit in [0, 101] {
        let mut q = query(r);
        q.limit = limit;
        assert!(matches!(
            p.logs(&acct, q).await.unwrap_err(),
            PlatformError::InvalidInput { ref param, .. } if param == "limit"
        ));
    }
    let too_many: Vec<String> = (0..51).map(|i| format!("m/{i}")).collect();
    let mut q = query(r);
    q.models = too_many;
    assert!(matches!(
        p.logs(&acct, q).await.unwrap_err(),
        PlatformError::InvalidInput { ref param, .. } if param == "model"
    ));
}

async fn settled_calls_show_up_in_the_reports(env: Env) {
    let p = &env.platform;
    let acct = account(p, false).await;
    let k = key(p, &acct, false, None, RateLimits::default()).await;
    fund(p, &acct, Nanos(1_000_000_000)).await;
    let hold = p.authorize(hold_request(&k)).await.unwrap();
    assert!(settle_ok(p, &k, &hold, Nanos(123_456)).await);
    let r = ReportRange {
        start_ms: p.now_ms() - 1,
        end_ms: p.now_ms() + 1,
    };
    let s = p.usage_summary(&acct, Some(&k.key_id), r).await.unwrap();
    assert_eq!((s.spend, s.requests), (Nanos(123_456), 1));
    let logs = p.logs(&acct, query(r)).await.unwrap();
    assert_eq!(logs.total, 1);
    assert_eq!(logs.rows[0].cost, Nanos(123_456));
    assert_eq!(logs.rows[0].key_prefix.as_deref(), Some(k.prefix.as_str()));
    assert_reconciles(p, &acct).await;
}
