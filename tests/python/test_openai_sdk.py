"""The official openai SDK against the gateway."""

import openai
import pytest


@pytest.fixture()
def client(server, api_key):
    return openai.OpenAI(base_url=f"{server['base']}/v1", api_key=api_key, max_retries=0)


def test_non_streaming(client):
    r = client.chat.completions.create(
        model="x-ai/grok-beta",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "a b c d"}],
        temperature=0.5,
        max_tokens=3,
    )
    assert r.choices[0].message.content == "d c b"
    assert r.choices[0].finish_reason == "length"
    assert r.usage.prompt_tokens == 6
    assert r.usage.completion_tokens == 3
    assert r.usage.total_tokens == 9
    assert r.usage.prompt_tokens_details.cached_tokens == 3
    assert r.usage.completion_tokens_details.reasoning_tokens == 1


def test_streaming_with_include_usage(client):
    stream = client.chat.completions.create(
        model="x-ai/grok-beta",
        messages=[{"role": "user", "content": "alpha beta gamma"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks, "no chunks"
    ids = {c.id for c in chunks}
    assert len(ids) == 1
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "gamma beta alpha"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    last = chunks[-1]
    assert last.choices == []
    assert last.usage.prompt_tokens == 3
    assert last.usage.completion_tokens == 3
    assert last.usage.prompt_tokens_details.cached_tokens == 1


def test_streaming_without_include_usage_has_no_usage_chunk(client):
    chunks = list(
        client.chat.completions.create(
            model="x-ai/grok-beta", messages=[{"role": "user", "content": "x y"}], stream=True
        )
    )
    assert all(c.choices for c in chunks)
    assert all(getattr(c, "usage", None) is None for c in chunks)


def test_400_is_bad_request_error_naming_param(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(
            model="x-ai/grok-beta", messages=[{"role": "user", "content": "hi"}], temperature=2.5
        )
    assert e.value.status_code == 400
    assert e.value.body["param"] == "temperature"
    assert e.value.body["type"] == "invalid_request_error"


def test_401_is_authentication_error(server):
    bad = openai.OpenAI(base_url=f"{server['base']}/v1", api_key="sy_not-a-real-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        bad.chat.completions.create(model="x-ai/grok-beta", messages=[{"role": "user", "content": "hi"}])
    assert e.value.status_code == 401
    assert e.value.code == "invalid_api_key"


def test_unknown_model_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="no/such-model", messages=[{"role": "user", "content": "hi"}])
    assert e.value.code == "model_not_found"


def test_tool_call_round_trip(client):
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    r = client.chat.completions.create(
        model="x-ai/grok-beta", messages=[{"role": "user", "content": "please call it"}], tools=tools
    )
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.function.name == "lookup"
    assert call.type == "function"
    assert '"please call it"' in call.function.arguments
