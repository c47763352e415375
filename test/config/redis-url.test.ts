// SESSION_STORE's Redis URLs: the three deployments, credentials, TLS, and one clear line per mistake.
import { describe, expect, it } from "vitest";
import { describeRedisTarget, parseRedisUrl } from "../../src/config/redis-url.js";

describe("parseRedisUrl", () => {
  it("one server: host, port, database, credentials, TLS", () => {
    expect(parseRedisUrl("redis://127.0.0.1:6379/3")).toEqual({ mode: "single", node: { host: "127.0.0.1", port: 6379 }, db: 3, tls: false });
    expect(parseRedisUrl("redis://redis")).toEqual({ mode: "single", node: { host: "redis", port: 6379 }, db: 0, tls: false });
    expect(parseRedisUrl("rediss://app:p%40ss@cache.example:6380/0")).toEqual({
      mode: "single",
      node: { host: "cache.example", port: 6380 },
      db: 0,
      tls: true,
      username: "app",
      password: "p@ss",
    });
    expect(parseRedisUrl("redis://:secret@[::1]:6379")).toMatchObject({ node: { host: "::1", port: 6379 }, password: "secret" });
    expect(parseRedisUrl("redis://secret@h:1")).toMatchObject({ password: "secret" });
    expect(parseRedisUrl("redis://h:1/")).toMatchObject({ db: 0 });
  });

  it("a Cluster: seed nodes, database 0 only", () => {
    expect(parseRedisUrl("redis-cluster://10.0.0.1:7000,10.0.0.2:7001,10.0.0.3")).toEqual({
      mode: "cluster",
      seeds: [
        { host: "10.0.0.1", port: 7000 },
        { host: "10.0.0.2", port: 7001 },
        { host: "10.0.0.3", port: 6379 },
      ],
      tls: false,
    });
    expect(parseRedisUrl("rediss-cluster://:pw@h:7000/0")).toMatchObject({ mode: "cluster", tls: true, password: "pw" });
    expect(parseRedisUrl("redis-cluster://h:7000/2")).toEqual({ problem: 'a Redis Cluster has database 0 only: write redis-cluster://h:7000 (got "/2")' });
  });

  it("Sentinel: sentinels, the primary's name, a database", () => {
    expect(parseRedisUrl("redis-sentinel://s1:26379,s2/gw-primary/2")).toEqual({
      mode: "sentinel",
      sentinels: [
        { host: "s1", port: 26379 },
        { host: "s2", port: 26379 },
      ],
      masterName: "gw-primary",
      db: 2,
      tls: false,
    });
    expect(parseRedisUrl("redis-sentinel://s1:26379")).toEqual({
      problem: 'names no primary: write redis-sentinel://s1:26379/<master-name> (the name in the sentinels\' "sentinel monitor")',
    });
  });

  it("says what to write instead", () => {
    expect(parseRedisUrl("redis://a:7000,b:7001")).toEqual({
      problem: "lists several nodes: for a Redis Cluster write redis-cluster://a:7000,b:7001, for Sentinel redis-sentinel://a:7000,b:7001/<master-name>",
    });
    expect(parseRedisUrl("http://h")).toMatchObject({ problem: expect.stringContaining("must be memory or a Redis URL") as string });
    expect(parseRedisUrl("redis://h:99999")).toEqual({ problem: '"h:99999": the port must be 1-65535' });
    expect(parseRedisUrl("redis://h/x")).toEqual({ problem: 'the database must be a number (got "x")' });
    expect(parseRedisUrl("redis://")).toMatchObject({ problem: expect.stringContaining("names no host") as string });
  });

  it("describes a target without its credentials", () => {
    const described = (url: string): string => {
      const target = parseRedisUrl(url);
      if ("problem" in target) throw new Error(target.problem);
      return describeRedisTarget(target);
    };
    expect(described("redis://:pw@h:1/2")).toBe("Redis at h:1");
    expect(described("redis-cluster://a:1,[::1]:2")).toBe("Redis Cluster at a:1,[::1]:2");
    expect(described("redis-sentinel://s:3/main")).toBe('Redis primary "main" of the sentinels at s:3');
  });
});
