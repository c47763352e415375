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
import { startTestSimulator, type TestSimulator } from "../helpers/sim.js";
import { call, dropKeys } from "../sessions/harness.js";
import { spawnGateway, type GatewayProcess } from "../sessions/process.js";

const REDIS = "redis://127.0.0.1:6379/14";
const PREFIX = `limits-${randomBytes(4).toString("hex")}:`;
const target = (url: string): RedisTarget => parseRedisUrl(url) as RedisTarget;
const request = { tenant: "team-a", model: "gemini-2.0-flash", operation: "generate_content" };
const refusedBy = (admission: Admission): string | undefined => ("refused" in admission ? admission.rule : undefined);

/** Fixed windows: start early in a minute, so a test's calls fall in one. */
async function earlyInAMinute(): Promise<void> {
  if (Date.now() % 60_000 > 45_000) await sleep(60_000 - (Date.now() % 60_000) + 10);
}

function governor(connection: RedisConnection, policy: TenantPolicy, onStoreDown: "open" | "closed" = "open"): TenantGovernor {
  const config: TenantsConfig = { version: "v", keys: [], tenants: new Map([["team-a", policy]]) };
  return new TenantGovernor(new TenantDirectory({ mode: "keys", keys: [], tenantsFile: { path: "f", config } }), new RedisLimitCounters(connection, PREFIX, 60_000), onStoreDown);
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

describe("two gateway processes on one Redis", () => {
  let dir: string;
  let sim: TestSimulator;
  let gateways: GatewayProcess[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ggw-limits-"));
    const file = join(dir, "gateway.yaml");
    writeFileSync(file, "tenants:\n  team-a:\n    keys: [key-a]\n    limits: { requestsPerMinute: 6 }\n");
    sim = await startTestSimulator();
    const env = { GATEWAY_KEYS: "", GATEWAY_CONFIG: file, SESSION_STORE: REDIS, SESSION_REDIS_PREFIX: `${PREFIX}gw:` };
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
});
