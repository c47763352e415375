// Redis session store: several gateway replicas share sessions, on one Redis, a Redis Cluster or Sentinel primaries.
// - a session is a hash {v: version, d: JSON}, committed by a Lua compare-and-set on v, idle TTL by PEXPIRE;
// - the turns of a session run one at a time in arrival order across replicas: each send RPUSHes a ticket on the
//   session's queue and runs when its ticket is at the head; every waiting or running ticket has a deadline in the
//   session's lease hash, pushed on by a heartbeat, so the ticket of a replica that died (kill -9) is skipped once its
//   deadline passes (deadlines are read from the Redis server's clock: replicas' clocks may differ);
// - a marker key outlives the session to say why a 404 (expired or deleted);
// - every key of one session shares the hash tag {id}, so on a Cluster they live in one slot and every script
//   declares all the keys it touches; the tenant's index (a sorted set of ids) is one key of its own, written before
//   the session so a crash between the two leaves an index entry that the next list drops, never a hidden session;
// - the store-wide gauges (sessions held, bytes) are reported by one replica at a time, the holder of a short lease,
//   so that summing them over replicas gives the store's figures.
// Redis down or failing over: every operation fails at once (no offline queue) with a 503 UNAVAILABLE; the proxy routes
// never touch it. A commit is one script: it lands whole or not at all.

import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { GeminiError, unavailable } from "../gemini/errors.js";
import { literalPattern, type RedisClient, type RedisConnection } from "../store/redis.js";
import { goneMarker, readGoneMarker, sessionTurns, type Lookup, type SessionData, type SessionPage, type SessionStore, type TurnLease } from "./store.js";

export interface RedisStoreOptions {
  connection: RedisConnection;
  /** Close the connection with the store (it was opened for the store alone). */
  ownsConnection: boolean;
  prefix: string;
  ttlSeconds: number;
  /** A turn lease not renewed for this long is considered dead. */
  leaseMs: number;
  /** Replicas of the primary that must hold a commit before the turn is acknowledged (WAIT); 0: none. */
  waitReplicas: number;
  waitMs: number;
  /** A commit acknowledged although fewer replicas than waitReplicas confirmed it within waitMs. */
  onUnreplicatedCommit?: () => void;
}

/** How long the marker saying why a session is gone is kept after it went. */
const MARKER_MS = 24 * 3600 * 1000;
const STATS_INTERVAL_MS = 10_000;
/** The stats reporter's lease: renewed every interval; a reporter that died is replaced within this long. */
const STATS_LEASE_MS = 3 * STATS_INTERVAL_MS;

/** Milliseconds on the Redis server's clock, inside a script. */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

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

// KEYS: queue, lease hash. ARGV: ticket, lease ms, queue ms.
const ENQUEUE = `${NOW}
redis.call('HSET', KEYS[2], ARGV[1], now + tonumber(ARGV[2]))
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1`;

// KEYS: lease hash. ARGV: ticket, lease ms. 0 when the ticket was dropped (its deadline passed before this renewal).
const RENEW = `${NOW}
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], now + tonumber(ARGV[2]))
return 1`;

// KEYS: queue, lease hash. ARGV: ticket. 1: our turn; 0: wait; -1: our ticket is gone (our lease lapsed). Tickets at
// the head whose deadline passed are dropped.
const TRY_ACQUIRE = `${NOW}
local head = redis.call('LINDEX', KEYS[1], 0)
while head do
  if head == ARGV[1] then return 1 end
  local deadline = tonumber(redis.call('HGET', KEYS[2], head) or '0')
  if deadline > now then return 0 end
  redis.call('LPOP', KEYS[1])
  redis.call('HDEL', KEYS[2], head)
  head = redis.call('LINDEX', KEYS[1], 0)
end
return -1`;

// KEYS: the reporter key. ARGV: this replica's id, lease ms. 1 while this replica holds (or just took) the lease.
const CLAIM_REPORTER = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

// KEYS: the reporter key. ARGV: this replica's id. Hands the lease back on close, so another replica reports at once.
const RELEASE_REPORTER = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`;

interface StoreCommands {
  sessionCommit(session: string, marker: string, expected: string, next: string, json: string, ttlMs: number, markerMs: number, markerValue: string): Promise<number>;
  sessionDelete(session: string, marker: string, markerMs: number): Promise<number>;
  sessionEnqueue(queue: string, leases: string, ticket: string, leaseMs: number, queueMs: number): Promise<number>;
  sessionRenew(leases: string, ticket: string, leaseMs: number): Promise<number>;
  sessionTryAcquire(queue: string, leases: string, ticket: string): Promise<number>;
  sessionClaimReporter(reporter: string, replica: string, leaseMs: number): Promise<number>;
  sessionReleaseReporter(reporter: string, replica: string): Promise<number>;
}

type StoreClient = RedisClient & StoreCommands;

export class RedisSessionStore implements SessionStore {
  readonly kind = "redis";
  readonly #redis: StoreClient;
  readonly #options: RedisStoreOptions;
  /** This replica, as the stats reporter lease names it. */
  readonly #replica = randomBytes(9).toString("base64url");
  /** The store-wide figures while this replica is the reporter, until when they may be shown. */
  #stats: { sessions: number; bytes: number; until: number } | undefined;
  readonly #statsTimer: NodeJS.Timeout;

  private constructor(options: RedisStoreOptions) {
    this.#options = options;
    const redis = options.connection.client;
    redis.defineCommand("sessionCommit", { numberOfKeys: 2, lua: COMMIT });
    redis.defineCommand("sessionDelete", { numberOfKeys: 2, lua: DELETE });
    redis.defineCommand("sessionEnqueue", { numberOfKeys: 2, lua: ENQUEUE });
    redis.defineCommand("sessionRenew", { numberOfKeys: 1, lua: RENEW });
    redis.defineCommand("sessionTryAcquire", { numberOfKeys: 2, lua: TRY_ACQUIRE });
    redis.defineCommand("sessionClaimReporter", { numberOfKeys: 1, lua: CLAIM_REPORTER });
    redis.defineCommand("sessionReleaseReporter", { numberOfKeys: 1, lua: RELEASE_REPORTER });
    this.#redis = redis as StoreClient;
    this.#statsTimer = setInterval(() => void this.#refreshStats(), STATS_INTERVAL_MS).unref();
  }

  /** The store over a connection (a Redis that is down at start-up is not fatal: session routes answer 503 until it
   *  is back). */
  static async open(options: RedisStoreOptions): Promise<RedisSessionStore> {
    const store = new RedisSessionStore(options);
    await store.#refreshStats();
    return store;
  }

  #key(kind: "s" | "g" | "q" | "l", id: string): string {
    return `${this.#options.prefix}${kind}:{${id}}`;
  }
  #tenantKey(tenant: string): string {
    return `${this.#options.prefix}t:{${tenant}}`;
  }
  get #reporterKey(): string {
    return `${this.#options.prefix}stats-reporter`;
  }
  get #ttlMs(): number {
    return this.#options.ttlSeconds * 1000;
  }

  /** Runs a Redis operation; a Redis failure becomes the 503 the session routes answer. */
  #run<T>(op: () => Promise<T>): Promise<T> {
    return this.#options.connection.run(
      {
        concern: "sessions",
        what: "session store",
        consequence: "Sessions cannot be used until it is back; the stateless proxy routes keep working.",
      },
      op,
    );
  }

  async create(session: SessionData): Promise<void> {
    await this.#run(async () => {
      // The index first: a session is never stored without its index entry (an entry without its session is dropped by
      // the next list).
      await this.#redis.zadd(this.#tenantKey(session.tenant), 0, session.id);
      const stored = await this.#redis
        .multi()
        .hset(this.#key("s", session.id), "v", String(session.version), "d", JSON.stringify(session))
        .pexpire(this.#key("s", session.id), this.#ttlMs)
        .set(this.#key("g", session.id), goneMarker("ttl", session.tenant), "PX", this.#ttlMs + MARKER_MS)
        .exec();
      throwFirstError(stored);
    });
  }

  async lookup(id: string): Promise<Lookup> {
    return this.#run(async () => {
      const replies = await this.#redis
        .multi()
        .hget(this.#key("s", id), "d")
        .get(this.#key("g", id))
        .pexpire(this.#key("s", id), this.#ttlMs) // use keeps a session alive, as in the memory store
        .pexpire(this.#key("g", id), this.#ttlMs + MARKER_MS)
        .exec();
      const [json, marker] = throwFirstError(replies) as [string | null, string | null];
      if (json) return { session: JSON.parse(json) as SessionData };
      return readGoneMarker(marker);
    });
  }

  async commit(session: SessionData): Promise<boolean> {
    return this.#run(async () => {
      const { waitReplicas, waitMs } = this.#options;
      const args = [
        this.#key("s", session.id),
        this.#key("g", session.id),
        String(session.version - 1),
        String(session.version),
        JSON.stringify(session),
        this.#ttlMs,
        this.#ttlMs + MARKER_MS,
        goneMarker("ttl", session.tenant),
      ] as const;
      if (waitReplicas === 0) return (await this.#redis.sessionCommit(...args)) === 1;
      // WAIT goes to the node that ran the commit (a pipeline goes to one node, on a Cluster the slot's primary).
      const pipeline = this.#redis.pipeline() as ReturnType<RedisClient["pipeline"]> & StoreCommands;
      void pipeline.sessionCommit(...args);
      const [done, confirmed] = throwFirstError(await pipeline.wait(waitReplicas, waitMs).exec()) as [number, number];
      if (done === 1 && confirmed < waitReplicas) this.#options.onUnreplicatedCommit?.();
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
      // One HGET per session: on a Cluster they live on different nodes.
      const jsons = await Promise.all(page.map((id) => this.#redis.hget(this.#key("s", id), "d")));
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
    const leases = this.#key("l", id);
    const { leaseMs } = this.#options;
    await this.#run(() => this.#redis.sessionEnqueue(queue, leases, ticket, leaseMs, this.#ttlMs + leaseMs));
    const heartbeat = setInterval(() => void this.#redis.sessionRenew(leases, ticket, leaseMs).catch(() => {}), Math.max(10, leaseMs / 3));
    const release = async (): Promise<void> => {
      clearInterval(heartbeat);
      await this.#redis.multi().lrem(queue, 1, ticket).hdel(leases, ticket).exec().catch(() => {}); // else its deadline passes
    };
    try {
      for (let wait = 2; ; wait = Math.min(wait * 2, 25)) {
        if (signal?.aborted) throw new GeminiError(499, "CANCELLED", "The client went away while the message was queued.");
        const state = await this.#run(() => this.#redis.sessionTryAcquire(queue, leases, ticket));
        if (state === 1) return { release };
        if (state === -1) throw unavailable("The session's turn queue lost this message's place (its lease lapsed); please retry.");
        await sleep(wait);
      }
    } catch (err) {
      await release();
      throw err;
    }
  }

  /** The store-wide figures while this replica is the reporter; undefined on every other replica (and while Redis
   *  cannot confirm the lease), so that a sum over replicas counts the store once. */
  stats(): { sessions: number; bytes: number } | undefined {
    const stats = this.#stats;
    return stats && Date.now() < stats.until ? { sessions: stats.sessions, bytes: stats.bytes } : undefined;
  }

  /** Reporter only: sessions are the live session keys under the prefix (SCAN on every primary), bytes their JSON
   *  (HSTRLEN), as the memory store counts them. Refreshed in the background. */
  async #refreshStats(): Promise<void> {
    const claimedAt = Date.now();
    try {
      if ((await this.#redis.sessionClaimReporter(this.#reporterKey, this.#replica, STATS_LEASE_MS)) !== 1) {
        this.#stats = undefined;
        return;
      }
      const counts = await Promise.all(this.#options.connection.primaries().map((node) => this.#countOn(node)));
      this.#stats = {
        sessions: counts.reduce((sum, c) => sum + c.sessions, 0),
        bytes: counts.reduce((sum, c) => sum + c.bytes, 0),
        // Shown no longer than the lease this replica was sure of (another replica may report after it).
        until: claimedAt + STATS_LEASE_MS,
      };
    } catch {
      // Redis down: the figures stop at the lease's end; the routes report the outage.
    }
  }

  async #countOn(node: Redis): Promise<{ sessions: number; bytes: number }> {
    let sessions = 0;
    let bytes = 0;
    let cursor = "0";
    do {
      const [next, keys] = await node.scan(cursor, "MATCH", `${literalPattern(this.#options.prefix)}s:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length === 0) continue;
      const pipeline = node.pipeline();
      for (const key of keys) pipeline.hstrlen(key, "d");
      for (const length of throwFirstError(await pipeline.exec()) as number[]) {
        if (length === 0) continue; // expired between SCAN and HSTRLEN
        sessions += 1;
        bytes += length;
      }
    } while (cursor !== "0");
    return { sessions, bytes };
  }

  async close(): Promise<void> {
    clearInterval(this.#statsTimer);
    if (this.#stats) await this.#redis.sessionReleaseReporter(this.#reporterKey, this.#replica).catch(() => {});
    if (this.#options.ownsConnection) await this.#options.connection.close();
  }
}

/** The replies of a MULTI or a pipeline, or the first error among them (ioredis reports errors per command). */
function throwFirstError(replies: Array<[Error | null, unknown]> | null): unknown[] {
  if (!replies) throw new Error("the transaction was aborted");
  return replies.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}
