"""Money through the real binary: out-of-balance refusals, `switchyard credits add`
grants, what calls and failed calls cost, and the figures of `/v2/billing*`,
`/v1/billing/balance`, `/v2/usage*` and `/v2/logs` (shapes per
`../shared/reference/aimlapi/`), which must reconcile: balance = grants − charges.

`test/exact` costs 0.001 USD per completion token and nothing for the prompt, and
the mock answers as many tokens as the prompt has words (up to max_tokens), so a
5-word call costs exactly 0.005 USD."""

import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest
import requests

from conftest import (CREDITS_PER_USD, EXACT_MODEL, EXACT_USD_PER_TOKEN, chat_call, platform_config, start_switchyard,
                      wait_settled)

TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
GRANT_USD = 2.5
WORDS = 5
CALL_USD = WORDS * EXACT_USD_PER_TOKEN
CALLS = 3
TX_TYPES = {"PAYMENT", "BONUS", "REFUND", "ADJUSTMENT", "MODEL_USAGE", "CREDITS_EXPIRED", "INIT"}
NO_BYPASS = "admins_bypass_balance = false"


def usd(x: float):
    return pytest.approx(x, abs=1e-9)


def get(sy, path: str, key: str, params=None) -> requests.Response:
    return requests.get(sy.base + path, params=params, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def get_ok(sy, path: str, key: str, params=None) -> dict:
    r = get(sy, path, key, params)
    assert r.status_code == 200, f"GET {path} {params}: {r.status_code} {r.text}"
    return r.json()


def assert_error(r: requests.Response, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, f"{r.status_code} {r.text}"
    err = r.json()["error"]
    assert err["message"], err
    if code is not None:
        assert err["code"] == code, err
    return err


@pytest.fixture(scope="module")
def sy(mock_upstream, tmp_path_factory):
    # Without the administrators' bypass the bootstrap administrator pays like everybody.
    s = start_switchyard(tmp_path_factory.mktemp("billing"), platform_config(mock_upstream, NO_BYPASS), name="billing")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def flow(sy) -> dict:
    """Zero balance → refused; grant; three 5-token calls; one failed upstream call."""
    key = sy.create_key(name="payer")
    refused = chat_call(sy.base, key["key"], model="x-ai/grok-beta", words=WORDS)
    sy.cli_ok("credits", "add", "admin@localhost", str(GRANT_USD), "--note", "first grant")
    calls = [chat_call(sy.base, key["key"], words=WORDS, headers={"X-Client-Request-Id": f"client-{i}"})
             for i in range(CALLS)]
    failed = chat_call(sy.base, key["key"], model="test/fail-500", words=WORDS)
    wait_settled(sy, "admin@localhost")
    return {"key": key, "refused": refused, "calls": calls, "failed": failed,
            "inference_ids": [c.headers.get("x-inference-id") for c in calls]}


def test_out_of_balance_is_403_without_retry(flow):
    r = flow["refused"]
    assert_error(r, 403, "insufficient_balance")
    assert r.headers.get("x-should-retry") == "false", dict(r.headers)


def test_calls_succeed_after_a_grant(flow):
    for c in flow["calls"]:
        assert c.status_code == 201, c.text
        assert c.json()["usage"]["completion_tokens"] == WORDS
        assert c.headers.get("x-inference-id") == c.json()["id"]
    assert flow["failed"].status_code >= 500, flow["failed"].text


def test_billing_balance(sy, flow):
    body = get_ok(sy, "/v2/billing", flow["key"]["key"])
    assert set(body) == {"current_balance", "currency"}, body
    assert body["currency"] == "USD"
    assert body["current_balance"] == usd(GRANT_USD - CALLS * CALL_USD)


def test_billing_detail(sy, flow):
    body = get_ok(sy, "/v2/billing/detail", flow["key"]["key"])
    assert {"user_id", "email", "current_balance", "currency", "autotopup_settings"} <= set(body), body
    assert body["email"] == "admin@localhost"
    assert body["current_balance"] == usd(GRANT_USD - CALLS * CALL_USD)
    assert body["currency"] == "USD"
    assert body["autotopup_settings"]["is_enabled"] is False


def test_legacy_balance_in_credits(sy, flow):
    body = get_ok(sy, "/v1/billing/balance", flow["key"]["key"])
    required = {"balance", "lowBalance", "lowBalanceThreshold", "lastUpdated", "autoDebitStatus", "status",
                "statusExplanation"}
    assert required <= set(body), body
    assert body["balance"] == pytest.approx((GRANT_USD - CALLS * CALL_USD) * CREDITS_PER_USD, abs=1e-3)
    assert body["lowBalance"] is False  # 2.485 USD is above the default 1 USD threshold
    assert body["lowBalanceThreshold"] == pytest.approx(1.0 * CREDITS_PER_USD)
    datetime.fromisoformat(body["lastUpdated"].replace("Z", "+00:00"))
    assert all(isinstance(body[k], str) and body[k] for k in ("autoDebitStatus", "status", "statusExplanation"))


def all_transactions(sy, key: str, **params) -> list[dict]:
    rows, cursor = [], None
    for _ in range(100):
        q = dict(params, limit=params.get("limit", 1))
        if cursor:
            q["cursor"] = cursor
        page = get_ok(sy, "/v2/billing/transactions", key, q)
        assert set(page["pagination"]) == {"next_cursor", "has_more"}
        rows += page["data"]
        assert page["pagination"]["has_more"] == (page["pagination"]["next_cursor"] is not None)
        cursor = page["pagination"]["next_cursor"]
        if not cursor:
            return rows
    raise AssertionError("pagination never ended")


def test_transactions(sy, flow):
    key = flow["key"]["key"]
    page = get_ok(sy, "/v2/billing/transactions", key)
    assert page["pagination"] == {"next_cursor": None, "has_more": False}
    rows = page["data"]
    assert len(rows) == CALLS + 1, rows
    for row in rows:
        assert set(row) >= {"created_at", "direction", "type", "amount", "model", "reference_id"}, row
        assert TS.match(row["created_at"]), row
        assert row["type"] in TX_TYPES
        assert set(row["amount"]) == {"usd", "credits"}
        assert row["amount"]["credits"] == round(row["amount"]["usd"] * CREDITS_PER_USD)
    assert [r["created_at"] for r in rows] == sorted((r["created_at"] for r in rows), reverse=True)
    charges, topups = rows[:CALLS], rows[CALLS:]
    for c in charges:
        assert (c["direction"], c["type"], c["model"]) == ("CHARGE", "MODEL_USAGE", EXACT_MODEL), c
        assert c["amount"]["usd"] == usd(CALL_USD)
        assert c["amount"]["credits"] == round(CALL_USD * CREDITS_PER_USD)
    assert sorted(c["reference_id"] for c in charges) == sorted(flow["inference_ids"])
    assert topups[0]["direction"] == "TOPUP" and topups[0]["type"] != "MODEL_USAGE"
    assert topups[0]["amount"] == {"usd": usd(GRANT_USD), "credits": GRANT_USD * CREDITS_PER_USD}
    # The failed call left no charge.
    failed_id = flow["failed"].headers.get("x-inference-id")
    assert failed_id is None or failed_id not in [r["reference_id"] for r in rows]

    # Cursor pagination gives the same rows, one page at a time.
    assert all_transactions(sy, key) == rows
    assert [r["direction"] for r in all_transactions(sy, key, direction="CHARGE", limit=2)] == ["CHARGE"] * CALLS
    assert len(all_transactions(sy, key, direction="TOPUP")) == 1
    assert len(all_transactions(sy, key, type="MODEL_USAGE")) == CALLS
    now = datetime.now(timezone.utc)
    assert all_transactions(sy, key, **{"from": now.replace(year=now.year + 1).isoformat()}) == []


@pytest.mark.parametrize("params", [{"direction": "OUT"}, {"type": "GIFT"}, {"limit": 0}, {"limit": 101},
                                    {"cursor": "not-a-cursor"}, {"from": "yesterday"}])
def test_transactions_reject_bad_params(sy, flow, params):
    assert_error(get(sy, "/v2/billing/transactions", flow["key"]["key"], params), 400)


def test_balance_reconciles(sy, flow):
    key = flow["key"]["key"]
    rows = all_transactions(sy, key, limit=100)
    topups = sum(r["amount"]["usd"] for r in rows if r["direction"] == "TOPUP")
    charges = sum(r["amount"]["usd"] for r in rows if r["direction"] == "CHARGE")
    balance = get_ok(sy, "/v2/billing", key)["current_balance"]
    assert balance == usd(topups - charges)
    usage = get_ok(sy, "/v2/usage", key, {"period": "24h"})
    assert usage["spend"] == usd(charges)


def test_usage_total(sy, flow):
    key = flow["key"]
    body = get_ok(sy, "/v2/usage", key["key"], {"period": "24h"})
    assert set(body) == {"api_key_prefix", "start", "end", "spend", "currency", "requests"}, body
    assert body["api_key_prefix"] is None
    assert TS.match(body["start"]) and TS.match(body["end"]), body
    assert body["spend"] == usd(CALLS * CALL_USD)
    assert body["requests"] == CALLS
    assert body["currency"] == "USD"
    own = get_ok(sy, "/v2/usage", key["key"], {"period": "24h", "key_prefix": key["prefix"]})
    assert own["api_key_prefix"] == key["prefix"] and own["spend"] == body["spend"]
    empty = get_ok(sy, "/v2/usage", key["key"], {"start": "2020-01-01T00:00:00Z", "end": "2020-01-02T00:00:00Z"})
    assert (empty["spend"], empty["requests"]) == (0, 0)
    assert empty["start"] == "2020-01-01T00:00:00.000Z" and empty["end"] == "2020-01-02T00:00:00.000Z"


def by(groups: list[dict], **kv) -> dict:
    found = [g for g in groups if all(g.get(k) == v for k, v in kv.items())]
    assert len(found) == 1, f"{kv} in {groups}"
    return found[0]


def test_usage_detail(sy, flow):
    key = flow["key"]["key"]
    body = get_ok(sy, "/v2/usage/detail", key, {"period": "24h"})
    assert "groups" not in body
    assert body["spend"] == usd(CALLS * CALL_USD) and body["requests"] == CALLS
    exact = by(body["models"], model=EXACT_MODEL)
    assert exact["spend"] == usd(CALLS * CALL_USD) and exact["requests"] == CALLS
    assert all(m["spend"] == 0 and m["requests"] == 0 for m in body["models"] if m["model"] != EXACT_MODEL)

    groups = get_ok(sy, "/v2/usage/detail", key, {"period": "24h", "group_by": "model"})["groups"]
    g = by(groups, model=EXACT_MODEL)
    assert "day" not in g or g["day"] is None
    assert g["spend"] == usd(CALLS * CALL_USD)
    assert g["tokens"] == {"input": CALLS * WORDS, "output": CALLS * WORDS, "total": 2 * CALLS * WORDS}
    assert g["requests"] == {"total": CALLS, "charged": CALLS, "succeeded": CALLS, "failed": 0}
    f = by(groups, model="test/fail-500")
    assert f["spend"] == 0
    assert f["requests"] == {"total": 1, "charged": 0, "succeeded": 0, "failed": 1}

    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    days = get_ok(sy, "/v2/usage/detail", key, {"period": "24h", "group_by": "day"})["groups"]
    d = by(days, day=today)
    assert d["spend"] == usd(CALLS * CALL_USD)
    assert d["requests"]["charged"] == CALLS and d["requests"]["succeeded"] == CALLS
    both = get_ok(sy, "/v2/usage/detail", key, {"period": "24h", "group_by": "day,model", "tz": "UTC"})["groups"]
    assert by(both, day=today, model=EXACT_MODEL)["spend"] == usd(CALLS * CALL_USD)
    berlin = get_ok(sy, "/v2/usage/detail", key, {"period": "24h", "group_by": "day", "tz": "Europe/Berlin"})
    assert sum(g["spend"] for g in berlin["groups"]) == usd(CALLS * CALL_USD)


@pytest.mark.parametrize("path,params", [
    ("/v2/usage", {"period": "24h", "group_by": "day"}),
    ("/v2/usage/detail", {"period": "24h", "group_by": "week"}),
    ("/v2/usage/detail", {"period": "24h", "group_by": "day", "tz": "utc"}),
    ("/v2/usage/detail", {"period": "24h", "group_by": "day", "tz": "+05:00"}),
    ("/v2/usage", {"period": "24h", "start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}),
    ("/v2/usage", {"start": "2026-01-01T00:00:00Z"}),
    ("/v2/usage", {"start": "2026-01-01T00:00:00Z", "end": "2026-04-04T00:00:00Z"}),  # 93 days
    ("/v2/usage", {"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}),
    ("/v2/usage", {"period": "abc"}),
    ("/v2/usage", {"period": "0h"}),
    ("/v2/logs", {"status": "succeeded,failed"}),
    ("/v2/logs", {"limit": 101}),
    ("/v2/logs", {"offset": -1}),
])
def test_report_params_rejected(sy, flow, path, params):
    assert_error(get(sy, path, flow["key"]["key"], params), 400)


def test_92_day_window_is_accepted(sy, flow):
    body = get_ok(sy, "/v2/usage", flow["key"]["key"], {"start": "2026-01-01T00:00:00Z", "end": "2026-04-03T00:00:00Z"})
    assert body["start"] == "2026-01-01T00:00:00.000Z"


def test_logs(sy, flow):
    key = flow["key"]["key"]
    page = get_ok(sy, "/v2/logs", key, {"period": "24h"})
    rows = page["data"]
    assert page["pagination"] == {"limit": 50, "offset": 0, "total": len(rows), "has_more": False}
    for row in rows:
        assert {"created", "status", "origin", "model", "cost", "tokens", "request_id", "inference_id",
                "client_request_id"} <= set(row), row
        assert row["status"] in ("succeeded", "failed") and row["origin"] == "api"
        assert TS.match(row["created"])
    assert [r["created"] for r in rows] == sorted((r["created"] for r in rows), reverse=True)
    ok = [r for r in rows if r["model"] == EXACT_MODEL]
    assert len(ok) == CALLS
    for r in ok:
        assert r["status"] == "succeeded"
        assert r["cost"] == {"usd": usd(CALL_USD), "credits": round(CALL_USD * CREDITS_PER_USD)}
        assert r["tokens"] == {"input": WORDS, "output": WORDS, "total": 2 * WORDS}
        assert isinstance(r["request_id"], str) and r["request_id"]
    assert sorted(r["inference_id"] for r in ok) == sorted(flow["inference_ids"])
    assert sorted(r["client_request_id"] for r in ok) == [f"client-{i}" for i in range(CALLS)]
    by_inference = {r["inference_id"]: r for r in ok}
    for c in flow["calls"]:
        assert by_inference[c.headers["x-inference-id"]]["request_id"] == c.headers["x-request-id"]
    failed = [r for r in rows if r["model"] == "test/fail-500"]
    assert len(failed) == 1 and failed[0]["status"] == "failed" and failed[0]["cost"]["usd"] == 0

    only_failed = get_ok(sy, "/v2/logs", key, {"period": "24h", "status": "failed"})["data"]
    assert only_failed and all(r["status"] == "failed" for r in only_failed)
    assert len(get_ok(sy, "/v2/logs", key, {"period": "24h", "model": EXACT_MODEL})["data"]) == CALLS
    assert len(get_ok(sy, "/v2/logs", key, {"period": "24h", "model": [EXACT_MODEL, "test/fail-500"]})["data"]) == CALLS + 1
    assert get_ok(sy, "/v2/logs", key, {"period": "24h", "model": f"{EXACT_MODEL},test/fail-500"})["data"] == []
    both = get_ok(sy, "/v2/logs", key, {"period": "24h", "status": ["succeeded", "failed"]})
    assert both["pagination"]["total"] == len(rows)
    p1 = get_ok(sy, "/v2/logs", key, {"period": "24h", "limit": 2})
    assert p1["pagination"] == {"limit": 2, "offset": 0, "total": len(rows), "has_more": True}
    p2 = get_ok(sy, "/v2/logs", key, {"period": "24h", "limit": 2, "offset": 2})
    assert p1["data"] + p2["data"] == rows[:4]
    assert get_ok(sy, "/v2/usage/logs", key, {"period": "24h"})["data"] == rows


def test_key_spending_limit(switchyard_factory):
    sy = switchyard_factory(NO_BYPASS, name="limit")
    mgmt = sy.create_key("--management", name="mgmt")  # makes the bootstrap administrator
    sy.cli_ok("credits", "add", "admin@localhost", "10", "--note", "limit test")
    r = requests.post(sy.base + "/v1/keys", json={"name": "capped", "limit": {"retention": "no_reset", "threshold": 0.012}},
                      headers={"Authorization": f"Bearer {mgmt['key']}"}, timeout=30)
    assert r.status_code == 200, r.text
    capped = r.json()["data"]
    for _ in range(2):
        assert chat_call(sy.base, capped["key"], words=WORDS).status_code == 201
    over = chat_call(sy.base, capped["key"], words=WORDS)
    assert_error(over, 403, "key_limit_exceeded")
    assert over.headers.get("x-should-retry") == "false"
    wait_settled(sy, "admin@localhost")
    own = get_ok(sy, "/v1/key", capped["key"])["data"]
    assert own["monthly_usage"] == usd(2 * CALL_USD)
    # A smaller call still fits under the threshold; raising the limit lets the big one through.
    assert chat_call(sy.base, capped["key"], words=2).status_code == 201
    r = requests.patch(sy.base + f"/v1/keys/{capped['prefix']}", json={"limit": {"retention": "no_reset", "threshold": 1}},
                       headers={"Authorization": f"Bearer {mgmt['key']}"}, timeout=30)
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 5
    while (status := chat_call(sy.base, capped["key"], words=WORDS).status_code) != 201:
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    # The account paid exactly for what went through.
    wait_settled(sy, "admin@localhost")
    assert get_ok(sy, "/v2/billing", mgmt["key"])["current_balance"] == usd(10 - 3 * CALL_USD - 2 * EXACT_USD_PER_TOKEN)


def test_concurrent_calls_never_overspend(switchyard_factory):
    """50 concurrent calls against a balance that covers 10 of them (SQLite, one server)."""
    sy = switchyard_factory(NO_BYPASS, name="concurrent")
    key = sy.create_key(name="burst")["key"]
    words = 10
    cost = words * EXACT_USD_PER_TOKEN
    grant = 10.5 * cost
    sy.cli_ok("credits", "add", "admin@localhost", f"{grant:.3f}", "--note", "burst")
    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(lambda _: chat_call(sy.base, key, words=words), range(50)))
    ok = [r for r in results if r.status_code == 201]
    for r in results:
        if r.status_code != 201:
            assert_error(r, 403, "insufficient_balance")
    assert len(ok) == 10, [r.status_code for r in results]
    wait_settled(sy, "admin@localhost")
    balance = get_ok(sy, "/v2/billing", key)["current_balance"]
    assert balance == usd(grant - 10 * cost) and balance >= 0
    rows = get_ok(sy, "/v2/billing/transactions", key, {"limit": 100})["data"]
    assert sum(1 for r in rows if r["direction"] == "CHARGE") == len(ok)
    assert balance == usd(sum(r["amount"]["usd"] * (1 if r["direction"] == "TOPUP" else -1) for r in rows))


def test_secrets_not_in_server_log(sy, flow):
    assert flow["key"]["key"] not in sy.log_text()
