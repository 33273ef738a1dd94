"""Fixtures: the mock upstream, a real `switchyard serve` pointed at it, and an API key.

Binaries come from SWITCHYARD_BIN and MOCK_UPSTREAM_BIN (scripts/test.sh builds
them); without those, target/debug is used.
"""

import json
import os
import socket
import sqlite3
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

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


# ---------------------------------------------------------------------------
# Platform (accounts, keys, money) helpers: servers with their own store and
# config, the CLI bound to that store, and a cookie-keeping dashboard client.


# A model whose cost is exactly 0.001 USD per completion token and nothing for
# the prompt: with a prompt of N words and max_tokens=N the mock answers N
# tokens, so a call costs exactly its worst case (N × 0.001 USD).
EXACT_MODEL = "test/exact"
EXACT_USD_PER_TOKEN = 0.001
CREDITS_PER_USD = 2_000_000


def platform_config(mock_upstream: str, platform: str = "") -> str:
    """Config text: the mock provider, the usual models plus `test/exact` and
    `test/fail-500` (same prices), and an optional `[platform]` body."""
    config = f"""
[server]
shutdown_grace_secs = 1

[platform]
{platform}

[[providers]]
name = "mock"
kind = "openai"
base_url = "{mock_upstream}"
api_key = "upstream-secret"
first_byte_timeout_secs = 10.0
idle_timeout_secs = 10.0
max_retries = 0

"""
    config += model_entry("x-ai/grok-beta", "mock", "grok-beta", aliases='["grok-beta"]')
    exact = "{ prompt = 0.0, cached_prompt = 0.0, completion = 1000.0 }"
    for model_id, upstream in [(EXACT_MODEL, "grok-beta"), ("test/fail-500", "fail-500")]:
        config += (
            f'[[models]]\nid = "{model_id}"\nprovider = "mock"\nupstream_model = "{upstream}"\n'
            f"prices = {exact}\n"
        )
    return config


class Switchyard:
    """A running `switchyard serve` and the CLI on the same store."""

    def __init__(self, data: Path, config: Path, env: dict, listen_port: int, log_path: Path):
        self.data = data
        self.config = config
        self.env = env
        self.base = f"http://127.0.0.1:{listen_port}"
        self.log_path = log_path
        self._log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [SWITCHYARD_BIN, "serve", "--config", str(config), "--data-dir", str(data),
             "--listen", f"127.0.0.1:{listen_port}"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            wait_http(f"{self.base}/health", self.proc)
        except Exception as e:
            self.stop()
            raise RuntimeError(f"{e}\n{log_path}:\n{log_path.read_text(errors='replace')[-3000:]}") from e

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [SWITCHYARD_BIN, *args, "--config", str(self.config), "--data-dir", str(self.data)],
            capture_output=True,
            text=True,
            input=stdin,
            env=self.env,
            timeout=60,
        )

    def cli_ok(self, *args: str, stdin: str | None = None) -> str:
        out = self.cli(*args, stdin=stdin)
        assert out.returncode == 0, f"switchyard {' '.join(args)}: rc {out.returncode}\n{out.stderr}"
        return out.stdout

    def create_key(self, *extra: str, name: str = "pytest") -> dict:
        """`keys create --json` (extra flags: --management, --account EMAIL)."""
        created = json.loads(self.cli_ok("keys", "create", "--name", name, "--json", *extra))
        assert created["key"].startswith(created["prefix"]), created
        return created

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()


def start_switchyard(data: Path, config_text: str, database_url: str | None = None,
                     env: dict | None = None, name: str = "server") -> Switchyard:
    """Starts a server on a free port with `config_text` in `data`."""
    data.mkdir(parents=True, exist_ok=True)
    cfg = data / "switchyard.toml"
    cfg.write_text(config_text)
    full_env = {k: v for k, v in os.environ.items() if k != "SWITCHYARD_DATABASE_URL"}
    if database_url:
        full_env["SWITCHYARD_DATABASE_URL"] = database_url
    full_env.update(env or {})
    return Switchyard(data, cfg, full_env, free_port(), data / f"{name}.log")


@pytest.fixture
def switchyard_factory(mock_upstream, tmp_path_factory):
    """`start(platform="", database_url=None, env=None)` → a fresh Switchyard; all stopped afterwards."""
    started: list[Switchyard] = []

    def start(platform: str = "", database_url: str | None = None, env: dict | None = None,
              name: str = "server") -> Switchyard:
        data = tmp_path_factory.mktemp(name)
        sy = start_switchyard(data, platform_config(mock_upstream, platform), database_url, env, name)
        started.append(sy)
        return sy

    yield start
    for sy in started:
        sy.stop()


class _Forms(HTMLParser):
    """Collects each form's id, class, action, method and input values."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._current: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._current = {"id": a.get("id"), "class": (a.get("class") or "").split(),
                             "action": a.get("action"), "method": (a.get("method") or "get").lower(),
                             "fields": {}}
            self.forms.append(self._current)
        elif tag in ("input", "button", "select", "textarea") and self._current is not None:
            if a.get("name") and a.get("type") not in ("submit", "checkbox", "radio"):
                self._current["fields"].setdefault(a["name"], a.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


def parse_forms(html: str) -> list[dict]:
    p = _Forms()
    p.feed(html)
    return p.forms


class Dashboard:
    """A cookie-keeping client for the server-rendered dashboard (forms with CSRF tokens)."""

    def __init__(self, base: str):
        self.base = base
        self.http = requests.Session()

    def form(self, path: str, form_id: str) -> dict:
        r = self.http.get(self.base + path, timeout=15)
        assert r.status_code == 200, f"GET {path}: {r.status_code} {r.text[:300]}"
        for f in parse_forms(r.text):
            if f["id"] == form_id:
                return f
        raise AssertionError(f"no form #{form_id} on {path}")

    def submit(self, path: str, form_id: str, values: dict, drop_csrf: bool = False) -> requests.Response:
        f = self.form(path, form_id)
        data = dict(f["fields"])
        if drop_csrf:
            data.pop("csrf_token", None)
        data.update(values)
        url = urljoin(self.base + path, f["action"] or path)
        return self.http.post(url, data=data, allow_redirects=False, timeout=15)

    def signup(self, email: str, password: str, invite: str | None = None) -> requests.Response:
        values = {"email": email, "password": password}
        if invite is not None:
            values["invite"] = invite
        return self.submit("/signup", "signup-form", values)

    def login(self, email: str, password: str) -> requests.Response:
        return self.submit("/login", "login-form", {"email": email, "password": password})


def location_path(r: requests.Response) -> str:
    """The path a redirect points at (without its query string)."""
    return urlsplit(r.headers.get("location", "")).path


def signup_account(base: str, email: str, password: str = "pytest-password-1") -> Dashboard:
    """A new non-admin account made through the sign-up form; returns its logged-in client."""
    d = Dashboard(base)
    r = d.signup(email, password)
    assert r.status_code == 303, f"sign-up: {r.status_code} {r.text[:300]}"
    assert location_path(r) == "/keys", r.headers
    return d


def chat_call(base: str, key: str, model: str = EXACT_MODEL, words: int = 10,
              max_tokens: int | None = None, headers: dict | None = None,
              timeout: float = 60) -> requests.Response:
    """A non-streaming chat call whose prompt is `words` words (answer: up to max_tokens words)."""
    h = {"Authorization": f"Bearer {key}"}
    h.update(headers or {})
    body = {"model": model,
            "messages": [{"role": "user", "content": " ".join(f"w{i}" for i in range(words))}],
            "max_tokens": words if max_tokens is None else max_tokens}
    return requests.post(base + "/v1/chat/completions", json=body, headers=h, timeout=timeout)


def account_held_nanos(sy: Switchyard, email: str) -> int:
    """The account's open holds (calls not settled yet), read from the server's database."""
    url = sy.env.get("SWITCHYARD_DATABASE_URL")
    if url:
        import psycopg

        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT held_nanos FROM accounts WHERE email = %s", (email,)).fetchone()
    else:
        conn = sqlite3.connect(f"file:{sy.data / 'switchyard.db'}?mode=ro", uri=True, timeout=10)
        try:
            row = conn.execute("SELECT held_nanos FROM accounts WHERE email = ?", (email,)).fetchone()
        finally:
            conn.close()
    assert row is not None, f"no account {email}"
    return row[0]


def wait_settled(sy: Switchyard, email: str, timeout: float = 10.0) -> None:
    """Waits until every call of the account is settled: settlement runs on a
    background task after the response, so a read right after a call may not
    see its charge yet."""
    deadline = time.monotonic() + timeout
    while (held := account_held_nanos(sy, email)) != 0:
        assert time.monotonic() < deadline, f"{email}: {held} nano-USD still held after {timeout}s"
        time.sleep(0.05)
