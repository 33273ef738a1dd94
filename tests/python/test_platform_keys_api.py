"""The key-management API (`/v1/keys`, `/v1/key`) against the real binary, with a
management key made by `switchyard keys create --management --json`: shapes per
`../shared/reference/aimlapi/keys-*.json` and `key-get.json`, key kinds,
scopes, ownership across accounts."""

import re
import time

import pytest
import requests

from conftest import chat_call, start_switchyard, platform_config

TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
KEY_FIELDS = {"name", "disabled", "prefix", "scopes", "limit", "created_at", "updated_at", "monthly_usage"}
KEY_REQUIRED = {"disabled", "prefix", "scopes", "created_at", "updated_at", "monthly_usage"}
CHAT_MODEL = "x-ai/grok-beta"


@pytest.fixture(scope="module")
def sy(mock_upstream, tmp_path_factory):
    s = start_switchyard(tmp_path_factory.mktemp("keys-api"), platform_config(mock_upstream), name="keys-api")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def mgmt(sy) -> dict:
    """A management key of the first administrator (the bootstrap account)."""
    return sy.create_key("--management", name="mgmt")


@pytest.fixture(scope="module")
def regular(sy) -> dict:
    return sy.create_key(name="regular")


def api(sy, method: str, path: str, key: str | None, **kw) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.request(method, sy.base + path, headers=headers, timeout=30, **kw)


def assert_key_record(data: dict, with_secret: bool = False) -> None:
    allowed = KEY_FIELDS | ({"key"} if with_secret else set())
    assert KEY_REQUIRED <= set(data) <= allowed, sorted(data)
    assert isinstance(data["disabled"], bool)
    assert isinstance(data["prefix"], str) and len(data["prefix"]) == 8, data
    assert data["scopes"] is None or isinstance(data["scopes"], list)
    assert data.get("limit") is None or set(data["limit"]) == {"retention", "threshold"}, data
    assert TS.match(data["created_at"]) and TS.match(data["updated_at"]), data
    assert data["updated_at"] >= data["created_at"]
    assert isinstance(data["monthly_usage"], (int, float)) and data["monthly_usage"] >= 0
    if with_secret:
        assert data["key"].startswith(data["prefix"]), data


def assert_error(r: requests.Response, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, f"{r.status_code} {r.text}"
    err = r.json()["error"]
    assert set(err) >= {"message", "type", "param", "code"} and err["message"], err
    if code is not None:
        assert err["code"] == code, err
    return err


def create(sy, mgmt_key: str, body: dict | None) -> dict:
    r = api(sy, "POST", "/v1/keys", mgmt_key, json=body) if body is not None else api(sy, "POST", "/v1/keys", mgmt_key)
    assert r.status_code == 200, f"{r.status_code} {r.text}"
    data = r.json()["data"]
    assert_key_record(data, with_secret=True)
    return data


def wait_status(sy, key: str, want: int, within: float = 5.0) -> float:
    """Polls a chat call until it answers `want`; returns the seconds it took."""
    t0 = time.monotonic()
    while True:
        r = chat_call(sy.base, key, model=CHAT_MODEL, words=3)
        if r.status_code == want:
            return time.monotonic() - t0
        assert time.monotonic() - t0 < within, f"still {r.status_code} after {within}s (want {want}): {r.text}"
        time.sleep(0.2)


def test_create_with_every_field(sy, mgmt):
    body = {"name": "20260202-key-for-llms", "limit": {"retention": "week", "threshold": 25},
            "scopes": ["model:chat", "model:responses"]}
    data = create(sy, mgmt["key"], body)
    assert data["name"] == "20260202-key-for-llms"
    assert data["disabled"] is False
    assert data["scopes"] == ["model:chat", "model:responses"]
    assert data["limit"] == {"retention": "week", "threshold": 25}
    assert data["monthly_usage"] == 0
    assert data["key"] != mgmt["key"]
    r = chat_call(sy.base, data["key"], model=CHAT_MODEL, words=3)
    assert r.status_code == 201, r.text


def test_create_without_body_gives_every_scope(sy, mgmt):
    data = create(sy, mgmt["key"], None)
    assert data.get("name") is None
    assert data["scopes"] is None
    assert data.get("limit") is None
    assert chat_call(sy.base, data["key"], model=CHAT_MODEL, words=3).status_code == 201


@pytest.mark.parametrize("body", [
    {"nam": "typo"},
    {"limit": {"retention": "year", "threshold": 5}},
    {"limit": {"retention": "day", "threshold": -1}},
    {"scopes": ["model:nope"]},
    {"name": 42},
])
def test_create_rejects_bad_bodies(sy, mgmt, body):
    assert_error(api(sy, "POST", "/v1/keys", mgmt["key"], json=body), 400)


def test_list_oldest_first_without_secrets_or_management_keys(sy, mgmt):
    a = create(sy, mgmt["key"], {"name": "list-a"})
    b = create(sy, mgmt["key"], {"name": "list-b"})
    r = api(sy, "GET", "/v1/keys", mgmt["key"])
    assert r.status_code == 200, r.text
    rows = r.json()["data"]
    for row in rows:
        assert_key_record(row)
    prefixes = [row["prefix"] for row in rows]
    assert a["prefix"] in prefixes and b["prefix"] in prefixes
    assert prefixes.index(a["prefix"]) < prefixes.index(b["prefix"])
    assert [row["created_at"] for row in rows] == sorted(row["created_at"] for row in rows)
    assert mgmt["prefix"] not in prefixes, "management keys are not listed by /v1/keys"
    assert all(a["key"] not in str(row) for row in rows)


def test_get_own_key(sy, mgmt, regular):
    for k in (mgmt, regular):
        r = api(sy, "GET", "/v1/key", k["key"])
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert_key_record(data)
        assert data["prefix"] == k["prefix"]
        assert "key" not in data


def test_patch_changes_only_what_is_given(sy, mgmt):
    k = create(sy, mgmt["key"], {"name": "patch-me", "limit": {"retention": "month", "threshold": 10},
                                 "scopes": ["model:chat"]})
    path = f"/v1/keys/{k['prefix']}"
    r = api(sy, "PATCH", path, mgmt["key"], json={"name": "patched"})
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    assert_key_record(d)
    assert (d["name"], d["limit"], d["scopes"], d["disabled"]) == (
        "patched", {"retention": "month", "threshold": 10}, ["model:chat"], False)
    d = api(sy, "PATCH", path, mgmt["key"], json={"limit": {"retention": "day", "threshold": 3.5}}).json()["data"]
    assert d["limit"] == {"retention": "day", "threshold": 3.5} and d["name"] == "patched"
    d = api(sy, "PATCH", path, mgmt["key"], json={"scopes": None}).json()["data"]
    assert d["scopes"] is None and d["limit"] == {"retention": "day", "threshold": 3.5}
    d = api(sy, "PATCH", path, mgmt["key"], json={"disabled": True}).json()["data"]
    assert d["disabled"] is True and d["name"] == "patched"
    listed = {row["prefix"]: row for row in api(sy, "GET", "/v1/keys", mgmt["key"]).json()["data"]}
    assert listed[k["prefix"]]["disabled"] is True
    assert_error(api(sy, "PATCH", path, mgmt["key"], json={"disabled": "yes"}), 400)


def test_put_replaces(sy, mgmt):
    k = create(sy, mgmt["key"], {"name": "put-me"})
    path = f"/v1/keys/{k['prefix']}"
    body = {"name": "put-name", "disabled": False, "scopes": ["model:chat"],
            "limit": {"retention": "month", "threshold": 7.5}}
    r = api(sy, "PUT", path, mgmt["key"], json=body)
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    assert_key_record(d)
    assert (d["name"], d["disabled"], d["scopes"], d["limit"]) == (
        "put-name", False, ["model:chat"], {"retention": "month", "threshold": 7.5})
    d = api(sy, "PUT", path, mgmt["key"],
            json={"name": None, "disabled": False, "scopes": None, "limit": None}).json()["data"]
    assert d.get("name") is None and d["scopes"] is None and d.get("limit") is None


def test_delete(sy, mgmt):
    k = create(sy, mgmt["key"], {"name": "delete-me"})
    assert chat_call(sy.base, k["key"], model=CHAT_MODEL, words=3).status_code == 201
    path = f"/v1/keys/{k['prefix']}"
    r = api(sy, "DELETE", path, mgmt["key"])
    assert r.status_code == 200, r.text
    assert r.json() == {"data": {"prefix": k["prefix"], "deleted": True}}
    assert k["prefix"] not in [row["prefix"] for row in api(sy, "GET", "/v1/keys", mgmt["key"]).json()["data"]]
    assert_error(api(sy, "DELETE", path, mgmt["key"]), 404)
    assert_error(api(sy, "PATCH", path, mgmt["key"], json={"name": "x"}), 404)
    wait_status(sy, k["key"], 401)


def test_unknown_prefix_is_404(sy, mgmt):
    for method, body in [("PATCH", {"name": "x"}), ("PUT", {"name": "x", "disabled": False}), ("DELETE", None)]:
        assert_error(api(sy, method, "/v1/keys/zzzzzzzz", mgmt["key"], json=body), 404)


def test_disable_and_enable_through_the_api(sy, mgmt):
    k = create(sy, mgmt["key"], {"name": "toggle"})
    assert chat_call(sy.base, k["key"], model=CHAT_MODEL, words=3).status_code == 201
    path = f"/v1/keys/{k['prefix']}"
    assert api(sy, "PATCH", path, mgmt["key"], json={"disabled": True}).status_code == 200
    took = wait_status(sy, k["key"], 401)
    assert took <= 5.0
    assert api(sy, "PATCH", path, mgmt["key"], json={"disabled": False}).status_code == 200
    wait_status(sy, k["key"], 201)


def test_scope_without_model_chat_is_403(sy, mgmt):
    k = create(sy, mgmt["key"], {"name": "images-only", "scopes": ["model:image"]})
    assert_error(chat_call(sy.base, k["key"], model=CHAT_MODEL, words=3), 403, "insufficient_scope")
    assert api(sy, "PATCH", f"/v1/keys/{k['prefix']}", mgmt["key"], json={"scopes": ["model:chat"]}).status_code == 200
    wait_status(sy, k["key"], 201)


def test_regular_key_refused_on_key_management(sy, regular):
    for method, path, body in [("GET", "/v1/keys", None), ("POST", "/v1/keys", {"name": "x"}),
                               ("PATCH", f"/v1/keys/{regular['prefix']}", {"name": "x"}),
                               ("PUT", f"/v1/keys/{regular['prefix']}", {"name": "x", "disabled": False}),
                               ("DELETE", f"/v1/keys/{regular['prefix']}", None)]:
        err = assert_error(api(sy, method, path, regular["key"], json=body), 403, "wrong_key_kind")
        assert "management" in err["message"].lower(), err
    # The key was not changed by any of those.
    assert chat_call(sy.base, regular["key"], model=CHAT_MODEL, words=3).status_code == 201


def test_management_key_refused_on_model_routes(sy, mgmt):
    assert_error(chat_call(sy.base, mgmt["key"], model=CHAT_MODEL, words=3), 403, "wrong_key_kind")
    assert_error(api(sy, "GET", "/v1/models", mgmt["key"]), 403, "wrong_key_kind")


REPORTING = ["/v1/key", "/v2/usage", "/v2/usage/detail", "/v2/logs", "/v2/usage/logs", "/v2/billing",
             "/v2/billing/detail", "/v2/billing/transactions", "/v1/billing/balance"]


@pytest.mark.parametrize("path", REPORTING)
def test_reporting_routes_take_both_kinds(sy, mgmt, regular, path):
    for k in (mgmt, regular):
        r = api(sy, "GET", path, k["key"])
        assert r.status_code == 200, f"{path} with a {k['prefix']}: {r.status_code} {r.text}"


@pytest.mark.parametrize("path", ["/v1/keys", "/v1/key", "/v2/usage", "/v2/billing", "/v1/billing/balance"])
def test_no_or_bad_key_is_401(sy, path):
    assert_error(api(sy, "GET", path, None), 401)
    assert_error(api(sy, "GET", path, "sy_notarealkey0000000000000000000000"), 401)


def test_other_accounts_keys_are_invisible(sy, mgmt):
    sy.cli_ok("admin", "create", "other@example.com", "--password-stdin", stdin="other-password-1\n")
    theirs = sy.create_key("--account", "other@example.com", name="theirs")
    their_mgmt = sy.create_key("--management", "--account", "other@example.com", name="their-mgmt")
    mine = create(sy, mgmt["key"], {"name": "mine"})

    for owner, stranger in [(mgmt, theirs), (their_mgmt, mine)]:
        p = stranger["prefix"]
        listed = [row["prefix"] for row in api(sy, "GET", "/v1/keys", owner["key"]).json()["data"]]
        assert p not in listed
        assert_error(api(sy, "PATCH", f"/v1/keys/{p}", owner["key"], json={"disabled": True}), 404)
        assert_error(api(sy, "PUT", f"/v1/keys/{p}", owner["key"],
                         json={"name": "stolen", "disabled": True, "scopes": None, "limit": None}), 404)
        assert_error(api(sy, "DELETE", f"/v1/keys/{p}", owner["key"]), 404)
        for path in ["/v2/usage", "/v2/usage/detail", "/v2/logs"]:
            r = api(sy, "GET", f"{path}?key_prefix={p}", owner["key"])
            assert r.status_code in (403, 404), f"{path}?key_prefix of another account: {r.status_code} {r.text}"
    # Money and usage are per account: ours has charges (admins are charged too), theirs none yet.
    assert api(sy, "GET", "/v2/billing/transactions", mgmt["key"]).json()["data"]
    for k in (theirs, their_mgmt):
        assert api(sy, "GET", "/v2/billing/transactions", k["key"]).json()["data"] == []
        assert api(sy, "GET", "/v2/logs", k["key"]).json()["data"] == []
        assert api(sy, "GET", "/v2/usage", k["key"]).json()["requests"] == 0
    # Nothing of theirs changed: their key still works and keeps its name.
    time.sleep(2.5)
    assert chat_call(sy.base, theirs["key"], model=CHAT_MODEL, words=3).status_code == 201
    own = api(sy, "GET", "/v1/key", theirs["key"]).json()["data"]
    assert own["name"] == "theirs" and own["disabled"] is False
    their_list = [row["prefix"] for row in api(sy, "GET", "/v1/keys", their_mgmt["key"]).json()["data"]]
    assert their_list == [theirs["prefix"]]


def test_regular_key_may_not_report_on_another_key(sy, mgmt, regular):
    other = create(sy, mgmt["key"], {"name": "reported-on"})
    for path in ["/v2/usage", "/v2/usage/detail", "/v2/logs"]:
        assert_error(api(sy, "GET", f"{path}?key_prefix={other['prefix']}", regular["key"]), 403)
        r = api(sy, "GET", f"{path}?key_prefix={other['prefix']}", mgmt["key"])
        assert r.status_code == 200, r.text


def test_secrets_not_in_server_log(sy, mgmt, regular):
    log = sy.log_text()
    for secret in (mgmt["key"], regular["key"], "other-password-1"):
        assert secret not in log
