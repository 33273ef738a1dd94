// Dashboard end-to-end test in a real headless Chromium (Debian's `chromium`
// package, driven by playwright-core; nothing is downloaded).
//
// It starts its own mock upstream and `switchyard serve` on a temporary data
// directory, then: sign up -> create a key -> read it from the page -> call
// POST /v1/chat/completions with it -> disable it in the UI -> the same call
// gets 401 -> the usage page lists the earlier call. A screenshot of every
// page visited is written to the output folder (printed at the end).
//
//   node tests/browser/dashboard.test.mjs
//
// Environment: SWITCHYARD_BIN, MOCK_UPSTREAM_BIN (default target/debug/...),
// CHROMIUM_BIN (default /usr/bin/chromium), SWITCHYARD_TEST_OUTPUT (default
// target/test-output/browser).

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SWITCHYARD_BIN = process.env.SWITCHYARD_BIN || path.join(ROOT, "target/debug/switchyard");
const MOCK_BIN = process.env.MOCK_UPSTREAM_BIN || path.join(ROOT, "target/debug/examples/mock_upstream");
const CHROMIUM_BIN = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
const OUT_DIR = path.resolve(process.env.SWITCHYARD_TEST_OUTPUT || path.join(ROOT, "target/test-output/browser"));
const MODEL = "x-ai/grok-beta";
const EMAIL = `browser-${Date.now()}@example.com`;
const PASSWORD = "correct horse battery staple 42";

const children = [];
const shots = [];

function log(msg) {
    process.stdout.write(`[browser] ${msg}\n`);
}

function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitHttp(url, child, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`process exited early (${child.exitCode}) before ${url} answered`);
        try {
            await fetch(url, { signal: AbortSignal.timeout(500) });
            return;
        } catch {
            await sleep(50);
        }
    }
    throw new Error(`timed out waiting for ${url}`);
}

function start(bin, args, logFile) {
    const out = fs.openSync(logFile, "w");
    const child = spawn(bin, args, { stdio: ["ignore", out, out] });
    children.push(child);
    return child;
}

function stopAll() {
    for (const c of children) {
        if (c.exitCode === null) c.kill("SIGTERM");
    }
}

async function startStack(dataDir) {
    const mockPort = await freePort();
    const mock = start(MOCK_BIN, ["--listen", `127.0.0.1:${mockPort}`], path.join(dataDir, "mock.log"));
    await waitHttp(`http://127.0.0.1:${mockPort}/v1/models`, mock);

    const config = `
[server]
shutdown_grace_secs = 1

[platform]
signup = "open"

[[providers]]
name = "mock"
kind = "openai"
base_url = "http://127.0.0.1:${mockPort}/v1"
api_key = "upstream-secret"
max_retries = 0

[[models]]
id = "${MODEL}"
provider = "mock"
upstream_model = "grok-beta"
prices = { prompt = 5.0, cached_prompt = 2.5, completion = 15.0 }
`;
    const configPath = path.join(dataDir, "switchyard.toml");
    fs.writeFileSync(configPath, config);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const serverLog = path.join(dataDir, "server.log");
    const server = start(
        SWITCHYARD_BIN,
        ["serve", "--config", configPath, "--data-dir", dataDir, "--listen", `127.0.0.1:${port}`],
        serverLog,
    );
    await waitHttp(`${base}/health`, server);
    return { base, configPath, dataDir, serverLog };
}

function cli(stack, ...args) {
    const r = spawnSync(SWITCHYARD_BIN, [...args, "--config", stack.configPath, "--data-dir", stack.dataDir], {
        encoding: "utf8",
        timeout: 60_000,
    });
    assert.equal(r.status, 0, `switchyard ${args.join(" ")} failed: ${r.stderr}`);
    return r.stdout;
}

async function shot(page, name) {
    const file = path.join(OUT_DIR, `${String(shots.length + 1).padStart(2, "0")}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    shots.push(file);
    log(`screenshot ${file}`);
}

async function chat(base, key) {
    const r = await fetch(`${base}/v1/chat/completions`, {
        method: "POST",
        headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
        body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "Hello from the browser test" }], max_tokens: 32 }),
        signal: AbortSignal.timeout(20_000),
    });
    const text = await r.text();
    return { status: r.status, headers: r.headers, text };
}

/// Clicks a form's submit button and waits for the page it leads to (or, with
/// a script-enhanced form, for the click to be handled).
async function submit(page, button) {
    const nav = page.waitForNavigation({ timeout: 15_000 }).catch(() => null);
    await button.click();
    await nav;
    await page.waitForLoadState("load");
}

async function pollText(locator, want, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    let last = null;
    while (Date.now() < deadline) {
        last = await locator
            .evaluate((el) => (el.tagName === "INPUT" ? el.value : el.textContent).trim(), null, { timeout: 2_000 })
            .catch(() => null);
        if (last === want) return;
        await sleep(100);
    }
    assert.fail(`expected "${want}", last saw "${last}"`);
}

async function run() {
    fs.rmSync(OUT_DIR, { recursive: true, force: true });
    fs.mkdirSync(OUT_DIR, { recursive: true });
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "switchyard-browser-"));
    log(`data dir ${dataDir}`);
    const stack = await startStack(dataDir);
    log(`server ${stack.base}`);

    const browser = await chromium.launch({ executablePath: CHROMIUM_BIN, headless: true, args: ["--disable-dev-shm-usage"] });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(30_000);
    try {
        // Not logged in: / sends us to the login page.
        await page.goto(`${stack.base}/`);
        assert.match(new URL(page.url()).pathname, /^\/login/, `GET / without a session went to ${page.url()}`);

        // 1. Sign up.
        await page.goto(`${stack.base}/signup`);
        const form = page.locator("#signup-form");
        await form.locator('input[name="email"]').fill(EMAIL);
        await form.locator('input[name="password"]').fill(PASSWORD);
        await shot(page, "signup");
        await submit(page, form.locator('button[type="submit"]'));
        assert.equal(new URL(page.url()).pathname, "/keys", `after sign-up the page is ${page.url()}`);
        await shot(page, "keys");

        // The new account starts at zero: an administrator grants it credit.
        cli(stack, "credits", "add", EMAIL, "5", "--note", "browser test");

        // 2. Create a key and read it from the page.
        const create = page.locator("#create-key-form");
        await create.locator('input[name="name"]').fill("browser-key");
        await submit(page, create.locator('[type="submit"]').first());
        const key = (await page.locator("code#new-key").textContent()).trim();
        assert.match(key, /^sy_\S{20,}$/, `#new-key shows "${key}"`);
        assert.equal(await page.locator("#copy-key").count(), 1, "no #copy-key button beside the new key");
        await shot(page, "key-created");
        const prefix = key.slice(0, 8);
        const row = page.locator(`tr[data-prefix="${prefix}"]`);
        assert.equal(await row.count(), 1, `no row tr[data-prefix="${prefix}"] for the new key`);
        log(`created key with prefix ${prefix}`);

        // 3. Call the API with it (mock upstream).
        const ok = await chat(stack.base, key);
        assert.ok(ok.status === 200 || ok.status === 201, `chat with the new key: ${ok.status} ${ok.text}`);
        const completion = JSON.parse(ok.text);
        assert.ok(completion.choices?.[0]?.message?.content, `no answer text: ${ok.text}`);
        const inferenceId = ok.headers.get("x-inference-id") || completion.id;
        const requestId = ok.headers.get("x-request-id");
        assert.ok(inferenceId, "no inference id");
        log(`chat ok: inference id ${inferenceId}, request id ${requestId}`);

        // 4. Disable it in the UI.
        const toggle = row.locator(".toggle-key").locator('button, input[type="submit"]').first();
        await pollText(toggle, "Disable");
        await submit(page, toggle);
        await pollText(page.locator(`tr[data-prefix="${prefix}"] .toggle-key`).locator('button, input[type="submit"]').first(), "Enable");
        await shot(page, "key-disabled");

        // 5. The same call now gets 401 (the key cache may trust it a little longer).
        const deadline = Date.now() + 5_000;
        let refused;
        for (;;) {
            refused = await chat(stack.base, key);
            if (refused.status === 401 || Date.now() > deadline) break;
            await sleep(200);
        }
        assert.equal(refused.status, 401, `a disabled key still answered ${refused.status} after 5 s: ${refused.text}`);
        assert.ok(JSON.parse(refused.text).error?.message, `401 without an OpenAI-shaped error: ${refused.text}`);

        // 6. The usage page lists the earlier call.
        await page.goto(`${stack.base}/usage`);
        assert.equal(await page.locator("svg#usage-chart").count(), 1, "no svg#usage-chart on /usage");
        assert.equal(await page.locator("svg#tokens-chart").count(), 1, "no svg#tokens-chart on /usage");
        const logRows = page.locator("table#request-log tr", { hasText: inferenceId });
        assert.equal(await logRows.count(), 1, `table#request-log has no row for ${inferenceId}`);
        const rowText = await logRows.first().textContent();
        assert.ok(rowText.includes(MODEL), `request-log row lacks the model: ${rowText}`);
        if (requestId) assert.ok(rowText.includes(requestId), `request-log row lacks the request id ${requestId}: ${rowText}`);
        await shot(page, "usage");

        // 7. The other pages render.
        await page.goto(`${stack.base}/billing`);
        const balance = (await page.locator("#balance").textContent()).trim();
        assert.match(balance, /\d/, `#balance shows "${balance}"`);
        assert.ok((await page.locator("#transactions").textContent()).includes("browser test") ||
            (await page.locator("#transactions tr").count()) >= 2, "#transactions lists neither the grant nor any row");
        await shot(page, "billing");

        await page.goto(`${stack.base}/models`);
        assert.ok((await page.locator("table#models").textContent()).includes(MODEL), `table#models lacks ${MODEL}`);
        await shot(page, "models");

        // The playground streams an answer from the mock (which echoes the words reversed).
        await page.goto(`${stack.base}/playground`);
        const pg = page.locator("#playground-form");
        await pg.locator('select[name="model"]').selectOption(MODEL);
        await pg.locator('textarea[name="message"]').fill("alpha beta gamma");
        await pg.locator('[type="submit"]').first().click();
        await page.waitForFunction(() => document.querySelector("#chat")?.textContent.includes("gamma beta alpha"), null, {
            timeout: 20_000,
        });
        await shot(page, "playground");

        // Secrets never reach the log.
        const serverLog = fs.readFileSync(stack.serverLog, "utf8");
        assert.ok(!serverLog.includes(key), "the API key appears in the server log");
        assert.ok(!serverLog.includes(PASSWORD), "the password appears in the server log");
    } catch (e) {
        await shot(page, "failure").catch(() => {});
        log(`server log: ${stack.serverLog}`);
        const tail = fs.readFileSync(stack.serverLog, "utf8").split("\n").slice(-40).join("\n");
        log(`server log tail:\n${tail}`);
        throw e;
    } finally {
        await browser.close();
    }
    log(`PASS: ${shots.length} screenshots in ${OUT_DIR}`);
}

try {
    await run();
} catch (e) {
    process.stderr.write(`[browser] FAIL: ${e.stack || e}\n`);
    process.exitCode = 1;
} finally {
    stopAll();
    if (shots.length) log(`screenshots: ${OUT_DIR}`);
}
