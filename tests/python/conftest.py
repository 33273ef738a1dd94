"""Fixtures: the mock upstream, a real `switchyard serve` pointed at it, and an API key.

Binaries come from SWITCHYARD_BIN and MOCK_UPSTREAM_BIN (scripts/test.sh builds
them); without those, target/debug is used.
"""

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
SWITCHYARD_BIN = os.environ.get("SWITCHYARD_BIN", str(ROOT / "target/debug/switchyard"))
MOCK_BIN = os.environ.get("MOCK_UPSTREAM_BIN", str(ROOT / "target/debug/examples/mock_upstream"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited early with {proc.returncode}: {url}")
        try:
            requests.get(url, timeout=0.5)
            return
        except requests.RequestException:
            time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {url}")


@pytest.fixture(scope="session")
def mock_upstream():
    port = free_port()
    proc = subprocess.Popen([MOCK_BIN, "--listen", f"127.0.0.1:{port}"], stdout=subprocess.PIPE, text=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/v1/models", proc)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def model_entry(model_id: str, provider: str, upstream: str, **extra) -> str:
    lines = [
        "[[models]]",
        f'id = "{model_id}"',
        f'provider = "{provider}"',
        f'upstream_model = "{upstream}"',
        "prices = { prompt = 5.0, cached_prompt = 2.5, completion = 15.0 }",
    ]
    for k, v in extra.items():
        lines.append(f"{k} = {v}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def server(mock_upstream, tmp_path_factory):
    """A running gateway. x-ai/grok-beta goes to the mock; `fail-*` models exercise failures."""
    data = tmp_path_factory.mktemp("data")
    closed_port = free_port()  # nothing listens here: connection refused
    config = f"""
[server]
shutdown_grace_secs = 2

[[providers]]
name = "mock"
kind = "openai"
base_url = "{mock_upstream}"
api_key = "upstream-secret"
first_byte_timeout_secs = 1.0
idle_timeout_secs = 1.0
max_retries = 1

[[providers]]
name = "refused"
kind = "openai"
base_url = "http://127.0.0.1:{closed_port}/v1"
api_key = "x"
connect_timeout_secs = 1.0
max_retries = 0

[[providers]]
name = "xai"
kind = "openai"
base_url = "https://api.x.ai/v1"
api_key_env = "SWITCHYARD_TEST_UNSET_XAI_KEY"

"""
    config += model_entry("x-ai/grok-beta", "mock", "grok-beta", aliases='["grok-beta"]')
    for upstream in ["fail-500", "fail-429", "fail-400", "hang", "invalid-json", "cut-stream", "stall-mid-stream"]:
        config += model_entry(f"test/{upstream}", "mock", upstream)
    config += model_entry("test/refused", "refused", "whatever")
    config += model_entry("test/no-key", "xai", "grok-beta")
    config += model_entry("test/vision", "mock", "grok-beta", capabilities="{ vision = true }")
    cfg_path = data / "switchyard.toml"
    cfg_path.write_text(config)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(data / "server.log", "w")
    env = {k: v for k, v in os.environ.items() if k != "SWITCHYARD_TEST_UNSET_XAI_KEY"}
    proc = subprocess.Popen(
        [SWITCHYARD_BIN, "serve", "--config", str(cfg_path), "--data-dir", str(data), "--listen", f"127.0.0.1:{port}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        wait_http(f"{base}/health", proc)
        yield {"base": base, "config": str(cfg_path), "data": str(data), "log": data / "server.log", "proc": proc}
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


def cli(server, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [SWITCHYARD_BIN, *args, "--config", server["config"], "--data-dir", server["data"]],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="session")
def api_key(server) -> str:
    out = cli(server, "keys", "create", "--name", "pytest", "--json")
    assert out.returncode == 0, out.stderr
    created = json.loads(out.stdout)
    assert created["key"].startswith(created["prefix"])
    return created["key"]
