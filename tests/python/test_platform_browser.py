"""Runs the dashboard browser test (tests/browser/dashboard.test.mjs): Debian's
headless Chromium driven by playwright-core signs up, creates a key, calls the
API with it, disables it in the UI and finds the call on the usage page.

scripts/test.sh installs chromium, Node.js and playwright-core and sets
SWITCHYARD_REQUIRE_BROWSER=1, so there the test cannot be skipped; run alone
without them it is skipped with the reason."""

import os
import shutil
import subprocess

import pytest

from conftest import MOCK_BIN, ROOT, SWITCHYARD_BIN

SCRIPT = ROOT / "tests/browser/dashboard.test.mjs"
CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
OUTPUT = os.environ.get("SWITCHYARD_TEST_OUTPUT", str(ROOT / "target/test-output/browser"))


def test_dashboard_in_headless_chromium():
    node = shutil.which("node")
    missing = [what for what, ok in [
        ("node", node is not None),
        (CHROMIUM, os.access(CHROMIUM, os.X_OK)),
        ("tests/browser/node_modules/playwright-core (npm ci)",
         (ROOT / "tests/browser/node_modules/playwright-core/package.json").exists()),
    ] if not ok]
    if missing:
        message = f"browser test needs: {', '.join(missing)} (scripts/test.sh installs them)"
        if os.environ.get("SWITCHYARD_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    env = dict(os.environ, SWITCHYARD_BIN=SWITCHYARD_BIN, MOCK_UPSTREAM_BIN=MOCK_BIN, CHROMIUM_BIN=CHROMIUM,
               SWITCHYARD_TEST_OUTPUT=OUTPUT)
    r = subprocess.run([node, str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    print(r.stdout)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    shots = sorted(os.listdir(OUTPUT))
    for page in ("signup", "keys", "key-created", "usage", "billing", "models", "playground"):
        assert any(page in s for s in shots), f"no screenshot of {page} in {OUTPUT}: {shots}"
