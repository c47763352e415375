// Sessions on Sentinel-managed primaries: one primary, one replica, one sentinel on free ports
// (test/helpers/redis-deployments.ts), two gateway processes sharing them. The core session cases, then the primary
// killed during traffic: the sentinel promotes the replica, the session routes answer 503 meanwhile and recover by
// themselves, and no acknowledged turn is lost (SESSION_REDIS_WAIT_REPLICAS=1; the promoted primary has no replica,
// so its commits wait SESSION_REDIS_WAIT_MS, shortened here, and are counted as unreplicated).
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Content } from "../../src/gemini/types.js";
import { startRedisSentinel, type RedisSentinelSetup } from "../helpers/redis-deployments.js";
import { call } from "./harness.js";
import {
  createSession,
  expectOnlyUnavailableAndIntactHistory,
  sendThroughOutage,
  sharedStoreCases,
  sharedStoreEnv,
  startReplicaPair,
  type ReplicaPair,
} from "./shared-store.js";

let setup: RedisSentinelSetup;
let client: Redis;
beforeAll(async () => {
  setup = await startRedisSentinel();
  client = new Redis({ sentinels: [setup.sentinel], name: setup.masterName });
  client.on("error", () => {}); // the killed primary's connection; the test's own calls report what matters
}, 60_000);
afterAll(async () => {
  client?.disconnect();
  await setup?.stop();
});

describe("sessions on Sentinel primaries, two gateway replicas", () => {
  sharedStoreCases({ store: () => setup.url, sessionKeyExists: async (key) => (await client.exists(key)) === 1 });
});

describe("the primary killed during traffic (the sentinel promotes the replica)", () => {
  let pair: ReplicaPair;
  beforeAll(async () => {
    pair = await startReplicaPair(sharedStoreEnv(setup.url, { SESSION_REDIS_WAIT_REPLICAS: "1", SESSION_REDIS_WAIT_MS: "200" }));
  });
  afterAll(async () => {
    await pair?.stop();
  });

  it("answers only 503 UNAVAILABLE while there is no primary, keeps the history whole, and recovers without a restart", async () => {
    const id = await createSession(pair.a.url);
    const old = await setup.primary();
    const report = await sendThroughOutage(pair, id, () => setup.kill(old));
    expect((await setup.waitFailover(old)).port).not.toBe(old.port);
    const history = (await call(pair.b.url, "GET", `/v1/sessions/${id}`)).body.history as Content[];
    expectOnlyUnavailableAndIntactHistory(report, history);

    // New sessions work from both gateways on the promoted primary.
    const fresh = await createSession(pair.b.url);
    expect((await call(pair.a.url, "POST", `/v1/sessions/${fresh}/messages`, { message: "after the failover" })).status).toBe(200);
  }, 60_000);
});
