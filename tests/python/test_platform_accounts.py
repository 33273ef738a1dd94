"""Accounts through the real binary: `switchyard admin create --password-stdin`,
dashboard sign-up and login with session cookies and CSRF tokens, sign-up modes,
login throttling, `switchyard credits add`, and no secret in the server log."""

import time

import pytest
import requests

from conftest import (CREDITS_PER_USD, Dashboard, location_path, parse_forms, platform_config, signup_account,
                      start_switchyard)

BOSS = "boss@example.com"
BOSS_PASSWORD = "boss-password-1"
NEW_PASSWORD = "boss-password-2"
SIGNUP_PASSWORD = "signup-password-1"


@pytest.fixture(scope="module")
def sy(mock_upstream, tmp_path_factory):
    # Debug logging: not even debug lines may carry a password, a key or a session.
    # Room for the wrong passwords below (failures also count per client address: all are 127.0.0.1).
    s = start_switchyard(tmp_path_factory.mktemp("accounts"), platform_config(mock_upstream, "login_max_failures = 20"),
                         env={"RUST_LOG": "debug"}, name="accounts")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def boss(sy) -> str:
    out = sy.cli("admin", "create", BOSS, "--password-stdin", stdin=BOSS_PASSWORD + "\n")
    assert out.returncode == 0, out.stderr
    return BOSS


def session_cookie(r: requests.Response) -> str:
    raw = r.headers.get("set-cookie", "")
    assert "sy_session=" in raw, f"no session cookie: {dict(r.headers)}"
    lower = raw.lower()
    assert "httponly" in lower and "samesite=lax" in lower, raw
    return raw


def owner_email(sy, key: str) -> str:
    r = requests.get(sy.base + "/v2/billing/detail", headers={"Authorization": f"Bearer {key}"}, timeout=15)
    assert r.status_code == 200, r.text
    return r.json()["email"]


def test_keys_without_account_go_to_the_first_admin(switchyard_factory):
    sy = switchyard_factory(name="bootstrap")
    # No administrator yet: the bootstrap one is made.
    assert owner_email(sy, sy.create_key(name="first")["key"]) == "admin@localhost"
    sy.cli_ok("admin", "create", "later@example.com", "--password-stdin", stdin="later-password-1\n")
    assert owner_email(sy, sy.create_key(name="second")["key"]) == "admin@localhost"
    assert owner_email(sy, sy.create_key("--account", "later@example.com", name="theirs")["key"]) == "later@example.com"
    # The bootstrap administrator can be given a password and then log in.
    sy.cli_ok("admin", "create", "admin@localhost", "--password-stdin", stdin="bootstrap-password-1\n")
    assert Dashboard(sy.base).login("admin@localhost", "bootstrap-password-1").status_code == 303


def test_admin_login_and_logout(sy, boss):
    d = Dashboard(sy.base)
    r = d.login(" Boss@Example.com ", BOSS_PASSWORD)  # emails are trimmed and lower-cased
    assert r.status_code == 303, r.text[:300]
    assert location_path(r) == "/keys"
    session_cookie(r)
    assert d.http.get(sy.base + "/keys", timeout=15, allow_redirects=False).status_code == 200
    assert d.http.get(sy.base + "/admin", timeout=15, allow_redirects=False).status_code == 200
    home = d.http.get(sy.base + "/", timeout=15, allow_redirects=False)
    assert home.status_code == 303 and location_path(home) == "/keys"

    csrf = d.form("/keys", "create-key-form")["fields"]["csrf_token"]
    out = d.http.post(sy.base + "/logout", data={"csrf_token": csrf}, allow_redirects=False, timeout=15)
    assert out.status_code in (302, 303), out.status_code
    after = d.http.get(sy.base + "/keys", timeout=15, allow_redirects=False)
    assert after.status_code == 303 and location_path(after) == "/login"


def test_wrong_password_gets_no_session(sy, boss):
    d = Dashboard(sy.base)
    r = d.login(BOSS, "not-the-password")
    assert r.status_code != 303 and r.status_code < 500, r.status_code
    assert d.http.get(sy.base + "/keys", timeout=15, allow_redirects=False).status_code == 303


def test_admin_create_again_resets_the_password(sy, boss):
    out = sy.cli("admin", "create", BOSS, "--password-stdin", stdin=NEW_PASSWORD + "\n")
    assert out.returncode == 0, out.stderr
    assert Dashboard(sy.base).login(BOSS, NEW_PASSWORD).status_code == 303
    assert Dashboard(sy.base).login(BOSS, BOSS_PASSWORD).status_code != 303


@pytest.mark.parametrize("email,password", [("short@example.com", "short"), ("not-an-email", "long-enough-1")])
def test_admin_create_rejects_bad_input(sy, email, password):
    out = sy.cli("admin", "create", email, "--password-stdin", stdin=password + "\n")
    assert out.returncode != 0
    assert out.stderr.strip()


def test_signup_makes_a_non_admin_with_a_session(sy):
    d = signup_account(sy.base, "newcomer@example.com", SIGNUP_PASSWORD)
    assert d.http.get(sy.base + "/keys", timeout=15, allow_redirects=False).status_code == 200
    assert d.http.get(sy.base + "/admin", timeout=15, allow_redirects=False).status_code in (403, 404)
    again = Dashboard(sy.base).signup("NEWCOMER@example.com", SIGNUP_PASSWORD)
    assert again.status_code != 303 and again.status_code < 500, again.status_code
    assert Dashboard(sy.base).login("newcomer@example.com", SIGNUP_PASSWORD).status_code == 303


def test_forms_need_the_csrf_token(sy):
    anon = Dashboard(sy.base)
    r = anon.submit("/login", "login-form", {"email": "newcomer@example.com", "password": SIGNUP_PASSWORD},
                    drop_csrf=True)
    assert r.status_code == 403, r.status_code
    d = signup_account(sy.base, "csrf@example.com", SIGNUP_PASSWORD)
    r = d.submit("/keys", "create-key-form", {"name": "no-token"}, drop_csrf=True)
    assert r.status_code == 403, r.status_code
    r = d.submit("/keys", "create-key-form", {"name": "bad-token", "csrf_token": "x" * 43})
    assert r.status_code == 403, r.status_code
    # Another session's token is no good either.
    other = signup_account(sy.base, "csrf2@example.com", SIGNUP_PASSWORD)
    foreign = other.form("/keys", "create-key-form")["fields"]["csrf_token"]
    assert d.submit("/keys", "create-key-form", {"name": "foreign", "csrf_token": foreign}).status_code == 403
    page = d.http.get(sy.base + "/keys", timeout=15).text
    assert "no-token" not in page and "bad-token" not in page and "foreign" not in page
    ok = d.submit("/keys", "create-key-form", {"name": "with-token"})
    assert ok.status_code in (200, 303), ok.status_code


def test_session_cannot_touch_another_accounts_keys(sy):
    """Account A's session posts every key form of account B's page (with A's own
    CSRF token): each is refused and B's key is unchanged."""
    a = signup_account(sy.base, "owner-a@example.com", SIGNUP_PASSWORD)
    b = signup_account(sy.base, "owner-b@example.com", SIGNUP_PASSWORD)
    theirs = sy.create_key("--account", "owner-b@example.com", name="b-key")
    page = b.http.get(sy.base + "/keys", timeout=15)
    forms = [f for f in parse_forms(page.text)
             if {"toggle-key", "delete-key", "limit-key", "scopes-key"} & set(f["class"])]
    assert len(forms) == 4, forms
    assert all(theirs["prefix"] in f["action"] for f in forms), forms
    a_token = a.form("/keys", "create-key-form")["fields"]["csrf_token"]
    values = {"disabled": "true", "retention": "no_reset", "threshold": "0.01", "scope": "model:image"}
    for f in forms:
        data = dict(f["fields"], **{k: v for k, v in values.items() if k in f["fields"] or k == "scope"})
        data["csrf_token"] = a_token
        r = a.http.post(sy.base + f["action"], data=data, allow_redirects=False, timeout=15)
        assert r.status_code in (403, 404), f"{f['action']} by another account: {r.status_code}"
    # A's pages never show B's key.
    for path in ("/keys", "/keys?kind=management", "/usage", "/billing"):
        assert theirs["prefix"] not in a.http.get(sy.base + path, timeout=15).text, path
    own = requests.get(sy.base + "/v1/key", headers={"Authorization": f"Bearer {theirs['key']}"}, timeout=15)
    assert own.status_code == 200, own.text
    d = own.json()["data"]
    assert (d["name"], d["disabled"], d.get("limit")) == ("b-key", False, None), d
    # The same toggle form works for its owner (so the refusals above were about ownership).
    toggle = next(f for f in forms if "toggle-key" in f["class"])
    r = b.http.post(sy.base + toggle["action"], data=toggle["fields"], allow_redirects=False, timeout=15)
    assert r.status_code == 303, r.status_code
    deadline = time.monotonic() + 5
    while requests.get(sy.base + "/v1/key", headers={"Authorization": f"Bearer {theirs['key']}"},
                       timeout=15).status_code != 401:
        assert time.monotonic() < deadline, "the owner's disable did not take"
        time.sleep(0.1)


def test_credits_add(sy, boss):
    sy.cli_ok("credits", "add", BOSS, "12.5", "--note", "welcome")
    key = sy.create_key("--account", BOSS, name="boss-key")["key"]
    h = {"Authorization": f"Bearer {key}"}
    billing = requests.get(sy.base + "/v2/billing", headers=h, timeout=15).json()
    assert billing == {"current_balance": pytest.approx(12.5), "currency": "USD"}
    legacy = requests.get(sy.base + "/v1/billing/balance", headers=h, timeout=15).json()
    assert legacy["balance"] == pytest.approx(12.5 * CREDITS_PER_USD)
    tx = requests.get(sy.base + "/v2/billing/transactions", headers=h, timeout=15).json()["data"]
    assert len(tx) == 1 and tx[0]["direction"] == "TOPUP"
    assert tx[0]["amount"] == {"usd": pytest.approx(12.5), "credits": 25_000_000}


@pytest.mark.parametrize("args", [["nobody@example.com", "5"], [BOSS, "-5"], [BOSS, "0"], [BOSS, "lots"]])
def test_credits_add_rejects_bad_input(sy, boss, args):
    out = sy.cli("credits", "add", *args, "--note", "bad")
    assert out.returncode != 0, out.stdout
    assert out.stderr.strip()


def test_signup_closed(switchyard_factory):
    sy = switchyard_factory('signup = "closed"', name="closed")
    d = Dashboard(sy.base)
    r = d.http.get(sy.base + "/signup", timeout=15)
    if r.status_code == 200 and 'id="signup-form"' in r.text:
        r = d.signup("closed@example.com", SIGNUP_PASSWORD)
    else:
        r = d.http.post(sy.base + "/signup", data={"email": "closed@example.com", "password": SIGNUP_PASSWORD},
                        allow_redirects=False, timeout=15)
    assert r.status_code == 403, r.status_code
    assert Dashboard(sy.base).login("closed@example.com", SIGNUP_PASSWORD).status_code != 303


def test_signup_invite_needs_a_code(switchyard_factory):
    sy = switchyard_factory('signup = "invite"', name="invite")
    r = Dashboard(sy.base).signup("invitee@example.com", SIGNUP_PASSWORD, invite="made-up-code")
    assert r.status_code == 403, r.status_code
    assert Dashboard(sy.base).login("invitee@example.com", SIGNUP_PASSWORD).status_code != 303


def test_login_throttling(switchyard_factory):
    sy = switchyard_factory("login_max_failures = 3\nlogin_window_secs = 600", name="throttle")
    sy.cli_ok("admin", "create", "victim@example.com", "--password-stdin", stdin="victim-password-1\n")
    for _ in range(3):
        assert Dashboard(sy.base).login("victim@example.com", "guess-guess").status_code != 303
    r = Dashboard(sy.base).login("victim@example.com", "victim-password-1")
    assert r.status_code == 429, r.status_code
    assert int(r.headers["retry-after"]) > 0
    assert "sy_session=" not in r.headers.get("set-cookie", "")


def test_no_secret_in_server_log(sy, boss):
    log = sy.log_text()
    assert "DEBUG" in log or "debug" in log  # the check below ran against debug output
    for secret in (BOSS_PASSWORD, NEW_PASSWORD, SIGNUP_PASSWORD, "not-the-password"):
        assert secret not in log, f"{secret!r} appears in the server log"
