"""Validation, auth and upstream failures through the real server: every error
is OpenAI-shaped, has the right status, and nothing is left hanging."""

import json

import pytest
import requests

URL = "/v1/chat/completions"


def post(server, key, body=None, raw=None, headers=None, stream=False, timeout=15):
    h = {"Authorization": f"Bearer {key}"}
    if headers:
        h.update(headers)
    if raw is not None:
        return requests.post(server["base"] + URL, data=raw, headers=h, timeout=timeout, stream=stream)
    return requests.post(server["base"] + URL, json=body, headers=h, timeout=timeout, stream=stream)


def msg(text="hi"):
    return [{"role": "user", "content": text}]


def assert_error(r, status, param=None, code=None):
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) >= {"message", "type", "param", "code"}, err
    assert err["message"]
    if param is not None:
        assert err["param"] == param, err
    if code is not None:
        assert err["code"] == code, err
    return err


# (field, value just inside, value just outside)
BOUNDS = [
    ("temperature", 0, -0.01),
    ("temperature", 2, 2.01),
    ("top_p", 0.01, 0.009),
    ("top_p", 1, 1.01),
    ("top_logprobs", 20, 21),
    ("max_tokens", 1, 0),
    ("max_completion_tokens", 1, 0),
    ("seed", 1, 0),
    ("min_p", 1, 1.01),
    ("top_a", 0, -0.1),
    ("frequency_penalty", -2, -2.1),
    ("presence_penalty", 2, 2.1),
]


@pytest.mark.parametrize("field,inside,outside", BOUNDS)
def test_range_bounds(server, api_key, field, inside, outside):
    extra = {"logprobs": True} if field == "top_logprobs" else {}
    ok = post(server, api_key, {"model": "x-ai/grok-beta", "messages": msg(), field: inside, **extra})
    assert ok.status_code == 201, ok.text
    bad = post(server, api_key, {"model": "x-ai/grok-beta", "messages": msg(), field: outside, **extra})
    assert_error(bad, 400, param=field)


def test_logit_bias_bounds(server, api_key):
    ok = post(server, api_key, {"model": "x-ai/grok-beta", "messages": msg(), "logit_bias": {"42": -100}})
    assert ok.status_code == 201, ok.text
    bad = post(server, api_key, {"model": "x-ai/grok-beta", "messages": msg(), "logit_bias": {"42": 100.5}})
    assert_error(bad, 400, param="logit_bias.42")


def test_unknown_field_named(server, api_key):
    r = post(server, api_key, {"model": "x-ai/grok-beta", "messages": msg(), "temprature": 1})
    assert_error(r, 400, param="temprature", code="unknown_parameter")


def test_openai_documented_fields_accepted(server, api_key):
    r = post(
        server,
        api_key,
        {"model": "x-ai/grok-beta", "messages": msg(), "user": "u1", "metadata": {"a": "b"}, "store": False},
    )
    assert r.status_code == 201, r.text


def test_bad_message_path_named(server, api_key):
    body = {"model": "x-ai/grok-beta", "messages": [msg()[0], {"role": "user", "content": 5}]}
    assert_error(post(server, api_key, body), 400, param="messages[1].content")


def test_bad_json_and_content_type(server, api_key):
    assert_error(post(server, api_key, raw=b'{"model": ', headers={"Content-Type": "application/json"}), 400)
    r = post(server, api_key, raw=json.dumps({"model": "x", "messages": msg()}), headers={"Content-Type": "text/plain"})
    assert_error(r, 400)


def test_image_input_refused_for_text_model_but_not_for_vision_model(server, api_key):
    content = [{"type": "text", "text": "see"}, {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]
    body = {"model": "x-ai/grok-beta", "messages": [{"role": "user", "content": content}]}
    err = assert_error(post(server, api_key, body), 400, param="messages[0].content[1]")
    assert "image" in err["message"]
    body["model"] = "test/vision"
    assert post(server, api_key, body).status_code == 201


def test_audio_output_refused(server, api_key):
    body = {"model": "x-ai/grok-beta", "messages": msg(), "modalities": ["text", "audio"],
            "audio": {"voice": "alloy", "format": "wav"}}
    assert_error(post(server, api_key, body), 400, param="modalities")


@pytest.mark.parametrize(
    "auth",
    [None, "Bearer", "Bearer garbage", "Bearer sy_AAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "Basic abc"],
)
def test_bad_keys_get_401(server, auth):
    headers = {} if auth is None else {"Authorization": auth}
    r = requests.post(server["base"] + URL, json={"model": "x-ai/grok-beta", "messages": msg()}, headers=headers)
    assert_error(r, 401, code="invalid_api_key")


def test_disabled_then_enabled_then_deleted_key(server):
    from conftest import cli

    out = cli(server, "keys", "create", "--name", "temp", "--json")
    assert out.returncode == 0, out.stderr
    created = json.loads(out.stdout)
    key, prefix = created["key"], created["prefix"]
    body = {"model": "x-ai/grok-beta", "messages": msg()}
    assert post(server, key, body).status_code == 201
    listed = cli(server, "keys", "list", "--json")
    assert any(k["prefix"] == prefix and k["name"] == "temp" for k in json.loads(listed.stdout))
    assert key not in listed.stdout
    assert cli(server, "keys", "disable", prefix).returncode == 0
    # The server caches key lookups for at most a few seconds.
    import time

    deadline = time.monotonic() + 6
    while post(server, key, body).status_code != 401:
        assert time.monotonic() < deadline, "disabled key still accepted after 6 s"
        time.sleep(0.25)
    assert cli(server, "keys", "enable", prefix).returncode == 0
    deadline = time.monotonic() + 6
    while post(server, key, body).status_code != 201:
        assert time.monotonic() < deadline, "re-enabled key still refused after 6 s"
        time.sleep(0.25)
    assert cli(server, "keys", "delete", prefix).returncode == 0
    deadline = time.monotonic() + 6
    while post(server, key, body).status_code != 401:
        assert time.monotonic() < deadline, "deleted key still accepted after 6 s"
        time.sleep(0.25)
    assert cli(server, "keys", "disable", "nosuchpx").returncode != 0


@pytest.mark.parametrize(
    "model,status",
    [
        ("test/fail-500", 502),
        ("test/fail-429", 503),
        ("test/fail-400", 400),
        ("test/hang", 504),
        ("test/invalid-json", 502),
        ("test/refused", 503),
        ("test/no-key", 503),
    ],
)
def test_upstream_failures_non_streaming(server, api_key, model, status):
    r = post(server, api_key, {"model": model, "messages": msg()})
    err = assert_error(r, status)
    if status >= 500:
        assert "127.0.0.1" not in err["message"]
    if model == "test/no-key":
        assert "SWITCHYARD_TEST_UNSET_XAI_KEY" in err["message"]


def sse_events(r):
    events = []
    for line in r.iter_lines(decode_unicode=True):
        if line.startswith("data:"):
            events.append(line[5:].strip())
    return events


@pytest.mark.parametrize("model", ["test/cut-stream", "test/stall-mid-stream", "test/invalid-json"])
def test_upstream_failures_mid_stream_end_with_one_error_event(server, api_key, model):
    r = post(server, api_key, {"model": model, "messages": msg("a b c d e"), "stream": True}, stream=True)
    if r.status_code != 200:
        # invalid-json may fail before the first byte; then it is a plain error response.
        assert_error(r, 502)
        return
    events = sse_events(r)
    errors = [e for e in events if e != "[DONE]" and "error" in json.loads(e)]
    assert len(errors) == 1, events
    assert events[-1] == errors[-1], "the error event must be the last one"
    err = json.loads(errors[0])["error"]
    assert set(err) >= {"message", "type", "param", "code"}


def test_metrics_and_health(server, api_key):
    assert requests.get(server["base"] + "/health").json()["status"] == "ok"
    post(server, api_key, {"model": "x-ai/grok-beta", "messages": msg()})
    text = requests.get(server["base"] + "/metrics").text
    assert "x-ai/grok-beta" in text
    assert "# TYPE" in text


def test_keys_and_prompts_never_logged(server, api_key):
    secret_prompt = "zebra-quasar-7781"
    post(server, api_key, {"model": "x-ai/grok-beta", "messages": msg(secret_prompt)})
    log = server["log"].read_text()
    assert api_key not in log
    assert api_key[8:] not in log
    assert secret_prompt not in log
    assert "upstream-secret" not in log
