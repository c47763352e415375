import { describe, expect, test } from "vitest";
import type { ErrorBody } from "../../src/gemini/errors.js";
import { parseDurationMs, quotaIds, quotaKind, quotaKindOf, retryDelayMs } from "../../src/gemini/retry-info.js";
import { fullJitterDelayMs } from "../../src/upstream/backoff.js";
import { RetryBudget, RetryBudgets } from "../../src/upstream/retry-budget.js";
import { decideRetry, outcomeOfStatus, parseRetryAfterMs, type AttemptResult } from "../../src/upstream/retry-policy.js";

const quota429 = (quotaId: string | undefined, retryDelay?: string): ErrorBody => ({
  code: 429,
  status: "RESOURCE_EXHAUSTED",
  message: "You exceeded your current quota",
  details: [
    { "@type": "type.googleapis.com/google.rpc.Help", links: [] },
    ...(quotaId ? [{ "@type": "type.googleapis.com/google.rpc.QuotaFailure", violations: [{ quotaMetric: "m", quotaId }] }] : []),
    ...(retryDelay ? [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay }] : []),
  ],
});

describe("retry info", () => {
  test("protobuf durations, fractional included", () => {
    expect(parseDurationMs("28s")).toBe(28_000);
    expect(parseDurationMs("28.32s")).toBe(28_320);
    expect(parseDurationMs("0.5s")).toBe(500);
    expect(parseDurationMs("1.000000001s")).toBe(1000);
    expect(parseDurationMs("5")).toBeUndefined();
    expect(parseDurationMs("-1s")).toBeUndefined();
    expect(parseDurationMs("1.5ms")).toBeUndefined();
  });

  test("RetryInfo and QuotaFailure from an error body", () => {
    const error = quota429("GenerateRequestsPerMinutePerProjectPerModel-FreeTier", "1.5s");
    expect(retryDelayMs(error)).toBe(1500);
    expect(quotaIds(error)).toEqual(["GenerateRequestsPerMinutePerProjectPerModel-FreeTier"]);
    expect(quotaKind(error)).toBe("per_minute");
    expect(retryDelayMs(quota429(undefined))).toBeUndefined();
    expect(quotaKind({ code: 429, status: "RESOURCE_EXHAUSTED", message: "bare" })).toBe("unknown");
  });

  test("quota kinds: per day, input tokens (which also says PerMinute), per minute", () => {
    expect(quotaKindOf("GenerateRequestsPerDayPerProjectPerModel-FreeTier")).toBe("per_day");
    expect(quotaKindOf("GenerateContentInputTokensPerModelPerMinute-FreeTier")).toBe("tokens");
    expect(quotaKindOf("GenerateRequestsPerMinutePerProjectPerModel")).toBe("per_minute");
    expect(quotaKindOf("SomethingElse")).toBe("unknown");
  });

  test("several violations: per day wins", () => {
    const error = quota429("GenerateRequestsPerMinutePerProjectPerModel");
    (error.details![1]!["violations"] as unknown[]).push({ quotaId: "GenerateRequestsPerDayPerProjectPerModel" });
    expect(quotaKind(error)).toBe("per_day");
  });
});

describe("backoff", () => {
  const settings = { baseMs: 500, capMs: 60_000 };
  test("full jitter: uniform below min(cap, base * 2^(n-1))", () => {
    expect(fullJitterDelayMs(1, settings, () => 0.999)).toBe(499);
    expect(fullJitterDelayMs(3, settings, () => 0.5)).toBe(1000);
    expect(fullJitterDelayMs(20, settings, () => 0.5)).toBe(30_000);
    expect(fullJitterDelayMs(2, settings, () => 0)).toBe(0);
  });
});

describe("retry policy", () => {
  const settings = { baseMs: 100, capMs: 1000, maxAttempts: 4 };
  const state = { attemptsMade: 1, now: 1_000, deadline: 100_000, random: () => 0.5 };
  const decide = (result: AttemptResult, overrides: Partial<typeof state> = {}) => decideRetry(result, { ...state, ...overrides }, settings);

  test("outcome labels", () => {
    expect(outcomeOfStatus(200)).toBe("ok");
    expect(outcomeOfStatus(429)).toBe("429");
    expect(outcomeOfStatus(502)).toBe("other");
  });

  test("never retried: success, 400, 403, 404, other statuses, per-day 429", () => {
    expect(decide({ outcome: "ok", httpStatus: 200 })).toEqual({ retry: false, why: "success" });
    for (const outcome of ["400", "403", "404", "other"] as const) expect(decide({ outcome })).toMatchObject({ retry: false, why: "not_retryable" });
    expect(decide({ outcome: "429", error: quota429("GenerateRequestsPerDayPerProjectPerModel", "1s") })).toMatchObject({
      retry: false,
      why: "per_day_quota",
    });
  });

  test("retried: 429 per minute / tokens with their RetryInfo, 5xx, network and timeouts with backoff", () => {
    expect(decide({ outcome: "429", error: quota429("GenerateRequestsPerMinutePerProjectPerModel", "1.5s") })).toEqual({
      retry: true,
      reason: "429",
      delayMs: 1500,
      source: "retry_info",
    });
    expect(decide({ outcome: "429", error: quota429("GenerateContentInputTokensPerModelPerMinute", "0.25s") })).toMatchObject({
      retry: true,
      delayMs: 250,
    });
    for (const outcome of ["500", "503", "504", "network", "timeout"] as const) {
      expect(decide({ outcome }, { attemptsMade: 2 })).toEqual({ retry: true, reason: outcome, delayMs: 100, source: "backoff" });
    }
    expect(decide({ outcome: "429" })).toMatchObject({ retry: true, source: "backoff" });
  });

  test("Retry-After header when the body has no RetryInfo", () => {
    expect(decide({ outcome: "503", retryAfter: "2" })).toMatchObject({ retry: true, delayMs: 2000, source: "retry_after" });
    expect(decide({ outcome: "429", error: quota429(undefined), retryAfter: "3" })).toMatchObject({ delayMs: 3000, source: "retry_after" });
    expect(parseRetryAfterMs(new Date(61_000).toUTCString(), 1_000)).toBe(60_000);
    expect(parseRetryAfterMs("soon", 0)).toBeUndefined();
  });

  test("stops after the configured attempts", () => {
    expect(decide({ outcome: "503" }, { attemptsMade: 4 })).toMatchObject({ retry: false, why: "attempts_exhausted" });
  });

  test("a delay that would pass the deadline stops at once, telling the delay", () => {
    expect(decide({ outcome: "429", error: quota429("GenerateRequestsPerMinutePerProjectPerModel", "30s") }, { deadline: 20_000 })).toEqual({
      retry: false,
      why: "past_deadline",
      delayMs: 30_000,
      source: "retry_info",
    });
  });
});

describe("retry budget", () => {
  test("retries limited to ratio x requests + floor over the window", () => {
    let now = 0;
    const budget = new RetryBudget({ ratio: 0.2, floor: 2, windowMs: 1000 }, () => now);
    for (let i = 0; i < 10; i++) budget.recordRequest();
    const granted = Array.from({ length: 10 }, () => budget.tryRetry()).filter(Boolean).length;
    expect(granted).toBe(4); // 2 + 0.2 * 10
    now = 500;
    expect(budget.tryRetry()).toBe(false);
    now = 1_200; // the first requests and retries left the window
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
  });

  test("a long idle gap clears everything", () => {
    let now = 10_000;
    const budget = new RetryBudget({ ratio: 0, floor: 1, windowMs: 1000 }, () => now);
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
    now = 1_000_000;
    expect(budget.tryRetry()).toBe(true);
  });
});

describe("retry fairness", () => {
  test("a 500 right after a 500 of the same request is not retried again", () => {
    const settings = { baseMs: 1, capMs: 1, maxAttempts: 4 };
    const state = { attemptsMade: 2, now: 0, deadline: 1e9, random: () => 0 };
    expect(decideRetry({ outcome: "500" }, { ...state, previous: "500" }, settings)).toEqual({ retry: false, why: "repeated_failure" });
    expect(decideRetry({ outcome: "500" }, { ...state, previous: "503" }, settings).retry).toBe(true);
    expect(decideRetry({ outcome: "503" }, { ...state, previous: "503" }, settings).retry).toBe(true);
  });

  test("one tenant spending its retries leaves the others theirs", () => {
    const now = 0;
    const budgets = new RetryBudgets({ ratio: 0.1, floor: 2, windowMs: 1000 }, () => now);
    for (let i = 0; i < 10; i++) {
      budgets.recordRequest("noisy");
      budgets.recordRequest("quiet");
    }
    let noisy = 0;
    while (budgets.tryRetry("noisy")) noisy++;
    // Its own share: floor 2 + 10% of its 10 requests.
    expect(noisy).toBe(3);
    expect(budgets.tryRetry("quiet")).toBe(true);
  });

  test("the gateway's budget still bounds every tenant together", () => {
    const budgets = new RetryBudgets({ ratio: 0, floor: 2, windowMs: 1000 }, () => 0);
    const granted = ["a", "b", "c", "d"].filter((tenant) => {
      budgets.recordRequest(tenant);
      return budgets.tryRetry(tenant);
    });
    expect(granted).toEqual(["a", "b"]);
  });
});
