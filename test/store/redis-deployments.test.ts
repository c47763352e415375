// The Redis Cluster and Sentinel deployments other store tests run against (test/helpers/redis-deployments.ts): they
// serve, fail over the way real ones do, and leave no process, port or file behind.
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startRedisCluster, startRedisSentinel, type RedisCluster, type RedisNode, type RedisSentinelSetup } from "../helpers/redis-deployments.js";

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const canBind = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => resolve(true)));
  });

async function get(node: RedisNode, key: string): Promise<string | null> {
  const client = new Redis({ port: node.port, host: "127.0.0.1", maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    return await client.get(key);
  } finally {
    client.disconnect();
  }
}

function clusterClient(cluster: RedisCluster): Cluster {
  const seeds = cluster.seeds.split(",").map((address) => ({ host: "127.0.0.1", port: Number(address.split(":")[1]) }));
  const client = new Cluster(seeds);
  client.on("error", () => {}); // a killed node's connection errors; commands report what matters
  return client;
}

describe("a Redis Cluster of three primaries", () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  test("serves every slot from three primaries", async () => {
    const primaries = await cluster.primaries();
    expect(primaries).toHaveLength(3);
    expect(cluster.nodes().map((n) => n.port).sort()).toEqual(primaries.map((n) => n.port).sort());
    expect(cluster.url).toBe(`redis-cluster://${cluster.seeds}`);
    expect(cluster.seeds).toBe(cluster.nodes().map((n) => n.address).join(","));
    for (const node of primaries) {
      const client = new Redis({ port: node.port, host: "127.0.0.1" });
      const info = await client.cluster("INFO");
      client.disconnect();
      expect(info).toContain("cluster_state:ok");
      expect(info).toContain("cluster_slots_ok:16384");
    }
  });

  test("keys with different hash tags land on different primaries", async () => {
    const keyByPrimary = new Map<number, { key: string; primary: RedisNode }>();
    for (let tag = 0; keyByPrimary.size < 3; tag++) {
      const key = `{tag${tag}}:value`;
      const primary = await cluster.primaryFor(key);
      if (!keyByPrimary.has(primary.port)) keyByPrimary.set(primary.port, { key, primary });
    }
    const client = clusterClient(cluster);
    try {
      for (const { key } of keyByPrimary.values()) await client.set(key, key);
    } finally {
      client.disconnect();
    }
    // Each key is on its primary: a GET there answers it (another primary would answer MOVED).
    for (const { key, primary } of keyByPrimary.values()) expect(await get(primary, key)).toBe(key);
  });

  test("stop() ends every node, frees its ports and removes its files, and can be repeated", async () => {
    const nodes = cluster.nodes();
    await cluster.stop();
    await cluster.stop();
    expect(cluster.nodes()).toEqual([]);
    for (const node of nodes) {
      expect(isAlive(node.pid)).toBe(false);
      expect(await canBind(node.port)).toBe(true);
      expect(await canBind(node.port + 10000)).toBe(true); // the cluster bus
    }
    expect(existsSync(cluster.dir)).toBe(false);
  });
});

describe("a Redis Cluster with a replica per primary", () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster({ replicasPerPrimary: 1 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  test("killing a slot's primary promotes its replica, and a Cluster client writes to the slot again", async () => {
    expect(cluster.nodes()).toHaveLength(6);
    const key = "{failover}:value";
    const client = clusterClient(cluster);
    try {
      await client.set(key, "before");
      const primariesBefore = await cluster.primaries();
      const old = await cluster.primaryFor(key);

      await cluster.kill(old);
      expect(isAlive(old.pid)).toBe(false);
      await cluster.waitHealthy();

      const promoted = await cluster.primaryFor(key);
      expect(promoted.port).not.toBe(old.port);
      expect(primariesBefore.map((n) => n.port)).not.toContain(promoted.port); // it was a replica
      expect(await cluster.primaries()).toHaveLength(3);
      // The client still has the dead primary in its slot map: it follows the cluster to the promoted one.
      await client.set(key, "after");
      expect(await get(promoted, key)).toBe("after");

      // The old primary comes back from its nodes.conf as a replica of the node that took its slots.
      const restarted = await cluster.restart(old);
      expect(restarted.pid).not.toBe(old.pid);
      await cluster.waitHealthy();
      expect((await cluster.primaryFor(key)).port).toBe(promoted.port);
      const probe = new Redis({ port: old.port, host: "127.0.0.1" });
      const role = (await probe.call("ROLE")) as (string | number)[];
      probe.disconnect();
      expect(role.slice(0, 3)).toEqual(["slave", "127.0.0.1", promoted.port]);
    } finally {
      client.disconnect();
    }
  });
});

describe("a primary and a replica watched by a Sentinel", () => {
  let setup: RedisSentinelSetup;
  beforeAll(async () => {
    setup = await startRedisSentinel();
  });
  afterAll(async () => {
    const nodes = setup?.nodes() ?? [];
    await setup?.stop();
    for (const node of nodes) expect(isAlive(node.pid)).toBe(false);
  });

  test("killing the primary fails over to the replica, and a Sentinel client writes to the new primary", async () => {
    expect(setup.url).toBe(`redis-sentinel://127.0.0.1:${setup.sentinel.port}/gw-primary`);
    expect(setup.nodes()).toHaveLength(2);
    const client = new Redis({ sentinels: [setup.sentinel], name: setup.masterName });
    client.on("error", () => {}); // reconnecting to the killed primary; the commands below report what matters
    try {
      await client.set("k", "before");
      const old = await setup.primary();

      await setup.kill(old);
      const promoted = await setup.waitFailover(old);
      expect(promoted.port).not.toBe(old.port);
      expect((await setup.primary()).port).toBe(promoted.port);

      await client.set("k", "after");
      expect(await get(promoted, "k")).toBe("after");
    } finally {
      client.disconnect();
    }
  });
});
