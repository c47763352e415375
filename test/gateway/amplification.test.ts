// How much one failing call is amplified when an official SDK's retries sit on top of the gateway's: the upstream
// answers 503 to everything, the gateway retries (RETRY_MAX_ATTEMPTS 4, backoff base 5 ms / cap 50 ms, a budget floor
// large enough never to bind) and gives up with Retry-After / retry-after-ms; each SDK then retries (or not) by its
// own policy. Counted: the calls that reached the gateway (gemini_gateway_requests_total), the upstream attempts (the
// simulator's stats), and the time the SDK waited between its calls (a recording fetch under the SDK).
//
// The numbers are exact: the gateway's attempts are fixed by RETRY_MAX_ATTEMPTS (the budget cannot bind), and each
// SDK's number of calls by its policy (@google/genai's retryOptions.attempts, the Interactions client's maxRetries 4,
// openai's maxRetries 2). Only @google/genai's waits are random (p-retry's jitter): they are checked against their
// bounds, and run compressed (see compressBackoff) so that the file stays fast.

import { createRequire } from "node:module";
import { GoogleGenAI } from "@google/genai";
import { GoogleGenerativeAI } from "@google/generative-ai";
import OpenAI from "openai";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { delta, sumBy } from "../helpers/metrics.js";
import { KEY_ALPHA, useSurfaceStack, type SurfaceStack } from "./surface-stack.js";

const MODEL = "gemini-2.5-flash";
const RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo";
/** The gateway's give-up wait: max(1 s, min(RETRY_CAP_MS, RETRY_BASE_MS x 2^attempts)) = 1 s here. */
const GIVE_UP_MS = 1000;
/** Timer slack when checking that an SDK waited at least what it was asked (Node may fire a timer ~1 ms early). */
const SLACK_MS = 5;

let stack: SurfaceStack;
useSurfaceStack((started) => (stack = started), { env: { RETRY_BASE_MS: "5", RETRY_CAP_MS: "50", RETRY_MAX_ATTEMPTS: "4", RETRY_BUDGET_FLOOR: "100000" } });
beforeEach(async () => {
  await stack.sim.setFaults([{ fault: { status: 503 } }]);
});
afterEach(() => {
  vi.unstubAllGlobals();
  expect(stack.errors).toEqual([]);
});

// ---------------------------------------------------------------------------------------------------------------
// Measuring
// ---------------------------------------------------------------------------------------------------------------

/** One HTTP call an SDK made, as its fetch saw it. */
interface Call {
  url: string;
  startedAt: number;
  answeredAt: number;
  status: number;
  retryAfter: string | null;
  retryAfterMs: string | null;
  body: string;
}

const realFetch = globalThis.fetch;

/** A fetch that records each call (its answer's body read from a clone) and otherwise changes nothing. */
function recordingFetch(calls: Call[]): typeof fetch {
  return async (input, init) => {
    const startedAt = performance.now();
    const response = await realFetch(input, init);
    const body = await response.clone().text();
    calls.push({
      url: typeof input === "string" ? input : input instanceof URL ? input.href : input.url,
      startedAt,
      answeredAt: performance.now(),
      status: response.status,
      retryAfter: response.headers.get("retry-after"),
      retryAfterMs: response.headers.get("retry-after-ms"),
      body,
    });
    return response;
  };
}

interface Amplification {
  /** SDK calls that reached the gateway: gemini_gateway_requests_total, by `route|code`. */
  gateway: Record<string, number>;
  /** Attempts the simulator received. */
  upstream: number;
  calls: Call[];
  /** Between one answer and the SDK's next call, in ms. */
  waits: number[];
  error: unknown;
}

const requestsTotal = async (): Promise<Map<string, number>> => sumBy(await stack.metrics(), "gemini_gateway_requests_total", ["route", "code"]);

/** Runs one SDK call that must fail, and counts what it caused. */
async function amplification(run: (fetch: typeof globalThis.fetch) => Promise<unknown>): Promise<Amplification> {
  const before = await requestsTotal();
  const upstreamBefore = (await stack.sim.stats()).requests;
  const calls: Call[] = [];
  const error = await run(recordingFetch(calls)).then(
    () => undefined,
    (e: unknown) => e,
  );
  // A call is counted when its turn record is made, just after its answer ends: wait for the last one.
  let gateway = new Map<string, number>();
  for (let i = 0; i < 100; i++) {
    gateway = delta(before, await requestsTotal());
    if ([...gateway.values()].reduce((a, b) => a + b, 0) >= calls.length) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const waits = calls.slice(1).map((call, i) => call.startedAt - calls[i]!.answeredAt);
  return { gateway: Object.fromEntries(gateway), upstream: (await stack.sim.stats()).requests - upstreamBefore, calls, waits, error };
}

/** Every answer the SDK got is the gateway's give-up: the upstream's 503 after 4 attempts, with the wait it asks for. */
function expectGiveUps(calls: readonly Call[]): void {
  for (const call of calls) {
    expect(call).toMatchObject({ status: 503, retryAfter: String(GIVE_UP_MS / 1000), retryAfterMs: String(GIVE_UP_MS) });
  }
}

const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

// ---------------------------------------------------------------------------------------------------------------
// @google/genai's own backoff (p-retry over `retry`): 1 s, 2 s, 4 s, 8 s x jitter in [1, 2), whatever the server asks.
// Waiting 15-30 s for real would make this file slow; the delays p-retry computes are recorded as they are, and
// handed to its timer divided by 1000. Everything else (the attempts, the requests, the order) is the SDK's own.
// ---------------------------------------------------------------------------------------------------------------

interface RetryLibrary {
  createTimeout(attempt: number, options: Record<string, unknown>): number;
}
const retryLibrary = createRequire(import.meta.url)("retry") as RetryLibrary;

async function compressBackoff<T>(run: (delays: number[]) => Promise<T>): Promise<T> {
  const original = retryLibrary.createTimeout;
  const delays: number[] = [];
  retryLibrary.createTimeout = (attempt, options) => {
    const delay = original.call(retryLibrary, attempt, options);
    delays.push(delay);
    return Math.max(1, Math.round(delay / 1000));
  };
  try {
    return await run(delays);
  } finally {
    retryLibrary.createTimeout = original;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The SDKs
// ---------------------------------------------------------------------------------------------------------------

describe("one failing call, amplified by each SDK (upstream 503 to everything)", () => {
  test("@google/genai models.generateContent, default options: no retries of its own: 1 call, 4 upstream attempts", async () => {
    const m = await amplification((fetch) => new GoogleGenAI({ apiKey: KEY_ALPHA, httpOptions: { baseUrl: stack.url, fetch } }).models.generateContent({ model: MODEL, contents: "hi" }));
    expect(m.error).toMatchObject({ status: 503 });
    expect(m.gateway).toEqual({ "generateContent|503": 1 });
    expect(m.upstream).toBe(4);
    expect(m.calls).toHaveLength(1);
    expectGiveUps(m.calls);
  });

  test("@google/genai models.generateContent with retryOptions {attempts: 5}: 5 calls, 20 upstream attempts; its backoff ignores Retry-After", async () => {
    const { m, delays } = await compressBackoff(async (delays) => {
      const m = await amplification((fetch) =>
        new GoogleGenAI({ apiKey: KEY_ALPHA, httpOptions: { baseUrl: stack.url, retryOptions: { attempts: 5 }, fetch } }).models.generateContent({ model: MODEL, contents: "hi" }),
      );
      return { m, delays };
    });
    expect(m.error).toMatchObject({ status: 503 });
    expect(m.gateway).toEqual({ "generateContent|503": 5 });
    expect(m.upstream).toBe(20);
    expect(m.calls).toHaveLength(5);
    expectGiveUps(m.calls);
    // Computed before the first answer arrived (p-retry's schedule), from 1 s doubling, each x [1, 2): never the 1 s
    // the gateway asked for after the first, and never read from the answer.
    expect(delays).toHaveLength(4);
    delays.forEach((delay, i) => {
      expect(delay).toBeGreaterThanOrEqual(1000 * 2 ** i);
      expect(delay).toBeLessThanOrEqual(2000 * 2 ** i);
    });
    expect(sum(delays)).toBeGreaterThanOrEqual(15_000);
  });

  test("@google/genai ai.interactions.create: its client retries 5xx 4 times, honouring retry-after-ms: 5 calls, 20 upstream attempts, 4 x 1 s waited", async () => {
    const m = await amplification((fetch) => new GoogleGenAI({ apiKey: KEY_ALPHA, httpOptions: { baseUrl: stack.url, fetch } }).interactions.create({ model: MODEL, input: "hi" }));
    expect(m.error).toBeInstanceOf(Error);
    expect(m.gateway).toEqual({ "interactions.create|503": 5 });
    // A create keeps state upstream, so the gateway retries it only after answers that say nothing was done: a 503 is one.
    expect(m.upstream).toBe(20);
    expect(m.calls).toHaveLength(5);
    expectGiveUps(m.calls);
    expect(m.waits).toHaveLength(4);
    for (const wait of m.waits) expect(wait).toBeGreaterThanOrEqual(GIVE_UP_MS - SLACK_MS);
  }, 20_000);

  test("@google/generative-ai (legacy): no retries: 1 call, 4 upstream attempts", async () => {
    const m = await amplification(async (fetch) => {
      // This SDK takes no fetch of its own: it calls the global one.
      vi.stubGlobal("fetch", fetch);
      try {
        return await new GoogleGenerativeAI(KEY_ALPHA).getGenerativeModel({ model: MODEL }, { baseUrl: stack.url }).generateContent("hi");
      } finally {
        vi.unstubAllGlobals();
      }
    });
    expect(m.error).toMatchObject({ status: 503 });
    expect(m.gateway).toEqual({ "generateContent|503": 1 });
    expect(m.upstream).toBe(4);
    expect(m.calls).toHaveLength(1);
    expectGiveUps(m.calls);
  });

  test("openai (maxRetries default 2) on /v1beta/openai/: 3 calls, 12 upstream attempts, 2 x 1 s waited (retry-after-ms)", async () => {
    const m = await amplification((fetch) =>
      new OpenAI({ apiKey: KEY_ALPHA, baseURL: `${stack.url}/v1beta/openai/`, fetch }).chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "hi" }] }),
    );
    expect(m.error).toMatchObject({ status: 503 });
    expect(m.gateway).toEqual({ "openai.chat.completions|503": 3 });
    expect(m.upstream).toBe(12);
    expect(m.calls).toHaveLength(3);
    expectGiveUps(m.calls);
    expect(m.waits).toHaveLength(2);
    for (const wait of m.waits) expect(wait).toBeGreaterThanOrEqual(GIVE_UP_MS - SLACK_MS);
  }, 20_000);
});

describe("the gateway's give-up answer", () => {
  test("after retrying a 503: Retry-After, retry-after-ms and a RetryInfo of the same wait", async () => {
    const res = await fetch(`${stack.url}/v1beta/models/${MODEL}:generateContent`, {
      method: "POST",
      headers: { "x-goog-api-key": KEY_ALPHA, "content-type": "application/json" },
      body: JSON.stringify({ contents: [{ parts: [{ text: "hi" }] }] }),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(res.headers.get("retry-after-ms")).toBe("1000");
    const body = (await res.json()) as { error: { code: number; details?: Array<Record<string, unknown>> } };
    expect(body.error.code).toBe(503);
    expect(body.error.details ?? []).toContainEqual({ "@type": RETRY_INFO, retryDelay: "1s" });
    expect((await stack.sim.stats()).requests).toBe(4);
  });

  test("after an upstream that cannot be reached (the gateway's own 503): the same three", async () => {
    await stack.sim.setFaults([{ fault: { kind: "reset" } }]);
    const res = await fetch(`${stack.url}/v1beta/models/${MODEL}:generateContent`, {
      method: "POST",
      headers: { "x-goog-api-key": KEY_ALPHA, "content-type": "application/json" },
      body: JSON.stringify({ contents: [{ parts: [{ text: "hi" }] }] }),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(res.headers.get("retry-after-ms")).toBe("1000");
    const body = (await res.json()) as { error: { code: number; details?: Array<Record<string, unknown>> } };
    expect(body.error.details ?? []).toContainEqual({ "@type": RETRY_INFO, retryDelay: "1s" });
    expect((await stack.sim.stats()).requests).toBe(4);
  });
});
