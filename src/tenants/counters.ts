// Where the limits' counts live. In memory (one replica): one current window per tenant and limit, so memory is
// bounded by tenants x limits. A Redis implementation (shared by replicas) keeps the same contract.

import type { TenantLimits } from "../config/tenants-file.js";
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
  /** Checks every limit the tenant has; when all pass, counts the request and takes a concurrency slot, at once. */
  admit(tenant: string, limits: TenantLimits, now: number): Promise<Refusal | undefined>;
  /** A call admitted by `admit` ended: frees its slot and adds its usage to the current windows. */
  settle(tenant: string, limits: TenantLimits, usage: CallUsage, now: number): Promise<void>;
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

  admit(tenant: string, limits: TenantLimits, now: number): Promise<Refusal | undefined> {
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

  settle(tenant: string, limits: TenantLimits, usage: CallUsage, now: number): Promise<void> {
    if (limits.concurrentRequests !== undefined) {
      const left = (this.#inFlight.get(tenant) ?? 1) - 1;
      if (left > 0) this.#inFlight.set(tenant, left);
      else this.#inFlight.delete(tenant);
    }
    if (limits.tokensPerMinute !== undefined && usage.tokens > 0) this.#read(tenant, "tokensPerMinute", now).count.value += usage.tokens;
    return Promise.resolve();
  }
}
