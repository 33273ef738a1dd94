"""Per-key rate limits through the real binary: `x-ratelimit-*` headers on every
authenticated /v1 response, 429 with `retry-after` once a minute's requests or
tokens are used up, and no headers for an unlimited dimension."""

import re
import time

import pytest
import requests

from conftest import chat_call, platform_config, start_switchyard, wait_settled

RPM = 4
TPM = 1000
RESET = re.compile(r"^\d+(\.\d+)?(ms|s|m)$|^(\d+m)?\d+(\.\d+)?s$")
MODEL = "x-ai/grok-beta"


@pytest.fixture(scope="module")
def sy(mock_upstream, tmp_path_factory):
    s = start_switchyard(tmp_path_factory.mktemp("ratelimit"),
                         platform_config(mock_upstream, f"default_rpm = {RPM}\ndefault_tpm = {TPM}"), name="ratelimit")
    yield s
    s.stop()


def fresh_minute(margin: float = 15.0) -> None:
    """Waits for a new minute if fewer than `margin` seconds of this one are left (windows are fixed minutes)."""
    left = 60 - (time.time() % 60)
    if left < margin:
        time.sleep(left + 0.3)


def header_int(r: requests.Response, name: str) -> int:
    assert name in r.headers, f"{name} missing: {dict(r.headers)}"
    return int(r.headers[name])


def assert_reset(r: requests.Response, name: str) -> None:
    v = r.headers.get(name)
    assert v is not None and RESET.match(v), f"{name}: {v!r}"


def assert_429(r: requests.Response) -> int:
    assert r.status_code == 429, r.text
    assert r.json()["error"]["message"]
    retry = int(r.headers["retry-after"])
    assert 1 <= retry <= 60, retry
    return retry


def test_request_limit_headers_and_429(sy):
    key = sy.create_key(name="rpm")["key"]
    other = sy.create_key(name="other")["key"]
    fresh_minute()
    first = chat_call(sy.base, key, model=MODEL, words=3)
    assert first.status_code == 201, first.text
    assert header_int(first, "x-ratelimit-limit-requests") == RPM
    assert header_int(first, "x-ratelimit-remaining-requests") == RPM - 1
    assert_reset(first, "x-ratelimit-reset-requests")
    assert header_int(first, "x-ratelimit-limit-tokens") == TPM
    assert 0 < header_int(first, "x-ratelimit-remaining-tokens") <= TPM
    assert_reset(first, "x-ratelimit-reset-tokens")

    # Every /v1 request of the key counts, /v1/models included.
    models = requests.get(sy.base + "/v1/models", headers={"Authorization": f"Bearer {key}"}, timeout=15)
    assert models.status_code == 200
    assert header_int(models, "x-ratelimit-remaining-requests") == RPM - 2
    for left in range(RPM - 3, -1, -1):
        r = chat_call(sy.base, key, model=MODEL, words=3)
        assert r.status_code == 201, r.text
        assert header_int(r, "x-ratelimit-remaining-requests") == left

    refused = chat_call(sy.base, key, model=MODEL, words=3)
    retry = assert_429(refused)
    assert header_int(refused, "x-ratelimit-remaining-requests") == 0
    # Another key has its own window.
    r = chat_call(sy.base, other, model=MODEL, words=3)
    assert r.status_code == 201 and header_int(r, "x-ratelimit-remaining-requests") == RPM - 1

    # After the window the key works again.
    time.sleep(retry + 0.5)
    assert chat_call(sy.base, key, model=MODEL, words=3).status_code == 201


def test_token_limit(sy):
    key = sy.create_key(name="tpm")["key"]
    fresh_minute()
    big = chat_call(sy.base, key, model=MODEL, words=600)  # 600 prompt + 600 completion tokens
    assert big.status_code == 201, big.text
    assert big.json()["usage"]["total_tokens"] >= TPM
    wait_settled(sy, "admin@localhost")  # tokens count once the call is settled
    refused = chat_call(sy.base, key, model=MODEL, words=3)
    assert_429(refused)


def test_unlimited_sends_no_headers(switchyard_factory):
    sy = switchyard_factory("default_rpm = 0\ndefault_tpm = 0", name="unlimited")
    key = sy.create_key(name="free")["key"]
    for _ in range(RPM + 2):
        r = chat_call(sy.base, key, model=MODEL, words=3)
        assert r.status_code == 201, r.text
    assert not [h for h in r.headers if h.lower().startswith("x-ratelimit-")], dict(r.headers)


def test_every_authenticated_v1_response_has_the_headers(switchyard_factory):
    sy = switchyard_factory("default_rpm = 1000", name="headers")
    key = sy.create_key(name="regular")["key"]
    mgmt = sy.create_key("--management", name="mgmt")["key"]
    calls = [
        ("bad request", lambda h: requests.post(sy.base + "/v1/chat/completions", json={"model": MODEL}, headers=h)),
        ("unknown model", lambda h: requests.post(sy.base + "/v1/chat/completions", headers=h, json={
            "model": "no/such-model", "messages": [{"role": "user", "content": "hi"}]})),
        ("stream", lambda h: requests.post(sy.base + "/v1/chat/completions", headers=h, json={
            "model": MODEL, "stream": True, "messages": [{"role": "user", "content": "hi"}]})),
        ("models", lambda h: requests.get(sy.base + "/v1/models", headers=h)),
        ("own key", lambda h: requests.get(sy.base + "/v1/key", headers=h)),
        ("balance", lambda h: requests.get(sy.base + "/v1/billing/balance", headers=h)),
        ("wrong kind", lambda h: requests.get(sy.base + "/v1/keys", headers=h)),
    ]
    seen = []
    for name, call in calls:
        r = call({"Authorization": f"Bearer {key}"})
        assert header_int(r, "x-ratelimit-limit-requests") == 1000, name
        assert_reset(r, "x-ratelimit-reset-requests")
        seen.append(header_int(r, "x-ratelimit-remaining-requests"))
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == len(seen), seen
    r = requests.get(sy.base + "/v1/keys", headers={"Authorization": f"Bearer {mgmt}"}, timeout=15)
    assert r.status_code == 200 and header_int(r, "x-ratelimit-remaining-requests") == 999
