// Where the limits' counts live. In memory (one replica): one current window per tenant and limit, so memory is
// bounded by tenants x limits. In Redis (every replica's limits are global): one script admits a call atomically;
// every key of a tenant shares the hash tag {tenant}, so on a Cluster the script runs on one node.

import type { TenantLimits } from "../config/tenants-file.js";
import type { RedisConnection } from "../store/redis.js";
import { CONCURRENCY_RETRY_MS, windowOf, type LimitName, type WindowedLimit } from "./windows.js";

export interface Refusal {
  limit: LimitName;
  /** The limit's value. */
  value: number;
  retryAfterMs: number;
}

/** What a finished call adds to its tenant's windows. */
export interface CallUsage {
  tokens: number;
}

export interface LimitCounters {
  /** Checks every limit the tenant has; when all pass, counts the request and takes a concurrency slot (`call` names
   *  it), at once. */
  admit(tenant: string, limits: TenantLimits, call: string, now: number): Promise<Refusal | undefined>;
  /** A call admitted by `admit` ended: frees its slot and adds its usage to the current windows. */
  settle(tenant: string, limits: TenantLimits, call: string, usage: CallUsage, now: number): Promise<void>;
}

/** Windowed limits checked at admission: a request limit counts this request; usage limits refuse once reached. */
const ADMISSION_ORDER: readonly WindowedLimit[] = ["requestsPerMinute", "tokensPerMinute"];

interface Count {
  window: string;
  value: number;
}

export class MemoryLimitCounters implements LimitCounters {
  readonly #counts = new Map<string, Count>();
  readonly #inFlight = new Map<string, number>();

  #read(tenant: string, limit: WindowedLimit, now: number): { count: Count; endsAt: number } {
    const window = windowOf(limit, now);
    const key = `${tenant}\u0000${limit}`;
    let count = this.#counts.get(key);
    if (count?.window !== window.id) {
      count = { window: window.id, value: 0 };
      this.#counts.set(key, count);
    }
    return { count, endsAt: window.endsAt };
  }

  admit(tenant: string, limits: TenantLimits, _call: string, now: number): Promise<Refusal | undefined> {
    const inFlight = this.#inFlight.get(tenant) ?? 0;
    if (limits.concurrentRequests !== undefined && inFlight >= limits.concurrentRequests) {
      return Promise.resolve({ limit: "concurrentRequests", value: limits.concurrentRequests, retryAfterMs: CONCURRENCY_RETRY_MS });
    }
    for (const limit of ADMISSION_ORDER) {
      const value = limits[limit];
      if (value === undefined) continue;
      const { count, endsAt } = this.#read(tenant, limit, now);
      // A request limit is reached when this request would pass it; a usage limit once the window's usage reached it.
      const used = limit === "requestsPerMinute" ? count.value + 1 : count.value;
      if (limit === "requestsPerMinute" ? used > value : used >= value) return Promise.resolve({ limit, value, retryAfterMs: endsAt - now });
    }
    if (limits.requestsPerMinute !== undefined) this.#read(tenant, "requestsPerMinute", now).count.value += 1;
    if (limits.concurrentRequests !== undefined) this.#inFlight.set(tenant, inFlight + 1);
    return Promise.resolve(undefined);
  }

  settle(tenant: string, limits: TenantLimits, _call: string, usage: CallUsage, now: number): Promise<void> {
    if (limits.concurrentRequests !== undefined) {
      const left = (this.#inFlight.get(tenant) ?? 1) - 1;
      if (left > 0) this.#inFlight.set(tenant, left);
      else this.#inFlight.delete(tenant);
    }
    if (limits.tokensPerMinute !== undefined && usage.tokens > 0) this.#read(tenant, "tokensPerMinute", now).count.value += usage.tokens;
    return Promise.resolve();
  }
}

// KEYS: the tenant's calls in flight (a sorted set: call -> deadline, so a replica that died frees its slots when
// their deadlines pass), its requests and its tokens in the current minute. ARGV: the limits (requests, tokens,
// concurrent; '' when not set), the call, how long a slot may be held, how long a minute's counters are kept.
// Returns '' when admitted, else the limit reached and, for a window, the milliseconds until the window ends.
const ADMIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[3] ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 'concurrentRequests' end
end
if ARGV[1] ~= '' and tonumber(redis.call('GET', KEYS[2]) or '0') + 1 > tonumber(ARGV[1]) then return 'requestsPerMinute' end
if ARGV[2] ~= '' and tonumber(redis.call('GET', KEYS[3]) or '0') >= tonumber(ARGV[2]) then return 'tokensPerMinute' end
if ARGV[1] ~= '' then
  redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
end
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[5]), ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
return ''`;

interface LimitCommands {
  tenantAdmit(inFlight: string, requests: string, tokens: string, ...args: Array<string | number>): Promise<string>;
}

/** A minute's counters outlive it a little, so replicas whose clocks differ slightly still find them. */
const MINUTE_KEPT_MS = 120_000;

export class RedisLimitCounters implements LimitCounters {
  readonly #redis: RedisConnection["client"] & LimitCommands;

  constructor(
    private readonly connection: RedisConnection,
    private readonly prefix: string,
    /** The longest a call may hold a concurrency slot (its whole-request deadline): a dead replica's slots free then. */
    private readonly slotMs: number,
  ) {
    connection.client.defineCommand("tenantAdmit", { numberOfKeys: 3, lua: ADMIT });
    this.#redis = connection.client as RedisConnection["client"] & LimitCommands;
  }

  #key(tenant: string, what: string): string {
    return `${this.prefix}lim:{${tenant}}:${what}`;
  }

  #run<T>(op: () => Promise<T>): Promise<T> {
    return this.connection.run({ concern: "tenant_limits", what: "tenant limits store", consequence: "Tenant limits cannot be counted until it is back." }, op);
  }

  async admit(tenant: string, limits: TenantLimits, call: string, now: number): Promise<Refusal | undefined> {
    const minute = windowOf("requestsPerMinute", now);
    const reached = await this.#run(() =>
      this.#redis.tenantAdmit(
        this.#key(tenant, "inflight"),
        this.#key(tenant, `rpm:${minute.id}`),
        this.#key(tenant, `tpm:${minute.id}`),
        limits.requestsPerMinute ?? "",
        limits.tokensPerMinute ?? "",
        limits.concurrentRequests ?? "",
        call,
        this.slotMs,
        MINUTE_KEPT_MS,
      ),
    );
    if (reached === "") return undefined;
    const limit = reached as LimitName;
    return { limit, value: limits[limit]!, retryAfterMs: limit === "concurrentRequests" ? CONCURRENCY_RETRY_MS : minute.endsAt - now };
  }

  async settle(tenant: string, limits: TenantLimits, call: string, usage: CallUsage, now: number): Promise<void> {
    const tokensKey = this.#key(tenant, `tpm:${windowOf("tokensPerMinute", now).id}`);
    const steps = this.#redis.multi();
    if (limits.concurrentRequests !== undefined) steps.zrem(this.#key(tenant, "inflight"), call);
    if (limits.tokensPerMinute !== undefined && usage.tokens > 0) steps.incrby(tokensKey, usage.tokens).pexpire(tokensKey, MINUTE_KEPT_MS);
    await this.#run(() => steps.exec());
  }
}
