//! The platform API against the reference shapes (`reference/aimlapi/*.json`):
//! every endpoint's required fields and JSON types, key kinds per route
//! class, scopes, rate-limit headers and 429s, query validation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod platform_fixture;

use axum::http::Method;
use platform_fixture::*;
use serde_json::{Value, json};
use switchyard_config::PlatformConfig;
use switchyard_platform::{KeyKind, RateLimits, Scope};
use switchyard_testkit::MockUpstream;

/// A key record of `keys-*.json` / `key-get.json`.
fn assert_key_record(d: &Value, with_secret: bool) {
    assert_type(d, "name", "string|null");
    assert_type(d, "disabled", "boolean");
    assert_type(d, "prefix", "string");
    assert_eq!(d["prefix"].as_str().unwrap().len(), 8, "{d}");
    assert_type(d, "scopes", "array|null");
    assert_timestamp(d, "created_at");
    assert_timestamp(d, "updated_at");
    assert_type(d, "monthly_usage", "number");
    if let Some(l) = d.get("limit").filter(|l| !l.is_null()) {
        assert_type(l, "retention", "string");
        assert_type(l, "threshold", "number");
    }
    let mut allowed = vec![
        "name",
        "disabled",
        "prefix",
        "scopes",
        "limit",
        "created_at",
        "updated_at",
        "monthly_usage",
    ];
    if with_secret {
        assert_type(d, "key", "string");
        assert!(
            d["key"]
                .as_str()
                .unwrap()
                .starts_with(d["prefix"].as_str().unwrap())
        );
        allowed.push("key");
    } else {
        assert!(d.get("key").is_none(), "secret shown again: {d}");
    }
    for k in d.as_object().unwrap().keys() {
        assert!(allowed.contains(&k.as_str()), "unexpected field {k} in {d}");
    }
}

#[tokio::test]
async fn key_management_endpoints_follow_the_reference() {
    let mock = MockUpstream::start().await;
    let w = World::memory(&mock).await;
    let a = w.account("a@example.com", 10.0).await;
    let m = w.management(&a).await;
    let mk = Some(m.secret.as_str());

    // POST with every field.
    let body = json!({"name": "20260202-key-for-llms", "limit": {"retention": "week", "threshold": 25},
                      "scopes": ["model:chat", "model:responses"]});
    let r = w.send(Method::POST, "/v1/keys", mk, Some(&body), &[]).await;
    let d = r.ok()["data"].clone();
    assert_key_record(&d, true);
    assert_eq!(d["name"], "20260202-key-for-llms");
    assert_eq!(d["disabled"], false);
    assert_eq!(d["scopes"], json!(["model:chat", "model:responses"]));
    assert_eq!(d["limit"], json!({"retention": "week", "threshold": 25.0}));
    assert_eq!(d["monthly_usage"], 0.0);
    let first = d["key"].as_str().unwrap().to_owned();
    let first_prefix = d["prefix"].as_str().unwrap().to_owned();

    // POST without a body: every scope, no limit, no name. (A second later, so
    // "oldest first" below is well defined on the manual clock.)
    w.clock.advance_ms(1000);
    let r = w.send(Method::POST, "/v1/keys", mk, None, &[]).await;
    let bare = r.ok()["data"].clone();
    assert_key_record(&bare, true);
    assert!(bare["name"].is_null() && bare["scopes"].is_null());
    assert!(bare.get("limit").is_none_or(Value::is_null));
    let bare_prefix = bare["prefix"].as_str().unwrap().to_owned();

    // The new key calls models and its monthly usage counts the charges.
    for _ in 0..2 {
        assert_eq!(w.chat(&first, EXACT, 5).await.status, 201);
    }
    w.settle().await;

    // GET /v1/keys: regular keys only, oldest first, no secrets.
    let r = w.get("/v1/keys", &m.secret).await;
    let rows = r.ok()["data"].as_array().unwrap().clone();
    let prefixes: Vec<&str> = rows.iter().map(|k| k["prefix"].as_str().unwrap()).collect();
    assert_eq!(prefixes, [first_prefix.as_str(), bare_prefix.as_str()]);
    for k in &rows {
        assert_key_record(k, false);
    }
    assert!((rows[0]["monthly_usage"].as_f64().unwrap() - 0.010).abs() < 1e-12);

    // GET /v1/key: the caller's own record, either kind.
    let own = w.get("/v1/key", &first).await;
    assert_key_record(&own.ok()["data"], false);
    assert_eq!(own.json["data"]["prefix"], first_prefix.as_str());
    let own = w.get("/v1/key", &m.secret).await;
    assert_eq!(own.ok()["data"]["prefix"], m.info.prefix.as_str());

    // PATCH changes only what is given; null clears.
    let path = format!("/v1/keys/{first_prefix}");
    let r = w
        .send(
            Method::PATCH,
            &path,
            mk,
            Some(&json!({"name": "patched"})),
            &[],
        )
        .await;
    let d = r.ok()["data"].clone();
    assert_key_record(&d, false);
    assert_eq!(
        (&d["name"], &d["scopes"], &d["limit"]["retention"]),
        (
            &json!("patched"),
            &json!(["model:chat", "model:responses"]),
            &json!("week")
        )
    );
    let d = w
        .send(
            Method::PATCH,
            &path,
            mk,
            Some(&json!({"limit": null, "disabled": true})),
            &[],
        )
        .await
        .ok()["data"]
        .clone();
    assert!(d["limit"].is_null());
    assert_eq!(
        (&d["disabled"], &d["name"]),
        (&json!(true), &json!("patched"))
    );
    // Disabled: refused (the cache keeps a key ≤ 2 s; a fresh app state has none).
    let fresh = World::on(w.store.clone(), router(&mock), w.clock.clone(), config());
    fresh
        .chat(&first, EXACT, 2)
        .await
        .error(401, "invalid_api_key");

    // PUT replaces everything: absent fields become defaults.
    let d = w
        .send(
            Method::PUT,
            &path,
            mk,
            Some(&json!({"scopes": ["model:image"]})),
            &[],
        )
        .await
        .ok()["data"]
        .clone();
    assert_key_record(&d, false);
    assert!(d["name"].is_null() && d["limit"].is_null());
    assert_eq!(
        (&d["disabled"], &d["scopes"]),
        (&json!(false), &json!(["model:image"]))
    );
    let d = w
        .send(
            Method::PUT,
            &path,
            mk,
            Some(&json!({"name": "n", "disabled": false, "scopes": null,
                         "limit": {"retention": "month", "threshold": 7.5}})),
            &[],
        )
        .await
        .ok()["data"]
        .clone();
    assert_eq!(d["limit"], json!({"retention": "month", "threshold": 7.5}));
    assert!(d["scopes"].is_null());

    // DELETE, then it is gone.
    let r = w.send(Method::DELETE, &path, mk, None, &[]).await;
    assert_eq!(
        r.ok(),
        &json!({"data": {"prefix": first_prefix, "deleted": true}})
    );
    w.send(Method::DELETE, &path, mk, None, &[])
        .await
        .error(404, "key_not_found");
    w.send(Method::PATCH, &path, mk, Some(&json!({"name": "x"})), &[])
        .await
        .error(404, "key_not_found");
    let rows = w.get("/v1/keys", &m.secret).await.json["data"].clone();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    let fresh = World::on(w.store.clone(), router(&mock), w.clock.clone(), config());
    fresh
        .chat(&first, EXACT, 2)
        .await
        .error(401, "invalid_api_key");

    // The management key's own prefix is not a key this API manages.
    let own_path = format!("/v1/keys/{}", m.info.prefix);
    w.send(
        Method::PATCH,
        &own_path,
        mk,
        Some(&json!({"disabled": true})),
        &[],
    )
    .await
    .error(404, "key_not_found");
}

#[tokio::test]
async fn key_bodies_are_validated() {
    let mock = MockUpstream::start().await;
    let w = World::memory(&mock).await;
    let a = w.account("a@example.com", 0.0).await;
    let m = w.management(&a).await;
    let target = w.regular(&a).await;
    let mk = Some(m.secret.as_str());
    let path = format!("/v1/keys/{}", target.info.prefix);
    let cases: Vec<(Method, &str, Value, &str, &str)> = vec![
        (
            Method::POST,
            "/v1/keys",
            json!({"nam": "typo"}),
            "nam",
            "unknown_parameter",
        ),
        (
            Method::POST,
            "/v1/keys",
            json!({"disabled": true}),
            "disabled",
            "unknown_parameter",
        ),
        (
            Method::POST,
            "/v1/keys",
            json!({"name": 42}),
            "name",
            "invalid_type",
        ),
        (
            Method::POST,
            "/v1/keys",
            json!({"scopes": ["model:nope"]}),
            "scopes[0]",
            "invalid_value",
        ),
        (
            Method::POST,
            "/v1/keys",
            json!({"limit": {"retention": "year", "threshold": 5}}),
            "limit.retention",
            "invalid_value",
        ),
        (
            Method::POST,
            "/v1/keys",
            json!({"limit": {"retention": "day", "threshold": -1}}),
            "limit.threshold",
            "invalid_value",
        ),
        (
            Method::POST,
            "/v1/keys",
            json!({"limit": {"retention": "day"}}),
            "limit.threshold",
            "missing_required_parameter",
        ),
        (
            Method::PATCH,
            &path,
            json!({"disabled": "yes"}),
            "disabled",
            "invalid_type",
        ),
        (
            Method::PATCH,
            &path,
            json!({"limit": {"retention": "day", "threshold": 1, "extra": 1}}),
            "limit.extra",
            "unknown_parameter",
        ),
        (
            Method::PUT,
            &path,
            json!({"scopes": "model:chat"}),
            "scopes",
            "invalid_type",
        ),
        (
            Method::PUT,
            &path,
            json!({"key": "x"}),
            "key",
            "unknown_parameter",
        ),
    ];
    for (method, p, body, param, code) in cases {
        let r = w.send(method.clone(), p, mk, Some(&body), &[]).await;
        r.error(400, code);
        assert_eq!(r.json["error"]["param"], param, "{method} {body}");
    }
    // Nothing changed.
    let k = w
        .platform()
        .key(&a, &target.info.prefix)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(k, {
        let mut i = target.info.clone();
        i.monthly_usage = k.monthly_usage;
        i
    });
    // Not JSON.
    let r = w
        .send(
            Method::PATCH,
            &path,
            mk,
            None,
            &[("content-type", "text/plain")],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
}

#[tokio::test]
async fn reporting_endpoints_follow_the_reference() {
    let mock = MockUpstream::start().await;
    let w = World::memory(&mock).await;
    let a = w.account("a@example.com", 2.5).await;
    let k = w.regular(&a).await;
    let m = w.management(&a).await;
    // Transactions are newest first: keep the grant and the charge apart.
    w.clock.advance_ms(1000);
    let ok = w
        .chat_with(&k.secret, EXACT, 5, &[("x-client-request-id", "client-1")])
        .await;
    assert_eq!(ok.status, 201, "{}", ok.text);
    let inference = ok.header("x-inference-id").unwrap().to_owned();
    assert_eq!(ok.json["id"], inference.as_str());
    let failed = w.chat(&k.secret, FAIL, 5).await;
    assert_eq!(failed.status, 502, "{}", failed.text);
    assert!(failed.header("x-inference-id").is_some());
    w.settle().await;
    // Report windows end at "now" (exclusive): let a second pass.
    w.clock.advance_ms(1000);

    // /v2/usage
    let u = w.get("/v2/usage?period=24h", &k.secret).await;
    let u = u.ok();
    for f in ["start", "end"] {
        assert_timestamp(u, f);
    }
    assert_type(u, "api_key_prefix", "null");
    assert_type(u, "spend", "number");
    assert_type(u, "requests", "integer");
    assert_eq!(
        (u["currency"].as_str(), u["requests"].as_u64()),
        (Some("USD"), Some(1))
    );
    assert!((u["spend"].as_f64().unwrap() - 0.005).abs() < 1e-12);
    assert_eq!(u.as_object().unwrap().len(), 6, "{u}");

    // /v2/usage/detail, without and with groups.
    let d = w.get("/v2/usage/detail?period=24h", &k.secret).await;
    let d = d.ok();
    assert!(d.get("groups").is_none());
    assert_type(d, "models", "array");
    for x in d["models"].as_array().unwrap() {
        assert_type(x, "model", "string");
        assert_type(x, "spend", "number");
        assert_type(x, "requests", "integer");
    }
    let d = w
        .get(
            &format!(
                "/v2/usage/detail?period=24h&group_by=day,model&tz=Europe/Berlin&key_prefix={}",
                k.info.prefix
            ),
            &k.secret,
        )
        .await;
    let d = d.ok();
    assert_eq!(d["api_key_prefix"], k.info.prefix.as_str());
    let groups = d["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{d}");
    for g in groups {
        assert_type(g, "day", "string");
        assert_type(g, "model", "string");
        assert_type(g, "spend", "number");
        for t in ["input", "output", "total"] {
            assert_type(&g["tokens"], t, "integer");
        }
        for t in ["total", "charged", "succeeded", "failed"] {
            assert_type(&g["requests"], t, "integer");
        }
    }
    let exact = groups.iter().find(|g| g["model"] == EXACT).unwrap();
    assert_eq!(exact["day"], "2026-03-10");
    assert_eq!(
        exact["tokens"],
        json!({"input": 5, "output": 5, "total": 10})
    );
    assert_eq!(
        exact["requests"],
        json!({"total": 1, "charged": 1, "succeeded": 1, "failed": 0})
    );
    let fail = groups.iter().find(|g| g["model"] == FAIL).unwrap();
    assert_eq!(
        fail["requests"],
        json!({"total": 1, "charged": 0, "succeeded": 0, "failed": 1})
    );
    assert_eq!(fail["spend"], 0.0);

    // /v2/logs and its alias.
    let l = w.get("/v2/logs?period=24h", &k.secret).await;
    let l = l.ok().clone();
    let rows = l["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for r in rows {
        assert_timestamp(r, "created");
        assert_type(r, "status", "string");
        assert_eq!(r["origin"], "api");
        assert_type(r, "model", "string");
        assert_type(&r["cost"], "usd", "number");
        assert_type(&r["cost"], "credits", "integer");
        for t in ["input", "output", "total"] {
            assert_type(&r["tokens"], t, "integer");
        }
        assert_type(r, "request_id", "string|null");
        assert_type(r, "inference_id", "string");
        assert_type(r, "client_request_id", "string|null");
    }
    let succeeded = rows.iter().find(|r| r["status"] == "succeeded").unwrap();
    assert_eq!(succeeded["inference_id"], inference.as_str());
    assert_eq!(succeeded["client_request_id"], "client-1");
    assert_eq!(succeeded["cost"], json!({"usd": 0.005, "credits": 10000}));
    let failed_row = rows.iter().find(|r| r["status"] == "failed").unwrap();
    assert_eq!(failed_row["cost"], json!({"usd": 0.0, "credits": 0}));
    assert!(failed_row["client_request_id"].is_null());
    assert_eq!(
        l["pagination"],
        json!({"limit": 50, "offset": 0, "total": 2, "has_more": false})
    );
    assert_eq!(w.get("/v2/usage/logs?period=24h", &k.secret).await.ok(), &l);
    let page = w
        .get("/v2/logs?period=24h&limit=1&offset=0", &k.secret)
        .await;
    assert_eq!(
        page.ok()["pagination"],
        json!({"limit": 1, "offset": 0, "total": 2, "has_more": true})
    );
    let filtered = w
        .get(
            &format!("/v2/logs?period=24h&status=failed&model={FAIL}&model={EXACT}"),
            &k.secret,
        )
        .await;
    assert_eq!(filtered.ok()["data"].as_array().unwrap().len(), 1);
    let comma = w
        .get(
            &format!("/v2/logs?period=24h&model={EXACT},{FAIL}"),
            &k.secret,
        )
        .await;
    assert_eq!(comma.ok()["data"], json!([]));

    // /v2/billing, /v2/billing/detail
    let b = w.get("/v2/billing", &m.secret).await;
    assert_eq!(
        b.ok(),
        &json!({"current_balance": 2.495, "currency": "USD"})
    );
    let d = w.get("/v2/billing/detail", &k.secret).await;
    let d = d.ok();
    assert_type(d, "user_id", "integer");
    assert_eq!(
        (d["email"].as_str(), d["currency"].as_str()),
        (Some("a@example.com"), Some("USD"))
    );
    assert_eq!(d["current_balance"], 2.495);
    assert_eq!(
        d["autotopup_settings"],
        json!({"is_enabled": false, "threshold": 0, "amount": 0, "currency": "USD"})
    );
    assert_eq!(
        w.get("/v2/billing/detail", &m.secret).await.json["user_id"],
        d["user_id"]
    );

    // /v2/billing/transactions
    let t = w.get("/v2/billing/transactions", &k.secret).await;
    let t = t.ok();
    let rows = t["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{t}");
    for r in rows {
        assert_timestamp(r, "created_at");
        assert_type(r, "direction", "string");
        assert_type(r, "type", "string");
        assert_type(&r["amount"], "usd", "number");
        assert_type(&r["amount"], "credits", "integer");
        assert_type(r, "model", "string|null");
        assert_type(r, "reference_id", "string|null");
    }
    assert_eq!(
        (
            &rows[0]["direction"],
            &rows[0]["type"],
            &rows[0]["model"],
            &rows[0]["reference_id"]
        ),
        (
            &json!("CHARGE"),
            &json!("MODEL_USAGE"),
            &json!(EXACT),
            &json!(inference)
        )
    );
    assert_eq!(rows[0]["amount"], json!({"usd": 0.005, "credits": 10000}));
    assert_eq!(
        (&rows[1]["direction"], &rows[1]["type"]),
        (&json!("TOPUP"), &json!("PAYMENT"))
    );
    assert_eq!(
        t["pagination"],
        json!({"next_cursor": null, "has_more": false})
    );
    let p1 = w.get("/v2/billing/transactions?limit=1", &k.secret).await;
    let cursor = p1.ok()["pagination"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(p1.json["pagination"]["has_more"], true);
    let p2 = w
        .get(
            &format!("/v2/billing/transactions?limit=1&cursor={cursor}"),
            &k.secret,
        )
        .await;
    assert_eq!(p2.ok()["data"][0], rows[1]);
    let charges = w
        .get(
            "/v2/billing/transactions?direction=CHARGE&type=MODEL_USAGE",
            &k.secret,
        )
        .await;
    assert_eq!(charges.ok()["data"].as_array().unwrap().len(), 1);
    let later = w
        .get(
            "/v2/billing/transactions?from=2026-03-11T00:00:00%2B01:00",
            &k.secret,
        )
        .await;
    assert_eq!(later.ok()["data"], json!([]));

    // /v1/billing/balance (credits)
    let b = w.get("/v1/billing/balance", &k.secret).await;
    let b = b.ok();
    assert_eq!(b["balance"], 4_990_000);
    assert_eq!(b["lowBalance"], false);
    assert_eq!(b["lowBalanceThreshold"], 2_000_000);
    assert_eq!(b["lastUpdated"], "2026-03-10T12:00:02.000Z");
    assert_eq!(b["autoDebitStatus"], "disabled");
    assert_eq!(b["status"], "current");
    assert_type(b, "statusExplanation", "string");
    let poor = w.account("poor@example.com", 0.5).await;
    let pk = w.regular(&poor).await;
    let b = w.get("/v1/billing/balance", &pk.secret).await;
    assert_eq!(
        (&b.ok()["lowBalance"], &b.json["status"]),
        (&json!(true), &json!("low"))
    );
    let broke = w.account("broke@example.com", 0.0).await;
    let bk = w.regular(&broke).await;
    assert_eq!(
        w.get("/v1/billing/balance", &bk.secret).await.ok()["status"],
        "depleted"
    );
}

#[tokio::test]
async fn report_parameters_are_validated_and_named() {
    let mock = MockUpstream::start().await;
    let w = World::memory(&mock).await;
    let a = w.account("a@example.com", 1.0).await;
    let k = w.regular(&a).await;
    let models: String = (0..51).map(|i| format!("&model=m{i}")).collect();
    let cases: Vec<(String, Option<&str>)> = vec![
        ("/v2/usage?group_by=day".into(), Some("group_by")),
        ("/v2/usage?period=24h&period=7d".into(), Some("period")),
        ("/v2/usage?period=abc".into(), Some("period")),
        ("/v2/usage?period=0h".into(), Some("period")),
        (
            "/v2/usage?period=24h&start=2026-03-01T00:00:00Z&end=2026-03-02T00:00:00Z".into(),
            None,
        ),
        ("/v2/usage?start=2026-03-01T00:00:00Z".into(), None),
        (
            "/v2/usage?start=2026-01-01T00:00:00Z&end=2026-04-04T00:00:00Z".into(),
            None,
        ),
        (
            "/v2/usage?start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z".into(),
            None,
        ),
        ("/v2/usage/detail?group_by=week".into(), Some("group_by")),
        ("/v2/usage/detail?group_by=day&tz=utc".into(), Some("tz")),
        (
            "/v2/usage/detail?group_by=day&tz=%2B05:00".into(),
            Some("tz"),
        ),
        ("/v2/logs?status=succeeded,failed".into(), Some("status")),
        ("/v2/logs?limit=101".into(), Some("limit")),
        ("/v2/logs?limit=0".into(), Some("limit")),
        ("/v2/logs?offset=-1".into(), Some("offset")),
        (format!("/v2/logs?period=1d{models}"), Some("model")),
        (
            "/v2/billing/transactions?direction=OUT".into(),
            Some("direction"),
        ),
        ("/v2/billing/transactions?type=GIFT".into(), Some("type")),
        ("/v2/billing/transactions?limit=0".into(), Some("limit")),
        (
            "/v2/billing/transactions?cursor=not-a-cursor".into(),
            Some("cursor"),
        ),
        (
            "/v2/billing/transactions?from=yesterday".into(),
            Some("from"),
        ),
        (
            "/v2/billing/transactions?from=2026-03-01T00:00:00".into(),
            Some("from"),
        ),
        (
            "/v2/billing/transactions?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z".into(),
            Some("to"),
        ),
    ];
    for (path, param) in cases {
        let r = w.get(&path, &k.secret).await;
        assert_eq!(r.status, 400, "{path}: {}", r.text);
        let got = r.json["error"]["param"].as_str();
        match param {
            Some(p) => assert_eq!(got, Some(p), "{path}: {}", r.text),
            None => assert!(got.is_some(), "{path}: {}", r.text),
        }
        // Every response of an authenticated request carries the rate-limit headers.
        assert!(r.header("x-ratelimit-limit-requests").is_some(), "{path}");
    }
    // 92 days is fine; a window without an offset is UTC.
    let r = w
        .get(
            "/v2/usage?start=2026-01-01T00:00:00&end=2026-04-03T00:00:00Z",
            &k.secret,
        )
        .await;
    assert_eq!(r.ok()["start"], "2026-01-01T00:00:00.000Z");
}

fn route_table(regular_prefix: &str) -> Vec<(Method, String, Option<Value>, KeyKind)> {
    let keyp = format!("/v1/keys/{regular_prefix}");
    vec![
        (
            Method::POST,
            "/v1/chat/completions".into(),
            Some(chat_body(EXACT, 2)),
            KeyKind::Regular,
        ),
        (Method::GET, "/v1/models".into(), None, KeyKind::Regular),
        (Method::GET, "/v1/keys".into(), None, KeyKind::Management),
        (
            Method::POST,
            "/v1/keys".into(),
            Some(json!({"name": "x"})),
            KeyKind::Management,
        ),
        (
            Method::PATCH,
            keyp.clone(),
            Some(json!({"name": "y"})),
            KeyKind::Management,
        ),
        (
            Method::PUT,
            keyp.clone(),
            Some(json!({"name": "z"})),
            KeyKind::Management,
        ),
        (Method::DELETE, keyp, None, KeyKind::Management),
    ]
}

const REPORTING: [&str; 9] = [
    "/v1/key",
    "/v2/usage",
    "/v2/usage/detail",
    "/v2/logs",
    "/v2/usage/logs",
    "/v2/billing",
    "/v2/billing/detail",
    "/v2/billing/transactions",
    "/v1/billing/balance",
];

fn assert_rate_headers(r: &Reply, what: &str) {
    for dim in ["requests", "tokens"] {
        let limit = r.header(&format!("x-ratelimit-limit-{dim}"));
        let remaining = r.header(&format!("x-ratelimit-remaining-{dim}"));
        let reset = r.header(&format!("x-ratelimit-reset-{dim}")).unwrap_or("");
        assert!(
            limit.is_some_and(|v| v.parse::<u32>().is_ok()),
            "{what}: {:?}",
            r.headers
        );
        assert!(
            remaining.is_some_and(|v| v.parse::<u32>().is_ok()),
            "{what}"
        );
        let digits = reset.trim_end_matches("ms").trim_end_matches('s');
        assert!(
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()),
            "{what}: reset {reset:?}"
        );
    }
}

#[tokio::test]
async fn each_route_takes_its_key_kind_and_every_response_has_rate_headers() {
    let mock = MockUpstream::start().await;
    let w = World::memory(&mock).await;
    let a = w.account("a@example.com", 5.0).await;
    let regular = w.regular(&a).await;
    let mgmt = w.management(&a).await;

    // Wrong kinds: 403 wrong_key_kind naming the kind needed, still with rate headers.
    for (method, path, body, kind) in route_table(&regular.info.prefix) {
        let wrong = match kind {
            KeyKind::Regular => &mgmt,
            KeyKind::Management => &regular,
        };
        let r = w
            .send(
                method.clone(),
                &path,
                Some(&wrong.secret),
                body.as_ref(),
                &[],
            )
            .await;
        r.error(403, "wrong_key_kind");
        let needed = match kind {
            KeyKind::Regular => "regular",
            KeyKind::Management => "management",
        };
        assert!(
            r.json["error"]["message"]
                .as_str()
                .unwrap()
                .contains(needed),
            "{}",
            r.text
        );
        assert_rate_headers(&r, &format!("{method} {path} wrong kind"));
    }
    assert_eq!(
        mock.request_count(),
        0,
        "a management key reached the backend"
    );
    // The regular key was not changed by any of those.
    let k = w
        .platform()
        .key(&a, &regular.info.prefix)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(k.name, regular.info.name);

    // Right kinds.
    for (method, path, body, kind) in route_table(&regular.info.prefix) {
        let right = match kind {
            KeyKind::Regular => &regular,
            KeyKind::Management => &mgmt,
        };
        let r = w
            .send(
                method.clone(),
                &path,
                Some(&right.secret),
                body.as_ref(),
                &[],
            )
            .await;
        assert!(r.status.is_success(), "{method} {path}: {}", r.text);
        assert_rate_headers(&r, &format!("{method} {path}"));
    }
    // Reporting: both kinds, 200 and headers; errors carry headers too.
    let other = w.regular(&a).await;
    for path in REPORTING {
        for k in [&other, &mgmt] {
            let r = w.get(path, &k.secret).await;
            assert_eq!(r.status, 200, "{path}: {}", r.text);
            assert_rate_headers(&r, path);
        }
    }
    let r = w.get("/v2/usage?key_prefix=zzzzzzzz", &mgmt.secret).await;
    r.error(404, "key_not_found");
    assert_rate_headers(&r, "404");
    // No key: 401 without rate headers (nothing to count against).
    let r = w.send(Method::GET, "/v2/usage", None, None, &[]).await;
    r.error(401, "invalid_api_key");
    assert!(r.header("x-ratelimit-limit-requests").is_none());
}

#[tokio::test]
async fn chat_needs_the_model_chat_scope() {
    let mock = MockUpstream::start().await;
    let w = World::memory(&mock).await;
    let a = w.account("a@example.com", 5.0).await;
    for scopes in [Some(vec![Scope::Image]), Some(Vec::new())] {
        let k = w.key_with(&a, KeyKind::Regular, scopes, None).await;
        let r = w.chat(&k.secret, EXACT, 3).await;
        r.error(403, "insufficient_scope");
        assert!(r.header("x-inference-id").is_some());
        // Listing models needs no scope.
        assert_eq!(w.get("/v1/models", &k.secret).await.status, 200);
    }
    assert_eq!(mock.request_count(), 0);
    let k = w
        .key_with(&a, KeyKind::Regular, Some(vec![Scope::Chat]), None)
        .await;
    assert_eq!(w.chat(&k.secret, EXACT, 3).await.status, 201);
    assert_eq!(w.wallet(&a).await, (usd(5.0 - 0.003), usd(0.0)));
}

#[tokio::test]
async fn client_request_id_is_checked_and_recorded() {
    let mock = MockUpstream::start().await;
    let w = World::memory(&mock).await;
    let a = w.account("a@example.com", 5.0).await;
    let k = w.regular(&a).await;
    let long = "x".repeat(129);
    for bad in [long.as_str(), "tab\there"] {
        let r = w
            .chat_with(&k.secret, EXACT, 3, &[("x-client-request-id", bad)])
            .await;
        r.error(400, "invalid_value");
        assert_eq!(r.json["error"]["param"], "X-Client-Request-Id");
    }
    assert_eq!(mock.request_count(), 0);
    let max = "y".repeat(128);
    let r = w
        .chat_with(&k.secret, EXACT, 3, &[("x-client-request-id", &max)])
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    w.settle().await;
    w.clock.advance_ms(1000);
    let logs = w.get("/v2/logs?status=succeeded", &k.secret).await;
    assert_eq!(logs.ok()["data"][0]["client_request_id"], max.as_str());
}

#[tokio::test]
async fn streaming_chat_has_the_inference_id_and_is_charged() {
    let mock = MockUpstream::start().await;
    let w = World::memory(&mock).await;
    let a = w.account("a@example.com", 1.0).await;
    let k = w.regular(&a).await;
    let mut body = chat_body(EXACT, 4);
    body["stream"] = json!(true);
    let r = w
        .send(
            Method::POST,
            "/v1/chat/completions",
            Some(&k.secret),
            Some(&body),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.header("x-inference-id").unwrap().to_owned();
    assert!(r.text.contains(&format!("\"id\":\"{id}\"")), "{}", r.text);
    assert!(r.text.ends_with("data: [DONE]\n\n"));
    assert_eq!(w.wallet(&a).await, (usd(1.0 - 0.004), usd(0.0)));
    let t = w
        .get("/v2/billing/transactions?direction=CHARGE", &k.secret)
        .await;
    assert_eq!(t.ok()["data"][0]["reference_id"], id.as_str());
}

#[tokio::test]
async fn rate_limits_answer_429_and_reset_with_the_minute() {
    let mock = MockUpstream::start().await;
    let store = switchyard_store::Store::open_in_memory().await.unwrap();
    let clock = switchyard_platform::ManualClock::new(T0 + 5_000);
    let w = World::on(
        store,
        router(&mock),
        clock.clone(),
        PlatformConfig {
            default_rpm: 3,
            default_tpm: 0,
            ..config()
        },
    );
    let a = w.account("a@example.com", 5.0).await;
    let k = w.regular(&a).await;
    for left in [2, 1, 0] {
        let r = w.get("/v1/models", &k.secret).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-ratelimit-limit-requests"), Some("3"));
        assert_eq!(
            r.header("x-ratelimit-remaining-requests"),
            Some(left.to_string().as_str())
        );
        assert_eq!(r.header("x-ratelimit-reset-requests"), Some("55s"));
        // Unlimited tokens: no token headers.
        assert!(r.header("x-ratelimit-limit-tokens").is_none());
    }
    let r = w.chat(&k.secret, EXACT, 2).await;
    r.error(429, "rate_limit_exceeded");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(r.header("x-ratelimit-remaining-requests"), Some("0"));
    assert_eq!(mock.request_count(), 0);
    // Reporting routes count too.
    w.get("/v2/usage", &k.secret)
        .await
        .error(429, "rate_limit_exceeded");
    // Another key has its own window.
    let other = w.regular(&a).await;
    assert_eq!(w.get("/v1/models", &other.secret).await.status, 200);
    // The next minute starts afresh.
    clock.advance_ms(55_000);
    let r = w.chat(&k.secret, EXACT, 2).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("x-ratelimit-remaining-requests"), Some("2"));

    // A per-key override: more requests for this key only.
    w.platform()
        .update_key(
            &a,
            &k.info.prefix,
            switchyard_platform::KeyPatch {
                rate: Some(RateLimits {
                    rpm: Some(10),
                    tpm: None,
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let fresh = World::on(
        w.store.clone(),
        router(&mock),
        clock.clone(),
        w.platform().config().clone(),
    );
    let r = fresh.get("/v1/models", &k.secret).await;
    assert_eq!(r.header("x-ratelimit-limit-requests"), Some("10"));
}

#[tokio::test]
async fn token_rate_limit_counts_settled_tokens() {
    let mock = MockUpstream::start().await;
    let store = switchyard_store::Store::open_in_memory().await.unwrap();
    let clock = switchyard_platform::ManualClock::new(T0);
    let w = World::on(
        store,
        router(&mock),
        clock.clone(),
        PlatformConfig {
            default_rpm: 0,
            default_tpm: 20,
            ..config()
        },
    );
    let a = w.account("a@example.com", 5.0).await;
    let k = w.regular(&a).await;
    let r = w.chat(&k.secret, EXACT, 12).await; // 12 prompt + 12 completion tokens
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("x-ratelimit-limit-tokens"), Some("20"));
    assert!(r.header("x-ratelimit-limit-requests").is_none());
    w.settle().await;
    let r = w.chat(&k.secret, EXACT, 2).await;
    r.error(429, "rate_limit_exceeded");
    assert!(r.header("retry-after").is_some());
    assert_eq!(r.header("x-ratelimit-remaining-tokens"), Some("0"));
    clock.advance_ms(60_000);
    assert_eq!(w.chat(&k.secret, EXACT, 2).await.status, 201);
}

/// Regression: a key disabled or deleted through this process was still
/// accepted from the key cache for up to its TTL (2 s). It is now refused on
/// the very next request; other replicas still notice within the TTL.
#[tokio::test]
async fn a_key_disabled_here_is_refused_at_once_not_after_the_cache_ttl() {
    let mock = MockUpstream::start().await;
    let w = World::memory(&mock).await;
    let a = w.account("a@example.com", 5.0).await;
    let m = w.management(&a).await;
    let k = w.regular(&a).await;
    // Authenticated once: now cached.
    assert_eq!(w.get("/v1/models", &k.secret).await.status, 200);
    let path = format!("/v1/keys/{}", k.info.prefix);
    let r = w
        .send(
            Method::PATCH,
            &path,
            Some(&m.secret),
            Some(&json!({"disabled": true})),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(w.get("/v1/models", &k.secret).await.status, 401);

    let k2 = w.regular(&a).await;
    assert_eq!(w.get("/v1/models", &k2.secret).await.status, 200);
    let r = w
        .send(
            Method::DELETE,
            &format!("/v1/keys/{}", k2.info.prefix),
            Some(&m.secret),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(w.get("/v1/models", &k2.secret).await.status, 401);
}
