// Browser test of Cairn's web console, driven by crates/cairn/tests/e2e/console.rs, which
// starts `cairn serve`, adds a console user and talks to this script over stdin/stdout:
// this script prints `NEED <what>` and waits for one line on stdin before going on.
//
// Environment: CAIRN_ENDPOINT, CONSOLE_USER, CONSOLE_PASSWORD, SCREENSHOT_DIR, CHROMIUM.
"use strict";
const fs = require("fs");
const path = require("path");
const readline = require("readline");
const { chromium } = require("playwright-core");

const endpoint = process.env.CAIRN_ENDPOINT;
const user = process.env.CONSOLE_USER;
const password = process.env.CONSOLE_PASSWORD;
const shots = process.env.SCREENSHOT_DIR;
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

const lines = readline.createInterface({ input: process.stdin });
const pending = [];
const waiting = [];
lines.on("line", (l) => (waiting.length ? waiting.shift()(l) : pending.push(l)));
function ask(what) {
  console.log(`NEED ${what}`);
  return new Promise((resolve) => (pending.length ? resolve(pending.shift()) : waiting.push(resolve)));
}

function check(cond, msg) {
  if (!cond) throw new Error(`check failed: ${msg}`);
}

async function main() {
  fs.mkdirSync(shots, { recursive: true });
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    // Root in CI containers cannot use Chromium's sandbox.
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  const problems = [];
  // Error pages (401, 400) are expected documents; any failing sub-resource is a bug.
  page.on("response", (r) => {
    if (r.request().resourceType() !== "document" && r.status() >= 400) {
      problems.push(`${r.status()} for ${r.url()}`);
    }
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e}`));

  // Every page at 1280 px and at 375 px; fails if the narrow page scrolls sideways.
  let n = 0;
  async function shoot(name) {
    n += 1;
    const base = `${String(n).padStart(2, "0")}-${name}`;
    await page.screenshot({ path: path.join(shots, `${base}-1280.png`), fullPage: true });
    await page.setViewportSize({ width: 375, height: 800 });
    await page.screenshot({ path: path.join(shots, `${base}-375.png`), fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `${name}: the page is ${overflow}px wider than a 375px screen`);
    await page.setViewportSize({ width: 1280, height: 900 });
  }
  async function history(attr, value) {
    await page.goto(`${endpoint}/console/events`);
    await page.selectOption("#attr", attr);
    await page.fill("#value", value);
    await page.click("form.filters button[type=submit]");
    await page.waitForLoadState();
  }

  // Sign-in page; unauthenticated pages redirect to it.
  await page.goto(`${endpoint}/console/`);
  check(page.url().includes("/console/signin"), `redirected to sign-in, at ${page.url()}`);
  await shoot("signin");

  // A failed sign-in.
  await page.fill("#username", user);
  await page.fill("#password", "wrong password");
  await page.click("button[type=submit]");
  await page.waitForSelector(".alert.error");
  check((await page.textContent(".alert.error")).includes("incorrect"), "failed sign-in message");
  await shoot("signin-failed");

  // Sign in with the keyboard only.
  await page.fill("#username", user);
  await page.fill("#password", password);
  await page.press("#password", "Enter");
  await page.waitForSelector("h1:text('Dashboard')");
  // Keyboard: the first Tab lands on the skip link, which moves focus to the main content.
  await page.keyboard.press("Tab");
  check(await page.evaluate(() => document.activeElement.className === "skip"), "skip link is first in tab order");
  await page.keyboard.press("Enter");
  check(await page.evaluate(() => document.activeElement.id === "main"), "skip link moves focus to main");
  await shoot("dashboard");

  // The failed sign-in is in the event history.
  await history("EventName", "ConsoleLogin");
  const failedRows = await page.locator("table.events tbody tr", { hasText: "failed" }).count();
  check(failedRows >= 1, "a failed ConsoleLogin in the event history");
  await shoot("history-consolelogin");

  // The create-trail wizard: a bad name shows the API's validation error.
  await page.goto(`${endpoint}/console/trails`);
  await shoot("trails-empty");
  await page.click("text=Create trail");
  await page.waitForSelector("h1:text('Create trail')");
  await shoot("create-trail");
  await page.fill("#name", "bad name!");
  await page.check("#storage-new");
  await page.fill("#new_bucket", "console-bucket");
  await page.click("button:text('Create trail')");
  await page.waitForSelector(".alert.error");
  const err = await page.textContent(".alert.error");
  check(err.includes("InvalidTrailNameException"), `validation error shown: ${err}`);
  check(await page.evaluate(() => document.activeElement.classList.contains("alert")), "focus moved to the error");
  await shoot("create-trail-error");

  // Now a good one, with a new bucket, not logging yet.
  await page.fill("#name", "console-trail");
  await page.fill("#new_bucket", "console-bucket");
  await page.uncheck("#start_logging");
  await page.click("button:text('Create trail')");
  await page.waitForSelector("text=Trail created.");
  check((await page.textContent("h1")).includes("Not logging"), "a new trail is not logging");
  await shoot("trail-created");

  // Start logging.
  await page.click("button:text('Start logging')");
  await page.waitForSelector("button:text('Stop logging')");
  check((await page.textContent("h1")).includes("Logging"), "logging after start");
  await shoot("trail-logging");

  // The server delivers every second: the trail page shows the latest delivery.
  let delivered = "-";
  for (let i = 0; i < 20 && delivered === "-"; i++) {
    await page.waitForTimeout(500);
    await page.reload();
    delivered = (await page.textContent("dt:text('Last log file delivered') + dd")).trim();
  }
  check(delivered.endsWith("UTC"), `a delivery time is shown, got ${delivered}`);
  await shoot("trail-delivered");
  await page.goto(`${endpoint}/console/`);
  check(await page.isVisible("td[data-label=Logging] >> text=Logging"), "the dashboard shows the trail logging");
  await shoot("dashboard-with-trail");
  await page.goto(`${endpoint}/console/trails`);
  await shoot("trails-list");
  await page.click("a:text('console-trail')");
  await page.waitForSelector("h1:text('console-trail')");

  // Edit: a log file prefix.
  await page.click("a:text('Edit')");
  await page.waitForSelector("h1:text('Edit trail console-trail')");
  await shoot("trail-edit");
  await page.fill("#prefix", "audit");
  await page.click("button:text('Save changes')");
  await page.waitForSelector("dt:text('Log file prefix') + dd:text('audit')");

  // Event selectors page.
  await page.click("text=Edit event selectors");
  await page.waitForSelector("h1:text('Event selectors of console-trail')");
  await shoot("selectors");
  await page.check("#mode-advanced");
  check(await page.isVisible("#advanced"), "advanced selectors shown");
  await page.check("#mode-basic");
  await page.check("#exclude_kms");
  await page.click("button:text('Save event selectors')");
  await page.waitForSelector("text=kms.amazonaws.com");

  // The test makes an SDK call now; then we find it in the event history.
  const requestId = (await ask("sdk-call")).trim();
  await history("EventName", "ListPublicKeys");
  await shoot("history-sdk-call");
  await page.click("table.events tbody tr >> nth=0 >> a");
  await page.waitForSelector("pre.json");
  const json = JSON.parse(await page.textContent("pre.json"));
  check(json.requestID === requestId, `the event's JSON has request id ${requestId}, got ${json.requestID}`);
  await shoot("event-detail");

  // Download the current result as CSV.
  await history("EventName", "ListPublicKeys");
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("text=Download CSV")]);
  const csvPath = path.join(shots, "event_history.csv");
  await download.saveAs(csvPath);
  const csv = fs.readFileSync(csvPath, "utf8");
  check(csv.startsWith("Event ID,Event time,User name,Event name"), "CSV header");
  check(csv.includes(",ListPublicKeys,"), "CSV has the SDK call");

  // Stop logging, then delete the trail (with confirmation).
  await page.goto(`${endpoint}/console/trails/console-trail`);
  await page.click("button:text('Stop logging')");
  await page.waitForSelector("button:text('Start logging')");
  await shoot("trail-stopped");
  await page.click("a:text('Delete')");
  await page.waitForSelector("h1:text('Delete trail console-trail?')");
  await shoot("trail-delete-confirm");
  await page.fill("#confirm", "console-trail");
  await page.click("button:text('Delete')");
  await page.waitForSelector("h1:text('Trails')");
  check(!(await page.isVisible("text=console-trail")), "the trail is gone");
  await shoot("trails-after-delete");

  await page.goto(`${endpoint}/console/`);
  await shoot("dashboard-after");
  await page.click("button:text('Sign out')");
  await page.waitForSelector("h1:text('Sign in to Cairn')");
  await page.goto(`${endpoint}/console/trails`);
  check(page.url().includes("/console/signin"), "signed out");

  check(problems.length === 0, problems.join("\n"));
  await browser.close();
  console.log("DONE");
  lines.close();
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
