"""`switchyard chat` streams the answer to the terminal."""

import os
import subprocess

from conftest import SWITCHYARD_BIN


def run_chat(server, key, *args):
    env = dict(os.environ, SWITCHYARD_URL=server["base"], SWITCHYARD_API_KEY=key)
    return subprocess.run([SWITCHYARD_BIN, "chat", *args], capture_output=True, text=True, env=env, timeout=60)


def test_chat_streams_answer_and_usage(server, api_key):
    out = run_chat(server, api_key, "--model", "x-ai/grok-beta", "one two three")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "three two one"
    assert "prompt 3" in out.stderr


def test_chat_reports_api_errors_with_nonzero_exit(server, api_key):
    out = run_chat(server, api_key, "--model", "no/such-model", "hi")
    assert out.returncode != 0
    assert "no/such-model" in out.stderr


def test_chat_without_key_is_a_usage_error(server):
    env = {k: v for k, v in os.environ.items() if k != "SWITCHYARD_API_KEY"}
    out = subprocess.run([SWITCHYARD_BIN, "chat", "--url", server["base"], "hi"], capture_output=True, text=True, env=env)
    assert out.returncode == 2
    assert "SWITCHYARD_API_KEY" in out.stderr
