// Per key+model quotas like the real API's: requests per minute and per day, input tokens per minute.
// Sliding windows over an injected clock; the 429 carries QuotaFailure (real quotaIds), Help and a RetryInfo
// whose retryDelay is the time until the window admits the request again.
import type { ErrorDetail } from "../gemini/errors.js";
import { GeminiError, RPC_TYPE_PREFIX } from "../gemini/errors.js";

export interface QuotaLimits {
  rpm?: number;
  rpd?: number;
  tpm?: number;
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

interface QuotaKind {
  limit: keyof QuotaLimits;
  windowMs: number;
  quotaId: string;
  quotaMetric: string;
}

const QUOTA_KINDS: readonly QuotaKind[] = [
  { limit: "rpd", windowMs: DAY_MS, quotaId: "GenerateRequestsPerDayPerProjectPerModel-FreeTier", quotaMetric: "generativelanguage.googleapis.com/generate_content_free_tier_requests" },
  { limit: "rpm", windowMs: MINUTE_MS, quotaId: "GenerateRequestsPerMinutePerProjectPerModel-FreeTier", quotaMetric: "generativelanguage.googleapis.com/generate_content_free_tier_requests" },
  { limit: "tpm", windowMs: MINUTE_MS, quotaId: "GenerateContentInputTokensPerModelPerMinute-FreeTier", quotaMetric: "generativelanguage.googleapis.com/generate_content_free_tier_input_token_count" },
];

/** A protobuf Duration string with up to millisecond precision: 12345 -> "12.345s", 500 -> "0.5s". */
export function formatDuration(ms: number): string {
  return `${Number((Math.max(0, ms) / 1000).toFixed(3))}s`;
}

interface Admission {
  at: number;
  tokens: number;
}

export interface QuotaViolation {
  kind: QuotaKind;
  limit: number;
  retryAfterMs: number;
}

/**
 * How long until `cost` more units fit under `limit` in a window of `windowMs`, given past admissions (oldest first).
 * 0 when it fits now; Infinity when it can never fit.
 */
export function waitUntilFits(history: readonly Admission[], now: number, windowMs: number, limit: number, cost: (a: Admission) => number, incoming: number): number {
  const live = history.filter((a) => a.at > now - windowMs);
  let used = live.reduce((sum, a) => sum + cost(a), 0);
  if (used + incoming <= limit) return 0;
  if (incoming > limit) return Infinity;
  for (const admission of live) {
    used -= cost(admission);
    if (used + incoming <= limit) return admission.at + windowMs - now;
  }
  return windowMs;
}

export class QuotaLedger {
  private readonly admissions = new Map<string, Admission[]>();

  constructor(private readonly limits: QuotaLimits) {}

  get enabled(): boolean {
    return QUOTA_KINDS.some((k) => this.limits[k.limit] !== undefined);
  }

  /** Admits the request (recording it) or returns the violated quota. */
  admit(key: string, model: string, promptTokens: number, now: number): QuotaViolation | undefined {
    const id = `${key}\u0000${model}`;
    const history = (this.admissions.get(id) ?? []).filter((a) => a.at > now - DAY_MS);
    for (const kind of QUOTA_KINDS) {
      const limit = this.limits[kind.limit];
      if (limit === undefined) continue;
      const isTokens = kind.limit === "tpm";
      const wait = waitUntilFits(history, now, kind.windowMs, limit, isTokens ? (a) => a.tokens : () => 1, isTokens ? promptTokens : 1);
      if (wait > 0) {
        this.admissions.set(id, history);
        return { kind, limit, retryAfterMs: Number.isFinite(wait) ? wait : kind.windowMs };
      }
    }
    history.push({ at: now, tokens: promptTokens });
    this.admissions.set(id, history);
    return undefined;
  }
}

/** The 429 Google sends for a quota: message, Help, QuotaFailure and (when a delay is known) RetryInfo. Quotas of
 *  requests that name no model (files, caches...) have no model dimension. */
export function quotaError(model: string | undefined, quotaId: string, quotaMetric: string, limit: number | undefined, retryAfterMs: number | undefined): GeminiError {
  const delay = retryAfterMs === undefined ? undefined : formatDuration(retryAfterMs);
  const violation: Record<string, unknown> = { quotaMetric, quotaId, quotaDimensions: model === undefined ? { location: "global" } : { location: "global", model } };
  if (limit !== undefined) violation.quotaValue = String(limit);
  const details: ErrorDetail[] = [
    { "@type": `${RPC_TYPE_PREFIX}Help`, links: [{ description: "Learn more about Gemini API quotas", url: "https://ai.google.dev/gemini-api/docs/rate-limits" }] },
    { "@type": `${RPC_TYPE_PREFIX}QuotaFailure`, violations: [violation] },
  ];
  if (delay !== undefined) details.push({ "@type": `${RPC_TYPE_PREFIX}RetryInfo`, retryDelay: delay });
  const message =
    "You exceeded your current quota, please check your plan and billing details. For more information on this error, " +
    "head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage, head to: https://ai.dev/usage?tab=rate-limit. \n" +
    `* Quota exceeded for metric: ${quotaMetric}, limit: ${limit ?? 0}${model === undefined ? "" : `, model: ${model}`}` +
    (delay === undefined ? "" : `\nPlease retry in ${delay}.`);
  return new GeminiError(429, "RESOURCE_EXHAUSTED", message, details);
}

export function violationError(model: string, violation: QuotaViolation): GeminiError {
  return quotaError(model, violation.kind.quotaId, violation.kind.quotaMetric, violation.limit, violation.retryAfterMs);
}
