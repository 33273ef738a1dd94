"""The Python example from the seed page (reference/grok-beta.md), unchanged
except for the URL and the key, and the response checked field by field."""

import re

import requests


def test_seed_page_example_gets_every_field(server, api_key):
    # --- the seed page's example, with URL and key substituted ---
    response = requests.post(
        f"{server['base']}/v1/chat/completions",
        headers={
            "Content-Type": "application/json",
            # Insert your AIML API Key instead of <YOUR_AIMLAPI_KEY>:
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",  # noqa: F601 (duplicated as on the page)
        },
        json={
            "model": "x-ai/grok-beta",
            "messages": [
                {
                    "role": "user",
                    # Insert your question for the model here, instead of Hello:
                    "content": "Hello",
                }
            ],
        },
    )

    data = response.json()
    print(data)
    # --- end of the example ---

    assert response.status_code == 201, data
    assert re.fullmatch(r"gen-\d+-[A-Za-z0-9]{20}", data["id"]), data["id"]
    assert isinstance(data["system_fingerprint"], str) and data["system_fingerprint"]
    assert data["object"] == "chat.completion"
    assert isinstance(data["created"], int)
    assert data["id"].split("-")[1] == str(data["created"])
    assert data["model"] == "x-ai/grok-beta"
    (choice,) = data["choices"]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "stop"
    assert "logprobs" in choice and choice["logprobs"] is None
    message = choice["message"]
    assert message["role"] == "assistant"
    assert message["content"] == "Hello"  # the mock echoes the words reversed
    assert "refusal" in message and message["refusal"] is None
    usage = data["usage"]
    assert usage["prompt_tokens"] == 1
    assert usage["completion_tokens"] == 1
    assert usage["total_tokens"] == 2
    assert usage["prompt_tokens_details"]["cached_tokens"] == 0
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0
    assert response.headers.get("x-request-id")


def test_alias_resolves_to_public_id(server, api_key):
    r = requests.post(
        f"{server['base']}/v1/chat/completions",
        headers={"Authorization": f"Bearer {api_key}"},
        json={"model": "grok-beta", "messages": [{"role": "user", "content": "one two three"}]},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["model"] == "x-ai/grok-beta"
    assert body["choices"][0]["message"]["content"] == "three two one"
    assert body["usage"]["prompt_tokens"] == 3
    assert body["usage"]["prompt_tokens_details"]["cached_tokens"] == 1
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] == 1
