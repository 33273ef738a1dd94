"""Two `switchyard serve` replicas on one PostgreSQL database (SWITCHYARD_DATABASE_URL):
a key disabled on one is refused by the other within 5 s, and concurrent calls
split across both never spend more than the balance or a key's limit allows.

Runs when SWITCHYARD_TEST_POSTGRES_URL names a server (scripts/test.sh always
starts one); the test makes its own database there and drops it afterwards."""

import os
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import (EXACT_USD_PER_TOKEN, account_held_nanos, chat_call, platform_config, signup_account,
                      start_switchyard, wait_settled)

PG = os.environ.get("SWITCHYARD_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(not PG, reason="SWITCHYARD_TEST_POSTGRES_URL is unset (scripts/test.sh sets it)")

WORDS = 10
CALL_USD = WORDS * EXACT_USD_PER_TOKEN  # each call costs exactly its worst case


def with_database(url: str, db: str) -> str:
    base, sep, query = url.partition("?")
    scheme, _, rest = base.partition("://")
    authority = rest.split("/", 1)[0]
    return f"{scheme}://{authority}/{db}{sep}{query}"


@pytest.fixture(scope="module")
def databases():
    """`make()` → the URL of a new, empty database on the test server; all dropped afterwards."""
    import psycopg

    made = []

    def make() -> str:
        name = f"sy_replicas_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return with_database(PG, name)

    yield make
    with psycopg.connect(PG, autocommit=True) as conn:
        for name in made:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def pg_url(databases):
    return databases()


@pytest.fixture(scope="module")
def replicas(mock_upstream, tmp_path_factory, pg_url):
    config = platform_config(mock_upstream)
    started = []
    try:
        for i in (1, 2):
            started.append(start_switchyard(tmp_path_factory.mktemp(f"replica{i}"), config,
                                            database_url=pg_url, name=f"replica{i}"))
        yield started
    finally:
        for s in started:
            s.stop()


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def wait_status(base: str, key: str, want: int, within: float = 5.0) -> float:
    t0 = time.monotonic()
    while True:
        r = chat_call(base, key, words=3)
        if r.status_code == want:
            return time.monotonic() - t0
        assert time.monotonic() - t0 < within, f"{base}: still {r.status_code} after {within}s (want {want})"
        time.sleep(0.1)


def paying_account(r1, email: str, usd: float) -> dict:
    """A non-admin account (dashboard sign-up) with `usd` granted and a management key."""
    signup_account(r1.base, email)
    r1.cli_ok("credits", "add", email, f"{usd:.4f}", "--note", "replicas test")
    return r1.create_key("--management", "--account", email, name="mgmt")


def balance(sy, key: str) -> float:
    r = requests.get(sy.base + "/v2/billing", headers=auth(key), timeout=15)
    assert r.status_code == 200, r.text
    return r.json()["current_balance"]


def burst(replicas, key: str, n: int) -> list[requests.Response]:
    """n concurrent calls, alternating between the replicas."""
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda i: chat_call(replicas[i % 2].base, key, words=WORDS), range(n)))


def open_holds(pg_url: str, email: str) -> int:
    import psycopg

    with psycopg.connect(pg_url) as conn:
        return conn.execute("SELECT COUNT(*) FROM holds h JOIN accounts a ON a.id = h.account_id WHERE a.email = %s",
                            (email,)).fetchone()[0]


def test_disable_on_one_replica_is_refused_by_the_other(replicas):
    r1, r2 = replicas
    mgmt = r1.create_key("--management", name="admin-mgmt")["key"]
    created = requests.post(r1.base + "/v1/keys", json={"name": "shared"}, headers=auth(mgmt), timeout=15)
    assert created.status_code == 200, created.text
    key, prefix = created.json()["data"]["key"], created.json()["data"]["prefix"]
    # Both replicas know (and have cached) the key.
    assert chat_call(r1.base, key, words=3).status_code == 201
    assert chat_call(r2.base, key, words=3).status_code == 201

    r = requests.patch(f"{r1.base}/v1/keys/{prefix}", json={"disabled": True}, headers=auth(mgmt), timeout=15)
    assert r.status_code == 200 and r.json()["data"]["disabled"] is True, r.text
    assert wait_status(r2.base, key, 401) <= 5.0
    assert wait_status(r1.base, key, 401) <= 5.0

    # And back, the other way round.
    r = requests.patch(f"{r2.base}/v1/keys/{prefix}", json={"disabled": False}, headers=auth(mgmt), timeout=15)
    assert r.status_code == 200, r.text
    assert wait_status(r1.base, key, 201) <= 5.0

    # Deleted on one replica: refused by the other.
    assert requests.delete(f"{r2.base}/v1/keys/{prefix}", headers=auth(mgmt), timeout=15).status_code == 200
    assert wait_status(r1.base, key, 401) <= 5.0


def test_cli_disable_reaches_every_replica(replicas):
    r1, r2 = replicas
    created = r1.create_key(name="cli-shared")
    key, prefix = created["key"], created["prefix"]
    assert chat_call(r1.base, key, words=3).status_code == 201
    assert chat_call(r2.base, key, words=3).status_code == 201
    r1.cli_ok("keys", "disable", prefix)  # the CLI talks to the same database
    assert wait_status(r2.base, key, 401) <= 5.0
    assert wait_status(r1.base, key, 401) <= 5.0
    r2.cli_ok("keys", "enable", prefix)
    assert wait_status(r1.base, key, 201) <= 5.0
    assert wait_status(r2.base, key, 201) <= 5.0


def test_balance_holds_across_replicas(replicas, pg_url):
    r1, r2 = replicas
    email = "payer@example.com"
    grant = 10.5 * CALL_USD  # covers 10 calls at their worst case, not 11
    paying_account(r1, email, grant)
    key = r1.create_key("--account", email, name="burst")["key"]

    results = burst(replicas, key, 50)
    ok = [r for r in results if r.status_code == 201]
    for r in results:
        if r.status_code != 201:
            assert r.status_code == 403, r.text
            assert r.json()["error"]["code"] == "insufficient_balance", r.text
            assert r.headers.get("x-should-retry") == "false"
    assert len(ok) == 10, sorted(r.status_code for r in results)
    assert {r.request.url.split("/v1/")[0] for r in ok} == {r1.base, r2.base}, "both replicas served calls"
    wait_settled(r1, email)  # settlement runs after the response
    assert open_holds(pg_url, email) == 0

    left = balance(r1, key)
    assert left == balance(r2, key)
    assert left >= 0
    assert left == pytest.approx(grant - len(ok) * CALL_USD, abs=1e-9)
    tx = requests.get(r2.base + "/v2/billing/transactions", params={"limit": 100}, headers=auth(key), timeout=15)
    rows = tx.json()["data"]
    charges = [r for r in rows if r["direction"] == "CHARGE"]
    assert len(charges) == len(ok)
    assert sorted(c["reference_id"] for c in charges) == sorted(r.headers["x-inference-id"] for r in ok)
    topups = sum(r["amount"]["usd"] for r in rows if r["direction"] == "TOPUP")
    assert left == pytest.approx(topups - sum(c["amount"]["usd"] for c in charges), abs=1e-9)


def test_key_limit_holds_across_replicas(replicas, pg_url):
    r1, r2 = replicas
    email = "limited@example.com"
    mgmt = paying_account(r1, email, 10.0)["key"]
    body = {"name": "capped", "limit": {"retention": "day", "threshold": round(3.5 * CALL_USD, 6)}}
    created = requests.post(r2.base + "/v1/keys", json=body, headers=auth(mgmt), timeout=15)
    assert created.status_code == 200, created.text
    key = created.json()["data"]["key"]

    results = burst(replicas, key, 30)
    ok = [r for r in results if r.status_code == 201]
    for r in results:
        if r.status_code != 201:
            assert r.status_code == 403, r.text
            assert r.json()["error"]["code"] == "key_limit_exceeded", r.text
            assert r.headers.get("x-should-retry") == "false"
    assert len(ok) == 3, sorted(r.status_code for r in results)
    wait_settled(r2, email)
    assert open_holds(pg_url, email) == 0
    own = requests.get(r1.base + "/v1/key", headers=auth(key), timeout=15).json()["data"]
    assert own["monthly_usage"] == pytest.approx(3 * CALL_USD, abs=1e-9)
    assert balance(r2, key) == pytest.approx(10.0 - 3 * CALL_USD, abs=1e-9)
    assert account_held_nanos(r1, email) == 0


def test_secrets_not_in_replica_logs(replicas):
    for r in replicas:
        log = r.log_text()
        leaked = re.findall(r"sy_[A-Za-z0-9]{12}_[A-Za-z0-9]{30,}", log)
        assert not leaked, f"whole API keys appear in {r.log_path}"
        assert "pytest-password-1" not in log


def test_rate_limit_is_shared_and_replicas_start_together(mock_upstream, tmp_path_factory, databases):
    """Two replicas started at the same moment on an empty database (both migrate it),
    with 6 requests per minute per key: the 7th call is refused whichever replica gets it."""
    url = databases()
    config = platform_config(mock_upstream, "default_rpm = 6")
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(start_switchyard, tmp_path_factory.mktemp(f"rpm{i}"), config,
                               database_url=url, name=f"rpm{i}") for i in (1, 2)]
        errors = [f.exception() for f in futures]
    pair = [f.result() for f in futures if f.exception() is None]
    try:
        assert not [e for e in errors if e], errors
        key = pair[0].create_key(name="rpm")["key"]
        left = 60 - (time.time() % 60)
        if left < 15:  # windows are fixed minutes: start in a fresh one
            time.sleep(left + 0.3)
        remaining = []
        for i in range(6):
            r = chat_call(pair[i % 2].base, key, words=3)
            assert r.status_code == 201, r.text
            remaining.append(int(r.headers["x-ratelimit-remaining-requests"]))
        assert remaining == [5, 4, 3, 2, 1, 0]
        for sy in pair:
            refused = chat_call(sy.base, key, words=3)
            assert refused.status_code == 429, refused.text
            assert int(refused.headers["retry-after"]) >= 1
    finally:
        for sy in pair:
            sy.stop()
