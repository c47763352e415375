// Tenant limits shared by replicas through Redis: counted atomically, so 2 x N calls spread over two replicas admit N
// in a minute; concurrency slots across replicas; LIMITS_ON_STORE_DOWN. Redis db 14, a prefix per run, removed after.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRedisUrl, type RedisTarget } from "../../src/config/redis-url.js";
import type { TenantPolicy, TenantsConfig } from "../../src/config/tenants-file.js";
import { openRedisConnection, type RedisConnection } from "../../src/store/redis.js";
import { RedisLimitCounters } from "../../src/tenants/counters.js";
import { TenantDirectory } from "../../src/tenants/directory.js";
import { TenantGovernor, type Admission } from "../../src/tenants/governor.js";
import type { TurnRecord } from "../../src/turn/record.js";
import { Pricer } from "../../src/pricing/pricer.js";
import { startTestSimulator, type TestSimulator } from "../helpers/sim.js";
import { parseMetrics, sumBy } from "../helpers/metrics.js";
import { call, dropKeys } from "../sessions/harness.js";
import { spawnGateway, type GatewayProcess } from "../sessions/process.js";

const REDIS = "redis://127.0.0.1:6379/14";
const PREFIX = `limits-${randomBytes(4).toString("hex")}:`;
const target = (url: string): RedisTarget => parseRedisUrl(url) as RedisTarget;
const request = { tenant: "team-a", model: "gemini-2.0-flash", operation: "generate_content", requestBytes: 40, maxOutputTokens: 10 };
const refusedBy = (admission: Admission): string | undefined => ("refused" in admission ? admission.rule : undefined);

/** One dollar a token, in and out: the request above is estimated at USD 20. */
const dollarATokenPricer = (): Pricer => new Pricer({ currency: "USD", models: { "gemini-2.0-flash": { input: 1e6, output: 1e6 } } });
const spending = (usd: number): TurnRecord =>
  ({ model: "gemini-2.0-flash", response: { tokens: { input: usd, cached: 0, output: 0, thoughts: 0, tool_use: 0, inputAudio: 0 }, finishReasons: [], hasVisibleParts: true } }) as unknown as TurnRecord;

/** Fixed windows: start early in a minute, so a test's calls fall in one. */
async function earlyInAMinute(): Promise<void> {
  if (Date.now() % 60_000 > 45_000) await sleep(60_000 - (Date.now() % 60_000) + 10);
}

function governor(connection: RedisConnection, policy: TenantPolicy, onStoreDown: "open" | "closed" = "open"): TenantGovernor {
  const config: TenantsConfig = { version: "v", keys: [], tenants: new Map([["team-a", policy]]) };
  return new TenantGovernor(new TenantDirectory({ mode: "keys", keys: [], tenantsFile: { path: "f", config } }), new RedisLimitCounters(connection, PREFIX, 60_000), dollarATokenPricer(), onStoreDown);
}

let one: RedisConnection;
let two: RedisConnection;
beforeAll(async () => {
  [one, two] = await Promise.all([openRedisConnection(target(REDIS)), openRedisConnection(target(REDIS))]);
});
afterAll(async () => {
  await Promise.all([one?.close(), two?.close()]);
  await dropKeys(REDIS, PREFIX);
});

describe("limits counted in Redis, two replicas", () => {
  it("requestsPerMinute: 20 concurrent calls spread over both admit exactly 10", async () => {
    await earlyInAMinute();
    const policy = { limits: { requestsPerMinute: 10 } };
    const [a, b] = [governor(one, policy), governor(two, policy)];
    const admissions = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).admit(request)));
    expect(admissions.filter((x) => refusedBy(x) === undefined)).toHaveLength(10);
    expect(admissions.filter((x) => refusedBy(x) === "requestsPerMinute")).toHaveLength(10);
  });

  it("concurrentRequests: slots are shared, and freed by the replica that ends the call", async () => {
    const policy = { limits: { concurrentRequests: 3 } };
    const [a, b] = [governor(one, policy), governor(two, policy)];
    await dropKeys(REDIS, `${PREFIX}lim:{team-a}:inflight`);
    const held = [await a.admit(request), await b.admit(request), await a.admit(request)];
    expect(held.map(refusedBy)).toEqual([undefined, undefined, undefined]);
    expect(refusedBy(await b.admit(request))).toBe("concurrentRequests");
    await (held[1] as { settle(r: TurnRecord): Promise<void> }).settle({} as TurnRecord);
    expect(refusedBy(await a.admit(request))).toBeUndefined();
  });

  it("usdPerDay: what calls in flight hold is shared, so spend over both replicas stops within one call's cost", async () => {
    await dropKeys(REDIS, `${PREFIX}lim:{team-a}`);
    const policy = { limits: { usdPerDay: 1000 } };
    const replicas = [governor(one, policy), governor(two, policy)];
    let spent = 0;
    let inFlightRefusals = 0;
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; ; i++) {
        const admission = await replicas[(w + i) % 2]!.admit(request);
        if ("refused" in admission) {
          if (!admission.refused.message.includes("in flight")) return; // the day's spend reached the budget
          inFlightRefusals++;
          await sleep(5);
          continue;
        }
        const cost = 5 + ((w * 7 + i * 3) % 16); // 5..20: never above the estimate of 20
        await sleep(1 + (i % 3));
        await admission.settle(spending(cost));
        spent += cost;
      }
    };
    await Promise.all(Array.from({ length: 12 }, (_, w) => worker(w)));
    expect(inFlightRefusals).toBeGreaterThan(0);
    expect(spent).toBeGreaterThanOrEqual(1000);
    expect(spent).toBeLessThan(1000 + 20);
    for (const replica of replicas) expect(await replica.budgets()).toEqual([{ tenant: "team-a", window: "day", budgetUsd: 1000, remainingUsd: 1000 - spent }]);
  });

  it("what a dead replica's calls held is freed when their deadline passes", async () => {
    await dropKeys(REDIS, `${PREFIX}lim:{team-a}`);
    const config: TenantsConfig = { version: "v", keys: [], tenants: new Map([["team-a", { limits: { usdPerDay: 30 } }]]) };
    const shortDeadline = new TenantGovernor(new TenantDirectory({ mode: "keys", keys: [], tenantsFile: { path: "f", config } }), new RedisLimitCounters(one, PREFIX, 200), dollarATokenPricer());
    const never = [await shortDeadline.admit(request), await shortDeadline.admit(request)]; // 2 x USD 20 held, never settled
    expect(never.map(refusedBy)).toEqual([undefined, undefined]);
    expect(refusedBy(await shortDeadline.admit(request))).toBe("usdPerDay");
    await sleep(300);
    expect(refusedBy(await shortDeadline.admit(request))).toBeUndefined();
    // A call settled after its deadline does not free what it no longer holds.
    await (never[0] as { settle(r: TurnRecord): Promise<void> }).settle(spending(1));
    expect(refusedBy(await shortDeadline.admit(request))).toBeUndefined(); // 1 spent + 20 held < 30
    expect(refusedBy(await shortDeadline.admit(request))).toBe("usdPerDay"); // 1 spent + 2 x 20 held >= 30
  });

  it("LIMITS_ON_STORE_DOWN: open admits uncounted, closed refuses with 503", async () => {
    const down = await openRedisConnection(target("redis://127.0.0.1:1/0"));
    try {
      const policy = { limits: { requestsPerMinute: 1 } };
      expect(refusedBy(await governor(down, policy, "open").admit(request))).toBeUndefined();
      const closed = await governor(down, policy, "closed").admit(request);
      expect(refusedBy(closed)).toBe("store_down");
      expect((closed as { refused: { code: number; message: string } }).refused).toMatchObject({ code: 503, message: expect.stringMatching(/^The tenant limits store is unavailable/) as string });
    } finally {
      await down.close();
    }
  });
});

type ErrorBody = { message: string; details: Array<{ retryDelay?: string; violations?: unknown[] }> };
const BUDGET_USD = 8;
const USD_PER_TOKEN = 0.01;

describe("two gateway processes on one Redis", () => {
  let dir: string;
  let sim: TestSimulator;
  let gateways: GatewayProcess[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ggw-limits-"));
    const file = join(dir, "gateway.yaml");
    writeFileSync(
      file,
      ["tenants:", "  team-a:", "    keys: [key-a]", "    limits: { requestsPerMinute: 6 }", "  team-b:", "    keys: [key-b]", `    limits: { usdPerDay: ${BUDGET_USD} }`, ""].join("\n"),
    );
    const pricing = join(dir, "prices.json");
    writeFileSync(pricing, JSON.stringify({ currency: "USD", models: { "gemini-2.0-flash": { input: USD_PER_TOKEN * 1e6, output: USD_PER_TOKEN * 1e6 } } }));
    sim = await startTestSimulator({ replyTokens: { min: 10, max: 40 }, ttftMs: 5 });
    const env = { GATEWAY_KEYS: "", GATEWAY_CONFIG: file, SESSION_STORE: REDIS, SESSION_REDIS_PREFIX: `${PREFIX}gw:`, PRICING_FILE: pricing };
    gateways = await Promise.all([spawnGateway(sim.url, env), spawnGateway(sim.url, env)]);
  });
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await sim?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("share a tenant's limit: 12 calls spread over both admit 6 in the minute", async () => {
    await earlyInAMinute();
    const replies = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        call(gateways[i % 2]!.url, "POST", "/v1beta/models/gemini-2.0-flash:generateContent", { contents: [{ role: "user", parts: [{ text: "hi" }] }] }, "key-a"),
      ),
    );
    expect(replies.filter((r) => r.status === 200)).toHaveLength(6);
    expect(replies.filter((r) => r.status === 429).map((r) => r.body.error?.status)).toEqual(Array(6).fill("RESOURCE_EXHAUSTED"));
  });

  it("usdPerDay under concurrent load over both: spend stops within one call's cost of the budget", async () => {
    const untilDayEnds = 86_400_000 - (Date.now() % 86_400_000);
    if (untilDayEnds < 60_000) await sleep(untilDayEnds + 10); // one UTC day
    const costs: number[] = [];
    let inFlightRefusals = 0;
    let windowRefusal: ErrorBody | undefined;
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; ; i++) {
        // maxOutputTokens bounds each call's estimate from above: the exact bound below holds.
        const body = { contents: [{ role: "user", parts: [{ text: `question ${w}.${i} ${"x ".repeat(i % 7)}` }] }], generationConfig: { maxOutputTokens: 40 } };
        const reply = await call(gateways[(w + i) % 2]!.url, "POST", "/v1beta/models/gemini-2.0-flash:generateContent", body, "key-b");
        if (reply.status === 200) {
          const usage = (reply.body as { usageMetadata: { promptTokenCount: number; candidatesTokenCount: number } }).usageMetadata;
          costs.push((usage.promptTokenCount + usage.candidatesTokenCount) * USD_PER_TOKEN);
          continue;
        }
        expect(reply.status).toBe(429);
        const error = reply.body.error as unknown as ErrorBody; // the envelope with its details
        if (!error.message.includes("in flight")) {
          windowRefusal = error;
          return; // the day's spend reached the budget
        }
        inFlightRefusals++;
        const delay = error.details.find((d) => d.retryDelay)!.retryDelay!;
        await sleep(parseFloat(delay) * 1000); // as the SDKs do with RetryInfo
      }
    };
    await Promise.all(Array.from({ length: 16 }, (_, w) => worker(w)));
    const spent = costs.reduce((a, b) => a + b, 0);
    expect(spent).toBeGreaterThanOrEqual(BUDGET_USD);
    expect(spent).toBeLessThan(BUDGET_USD + Math.max(...costs));
    expect(inFlightRefusals).toBeGreaterThan(0);
    expect(windowRefusal!.details).toContainEqual(expect.objectContaining({ violations: [expect.objectContaining({ quotaId: "usdPerDay", quotaValue: String(BUDGET_USD) })] }));
    // Both replicas report the store's figures; rejections are counted where they happened.
    const bodies = await Promise.all(gateways.map(async (g) => (await fetch(`${g.url}/metrics`)).text()));
    for (const text of bodies) {
      const remaining = parseMetrics(text).find((m) => m.name === "gemini_gateway_tenant_budget_remaining_usd" && m.labels.tenant === "team-b");
      expect(remaining).toMatchObject({ labels: { window: "day" } });
      expect(remaining!.value).toBeCloseTo(BUDGET_USD - spent, 6);
      expect(sumBy(text, "gemini_gateway_tenant_budget_usd", ["tenant", "window"]).get("team-b|day")).toBe(BUDGET_USD);
    }
    const rejections = bodies.map((text) => sumBy(text, "gemini_gateway_limit_rejections_total", ["tenant", "limit"]).get("team-b|usdPerDay") ?? 0);
    expect(rejections.reduce((a, b) => a + b, 0)).toBe(inFlightRefusals + 16);
  });
});
