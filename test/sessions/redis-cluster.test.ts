// Sessions on a real Redis Cluster: three primaries, each with a replica, on free ports (test/helpers/redis-deployments.ts).
// Two gateway processes share it. The core session cases, then a primary killed during traffic: its replica is promoted
// by the cluster, the session routes answer 503 meanwhile and recover by themselves, and no acknowledged turn is lost
// (SESSION_REDIS_WAIT_REPLICAS=1: a turn is acknowledged once the primary's replica holds it).
import { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedisCluster, type RedisCluster } from "../helpers/redis-deployments.js";
import { startSessionGateway } from "./harness.js";
import { primaryKilledDuringTraffic, sharedStoreCases } from "./shared-store.js";

let cluster: RedisCluster;
let client: Cluster;
beforeAll(async () => {
  cluster = await startRedisCluster({ replicasPerPrimary: 1 });
  client = new Cluster(cluster.seeds.split(",").map((address) => ({ host: "127.0.0.1", port: Number(address.split(":")[1]) })));
  client.on("error", () => {}); // a killed node's connection; the test's own calls report what matters
}, 60_000);
afterAll(async () => {
  client?.disconnect();
  await cluster?.stop();
});

describe("sessions on a 3-primary Redis Cluster, two gateway replicas", () => {
  sharedStoreCases({ store: () => cluster.url, waitReplicas: 1, sessionKeyExists: async (key) => (await client.exists(key)) === 1 });
});

describe("a cluster primary killed during traffic (its replica promoted)", () => {
  primaryKilledDuringTraffic({
    store: () => cluster.url,
    killPrimary: async (sessionKey) => {
      const owner = await cluster.primaryFor(sessionKey);
      await cluster.kill(owner);
      return async () => {
        // The slot is served by the promoted replica; the old primary comes back as its replica and the cluster heals.
        expect((await cluster.primaryFor(sessionKey)).port).not.toBe(owner.port);
        await cluster.restart(owner);
        await cluster.waitHealthy(20_000);
      };
    },
  });
});

describe("a redis:// URL naming a cluster node", () => {
  it("is refused at start-up with the URL to write instead", async () => {
    const [node] = cluster.nodes();
    await expect(startSessionGateway({ SESSION_STORE: `redis://${node!.address}` })).rejects.toThrow(
      `SESSION_STORE: ${node!.address} is a node of a Redis Cluster, which a redis:// URL cannot use (keys of other slots are MOVED): write redis-cluster://${node!.address} (more seed nodes comma-separated)`,
    );
  });
});
