// The retry rules of the gateway, as one pure function of an attempt's outcome. Retries happen only before the
// first byte reaches the client: the caller never asks once a response has started streaming.
//   retry: 429 (per-minute and token quotas), 500, 503, 504, connection errors, attempt timeouts;
//   never: 400, 403, 404, other statuses, a per-day quota 429;
//   delay: the 429's RetryInfo, else Retry-After, else full-jitter backoff;
//   stop at once when the delay would pass the request's deadline;
//   a 500 right after a 500 of the same request is not retried again: the same body failing the same way twice is
//   the request's fault more likely than upstream's, and more attempts would only spend the retry budget;
//   a call that must not run twice (an interaction's create keeps state upstream) is retried only after an answer
//   that says nothing was done: a 429 or a 503; never after a 500, a 504, a timeout or a broken connection.

import type { ErrorBody } from "../gemini/errors.js";
import { quotaKind, retryDelayMs } from "../gemini/retry-info.js";
import type { AttemptOutcome, DelaySource, QuotaKind } from "../turn/record.js";
import { fullJitterDelayMs, type BackoffSettings } from "./backoff.js";

export interface RetrySettings extends BackoffSettings {
  /** Attempts in all, the first one included. */
  maxAttempts: number;
}

/** What one upstream attempt produced, as far as the policy cares. */
export interface AttemptResult {
  outcome: AttemptOutcome;
  httpStatus?: number;
  /** The upstream error envelope, when the body was one. */
  error?: ErrorBody;
  /** The upstream Retry-After header. */
  retryAfter?: string;
}

export interface RetryState {
  /** Attempts made so far, the one just judged included. */
  attemptsMade: number;
  /** The outcome of the attempt before the one just judged. */
  previous?: AttemptOutcome;
  now: number;
  /** Epoch ms after which the request has failed. */
  deadline: number;
  random?: () => number;
}

export type StopReason = "success" | "not_retryable" | "repeated_failure" | "per_day_quota" | "attempts_exhausted" | "past_deadline";

export type RetryDecision =
  | { retry: true; reason: AttemptOutcome; delayMs: number; source: DelaySource }
  /** delayMs/source: the wait that was asked for, when one was (for the Retry-After of a 429 past the deadline). */
  | { retry: false; why: StopReason; delayMs?: number; source?: DelaySource };

const RETRYABLE: ReadonlySet<AttemptOutcome> = new Set(["429", "500", "503", "504", "network", "timeout"]);
/** The outcomes after which upstream has certainly done nothing. */
const UNPROCESSED: ReadonlySet<AttemptOutcome> = new Set(["429", "503"]);
const LABELLED_STATUSES = new Set([400, 403, 404, 429, 500, 503, 504]);

/** The attempt outcome label of an HTTP status. */
export function outcomeOfStatus(status: number): AttemptOutcome {
  if (status >= 200 && status < 300) return "ok";
  return LABELLED_STATUSES.has(status) ? (String(status) as AttemptOutcome) : "other";
}

/** The quota a 429 reported (undefined for other outcomes). */
export function quotaOf(result: AttemptResult): QuotaKind | undefined {
  if (result.outcome !== "429") return undefined;
  return result.error ? quotaKind(result.error) : "unknown";
}

/** Retry-After as seconds or an HTTP date, in milliseconds from `now`. */
export function parseRetryAfterMs(value: string, now: number): number | undefined {
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Where the wait before the next attempt comes from, and how long it is. */
export function retryDelay(
  result: AttemptResult,
  retry: number,
  settings: BackoffSettings,
  now: number,
  random?: () => number,
): { delayMs: number; source: DelaySource } {
  const fromBody = result.outcome === "429" && result.error ? retryDelayMs(result.error) : undefined;
  if (fromBody !== undefined) return { delayMs: fromBody, source: "retry_info" };
  const fromHeader = result.retryAfter !== undefined ? parseRetryAfterMs(result.retryAfter, now) : undefined;
  if (fromHeader !== undefined) return { delayMs: fromHeader, source: "retry_after" };
  return { delayMs: fullJitterDelayMs(retry, settings, random), source: "backoff" };
}

/** `once`: the call must not run twice upstream (see the rules above). */
export function decideRetry(result: AttemptResult, state: RetryState, settings: RetrySettings, once = false): RetryDecision {
  if (result.outcome === "ok") return { retry: false, why: "success" };
  if (!(once ? UNPROCESSED : RETRYABLE).has(result.outcome)) return { retry: false, why: "not_retryable" };
  if (quotaOf(result) === "per_day") return { retry: false, why: "per_day_quota" };
  if (result.outcome === "500" && state.previous === "500") return { retry: false, why: "repeated_failure" };
  const { delayMs, source } = retryDelay(result, state.attemptsMade, settings, state.now, state.random);
  if (state.attemptsMade >= settings.maxAttempts) return { retry: false, why: "attempts_exhausted", delayMs, source };
  if (state.now + delayMs >= state.deadline) return { retry: false, why: "past_deadline", delayMs, source };
  return { retry: true, reason: result.outcome, delayMs, source };
}
