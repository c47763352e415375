// The console in a real headless Chromium against the demo (gateway + simulator + traffic): the overview's charts
// draw, the turns table fills and filters, a turn shows its attempts, a session shows its turns in order with its token
// curve; a tenant key sees only its tenant; a wrong key sees nothing. A screenshot of each page lands in
// test-artifacts/console/ (not committed).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "puppeteer-core";
import { consoleUrl, startDemo, type RunningDemo } from "../../src/demo/cli.js";
import { launchChromium, screenshot } from "../helpers/browser.js";

let demo: RunningDemo;
let browser: Browser;

const until = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

/** A new tab on the console with a key in the URL's fragment, as the demo prints it (the admin's by default). */
async function open(key = "demo-admin-key"): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 800 });
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(String(err)));
  pageErrors.set(page, errors);
  await page.goto(key === "demo-admin-key" ? consoleUrl(demo.gateway.url) : `${demo.gateway.url}/ui/#key=${encodeURIComponent(key)}`);
  return page;
}
const pageErrors = new WeakMap<Page, string[]>();

/** Visits a hash route in a page that already holds its key. */
async function go(page: Page, hash: string): Promise<void> {
  await page.evaluate((h) => {
    (globalThis as unknown as { location: { hash: string } }).location.hash = h;
  }, hash);
}

/** Waits until a chart has drawn a series (a path with data). */
const drawn = (page: Page, chart: string): Promise<true> =>
  until(`${chart} drawn`, async () => {
    const lengths = await page.$$eval(`[data-testid="${chart}"] path[data-series]`, (paths) => paths.map((p) => (p.getAttribute("d") ?? "").length));
    return lengths.some((length) => length > 10) ? true : undefined;
  });

const optionValues = (page: Page, select: string): Promise<string[]> =>
  page.$$eval(`[data-testid="${select}"] option`, (options) => options.map((o) => o.getAttribute("value") ?? "").filter((v) => v !== ""));

const rows = (page: Page): Promise<Array<{ id: string; text: string }>> =>
  page.$$eval('[data-testid="turn-row"]', (els) => els.map((el) => ({ id: el.getAttribute("data-turn-id") ?? "", text: el.textContent ?? "" })));

beforeAll(async () => {
  demo = await startDemo({
    port: 0,
    host: "127.0.0.1",
    env: { LOG_LEVEL: "silent", OTEL_SDK_DISABLED: "true", SESSION_MAX_TURNS: "6" },
    traffic: { users: 6, rate: 30, truncationShare: 0.1, seed: 11 },
    simulator: { ttftMs: 0, tokensPerSecond: 0 },
    faults: false,
  });
  browser = await launchChromium();
  // Traffic enough for every page: several sessions with a few turns each.
  await until("sessions with three turns", async () => (demo.traffic.stats.calls.session ?? 0) >= 30 ? true : undefined);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await demo?.close();
}, 30_000);

describe("the console in Chromium", () => {
  it("overview: the admin key from the URL opens it, and every chart draws", async () => {
    const page = await open();
    await page.waitForSelector('[data-testid="whoami"]');
    expect(await page.$eval('[data-testid="whoami"]', (el) => el.textContent)).toMatch(/admin/i);
    // The key left the address bar.
    expect(page.url()).not.toContain("demo-admin-key");
    for (const chart of ["chart-requests", "chart-tokens", "chart-spend", "chart-truncation", "chart-latency"]) await drawn(page, chart);
    // Live updates move nothing: every chart and tile keeps its box across a poll.
    const boxes = (): Promise<string> =>
      page.$$eval('[data-testid^="chart-"], .tile', (els) => JSON.stringify(els.map((el) => { const r = el.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; })));
    const before = await boxes();
    const stamp = await page.$eval('[data-testid="overview-source"]', (el) => el.textContent);
    await until("the next poll", async () => ((await page.$eval('[data-testid="overview-source"]', (el) => el.textContent)) !== stamp ? true : undefined));
    expect(await boxes()).toBe(before);
    await screenshot(page, "overview");
    await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "dark" }]);
    await screenshot(page, "overview-dark");
    await page.setViewport({ width: 390, height: 844 });
    await screenshot(page, "overview-phone");
    expect(pageErrors.get(page)).toEqual([]);
    await page.close();
  });

  it("turns: the table fills, filters by model, and a turn opens with its attempts", async () => {
    const page = await open();
    await go(page, "#/turns");
    await until("turn rows", async () => ((await rows(page)).length >= 10 ? true : undefined));
    const models = await optionValues(page, "filter-model");
    expect(models.length).toBeGreaterThan(1);
    const model = models[0]!;
    await page.select('[data-testid="filter-model"]', model);
    await until(`only ${model} rows`, async () => {
      const shown = await rows(page);
      return shown.length > 0 && shown.every((r) => r.text.includes(model)) ? true : undefined;
    });
    await screenshot(page, "turns");
    // Keyboard: focus the first row and press Enter.
    await page.focus('[data-testid="turn-row"]');
    await page.keyboard.press("Enter");
    await page.waitForSelector('[data-testid="attempts"] [data-testid="attempt"]');
    expect(await page.$$eval('[data-testid="attempt"]', (els) => els.length)).toBeGreaterThanOrEqual(1);
    await screenshot(page, "turn");
    await page.close();
  });

  it("a session opens with its turns in order and the token curve drawn", async () => {
    const page = await open();
    await go(page, "#/conversations");
    await page.waitForSelector('[data-testid="conversation-row"]');
    const sessionId = await until("a session with 3+ turns", async () => {
      const res = await fetch(`${demo.gateway.url}/ui/api/conversations`, { headers: { authorization: "Bearer demo-admin-key" } });
      const { conversations } = (await res.json()) as { conversations: Array<{ id: string; kind: string; turns: number }> };
      return conversations.find((c) => c.kind === "session" && c.turns >= 3)?.id;
    });
    await go(page, `#/conversations/${sessionId}`);
    await page.waitForSelector('[data-testid="conversation-turn"]');
    const turns = await page.$$eval('[data-testid="conversation-turn"]', (els) => els.map((el) => Number(el.getAttribute("data-turn"))));
    expect(turns.length).toBeGreaterThanOrEqual(3);
    expect(turns).toEqual([...turns].sort((a, b) => a - b));
    await drawn(page, "chart-conversation");
    await screenshot(page, "conversation");
    await page.close();
  });

  it("a tenant key sees only its tenant", async () => {
    const page = await open("team-a-key");
    await page.waitForSelector('[data-testid="whoami"]');
    expect(await page.$eval('[data-testid="whoami"]', (el) => el.textContent)).toContain("team-a");
    await go(page, "#/turns");
    await until("team-a rows", async () => ((await rows(page)).length > 0 ? true : undefined));
    const tenants = await optionValues(page, "filter-tenant");
    expect(tenants).toEqual(["team-a"]);
    for (const row of await rows(page)) expect(row.text).toContain("team-a");
    await screenshot(page, "tenant");
    await page.close();
  });

  it("a wrong key sees nothing but the key form and the refusal", async () => {
    const page = await open("not-a-key");
    await page.waitForSelector('[data-testid="key-form"]');
    await page.waitForSelector('[data-testid="key-error"]');
    expect(await page.$eval('[data-testid="key-error"]', (el) => el.textContent)).toContain("neither an admin key");
    expect(await page.$$('[data-testid="turn-row"]')).toHaveLength(0);
    expect(await page.$eval('[data-testid="whoami"]', (el) => el.textContent ?? "")).toBe("");
    await screenshot(page, "wrong-key");
    await page.close();
  });
});
