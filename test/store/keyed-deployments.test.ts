// The state every replica shares (resource owners, "counted once" marks, interaction chains, tenant limits) on the three Redis
// deployments: one server, a Redis Cluster (keys of one space spread over every slot) and Sentinel primaries. Two
// connections play two replicas.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRedisUrl, type RedisTarget } from "../../src/config/redis-url.js";
import { redisKeyedStore, type KeySpace } from "../../src/store/keyed.js";
import { openRedisConnection, type RedisConnection } from "../../src/store/redis.js";
import { RedisLimitCounters } from "../../src/tenants/counters.js";
import { startRedisCluster, startRedisSentinel, type RedisCluster, type RedisSentinelSetup } from "../helpers/redis-deployments.js";
import { dropKeys } from "../sessions/harness.js";

const SINGLE = "redis://127.0.0.1:6379/14";
const PREFIX = `keyed-${randomBytes(4).toString("hex")}:`;
const SPACE: KeySpace = { name: "o", maxEntries: 100, ttlSeconds: 60, concern: "resource_owners", what: "owner store", consequence: "Owned resources cannot be used." };

const target = (url: string): RedisTarget => {
  const parsed = parseRedisUrl(url);
  if ("problem" in parsed) throw new Error(parsed.problem);
  return parsed;
};

let cluster: RedisCluster;
let sentinel: RedisSentinelSetup;
beforeAll(async () => {
  [cluster, sentinel] = await Promise.all([startRedisCluster(), startRedisSentinel()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([cluster?.stop(), sentinel?.stop()]);
  await dropKeys(SINGLE, PREFIX);
});

describe.each([
  ["one server", () => SINGLE],
  ["a Redis Cluster", () => cluster.url],
  ["Sentinel primaries", () => sentinel.url],
])("keyed state on %s", (_name, url) => {
  let one: RedisConnection;
  let two: RedisConnection;
  beforeAll(async () => {
    [one, two] = await Promise.all([openRedisConnection(target(url())), openRedisConnection(target(url()))]);
  });
  afterAll(async () => {
    await Promise.all([one?.close(), two?.close()]);
  });

  it("is shared: set on one replica, read, claimed once and deleted on the other, many keys read in order", async () => {
    const a = redisKeyedStore(one, PREFIX).space(SPACE);
    const b = redisKeyedStore(two, PREFIX).space(SPACE);
    const names = Array.from({ length: 50 }, (_, i) => `files/f${i}`); // on a Cluster: spread over the primaries
    await Promise.all(names.map((name, i) => a.set(name, `tenant-${i}`)));
    expect(await b.get("files/f7")).toBe("tenant-7");
    expect(await b.getMany([...names, "files/none"])).toEqual([...names.map((_, i) => `tenant-${i}`), undefined]);
    const claims = await Promise.all([a.setIfAbsent("counted/x", "1"), b.setIfAbsent("counted/x", "1")]);
    expect(claims.sort()).toEqual([false, true]);
    await b.delete("files/f7");
    expect(await a.get("files/f7")).toBeUndefined();
  });

  it("counts tenant limits in one script per tenant: 6 calls over both replicas admit 3", async () => {
    const [a, b] = [new RedisLimitCounters(one, PREFIX, 60_000), new RedisLimitCounters(two, PREFIX, 60_000)];
    const limits = { concurrentRequests: 3 }; // no window: the count cannot straddle a minute
    const refusals = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).admit("team-x", limits, `call-${i}`, { tokens: 0, usd: 0 }, Date.now())));
    expect(refusals.filter((r) => r === undefined)).toHaveLength(3);
  });
});
