// The one way the gateway connects to Redis, for every concern that keeps shared state there (sessions, resource
// ownership): fail fast while Redis is down (no offline queue), reconnect in the background, and turn a Redis failure
// into the 503 UNAVAILABLE the routes answer.

import { Redis } from "ioredis";
import { GeminiError, unavailable } from "../gemini/errors.js";

export function connectRedis(url: string): { redis: Redis; where: string } {
  const redis = new Redis(url, {
    enableOfflineQueue: false, // fail fast while Redis is down instead of queueing requests
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(100 * times, 2000),
    lazyConnect: true,
  });
  redis.on("error", () => {}); // reported per request as 503s; ioredis keeps reconnecting
  const { host, port } = redis.options;
  return { redis, where: `Redis at ${host ?? "localhost"}:${port ?? 6379}` };
}

/** Connects; a Redis that is down at start-up is not fatal: the routes that need it answer 503 until it is back. */
export async function openRedis(redis: Redis): Promise<void> {
  await redis.connect().catch(() => {});
}

/** Where a store is and what its outage means to callers, for the 503's message. */
export interface StoreOutage {
  /** "Redis at host:port". */
  where: string;
  /** "session store". */
  what: string;
  /** What does and does not work meanwhile. */
  consequence: string;
}

/** Runs a Redis operation; a Redis failure becomes a 503 whose message says what is unavailable and what still works. */
export async function runOnRedis<T>(outage: StoreOutage, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (err instanceof GeminiError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw unavailable(`The ${outage.what} is unavailable (${outage.where}: ${reason}). ${outage.consequence}`);
  }
}

export async function closeRedis(redis: Redis): Promise<void> {
  await redis.quit().catch(() => redis.disconnect());
}
