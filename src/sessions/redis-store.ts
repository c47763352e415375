// Redis session store: several gateway replicas share sessions.
// - a session is a hash {v: version, d: JSON}, committed by a Lua compare-and-set on v, idle TTL by PEXPIRE;
// - the turns of a session run one at a time in arrival order across replicas: each send RPUSHes a ticket on the
//   session's queue and runs when its ticket is at the head; every waiting or running ticket holds a lease key kept
//   alive by a heartbeat, so the ticket of a replica that died (kill -9) is skipped once its lease expires;
// - a marker key outlives the session to say why a 404 (expired or deleted);
// - every key of one session shares a hash tag {id}, so the scripts also run on Redis Cluster.
// Redis down: every operation fails at once (no offline queue) with a 503 UNAVAILABLE; the proxy routes never touch it.

import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { GeminiError, unavailable } from "../gemini/errors.js";
import { closeRedis, connectRedis, openRedis, runOnRedis } from "../store/redis.js";
import { goneMarker, readGoneMarker, sessionTurns, type Lookup, type SessionData, type SessionPage, type SessionStore, type TurnLease } from "./store.js";

export interface RedisStoreOptions {
  /** redis://host:port/db */
  url: string;
  prefix: string;
  ttlSeconds: number;
  /** A turn lease not renewed for this long is considered dead. */
  leaseMs: number;
}

/** How long the marker saying why a session is gone is kept after it went. */
const MARKER_MS = 24 * 3600 * 1000;
const STATS_INTERVAL_MS = 10_000;

// The marker (KEYS[2]) says why a session is gone and whose it was: `ttl|<tenant>` while it lives (an expiry leaves
// it so), `deleted|<tenant>` after a delete.
const COMMIT = `
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('SET', KEYS[2], ARGV[6], 'PX', ARGV[5])
return 1`;

const DELETE = `
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
local marker = redis.call('GET', KEYS[2]) or ''
local tenant = string.match(marker, '|(.*)$') or ''
redis.call('SET', KEYS[2], 'deleted|' .. tenant, 'PX', ARGV[1])
return 1`;

const ENQUEUE = `
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

// 1: our turn; 0: wait; -1: our ticket is gone (our lease lapsed). Dead tickets at the head are dropped.
const TRY_ACQUIRE = `
local head = redis.call('LINDEX', KEYS[1], 0)
while head do
  if head == ARGV[1] then return 1 end
  if redis.call('EXISTS', ARGV[2] .. head) == 1 then return 0 end
  redis.call('LPOP', KEYS[1])
  head = redis.call('LINDEX', KEYS[1], 0)
end
return -1`;

interface StoreCommands {
  sessionCommit(session: string, marker: string, expected: string, next: string, json: string, ttlMs: number, markerMs: number, markerValue: string): Promise<number>;
  sessionDelete(session: string, marker: string, markerMs: number): Promise<number>;
  sessionEnqueue(queue: string, lease: string, ticket: string, leaseMs: number, queueMs: number): Promise<number>;
  sessionTryAcquire(queue: string, ticket: string, leasePrefix: string): Promise<number>;
}

export class RedisSessionStore implements SessionStore {
  readonly kind = "redis";
  readonly #redis: Redis & StoreCommands;
  readonly #options: RedisStoreOptions;
  readonly #where: string;
  #stats = { sessions: 0, bytes: 0 };
  readonly #statsTimer: NodeJS.Timeout;

  constructor(options: RedisStoreOptions) {
    this.#options = options;
    const { redis, where } = connectRedis(options.url);
    redis.defineCommand("sessionCommit", { numberOfKeys: 2, lua: COMMIT });
    redis.defineCommand("sessionDelete", { numberOfKeys: 2, lua: DELETE });
    redis.defineCommand("sessionEnqueue", { numberOfKeys: 2, lua: ENQUEUE });
    redis.defineCommand("sessionTryAcquire", { numberOfKeys: 1, lua: TRY_ACQUIRE });
    this.#redis = redis as Redis & StoreCommands;
    this.#where = where;
    this.#statsTimer = setInterval(() => void this.#refreshStats(), STATS_INTERVAL_MS).unref();
  }

  /** Connects (a Redis that is down at start-up is not fatal: session routes answer 503 until it is back). */
  static async open(options: RedisStoreOptions): Promise<RedisSessionStore> {
    const store = new RedisSessionStore(options);
    await openRedis(store.#redis);
    return store;
  }

  #key(kind: "s" | "g" | "q", id: string): string {
    return `${this.#options.prefix}${kind}:{${id}}`;
  }
  #leasePrefix(id: string): string {
    return `${this.#options.prefix}l:{${id}}:`;
  }
  #tenantKey(tenant: string): string {
    return `${this.#options.prefix}t:${tenant}`;
  }
  get #ttlMs(): number {
    return this.#options.ttlSeconds * 1000;
  }

  /** Runs a Redis operation; a Redis failure becomes the 503 the session routes answer. */
  #run<T>(op: () => Promise<T>): Promise<T> {
    return runOnRedis(
      { where: this.#where, what: "session store", consequence: "Sessions cannot be used until it is back; the stateless proxy routes keep working." },
      op,
    );
  }

  async create(session: SessionData): Promise<void> {
    await this.#run(async () => {
      await this.#redis
        .multi()
        .hset(this.#key("s", session.id), "v", String(session.version), "d", JSON.stringify(session))
        .pexpire(this.#key("s", session.id), this.#ttlMs)
        .set(this.#key("g", session.id), goneMarker("ttl", session.tenant), "PX", this.#ttlMs + MARKER_MS)
        .exec();
      await this.#redis.zadd(this.#tenantKey(session.tenant), 0, session.id);
    });
  }

  async lookup(id: string): Promise<Lookup> {
    return this.#run(async () => {
      const [[, json], [, marker]] = (await this.#redis
        .multi()
        .hget(this.#key("s", id), "d")
        .get(this.#key("g", id))
        .pexpire(this.#key("s", id), this.#ttlMs) // use keeps a session alive, as in the memory store
        .pexpire(this.#key("g", id), this.#ttlMs + MARKER_MS)
        .exec()) as [[unknown, string | null], [unknown, string | null]];
      if (json) return { session: JSON.parse(json) as SessionData };
      return readGoneMarker(marker);
    });
  }

  async commit(session: SessionData): Promise<boolean> {
    return this.#run(async () => {
      const done = await this.#redis.sessionCommit(
        this.#key("s", session.id),
        this.#key("g", session.id),
        String(session.version - 1),
        String(session.version),
        JSON.stringify(session),
        this.#ttlMs,
        this.#ttlMs + MARKER_MS,
        goneMarker("ttl", session.tenant),
      );
      return done === 1;
    });
  }

  async delete(id: string): Promise<boolean> {
    return this.#run(async () => (await this.#redis.sessionDelete(this.#key("s", id), this.#key("g", id), MARKER_MS)) === 1);
  }

  async list(tenant: string, limit: number, cursor?: string): Promise<SessionPage> {
    return this.#run(async () => {
      const key = this.#tenantKey(tenant);
      const ids = await this.#redis.zrangebylex(key, cursor ? `(${cursor}` : "-", "+", "LIMIT", 0, limit + 1);
      const page = ids.slice(0, limit);
      const jsons = page.length > 0 ? await Promise.all(page.map((id) => this.#redis.hget(this.#key("s", id), "d"))) : [];
      const sessions = [];
      const dead: string[] = [];
      for (const [i, json] of jsons.entries()) {
        if (!json) {
          dead.push(page[i]!);
          continue;
        }
        const s = JSON.parse(json) as SessionData;
        sessions.push({ id: s.id, model: s.model, turns: sessionTurns(s), lastUsedAt: s.lastUsedAt });
      }
      if (dead.length > 0) await this.#redis.zrem(key, ...dead);
      return ids.length > limit ? { sessions, nextCursor: page[page.length - 1]! } : { sessions };
    });
  }

  async acquireTurn(id: string, signal?: AbortSignal): Promise<TurnLease> {
    const ticket = randomBytes(12).toString("base64url");
    const queue = this.#key("q", id);
    const lease = `${this.#leasePrefix(id)}${ticket}`;
    const { leaseMs } = this.#options;
    await this.#run(() => this.#redis.sessionEnqueue(queue, lease, ticket, leaseMs, this.#ttlMs + leaseMs));
    const heartbeat = setInterval(() => void this.#redis.pexpire(lease, leaseMs).catch(() => {}), Math.max(10, leaseMs / 3));
    const release = async (): Promise<void> => {
      clearInterval(heartbeat);
      await this.#redis.multi().lrem(queue, 1, ticket).del(lease).exec().catch(() => {}); // else its lease expires
    };
    try {
      for (let wait = 2; ; wait = Math.min(wait * 2, 25)) {
        if (signal?.aborted) throw new GeminiError(499, "CANCELLED", "The client went away while the message was queued.");
        const state = await this.#run(() => this.#redis.sessionTryAcquire(queue, ticket, this.#leasePrefix(id)));
        if (state === 1) return { release };
        if (state === -1) throw unavailable("The session's turn queue lost this message's place (its lease lapsed); please retry.");
        await sleep(wait);
      }
    } catch (err) {
      await release();
      throw err;
    }
  }

  stats(): { sessions: number; bytes: number } {
    return this.#stats;
  }

  /** Sessions: live session keys under the prefix (SCAN); bytes: Redis used_memory. Refreshed in the background. */
  async #refreshStats(): Promise<void> {
    try {
      let sessions = 0;
      let cursor = "0";
      do {
        const [next, keys] = await this.#redis.scan(cursor, "MATCH", `${this.#options.prefix}s:*`, "COUNT", 1000);
        sessions += keys.length;
        cursor = next;
      } while (cursor !== "0");
      const memory = await this.#redis.info("memory");
      const bytes = Number(/used_memory:(\d+)/.exec(memory)?.[1] ?? 0);
      this.#stats = { sessions, bytes };
    } catch {
      // Redis down: keep the last figures; the routes report the outage.
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#statsTimer);
    await closeRedis(this.#redis);
  }
}
