// Who owns each resource made through the gateway, kept where sessions are kept (SESSION_STORE): in memory (bounded,
// least recently used first) or in Redis (shared by every replica). Also the "first time" marks that let a batch's
// results be metered once, whichever replica reads them first.

import type { Redis } from "ioredis";
import { LRUCache } from "lru-cache";
import { closeRedis, connectRedis, openRedis, runOnRedis, type StoreOutage } from "../store/redis.js";

export interface OwnerStore {
  readonly kind: "memory" | "redis";
  /** The owner of an owned name (its record's life is renewed); undefined when unknown. */
  owner(name: string): Promise<string | undefined>;
  /** The owners of several names, in order. */
  owners(names: readonly string[]): Promise<Array<string | undefined>>;
  claim(name: string, tenant: string): Promise<void>;
  release(name: string): Promise<void>;
  /** True the first time it is asked for `mark`, false after (on every replica sharing the store). */
  firstTime(mark: string): Promise<boolean>;
  close(): Promise<void>;
}

export interface OwnerStoreOptions {
  /** "memory" or a redis:// URL (SESSION_STORE). */
  store: string;
  /** Redis key prefix (SESSION_REDIS_PREFIX). */
  prefix: string;
  maxOwners: number;
  ttlSeconds: number;
}

export class MemoryOwnerStore implements OwnerStore {
  readonly kind = "memory";
  readonly #owners: LRUCache<string, string>;
  readonly #marks: LRUCache<string, true>;

  constructor(options: Pick<OwnerStoreOptions, "maxOwners" | "ttlSeconds">) {
    const common = { max: options.maxOwners, ttl: options.ttlSeconds * 1000, updateAgeOnGet: true };
    this.#owners = new LRUCache(common);
    this.#marks = new LRUCache(common);
  }

  owner(name: string): Promise<string | undefined> {
    return Promise.resolve(this.#owners.get(name));
  }

  owners(names: readonly string[]): Promise<Array<string | undefined>> {
    return Promise.resolve(names.map((name) => this.#owners.get(name)));
  }

  claim(name: string, tenant: string): Promise<void> {
    this.#owners.set(name, tenant);
    return Promise.resolve();
  }

  release(name: string): Promise<void> {
    this.#owners.delete(name);
    return Promise.resolve();
  }

  firstTime(mark: string): Promise<boolean> {
    if (this.#marks.has(mark)) return Promise.resolve(false);
    this.#marks.set(mark, true);
    return Promise.resolve(true);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Keys `{prefix}o:{<name>}` (owner) and `{prefix}m:{<mark>}`, each expiring ttlSeconds after its last use. */
export class RedisOwnerStore implements OwnerStore {
  readonly kind = "redis";
  readonly #redis: Redis;
  readonly #outage: StoreOutage;

  private constructor(
    redis: Redis,
    where: string,
    private readonly options: OwnerStoreOptions,
  ) {
    this.#redis = redis;
    this.#outage = {
      where,
      what: "resource ownership store",
      consequence: "Calls on cached contents, files, batches and other owned resources cannot be checked until it is back.",
    };
  }

  static async open(options: OwnerStoreOptions): Promise<RedisOwnerStore> {
    const { redis, where } = connectRedis(options.store);
    await openRedis(redis);
    return new RedisOwnerStore(redis, where, options);
  }

  #key(kind: "o" | "m", name: string): string {
    return `${this.options.prefix}${kind}:{${name}}`;
  }

  owner(name: string): Promise<string | undefined> {
    return runOnRedis(this.#outage, async () => (await this.#redis.getex(this.#key("o", name), "EX", this.options.ttlSeconds)) ?? undefined);
  }

  owners(names: readonly string[]): Promise<Array<string | undefined>> {
    if (names.length === 0) return Promise.resolve([]);
    return runOnRedis(this.#outage, async () => {
      // One GET per key in a pipeline (not MGET): the keys live in different slots on Redis Cluster.
      const pipeline = this.#redis.pipeline();
      for (const name of names) pipeline.get(this.#key("o", name));
      const results = (await pipeline.exec()) ?? [];
      return results.map(([err, value]) => {
        if (err) throw err;
        return typeof value === "string" ? value : undefined;
      });
    });
  }

  claim(name: string, tenant: string): Promise<void> {
    return runOnRedis(this.#outage, async () => {
      await this.#redis.set(this.#key("o", name), tenant, "EX", this.options.ttlSeconds);
    });
  }

  release(name: string): Promise<void> {
    return runOnRedis(this.#outage, async () => {
      await this.#redis.del(this.#key("o", name));
    });
  }

  firstTime(mark: string): Promise<boolean> {
    return runOnRedis(this.#outage, async () => (await this.#redis.set(this.#key("m", mark), "1", "EX", this.options.ttlSeconds, "NX")) === "OK");
  }

  close(): Promise<void> {
    return closeRedis(this.#redis);
  }
}

export async function openOwnerStore(options: OwnerStoreOptions): Promise<OwnerStore> {
  return options.store === "memory" ? new MemoryOwnerStore(options) : RedisOwnerStore.open(options);
}
