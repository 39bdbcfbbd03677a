// The explorer's page in Debian's headless Chromium, driven by playwright-core.
//
//   EXPLORER_URL=http://127.0.0.1:8000/ EXPECT_ENGINE=wasm SCREENSHOT=docs/explorer.png \
//     node --test explorer.test.mjs
//
// EXPECT_ENGINE is `wasm` (the page runs explorer.wasm) or `server` (the page could not load
// it and posts to /api). Every request the page makes must stay on the page's own host.
// The expected numbers come from the notes (6a) and, for an edited weight, from the 2-3-1
// network computed here with plain arithmetic, independently of the page.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const url = process.env.EXPLORER_URL || "http://127.0.0.1:8000/";
const expectedEngine = process.env.EXPECT_ENGINE || "wasm";
const screenshot = process.env.SCREENSHOT || "";
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";

// Notes 6a, 12 significant digits.
const NOTES_E = "0.0723034528622";
const NOTES_DE_DB2 = "-0.0896169272249";

// E of the 2-3-1 network (notes 6a) for weights W (row-major 2x3), the rest as in the notes.
function networkLoss(W) {
  const sigmoid = (z) => 1 / (1 + Math.exp(-z));
  const X = [0.4, 0.5], B1 = [0.1, 0.2, 0.3], V = [0.1, 0.2, 0.3], B2 = 0.1, target = 1;
  const H = [0, 1, 2].map((j) => sigmoid(X[0] * W[j] + X[1] * W[3 + j] + B1[j]));
  const Y = sigmoid(H[0] * V[0] + H[1] * V[1] + H[2] * V[2] + B2);
  return 0.5 * (target - Y) ** 2;
}

test(`the explorer page works end to end (${expectedEngine})`, async () => {
  const profile = mkdtempSync(join(tmpdir(), "explorer-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1366, height: 900 },
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  const page = context.pages()[0] || (await context.newPage());
  const pageHost = new URL(url).host;
  const foreign = [];
  await context.route("**/*", (route) => {
    const requested = new URL(route.request().url());
    if (requested.host !== pageHost) {
      foreign.push(requested.href);
      return route.abort();
    }
    return route.continue();
  });
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  try {
    await page.goto(url);
    await page.waitForSelector("body[data-ready=true]", { timeout: 20000 });
    assert.equal(await page.getAttribute("#engine", "data-engine"), expectedEngine, "the engine the page runs");

    // The 2-3-1 network (chosen after another graph, so the choice itself is exercised).
    await page.selectOption("#graph-select", "chain");
    await page.waitForFunction(() => document.querySelector("#loss-label").textContent === "L");
    await page.selectOption("#graph-select", "net231");
    await page.waitForFunction(() => document.querySelector("#loss-label").textContent === "E");
    assert.equal(await page.textContent("#loss-value"), NOTES_E);

    // Forward: the values appear node by node.
    await page.click("#forward");
    await page.waitForFunction(() => document.querySelectorAll("#graph .node.hidden-value").length === 0);

    // Step the reverse sweep with the arrow keys, to the node of Y = sigmoid(net_2) (BP1).
    await page.click("#description"); // focus the page, not a form field
    const total = Number(await page.getAttribute("#step-counter", "data-total"));
    assert.ok(total > 10, `the sweep has ${total} steps`);
    for (let k = 0; k < 5; k++) await page.keyboard.press("ArrowRight");
    assert.match(await page.textContent("#current-node"), /^#11 sigmoid/);
    assert.match(await page.textContent("#current-equation"), /\(BP1\)$/);
    assert.match(await page.textContent("#current-worked"), /= \[\[-0\.0896169272249\]\] -> #10/);
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("ArrowLeft");
    assert.equal(await page.getAttribute("#step-counter", "data-step"), "6");
    assert.match(await page.textContent("#current-equation"), /\(BP4\)/);
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: false });

    // To the end of the sweep; the gradients are read from the page.
    for (let k = 6; k < total; k++) await page.keyboard.press("ArrowRight");
    assert.equal(await page.getAttribute("#step-counter", "data-step"), String(total));
    assert.equal(await page.textContent('#gradients td[data-name="B2"]'), NOTES_DE_DB2);
    assert.equal(await page.textContent("#loss-value"), NOTES_E);

    // Edit a weight: E changes to the value of the network computed here.
    const W = [0.7, 0.3, 0.5, 0.2, 0.4, 0.6];
    await page.fill('input[data-leaf="W"][data-index="0"]', "0.7");
    await page.press('input[data-leaf="W"][data-index="0"]', "Tab");
    await page.waitForFunction((old) => document.querySelector("#loss-value").textContent !== old, NOTES_E);
    const shown = Number(await page.textContent("#loss-value"));
    const expected = networkLoss(W);
    assert.ok(Math.abs(shown - expected) <= 1e-10 * expected, `E = ${shown}, computed here ${expected}`);

    // The gradient check and a short training run.
    await page.click("#check");
    await page.waitForFunction(() => document.querySelector("#check-summary").textContent !== "");
    assert.match(await page.textContent("#check-summary"), /^Every gradient agrees/);
    await page.fill("#train-steps", "50");
    await page.fill("#train-lr", "0.5");
    await page.click("#train");
    await page.waitForSelector("#loss-plot polyline");
    const last = Number(await page.getAttribute("#train-summary", "data-last"));
    assert.ok(last < shown, `training lowers E: ${shown} -> ${last}`);

    // A typo in an expression: the error names its column.
    await page.selectOption("#graph-select", "expression");
    await page.waitForSelector("#expression", { state: "visible" });
    await page.fill("#expression", "sigmoid(w1 * x + ) * w2");
    await page.click("#build");
    await page.waitForSelector("#expr-error:not([hidden])");
    assert.match(await page.textContent("#expr-error"), /column 18: expected a number, a name or '\(', found '\)'/);
    await page.fill("#expression", "sigmoid(w1 * x + b) * w2");
    await page.click("#build");
    await page.waitForSelector("#expr-error", { state: "hidden" });
    assert.equal(await page.textContent("#loss-label"), "sigmoid(w1 * x + b) * w2");

    assert.deepEqual(errors, [], "no script error on the page");
    assert.deepEqual(foreign, [], "no request leaves the page's host");
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
});
