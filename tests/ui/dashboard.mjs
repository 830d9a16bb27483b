// The dashboard in a real browser: playwright-core (npm, pinned in package-lock.json) driving
// Debian's Chromium headless (/usr/bin/chromium; no browser download), against a running service
// with authentication on. Started by dashboard_browser_test.cpp, which starts the service, creates
// and funds the accounts and mints the tokens, and passes them here:
//
//   SC_URL                 http://127.0.0.1:<port>
//   SC_TOKEN_OPERATOR      roles operator + auditor (reads every list, retries)
//   SC_TOKEN_SUBMITTER     submits trades over HTTP
//   SC_TOKEN_HOLDER        account_holder of SC_HOLDER_ACCOUNT only
//   SC_HOLDER_ACCOUNT      the holder's account; SC_OTHER_ACCOUNT: one it must not see
//   SC_SCREENSHOT_DIR      where each page's screenshot is written (docs/ui)
//   SC_CHROMIUM            the browser (default /usr/bin/chromium)
//   SC_FAILURE_SCREENSHOT  optional: where to save the page when a step fails
//
// Scenario: sign in; the overview's counts change while trades settle; a trade fails for lack of
// cash and shows on the stuck & failed page; its page shows the failure; the buyer is credited and
// the operator presses retry; the page follows it to settled. The rejections, reconciliation and
// ledger pages load (rejections and reconciliation may say "not available"). An account holder
// gets "not found" for another account's settlement and holdings, and sees its own. No page may
// log a script error or a Content-Security-Policy violation. Waits are bounded waits for a
// condition, never sleeps. Exits non-zero with the failed step's message.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import path from "node:path";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (dashboard_browser_test.cpp sets it)`);
  return v;
};
const URL_BASE = env("SC_URL");
const OPERATOR = env("SC_TOKEN_OPERATOR");
const SUBMITTER = env("SC_TOKEN_SUBMITTER");
const HOLDER = env("SC_TOKEN_HOLDER");
const HOLDER_ACCOUNT = env("SC_HOLDER_ACCOUNT");
const OTHER_ACCOUNT = env("SC_OTHER_ACCOUNT");
const SHOTS = env("SC_SCREENSHOT_DIR");
const CHROMIUM = process.env.SC_CHROMIUM || "/usr/bin/chromium";
const WAIT_MS = 20000;  // the longest any condition may take to appear

mkdirSync(SHOTS, { recursive: true });

async function api(method, target, token, body) {
  const res = await fetch(URL_BASE + target, {
    method,
    headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, json, text };
}

let tradeSeq = 0;
const run = Date.now().toString(36);
function trade(buyer, seller) {
  const id = `trd_ui_${run}_${++tradeSeq}`;
  return {
    event_id: "evt_" + id, event_type: "trade_executed", trade_id: id,
    buyer_account_id: buyer, seller_account_id: seller, symbol: "AAPL/USDC",
    quantity: "50", price: "150.48", amount: "7524.00",
    settlement_date: "2024-11-19", executed_at: "2024-11-17T16:30:00Z", allow_partial: false,
  };
}
async function submit(buyer, seller) {
  const r = await api("POST", "/trades", SUBMITTER, trade(buyer, seller));
  if (r.status !== 201) throw new Error(`POST /trades answered ${r.status}: ${r.text}`);
  return r.json.settlement_id;
}

const problems = [];
let passed = 0;
async function step(name, fn) {
  process.stdout.write(`[ui] ${name} … `);
  await fn();
  passed += 1;
  process.stdout.write("ok\n");
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  // Root in a container: Chromium's sandbox needs user namespaces it may not have.
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: "light" });
const page = await context.newPage();
page.setDefaultTimeout(WAIT_MS);
page.on("pageerror", (e) => problems.push("script error: " + e.message));
page.on("console", (m) => {
  const text = m.text();
  // A 4xx answer the page shows as "not found" / "not available" is logged by Chromium as a
  // failed resource load: expected. A CSP violation or a script error is not.
  if (/Content Security Policy/i.test(text)) problems.push("CSP violation: " + text);
  else if (m.type() === "error" && !/Failed to load resource/.test(text)) problems.push("console error: " + text);
});
const shot = (name) => page.screenshot({ path: path.join(SHOTS, name), fullPage: true });
const textOf = (testid) => page.getByTestId(testid).first().innerText();

async function signIn(token) {
  await page.goto(URL_BASE + "/ui#/signin");
  await page.getByTestId("token").fill(token);
  await page.getByTestId("signin").click();
  await page.getByTestId("who-sub").waitFor();
}

let failedId;
try {
  await step("the dashboard loads with its CSP and asks for a token", async () => {
    const res = await page.goto(URL_BASE + "/ui");
    const csp = res.headers()["content-security-policy"] || "";
    if (!csp.includes("script-src 'self'")) throw new Error("no strict CSP on /ui: " + csp);
    await page.getByText("The service requires a token").waitFor();
  });

  await step("an operator signs in", async () => {
    await signIn(OPERATOR);
    const roles = await textOf("who-roles");
    if (!roles.includes("operator")) throw new Error("roles shown: " + roles);
  });

  await step("the overview's counts change while trades settle", async () => {
    await page.goto(URL_BASE + "/ui#/");
    await page.getByTestId("count-settled-value").waitFor();
    const before = Number((await textOf("count-settled-value")).replace(/[^0-9]/g, ""));
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await submit("acc_buyer", "acc_seller"));
    // The page polls every 2 s: the settled count reaches before + 5 without a reload.
    await page.waitForFunction(
      ([want]) => {
        const el = document.querySelector('[data-testid="count-settled-value"]');
        return el && Number(el.textContent.replace(/[^0-9]/g, "")) >= want;
      }, [before + 5], { timeout: WAIT_MS });
    // The throughput card counts the accepted trades of the last minute once their second is whole.
    await page.waitForFunction(() => {
      const el = document.querySelector('[data-testid="rate-in"] .card-extra');
      return el && Number(el.textContent.replace(/[^0-9]/g, "")) >= 5;
    }, null, { timeout: WAIT_MS });
    const health = await textOf("health-database");
    if (!health.includes("ok")) throw new Error("database health: " + health);
    await shot("overview.png");
  });

  await step("a trade the buyer cannot pay fails and is listed with its reason", async () => {
    failedId = await submit("acc_poor", "acc_seller");
    await page.goto(URL_BASE + "/ui#/attention");
    const row = page.locator(`[data-testid="failed-list"] tr[data-settlement="${failedId}"]`);
    for (let i = 0; ; i++) {  // the list is read once per visit: revisit until the failure lands
      if (await row.count()) break;
      if (i > 40) throw new Error(`settlement ${failedId} never appeared among the failed`);
      await Promise.all([
        page.waitForResponse((r) => r.url().includes("/settlements?status=failed")),
        page.getByRole("button", { name: "Refresh" }).click(),
      ]);
    }
    const text = await row.innerText();
    if (!text.includes("insufficient_cash")) throw new Error("failed row: " + text);
    await shot("stuck-and-failed.png");
  });

  await step("the failed settlement's page shows the failure and its audit timeline", async () => {
    await page.locator(`[data-testid="failed-list"] a[href="#/settlements/${failedId}"]`).click();
    await page.getByTestId("failure").waitFor();
    const failure = await textOf("failure");
    if (!failure.includes("insufficient_cash")) throw new Error("failure shown: " + failure);
    const steps = await page.locator('[data-testid="timeline"] li').count();
    if (steps < 2) throw new Error(`timeline has ${steps} events`);
    await shot("settlement-failed.png");
  });

  await step("after a credit, the operator's retry settles it", async () => {
    const credit = await api("POST", "/ledger/holdings", OPERATOR,
      { account_id: "acc_poor", asset: "USDC", amount: "10000", synchronizer: "cash" });
    if (credit.status !== 201) throw new Error(`credit answered ${credit.status}: ${credit.text}`);
    await page.getByTestId("retry-" + failedId).click();
    await page.getByTestId("retry-reason").fill("buyer funded; retried in the browser test");
    await page.getByTestId("retry-confirm").click();
    await page.getByTestId("retry-done").waitFor();
    // The page follows the settlement until it rests.
    await page.waitForFunction(() => {
      const el = document.querySelector('[data-testid="settlement-status"]');
      return el && el.textContent.trim() === "settled";
    }, null, { timeout: WAIT_MS });
    const tx = await textOf("ref-tx");
    if (!tx || tx === "—") throw new Error("no settle transaction reference shown");
    await shot("settlement-settled.png");
  });

  await step("recent rejections are listed, or said to be not available", async () => {
    const bad = trade("acc_buyer", "acc_buyer");  // a self-trade: refused with self_trade
    const r = await api("POST", "/trades", SUBMITTER, bad);
    if (r.status !== 400) throw new Error(`self-trade answered ${r.status}`);
    await page.goto(URL_BASE + "/ui#/rejections");
    await page.locator('[data-testid="rejection-list"], [data-testid="not-available"]').first().waitFor();
    if (await page.getByTestId("rejection-list").count()) {
      // Rejections may be recorded just after the answer: filter again until it is listed.
      const row = page.getByTestId("rejection-list").getByText("self_trade");
      for (let i = 0; !(await row.count()); i++) {
        if (i > 40) throw new Error("the self-trade was never listed among the rejections");
        await Promise.all([
          page.waitForResponse((r) => r.url().includes("/rejections?")),
          page.getByRole("button", { name: "Filter" }).click(),
        ]);
        await page.getByTestId("rejection-list").waitFor();
      }
    }
    await shot("rejections.png");
  });

  await step("reconciliation shows its status, or is said to be not available", async () => {
    await page.goto(URL_BASE + "/ui#/reconciliation");
    await page.locator('[data-testid="recon-status"], [data-testid="not-available"]').first().waitFor();
    await shot("reconciliation.png");
  });

  await step("the ledger page lists every asset's total", async () => {
    await page.goto(URL_BASE + "/ui#/ledger");
    const totals = page.getByTestId("totals");
    await totals.getByText("AAPL").waitFor();
    await totals.getByText("USDC").waitFor();
    await shot("ledger.png");
  });

  await step("an account holder cannot see another account's settlement or holdings", async () => {
    const others = await api("GET", `/settlements?account_id=${OTHER_ACCOUNT}&limit=1`, OPERATOR);
    const otherId = others.json.settlements[0].settlement_id;
    await signIn(HOLDER);
    await page.goto(URL_BASE + "/ui#/settlements/" + otherId);
    await page.getByTestId("settlement-not-found").waitFor();
    await page.goto(URL_BASE + "/ui#/accounts/" + OTHER_ACCOUNT);
    await page.getByTestId("holdings-not-found").waitFor();
    // Its settlements list is filtered by the service: empty for this holder.
    await page.getByText("No settlement of this account (that you may see).").waitFor();
    await shot("account-holder-refused.png");
    await page.goto(URL_BASE + "/ui#/accounts/" + HOLDER_ACCOUNT);
    await page.getByTestId("balances").waitFor();
    await page.getByTestId("account-settlements").waitFor();
    await page.goto(URL_BASE + "/ui#/");
    await page.getByText(`Settlements of ${HOLDER_ACCOUNT}`).waitFor();
    await page.getByTestId("count-settled-value").waitFor();
    if (await page.getByText("Throughput and latency").count())
      throw new Error("an account holder was shown the service's throughput");
    await shot("account-holder-overview.png");
  });

  if (problems.length) throw new Error("the pages logged problems:\n  " + problems.join("\n  "));
  console.log(`[ui] ${passed} passed, 0 failed`);
} catch (e) {
  process.stdout.write("FAILED\n");
  console.error(`[ui] ${e.stack || e}`);
  if (problems.length) console.error("[ui] page problems:\n  " + problems.join("\n  "));
  if (process.env.SC_FAILURE_SCREENSHOT) {
    try {
      await page.screenshot({ path: process.env.SC_FAILURE_SCREENSHOT, fullPage: true });
      console.error("[ui] the page at the failure: " + process.env.SC_FAILURE_SCREENSHOT);
    } catch {
      // the browser may be gone
    }
  }
  process.exitCode = 1;
} finally {
  await browser.close();
}
