// Tenant limits as pure arithmetic: which window a limit counts in, when it frees, and the 429 a refused call gets.
// Windows are fixed and aligned (a minute, a UTC day, a UTC month), the same on every replica, so counters in a shared
// store agree without coordination; a burst straddling a boundary can reach twice a per-minute limit.

import { resourceExhausted, retryInfoDetail, RPC_TYPE_PREFIX, type GeminiError } from "../gemini/errors.js";
import type { TenantLimits } from "../config/tenants-file.js";

export type LimitName = keyof TenantLimits;
/** Limits counted per window (concurrentRequests is a gauge, not a window). */
export type WindowedLimit = Exclude<LimitName, "concurrentRequests">;

export interface LimitWindow {
  /** Names the window in a counter's key: "m29123456", "d2026-12-02", "M2026-12". */
  id: string;
  /** When it ends (epoch ms): a refused call may pass again then. */
  endsAt: number;
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

export function windowOf(limit: WindowedLimit, now: number): LimitWindow {
  switch (limit) {
    case "requestsPerMinute":
    case "tokensPerMinute": {
      const minute = Math.floor(now / MINUTE_MS);
      return { id: `m${minute}`, endsAt: (minute + 1) * MINUTE_MS };
    }
    case "usdPerDay": {
      const day = Math.floor(now / DAY_MS);
      return { id: `d${new Date(day * DAY_MS).toISOString().slice(0, 10)}`, endsAt: (day + 1) * DAY_MS };
    }
    case "usdPerMonth": {
      const date = new Date(now);
      return { id: `M${date.toISOString().slice(0, 7)}`, endsAt: Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) };
    }
  }
}

/** What each limit counts, as the 429's QuotaFailure and the metrics name it. */
const DESCRIPTION: Record<LimitName, (limit: number) => string> = {
  requestsPerMinute: (n) => `${n} requests per minute`,
  tokensPerMinute: (n) => `${n} tokens per minute`,
  usdPerDay: (n) => `${n} USD per day (UTC)`,
  usdPerMonth: (n) => `${n} USD per month (UTC)`,
  concurrentRequests: (n) => `${n} concurrent requests`,
};

/** What calls in flight hold (a concurrency slot, the usage reserved for them) frees when they end: a client waiting
 *  this long finds it freed most of the time. */
export const IN_FLIGHT_RETRY_MS = 1000;

/**
 * The 429 of a call refused by a tenant limit, shaped as Gemini's own quota errors so that the SDKs' backoff does the
 * right thing: RetryInfo with the time until the window frees, a QuotaFailure naming the limit, and Retry-After.
 * `inFlight`: the limit is not reached yet, but the usage reserved for the tenant's calls in flight would reach it.
 */
export function limitExceeded(tenant: string, limit: LimitName, value: number, retryAfterMs: number, inFlight = false): GeminiError {
  const delayMs = Math.max(1, Math.ceil(retryAfterMs));
  const reached = inFlight ? `Tenant ${tenant}'s calls in flight may reach` : `Tenant ${tenant} reached`;
  return resourceExhausted(
    `${reached} its limit of ${DESCRIPTION[limit](value)} (GATEWAY_CONFIG limits.${limit}); retry after ${(delayMs / 1000).toFixed(1)} s.`,
    [
      {
        "@type": `${RPC_TYPE_PREFIX}QuotaFailure`,
        violations: [{ subject: `tenant:${tenant}`, description: `limits.${limit}: ${DESCRIPTION[limit](value)}`, quotaId: limit, quotaValue: String(value) }],
      },
      retryInfoDetail(delayMs),
    ],
    // Retry-After in seconds (the standard) and in milliseconds (read first by the openai SDK).
    { "retry-after": String(Math.ceil(delayMs / 1000)), "retry-after-ms": String(delayMs) },
  );
}
