// Sessions on Sentinel-managed primaries: one primary, one replica, one sentinel on free ports
// (test/helpers/redis-deployments.ts), two gateway processes sharing them. The core session cases, then the primary
// killed during traffic: the sentinel promotes the replica, the session routes answer 503 meanwhile and recover by
// themselves, and no acknowledged turn is lost (SESSION_REDIS_WAIT_REPLICAS=1).
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { startRedisSentinel, type RedisSentinelSetup } from "../helpers/redis-deployments.js";
import { primaryKilledDuringTraffic, sharedStoreCases } from "./shared-store.js";

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
  sharedStoreCases({ store: () => setup.url, waitReplicas: 1, sessionKeyExists: async (key) => (await client.exists(key)) === 1 });
});

describe("the primary killed during traffic (the sentinel promotes the replica)", () => {
  primaryKilledDuringTraffic({
    store: () => setup.url,
    killPrimary: async () => {
      const old = await setup.primary();
      await setup.kill(old);
      return async () => {
        expect((await setup.waitFailover(old)).port).not.toBe(old.port);
      };
    },
  });
});
