// Small keyed state shared by the gateway's concerns (resource owners, "counted once" marks, interaction chains),
// kept where sessions are kept (SESSION_STORE): in memory, each key space bounded by count, bytes and TTL (least
// recently used first), per replica; or in Redis (one server, a Cluster or Sentinel primaries: every operation is on
// one key), shared by every replica, each key expiring TTL after its last use. A concern declares its key space once;
// a Redis failure is a 503 that says what the space is for.

import { LRUCache } from "lru-cache";
import type { RedisConnection, StoreConcern, StoreOutage } from "./redis.js";

export interface KeySpace {
  /** The Redis key segment: keys are `{prefix}{name}:{<key>}`. */
  name: string;
  /** Memory store: the most entries kept. */
  maxEntries: number;
  /** Memory store: the most bytes kept (key + value + a fixed overhead per entry); default unbounded by bytes. */
  maxBytes?: number;
  ttlSeconds: number;
  /** For the 503 when Redis is down: what the space is for (counted by it), what it is and what does not work
   *  meanwhile. */
  concern: StoreConcern;
  what: string;
  consequence: string;
}

/** One key space. */
export interface KeyedState {
  /** The value (its life renewed); undefined when absent. */
  get(key: string): Promise<string | undefined>;
  /** Several values, in order, not renewed. */
  getMany(keys: readonly string[]): Promise<Array<string | undefined>>;
  set(key: string, value: string): Promise<void>;
  /** Sets it only when absent; true when it was set (the first caller, on every replica sharing the store). */
  setIfAbsent(key: string, value: string): Promise<boolean>;
  delete(key: string): Promise<void>;
}

/** The key spaces of one store; a Redis store uses a connection its opener owns (and closes). */
export interface KeyedStore {
  readonly kind: "memory" | "redis";
  space(spec: KeySpace): KeyedState;
}

/** What an entry costs against maxBytes besides its key and value (the LRU's own bookkeeping). */
const ENTRY_OVERHEAD_BYTES = 64;

class MemoryKeyedStore implements KeyedStore {
  readonly kind = "memory";

  space(spec: KeySpace): KeyedState {
    const cache = new LRUCache<string, string>({
      max: spec.maxEntries,
      ttl: spec.ttlSeconds * 1000,
      updateAgeOnGet: true,
      ...(spec.maxBytes !== undefined ? { maxSize: spec.maxBytes, sizeCalculation: (value: string, key: string) => key.length + value.length + ENTRY_OVERHEAD_BYTES } : {}),
    });
    return {
      get: (key) => Promise.resolve(cache.get(key)),
      getMany: (keys) => Promise.resolve(keys.map((key) => cache.get(key, { updateAgeOnGet: false }))),
      set: (key, value) => {
        cache.set(key, value);
        return Promise.resolve();
      },
      setIfAbsent: (key, value) => {
        if (cache.has(key)) return Promise.resolve(false);
        cache.set(key, value);
        return Promise.resolve(true);
      },
      delete: (key) => {
        cache.delete(key);
        return Promise.resolve();
      },
    };
  }
}

class RedisKeyedStore implements KeyedStore {
  readonly kind = "redis";

  constructor(
    private readonly connection: RedisConnection,
    private readonly prefix: string,
  ) {}

  space(spec: KeySpace): KeyedState {
    const redis = this.connection.client;
    const outage: StoreOutage = { concern: spec.concern, what: spec.what, consequence: spec.consequence };
    const key = (k: string): string => `${this.prefix}${spec.name}:{${k}}`;
    const run = <T>(op: () => Promise<T>): Promise<T> => this.connection.run(outage, op);
    return {
      get: (k) => run(async () => (await redis.getex(key(k), "EX", spec.ttlSeconds)) ?? undefined),
      getMany: (keys) =>
        keys.length === 0
          ? Promise.resolve([])
          : // One GET per key (not MGET, not one pipeline): on a Cluster the keys live in different slots.
            run(async () => (await Promise.all(keys.map((k) => redis.get(key(k))))).map((value) => value ?? undefined)),
      set: (k, value) =>
        run(async () => {
          await redis.set(key(k), value, "EX", spec.ttlSeconds);
        }),
      setIfAbsent: (k, value) => run(async () => (await redis.set(key(k), value, "EX", spec.ttlSeconds, "NX")) === "OK"),
      delete: (k) =>
        run(async () => {
          await redis.del(key(k));
        }),
    };
  }
}

/** Per replica, in memory. */
export const memoryKeyedStore = (): KeyedStore => new MemoryKeyedStore();

/** Shared through Redis (SESSION_STORE); `prefix`: the Redis key prefix (SESSION_REDIS_PREFIX). */
export const redisKeyedStore = (connection: RedisConnection, prefix: string): KeyedStore => new RedisKeyedStore(connection, prefix);
