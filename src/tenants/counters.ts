// Where the limits' counts live. In memory (one replica): one current window per tenant and limit, so memory is
// bounded by tenants x limits. In Redis (every replica's limits are global): one script admits a call atomically and
// one settles it; every key of a tenant shares the hash tag {tenant}, so on a Cluster each script runs on one node.
//
// Usage limits (tokens, USD) are known exactly only when a call ends, so an admitted call holds back its estimate
// until it settles: a call is refused while the window's usage plus what the calls in flight hold reaches the limit.
// Spend therefore passes a budget by at most the last admitted call (when estimates are not below the real costs).

import type { TenantLimits } from "../config/tenants-file.js";
import type { RedisConnection } from "../store/redis.js";
import { IN_FLIGHT_RETRY_MS, windowOf, type LimitName } from "./windows.js";

export interface Refusal {
  limit: LimitName;
  /** The limit's value. */
  value: number;
  retryAfterMs: number;
  /** Not reached yet, but what the calls in flight hold would reach it. */
  inFlight: boolean;
}

/** A call's usage: estimated (held while it runs) or exact (counted when it ends). */
export interface CallUsage {
  tokens: number;
  usd: number;
}

export type BudgetLimit = "usdPerDay" | "usdPerMonth";

export interface LimitCounters {
  /** Checks every limit the tenant has; when all pass, counts the request, takes a concurrency slot (`call` names it)
   *  and holds `estimate` against the usage limits, at once. */
  admit(tenant: string, limits: TenantLimits, call: string, estimate: CallUsage, now: number): Promise<Refusal | undefined>;
  /** A call admitted by `admit` ended: frees its slot and what it held, and adds its usage to the current windows. */
  settle(tenant: string, limits: TenantLimits, call: string, estimate: CallUsage, used: CallUsage, now: number): Promise<void>;
  /** USD counted in the current windows of the tenant's budgets. */
  spent(tenant: string, limits: TenantLimits, now: number): Promise<Partial<Record<BudgetLimit, number>>>;
}

const USAGE_LIMITS = ["tokensPerMinute", "usdPerDay", "usdPerMonth"] as const;
type UsageLimit = (typeof USAGE_LIMITS)[number];
const BUDGET_LIMITS: readonly BudgetLimit[] = ["usdPerDay", "usdPerMonth"];

/** USD are counted in nano-dollars: integers, so that sums are exact in memory, in Redis and in Lua. */
const NANO_PER_USD = 1e9;
const nano = (usd: number): number => Math.round(usd * NANO_PER_USD);

/** What a usage limit counts, in its counter's units: tokens, or nano-dollars. */
function unitsOf(limit: UsageLimit, usage: CallUsage): number {
  return limit === "tokensPerMinute" ? usage.tokens : nano(usage.usd);
}
const limitUnits = (limit: UsageLimit, value: number): number => (limit === "tokensPerMinute" ? value : nano(value));

/** Whether the calls in flight must be tracked: a concurrency limit counts them, usage limits need what they hold. */
const tracksCalls = (limits: TenantLimits): boolean => limits.concurrentRequests !== undefined || USAGE_LIMITS.some((l) => limits[l] !== undefined);

interface Count {
  window: string;
  value: number;
}

interface InFlight {
  calls: number;
  tokens: number;
  nanoUsd: number;
}

export class MemoryLimitCounters implements LimitCounters {
  readonly #counts = new Map<string, Count>();
  readonly #inFlight = new Map<string, InFlight>();

  #read(tenant: string, limit: "requestsPerMinute" | UsageLimit, now: number): { count: Count; endsAt: number } {
    const window = windowOf(limit, now);
    const key = `${tenant}\u0000${limit}`;
    let count = this.#counts.get(key);
    if (count?.window !== window.id) {
      count = { window: window.id, value: 0 };
      this.#counts.set(key, count);
    }
    return { count, endsAt: window.endsAt };
  }

  admit(tenant: string, limits: TenantLimits, _call: string, estimate: CallUsage, now: number): Promise<Refusal | undefined> {
    const held = this.#inFlight.get(tenant) ?? { calls: 0, tokens: 0, nanoUsd: 0 };
    const refusal = this.#check(tenant, limits, held, now);
    if (refusal) return Promise.resolve(refusal);
    if (limits.requestsPerMinute !== undefined) this.#read(tenant, "requestsPerMinute", now).count.value += 1;
    if (tracksCalls(limits)) {
      this.#inFlight.set(tenant, { calls: held.calls + 1, tokens: held.tokens + estimate.tokens, nanoUsd: held.nanoUsd + nano(estimate.usd) });
    }
    return Promise.resolve(undefined);
  }

  #check(tenant: string, limits: TenantLimits, held: InFlight, now: number): Refusal | undefined {
    if (limits.concurrentRequests !== undefined && held.calls >= limits.concurrentRequests) {
      return { limit: "concurrentRequests", value: limits.concurrentRequests, retryAfterMs: IN_FLIGHT_RETRY_MS, inFlight: false };
    }
    if (limits.requestsPerMinute !== undefined) {
      const { count, endsAt } = this.#read(tenant, "requestsPerMinute", now);
      if (count.value + 1 > limits.requestsPerMinute) return { limit: "requestsPerMinute", value: limits.requestsPerMinute, retryAfterMs: endsAt - now, inFlight: false };
    }
    for (const limit of USAGE_LIMITS) {
      const value = limits[limit];
      if (value === undefined) continue;
      const { count, endsAt } = this.#read(tenant, limit, now);
      const cap = limitUnits(limit, value);
      if (count.value >= cap) return { limit, value, retryAfterMs: endsAt - now, inFlight: false };
      if (count.value + (limit === "tokensPerMinute" ? held.tokens : held.nanoUsd) >= cap) {
        return { limit, value, retryAfterMs: IN_FLIGHT_RETRY_MS, inFlight: true };
      }
    }
    return undefined;
  }

  settle(tenant: string, limits: TenantLimits, _call: string, estimate: CallUsage, used: CallUsage, now: number): Promise<void> {
    const held = this.#inFlight.get(tenant);
    if (held && tracksCalls(limits)) {
      if (held.calls <= 1) this.#inFlight.delete(tenant);
      else this.#inFlight.set(tenant, { calls: held.calls - 1, tokens: held.tokens - estimate.tokens, nanoUsd: held.nanoUsd - nano(estimate.usd) });
    }
    for (const limit of USAGE_LIMITS) {
      if (limits[limit] !== undefined) this.#read(tenant, limit, now).count.value += unitsOf(limit, used);
    }
    return Promise.resolve();
  }

  spent(tenant: string, limits: TenantLimits, now: number): Promise<Partial<Record<BudgetLimit, number>>> {
    const spent: Partial<Record<BudgetLimit, number>> = {};
    for (const limit of BUDGET_LIMITS) {
      if (limits[limit] !== undefined) spent[limit] = this.#read(tenant, limit, now).count.value / NANO_PER_USD;
    }
    return Promise.resolve(spent);
  }
}

// KEYS: the tenant's calls in flight (a sorted set: "<tokens>:<nano-USD>:<call>" -> deadline, so a replica that died
// frees what its calls held when their deadlines pass), what they hold (a hash: tokens, nano), its requests and its
// tokens in the current minute, its nano-USD in the current day and month.
// ARGV: the limits (requests, tokens, nano-USD per day and per month, concurrent calls; '' when not set), the call's
// member, how long a call may be held, how long each window's counter is kept (minute, day, month), what it holds.
// Returns '' when admitted, else the limit and ':reached' (the limit itself) or ':in_flight' (with what calls in flight
// hold).
const ADMIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tracked = ARGV[2] ~= '' or ARGV[3] ~= '' or ARGV[4] ~= '' or ARGV[5] ~= ''
if tracked then
  local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
  if #expired > 0 then
    local tokens, nano = 0, 0
    for _, member in ipairs(expired) do
      local heldTokens, heldNano = string.match(member, '^(%d+):(%d+):')
      tokens = tokens + tonumber(heldTokens)
      nano = nano + tonumber(heldNano)
    end
    redis.call('HINCRBY', KEYS[2], 'tokens', -tokens)
    redis.call('HINCRBY', KEYS[2], 'nano', -nano)
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  end
  if ARGV[5] ~= '' and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[5]) then return 'concurrentRequests:reached' end
end
if ARGV[1] ~= '' and tonumber(redis.call('GET', KEYS[3]) or '0') + 1 > tonumber(ARGV[1]) then return 'requestsPerMinute:reached' end
local held = redis.call('HMGET', KEYS[2], 'tokens', 'nano')
local function reached(limit, key, holding, name)
  if limit == '' then return nil end
  local used = tonumber(redis.call('GET', key) or '0')
  if used >= tonumber(limit) then return name .. ':reached' end
  if used + holding >= tonumber(limit) then return name .. ':in_flight' end
  return nil
end
local heldTokens, heldNano = tonumber(held[1] or '0'), tonumber(held[2] or '0')
local refusal = reached(ARGV[2], KEYS[4], heldTokens, 'tokensPerMinute') or reached(ARGV[3], KEYS[5], heldNano, 'usdPerDay')
  or reached(ARGV[4], KEYS[6], heldNano, 'usdPerMonth')
if refusal then return refusal end
if ARGV[1] ~= '' then
  redis.call('INCR', KEYS[3])
  redis.call('PEXPIRE', KEYS[3], ARGV[8])
end
if tracked then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[7]), ARGV[6])
  redis.call('HINCRBY', KEYS[2], 'tokens', ARGV[11])
  redis.call('HINCRBY', KEYS[2], 'nano', ARGV[12])
  redis.call('PEXPIRE', KEYS[1], ARGV[7])
  redis.call('PEXPIRE', KEYS[2], ARGV[7])
end
return ''`;

// KEYS: as ADMIT's, without the requests. ARGV: the call's member, what it held (tokens, nano), what it used (tokens,
// nano; '' for a window the tenant has no limit on), how long each window's counter is kept (minute, day, month).
// What it held is released only if it still holds it (a call that outlived its deadline was already released).
const SETTLE = `
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('HINCRBY', KEYS[2], 'tokens', -tonumber(ARGV[2]))
  redis.call('HINCRBY', KEYS[2], 'nano', -tonumber(ARGV[3]))
end
local function add(key, amount, kept)
  if amount ~= '' and tonumber(amount) > 0 then
    redis.call('INCRBY', key, amount)
    redis.call('PEXPIRE', key, kept)
  end
end
add(KEYS[3], ARGV[4], ARGV[7])
add(KEYS[4], ARGV[5], ARGV[8])
add(KEYS[5], ARGV[6], ARGV[9])
return 0`;

interface LimitCommands {
  tenantAdmit(...keysThenArgs: Array<string | number>): Promise<string>;
  tenantSettle(...keysThenArgs: Array<string | number>): Promise<number>;
}

/** A window's counter outlives it a little, so replicas whose clocks differ slightly still find it. */
const KEPT_AFTER_WINDOW_MS = 60_000;

export class RedisLimitCounters implements LimitCounters {
  readonly #redis: RedisConnection["client"] & LimitCommands;

  constructor(
    private readonly connection: RedisConnection,
    private readonly prefix: string,
    /** The longest a call may hold a concurrency slot (its whole-request deadline): a dead replica's slots free then. */
    private readonly slotMs: number,
  ) {
    connection.client.defineCommand("tenantAdmit", { numberOfKeys: 6, lua: ADMIT });
    connection.client.defineCommand("tenantSettle", { numberOfKeys: 5, lua: SETTLE });
    this.#redis = connection.client as RedisConnection["client"] & LimitCommands;
  }

  #key(tenant: string, what: string): string {
    return `${this.prefix}lim:{${tenant}}:${what}`;
  }

  /** The tenant's keys and how long each window's counter is kept, at `now`. */
  #windows(tenant: string, now: number) {
    const minute = windowOf("requestsPerMinute", now);
    const day = windowOf("usdPerDay", now);
    const month = windowOf("usdPerMonth", now);
    return {
      minute,
      day,
      month,
      keys: {
        inFlight: this.#key(tenant, "inflight"),
        held: this.#key(tenant, "held"),
        requests: this.#key(tenant, `rpm:${minute.id}`),
        tokens: this.#key(tenant, `tpm:${minute.id}`),
        dayUsd: this.#key(tenant, `usd:${day.id}`),
        monthUsd: this.#key(tenant, `usd:${month.id}`),
      },
      kept: [minute, day, month].map((w) => w.endsAt - now + KEPT_AFTER_WINDOW_MS),
    };
  }

  #run<T>(op: () => Promise<T>): Promise<T> {
    return this.connection.run({ concern: "tenant_limits", what: "tenant limits store", consequence: "Tenant limits cannot be counted until it is back." }, op);
  }

  async admit(tenant: string, limits: TenantLimits, call: string, estimate: CallUsage, now: number): Promise<Refusal | undefined> {
    const { keys, kept, minute, day, month } = this.#windows(tenant, now);
    const units = (limit: UsageLimit): number | string => (limits[limit] === undefined ? "" : limitUnits(limit, limits[limit]));
    const answer = await this.#run(() =>
      this.#redis.tenantAdmit(
        keys.inFlight,
        keys.held,
        keys.requests,
        keys.tokens,
        keys.dayUsd,
        keys.monthUsd,
        limits.requestsPerMinute ?? "",
        units("tokensPerMinute"),
        units("usdPerDay"),
        units("usdPerMonth"),
        limits.concurrentRequests ?? "",
        member(call, estimate),
        this.slotMs,
        ...kept,
        estimate.tokens,
        nano(estimate.usd),
      ),
    );
    if (answer === "") return undefined;
    const [reached, why] = answer.split(":") as [LimitName, "reached" | "in_flight"];
    const endsAt = reached === "usdPerDay" ? day.endsAt : reached === "usdPerMonth" ? month.endsAt : minute.endsAt;
    const inFlight = why === "in_flight";
    const waitForCalls = inFlight || reached === "concurrentRequests";
    return { limit: reached, value: limits[reached]!, retryAfterMs: waitForCalls ? IN_FLIGHT_RETRY_MS : endsAt - now, inFlight };
  }

  async settle(tenant: string, limits: TenantLimits, call: string, estimate: CallUsage, used: CallUsage, now: number): Promise<void> {
    if (!tracksCalls(limits)) return;
    const { keys, kept } = this.#windows(tenant, now);
    const amount = (limit: UsageLimit): number | string => (limits[limit] === undefined ? "" : unitsOf(limit, used));
    await this.#run(() =>
      this.#redis.tenantSettle(
        keys.inFlight,
        keys.held,
        keys.tokens,
        keys.dayUsd,
        keys.monthUsd,
        member(call, estimate),
        estimate.tokens,
        nano(estimate.usd),
        amount("tokensPerMinute"),
        amount("usdPerDay"),
        amount("usdPerMonth"),
        ...kept,
      ),
    );
  }

  async spent(tenant: string, limits: TenantLimits, now: number): Promise<Partial<Record<BudgetLimit, number>>> {
    if (!BUDGET_LIMITS.some((l) => limits[l] !== undefined)) return {};
    const { keys } = this.#windows(tenant, now);
    const [day, month] = await this.#run(() => this.#redis.mget(keys.dayUsd, keys.monthUsd));
    const spent: Partial<Record<BudgetLimit, number>> = {};
    if (limits.usdPerDay !== undefined) spent.usdPerDay = Number(day ?? 0) / NANO_PER_USD;
    if (limits.usdPerMonth !== undefined) spent.usdPerMonth = Number(month ?? 0) / NANO_PER_USD;
    return spent;
  }
}

/** A call in the in-flight set, named with what it holds so that a purge knows what to release. */
const member = (call: string, estimate: CallUsage): string => `${estimate.tokens}:${nano(estimate.usd)}:${call}`;
