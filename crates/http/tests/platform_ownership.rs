//! Ownership: account A's keys (management or regular) can never see,
//! change or disable account B's keys, usage, logs or transactions. Every
//! platform route is tried with A's keys against B's prefixes (404/403), and
//! B's state is compared before and after.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod platform_fixture;

use axum::http::Method;
use platform_fixture::*;
use serde_json::{Value, json};
use switchyard_platform::CreatedApiKey;
use switchyard_testkit::MockUpstream;

struct Side {
    account: String,
    regular: CreatedApiKey,
    mgmt: CreatedApiKey,
    inference: String,
}

async fn side(w: &World, email: &str, balance: f64) -> Side {
    let account = w.account(email, balance).await;
    let regular = w.regular(&account).await;
    let mgmt = w.management(&account).await;
    let r = w
        .chat_with(&regular.secret, EXACT, 4, &[("x-client-request-id", email)])
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    Side {
        inference: r.header("x-inference-id").unwrap().to_owned(),
        account,
        regular,
        mgmt,
    }
}

/// Everything B has, as seen by B's own keys.
async fn snapshot(w: &World, b: &Side) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        "/v1/key",
        "/v2/usage",
        "/v2/usage/detail?group_by=day,model",
        "/v2/logs",
        "/v2/billing/detail",
        "/v2/billing/transactions",
    ] {
        out.push(w.get(path, &b.regular.secret).await.ok().clone());
    }
    out.push(w.get("/v1/keys", &b.mgmt.secret).await.ok().clone());
    let mut balance = w
        .get("/v1/billing/balance", &b.regular.secret)
        .await
        .ok()
        .clone();
    balance["lastUpdated"] = Value::Null;
    out.push(balance);
    out
}

#[tokio::test]
async fn one_account_never_sees_or_changes_another() {
    let mock = MockUpstream::start().await;
    let w = World::memory(&mock).await;
    let a = side(&w, "a@example.com", 3.0).await;
    let b = side(&w, "b@example.com", 7.0).await;
    w.settle().await;
    w.clock.advance_ms(1000);
    let before = snapshot(&w, &b).await;

    for attacker in [&a.mgmt, &a.regular] {
        let key = Some(attacker.secret.as_str());
        let is_mgmt = attacker.info.prefix == a.mgmt.info.prefix;
        // Key management on B's keys (regular and management): 404 for A's management
        // key, 403 wrong_key_kind for A's regular key.
        for target in [&b.regular, &b.mgmt] {
            let path = format!("/v1/keys/{}", target.info.prefix);
            for (method, body) in [
                (Method::PATCH, Some(json!({"disabled": true}))),
                (
                    Method::PUT,
                    Some(json!({"name": "stolen", "disabled": true})),
                ),
                (Method::DELETE, None),
            ] {
                let r = w.send(method.clone(), &path, key, body.as_ref(), &[]).await;
                if is_mgmt {
                    r.error(404, "key_not_found");
                } else {
                    r.error(403, "wrong_key_kind");
                }
            }
            // Reports on B's keys: 404 (management) or 403 (regular).
            for report in [
                "/v2/usage",
                "/v2/usage/detail",
                "/v2/logs",
                "/v2/usage/logs",
            ] {
                let r = w
                    .get(
                        &format!("{report}?key_prefix={}", target.info.prefix),
                        &attacker.secret,
                    )
                    .await;
                if is_mgmt {
                    r.error(404, "key_not_found");
                } else {
                    r.error(403, "management_key_required");
                }
                assert!(!r.text.contains(&b.inference));
            }
        }
        // Listing and own reports never show B.
        if is_mgmt {
            let list = w.get("/v1/keys", &attacker.secret).await;
            let prefixes: Vec<&str> = list.ok()["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["prefix"].as_str().unwrap())
                .collect();
            assert_eq!(prefixes, [a.regular.info.prefix.as_str()]);
        }
        for path in [
            "/v1/key",
            "/v2/usage",
            "/v2/usage/detail?group_by=day,model",
            "/v2/logs",
            "/v2/usage/logs",
            "/v2/billing",
            "/v2/billing/detail",
            "/v2/billing/transactions",
            "/v1/billing/balance",
        ] {
            let r = w.get(path, &attacker.secret).await;
            assert_eq!(r.status, 200, "{path}: {}", r.text);
            for secret_of_b in [
                b.inference.as_str(),
                "b@example.com",
                b.regular.info.prefix.as_str(),
                b.mgmt.info.prefix.as_str(),
            ] {
                assert!(
                    !r.text.contains(secret_of_b),
                    "{path} shows B's {secret_of_b}: {}",
                    r.text
                );
            }
        }
        // A's own figures are A's.
        let bal = w.get("/v2/billing", &attacker.secret).await;
        assert_eq!(bal.ok()["current_balance"], json!(2.996));
    }
    // A's management key reporting on A's regular key works.
    let own = w
        .get(
            &format!("/v2/logs?key_prefix={}", a.regular.info.prefix),
            &a.mgmt.secret,
        )
        .await;
    assert_eq!(own.ok()["data"][0]["inference_id"], a.inference.as_str());
    // A regular key may name itself.
    let me = w
        .get(
            &format!("/v2/usage?key_prefix={}", a.regular.info.prefix),
            &a.regular.secret,
        )
        .await;
    assert_eq!(me.ok()["api_key_prefix"], a.regular.info.prefix.as_str());
    // …but not its sibling.
    let sibling = w.regular(&a.account).await;
    w.get(
        &format!("/v2/usage?key_prefix={}", sibling.info.prefix),
        &a.regular.secret,
    )
    .await
    .error(403, "management_key_required");

    // B is untouched: same figures, keys enabled, still calls models.
    assert_eq!(snapshot(&w, &b).await, before);
    let fresh = World::on(w.store.clone(), router(&mock), w.clock.clone(), config());
    assert_eq!(fresh.chat(&b.regular.secret, EXACT, 2).await.status, 201);
    assert_eq!(
        fresh.get("/v1/keys", &b.mgmt.secret).await.ok()["data"][0]["disabled"],
        false
    );
    assert_eq!(fresh.wallet(&b.account).await, (usd(6.994), usd(0.0)));
}

#[tokio::test]
async fn prefixes_are_not_shared_between_accounts() {
    // A key created by B's management key is only reachable through B.
    let mock = MockUpstream::start().await;
    let w = World::memory(&mock).await;
    let a = w.account("a@example.com", 1.0).await;
    let b = w.account("b@example.com", 1.0).await;
    let am = w.management(&a).await;
    let bm = w.management(&b).await;
    let made = w
        .send(
            Method::POST,
            "/v1/keys",
            Some(&bm.secret),
            Some(&json!({"name": "bs"})),
            &[],
        )
        .await;
    let prefix = made.ok()["data"]["prefix"].as_str().unwrap().to_owned();
    let path = format!("/v1/keys/{prefix}");
    w.send(Method::DELETE, &path, Some(&am.secret), None, &[])
        .await
        .error(404, "key_not_found");
    let still = w.platform().key(&b, &prefix).await.unwrap();
    assert!(still.is_some_and(|k| !k.disabled));
    assert!(w.platform().key(&a, &prefix).await.unwrap().is_none());
    // B deletes it; A never saw it.
    let r = w
        .send(Method::DELETE, &path, Some(&bm.secret), None, &[])
        .await;
    assert_eq!(r.ok()["data"]["deleted"], true);
}
