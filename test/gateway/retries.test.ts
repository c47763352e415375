// Every retry rule against the simulator's faults, with the exact number of upstream attempts from /_sim/stats.
import { describe, expect, test } from "vitest";
import { post, startStack, useStack, userContent, type Stack } from "./stack.js";

const GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent";
const STREAM = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse";
const PER_MINUTE = "GenerateRequestsPerMinutePerProjectPerModel-FreeTier";

let stack: Stack;
// A large floor: the budget is tested on its own stack below, and must not couple these tests.
useStack((started) => (stack = started), { ATTEMPT_TIMEOUT_MS: "200", RETRY_BUDGET_FLOOR: "1000" });

const attempts = async (): Promise<number> => (await stack.sim.stats()).requests;

describe("retried", () => {
  test("a 429 with retryDelay 1.5s is retried after about 1.5 s and succeeds", async () => {
    await stack.sim.setFaults([{ fault: { status: 429, retryDelay: "1.5s", quotaId: PER_MINUTE }, times: 1 }]);
    const started = Date.now();
    const res = await post(stack, GENERATE, userContent("hi"));
    expect(res.status).toBe(200);
    await res.text();
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    expect(await attempts()).toBe(2);
    expect(stack.records[0]!.attempts).toMatchObject([
      { outcome: "429", quota: "per_minute", retry: { reason: "429", delayMs: 1500, source: "retry_info" } },
      { outcome: "ok", httpStatus: 200 },
    ]);
  });

  test("a token-quota 429 is retried too", async () => {
    await stack.sim.setFaults([{ fault: { status: 429, retryDelay: "0.01s", quotaId: "GenerateContentInputTokensPerModelPerMinute" }, times: 1 }]);
    expect((await post(stack, GENERATE, userContent("hi"))).status).toBe(200);
    expect(await attempts()).toBe(2);
    expect(stack.records[0]!.attempts[0]).toMatchObject({ quota: "tokens" });
  });

  test("a 503 burst is retried with backoff", async () => {
    await stack.sim.setFaults([{ fault: { status: 503 }, times: 2 }]);
    const res = await post(stack, STREAM, userContent("hi"));
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/"finishReason":"STOP"/);
    expect(await attempts()).toBe(3);
    expect(stack.records[0]!.attempts.map((a) => a.retry?.source ?? a.outcome)).toEqual(["backoff", "backoff", "ok"]);
  });

  test("500, 504, a connection reset and an attempt timeout are retried", async () => {
    await stack.sim.setFaults([
      { fault: { status: 500 }, times: 1 },
      { fault: { status: 504 }, times: 1 },
      { fault: { kind: "reset" }, times: 1 },
    ]);
    expect((await post(stack, GENERATE, userContent("hi"))).status).toBe(200);
    expect(await attempts()).toBe(4);
    expect(stack.records[0]!.attempts.map((a) => a.outcome)).toEqual(["500", "504", "network", "ok"]);

    await stack.sim.setFaults([{ fault: { kind: "hang", ms: 2000 }, times: 1 }]);
    expect((await post(stack, GENERATE, userContent("hi"))).status).toBe(200);
    expect(stack.records[1]!.attempts.map((a) => a.outcome)).toEqual(["timeout", "ok"]);
  });

  test("after the configured attempts, the client gets the upstream's last answer", async () => {
    await stack.sim.setFaults([{ fault: { status: 503 } }]);
    const res = await post(stack, GENERATE, userContent("hi"));
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: 503, status: "UNAVAILABLE" } });
    expect(await attempts()).toBe(4);
  });

  test("an upstream that stays unreachable: 503 envelope made by the gateway", async () => {
    await stack.sim.setFaults([{ fault: { kind: "reset" } }]);
    const res = await post(stack, GENERATE, userContent("hi"));
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: 503, status: "UNAVAILABLE" } });
    expect(await attempts()).toBe(4);
    expect(stack.records[0]).toMatchObject({ httpStatus: 503, errorType: "network" });
  });
});

describe("not retried", () => {
  test("a per-day 429", async () => {
    await stack.sim.setFaults([{ fault: { status: 429, retryDelay: "1s", quotaId: "GenerateRequestsPerDayPerProjectPerModel-FreeTier" } }]);
    const res = await post(stack, GENERATE, userContent("hi"));
    expect(res.status).toBe(429);
    await res.text();
    expect(await attempts()).toBe(1);
    expect(stack.records[0]).toMatchObject({ rateLimitedQuota: "per_day", errorType: "429" });
  });

  for (const status of [400, 403, 404] as const) {
    test(`a ${status}`, async () => {
      await stack.sim.setFaults([{ fault: { status } }]);
      const res = await post(stack, GENERATE, userContent("hi"));
      expect(res.status).toBe(status);
      expect((await res.json()) as unknown).toMatchObject({ error: { code: status } });
      expect(await attempts()).toBe(1);
    });
  }

  test("a delay longer than the deadline: the 429 at once, RetryInfo intact, a matching Retry-After", async () => {
    await stack.sim.setFaults([{ fault: { status: 429, retryDelay: "300s", quotaId: PER_MINUTE } }]);
    const res = await post(stack, GENERATE, userContent("hi"));
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("300");
    const body = (await res.json()) as { error: { details: Array<Record<string, unknown>> } };
    expect(body.error.details).toContainEqual({ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "300s" });
    expect(await attempts()).toBe(1);
  });

  test("the client's X-Server-Timeout shortens the deadline", async () => {
    await stack.sim.setFaults([{ fault: { status: 429, retryDelay: "2.5s", quotaId: PER_MINUTE } }]);
    const res = await post(stack, GENERATE, userContent("hi"), { "x-server-timeout": "2" });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("3");
    expect(await attempts()).toBe(1);
  });

  test("the deadline passing during attempts: 504 from the gateway", async () => {
    await stack.sim.setFaults([{ fault: { kind: "hang", ms: 5000 } }]);
    const res = await post(stack, GENERATE, userContent("hi"), { "x-server-timeout": "0.3" });
    expect(res.status).toBe(504);
    expect(await res.json()).toMatchObject({ error: { code: 504, status: "DEADLINE_EXCEEDED" } });
    expect(stack.records[0]).toMatchObject({ httpStatus: 504, errorType: "timeout" });
  });
});

describe("retry budget", () => {
  test("a 100% 503 outage stays within the budget: ratio x requests + floor", async () => {
    const outage = await startStack({ RETRY_BUDGET_RATIO: "0.2", RETRY_BUDGET_FLOOR: "3", RETRY_BUDGET_WINDOW_MS: "60000" });
    try {
      await outage.sim.setFaults([{ fault: { status: 503 } }]);
      const requests = 20;
      for (let i = 0; i < requests; i++) expect((await post(outage, GENERATE, userContent(`hi ${i}`))).status).toBe(503);
      const upstream = (await outage.sim.stats()).requests;
      expect(upstream).toBeGreaterThan(requests);
      expect(upstream - requests).toBeLessThanOrEqual(3 + 0.2 * requests);
      expect(outage.records.filter((r) => r.retryBudgetExhausted).length).toBeGreaterThan(0);
    } finally {
      await outage.close();
    }
  });
});
