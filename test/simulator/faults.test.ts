// Fault injection, quotas, latency and stats over HTTP, with what the SDKs surface for each.
import { ApiError, GoogleGenAI } from "@google/genai";
import { GoogleGenerativeAI, GoogleGenerativeAIFetchError } from "@google/generative-ai";
import { describe, expect, test } from "vitest";
import { CANONICAL_MESSAGES } from "../../src/gemini/errors.js";
import { StatsRecorder } from "../../src/simulator/stats.js";
import type { FaultRule, TestSimulator } from "../helpers/sim.js";
import { startTestSimulator, useTestSimulator } from "../helpers/sim.js";

const HELLO = { contents: [{ role: "user", parts: [{ text: "Hello there, simulator" }] }] };
const HEADERS = { "x-goog-api-key": "k", "content-type": "application/json" };

let sim: TestSimulator;
useTestSimulator((started) => (sim = started));

const url = (method: string, model = "gemini-2.5-flash", base = sim.url) =>
  `${base}/v1beta/models/${model}:${method}${method === "streamGenerateContent" ? "?alt=sse" : ""}`;

function post(target: string, signal?: AbortSignal): Promise<Response> {
  return fetch(target, { method: "POST", headers: HEADERS, body: JSON.stringify(HELLO), signal });
}

const genai = (base = sim.url) => new GoogleGenAI({ apiKey: "k", httpOptions: { baseUrl: base } });

describe("status faults", () => {
  test.each([400, 403, 404, 500, 503, 504] as const)("%i: canonical envelope; the new SDK's ApiError carries it", async (status) => {
    await sim.setFaults([{ fault: { status } }]);
    const res = await post(url("generateContent"));
    expect(res.status).toBe(status);
    const canonical = CANONICAL_MESSAGES[status]!;
    expect(await res.text()).toBe(`${JSON.stringify({ error: { code: status, message: canonical.message, status: canonical.status } }, null, 2)}\n`);
    const error = (await genai().models.generateContent({ model: "gemini-2.5-flash", contents: "x" }).catch((e: unknown) => e)) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(status);
    expect((await sim.stats()).byFault).toEqual({ [`status:${status}`]: 2 });
  });

  test("429 without details is the bare RESOURCE_EXHAUSTED; with a quotaId it names that quota", async () => {
    await sim.setFaults([{ fault: { status: 429 }, times: 1 }, { fault: { status: 429, quotaId: "GenerateRequestsPerDayPerProjectPerModel-FreeTier" } }]);
    const bare = (await (await post(url("generateContent"))).json()) as { error: Record<string, unknown> };
    expect(bare.error).toEqual({ code: 429, message: "Resource has been exhausted (e.g. check quota).", status: "RESOURCE_EXHAUSTED" });
    const daily = (await (await post(url("generateContent"))).json()) as { error: { details: Array<Record<string, unknown>> } };
    const failure = daily.error.details.find((d) => String(d["@type"]).endsWith("QuotaFailure")) as { violations: Array<{ quotaId: string }> };
    expect(failure.violations[0]!.quotaId).toBe("GenerateRequestsPerDayPerProjectPerModel-FreeTier");
    expect(daily.error.details.some((d) => String(d["@type"]).endsWith("RetryInfo"))).toBe(false);
  });

  test("a 429 on a stream comes before any event: status and pretty JSON", async () => {
    await sim.setFaults([{ when: { method: "streamGenerateContent" }, fault: { status: 429, retryDelay: "0.5s" } }]);
    const res = await post(url("streamGenerateContent"));
    expect(res.status).toBe(429);
    const text = await res.text();
    expect(text).toMatch(/^\{\n {2}"error": \{/);
    expect(text).toContain('"retryDelay": "0.5s"');
    const error = (await genai().models.generateContentStream({ model: "gemini-2.5-flash", contents: "x" }).catch((e: unknown) => e)) as ApiError;
    expect(error.status).toBe(429);
    expect(error.message).toContain('"retryDelay":"0.5s"');
  });
});

describe("connection faults", () => {
  test("reset: the socket is destroyed before any byte; no status is counted", async () => {
    await sim.setFaults([{ fault: { kind: "reset" } }]);
    await expect(post(url("generateContent"))).rejects.toThrow(TypeError);
    const legacy = new GoogleGenerativeAI("k").getGenerativeModel({ model: "gemini-2.5-flash" }, { baseUrl: sim.url });
    await expect(legacy.generateContent("x")).rejects.toThrow(/fetch/i);
    const stats = await sim.stats();
    expect(stats.byFault).toEqual({ reset: 2 });
    expect(stats.byStatus).toEqual({});
    expect(stats.requests).toBe(2);
  });

  test("hang with ms: nothing for that long, then the connection is dropped", async () => {
    await sim.setFaults([{ fault: { kind: "hang", ms: 200 } }]);
    const started = performance.now();
    await expect(post(url("generateContent"))).rejects.toThrow(TypeError);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
  });

  test("hang without ms: until the client goes away; close() ends hung requests and streams", async () => {
    const own = await startTestSimulator();
    await own.setFaults([{ fault: { kind: "hang" }, times: 1 }, { fault: { kind: "hang", afterChunks: 1 } }]);
    const controller = new AbortController();
    const hung = post(url("generateContent", "gemini-2.5-flash", own.url), controller.signal);
    setTimeout(() => controller.abort(), 50);
    await expect(hung).rejects.toThrow(/abort/i);

    const stream = await post(url("streamGenerateContent", "gemini-2.5-flash", own.url));
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first.startsWith("data: {")).toBe(true);
    const rest = reader.read();
    await own.close();
    await expect(rest).rejects.toThrow();
  });
});

describe("stream faults", () => {
  test("midstream_error on SSE: N events, then the raw pretty error without data: prefix", async () => {
    await sim.setFaults([{ fault: { kind: "midstream_error", afterChunks: 2 } }]);
    const res = await post(url("streamGenerateContent"));
    expect(res.status).toBe(200);
    const text = await res.text();
    const parts = text.split("\r\n\r\n");
    expect(parts).toHaveLength(3);
    expect(parts.slice(0, 2).every((p) => p.startsWith("data: {"))).toBe(true);
    expect(JSON.parse(parts[2]!)).toEqual({
      error: {
        code: 503,
        message: "This model is currently experiencing high demand. Spikes in demand are usually temporary. Please try again later.",
        status: "UNAVAILABLE",
      },
    });
    expect(parts[2]).toBe(`${JSON.stringify(JSON.parse(parts[2]!), null, 2)}\n`);
    const stats = await sim.stats();
    const lastUsage = (JSON.parse(parts[1]!.slice(6)) as { usageMetadata: { totalTokenCount: number } }).usageMetadata;
    expect(stats.tokens.total).toBe(lastUsage.totalTokenCount);
    expect(stats.byStatus).toEqual({ "200": 1 });
  });

  test("midstream_error on the array form ends the array with the error element; other methods get the status", async () => {
    await sim.setFaults([{ fault: { kind: "midstream_error", afterChunks: 1, status: 500 } }]);
    const res = await fetch(url("streamGenerateContent").replace("?alt=sse", ""), { method: "POST", headers: HEADERS, body: JSON.stringify(HELLO) });
    const array = (await res.json()) as Array<Record<string, unknown>>;
    expect(array).toHaveLength(2);
    expect(array[1]).toEqual({ error: { code: 500, message: CANONICAL_MESSAGES[500]!.message, status: "INTERNAL" } });
    expect((await post(url("generateContent"))).status).toBe(500);
    expect((await post(url("countTokens"))).status).toBe(500);
  });

  test("finish: the reply ends with the forced finishReason; the legacy SDK refuses its text", async () => {
    await sim.setFaults([{ fault: { kind: "finish", finishReason: "SAFETY" } }]);
    const chunks = (await (await post(url("streamGenerateContent"))).text()).trim().split("\r\n\r\n");
    const last = JSON.parse(chunks.at(-1)!.slice(6)) as { candidates: Array<{ finishReason: string }> };
    expect(last.candidates[0]!.finishReason).toBe("SAFETY");
    const legacy = new GoogleGenerativeAI("k").getGenerativeModel({ model: "gemini-2.5-flash" }, { baseUrl: sim.url });
    const result = await legacy.generateContent("x");
    expect(result.response.candidates?.[0]?.finishReason).toBe("SAFETY");
    expect(() => result.response.text()).toThrow(/SAFETY/);
  });

  test("block on a stream: one event with promptFeedback, no candidates, prompt-only usage", async () => {
    await sim.setFaults([{ fault: { kind: "block", blockReason: "PROHIBITED_CONTENT" } }]);
    const events = (await (await post(url("streamGenerateContent"))).text()).trim().split("\r\n\r\n");
    expect(events).toHaveLength(1);
    const chunk = JSON.parse(events[0]!.slice(6)) as Record<string, unknown>;
    expect(chunk.candidates).toBeUndefined();
    expect(chunk.promptFeedback).toMatchObject({ blockReason: "PROHIBITED_CONTENT" });
    const usage = chunk.usageMetadata as Record<string, number>;
    expect(usage.totalTokenCount).toBe(usage.promptTokenCount);
  });

  test("delay: the answer comes normally, later", async () => {
    await sim.setFaults([{ fault: { kind: "delay", ms: 150 } }]);
    const started = performance.now();
    const res = await post(url("generateContent"));
    expect(res.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    expect((await sim.stats()).byFault).toEqual({ delay: 1 });
  });
});

describe("rules", () => {
  test("first matching rule applies; when filters by model and method; times expire", async () => {
    const rules: FaultRule[] = [
      { when: { model: "gemini-2.0-flash" }, fault: { status: 503 } },
      { when: { method: "countTokens" }, fault: { status: 500 }, times: 2 },
      { fault: { status: 504 }, times: 1 },
    ];
    await sim.setFaults(rules);
    const statuses = [];
    statuses.push((await post(url("generateContent", "gemini-2.0-flash"))).status);
    statuses.push((await post(url("countTokens"))).status);
    statuses.push((await post(url("generateContent"))).status);
    statuses.push((await post(url("generateContent"))).status);
    statuses.push((await post(url("countTokens"))).status);
    statuses.push((await post(url("countTokens"))).status);
    expect(statuses).toEqual([503, 500, 504, 200, 500, 200]);
    const shown = (await (await fetch(`${sim.url}/_sim/faults`)).json()) as { rules: FaultRule[] };
    expect(shown.rules).toEqual([rules[0]]);
  });

  test("probability with a seed gives a reproducible sequence", async () => {
    const run = async () => {
      await sim.setFaults([{ fault: { status: 503 }, probability: 0.5 }], 42);
      const statuses: number[] = [];
      for (let i = 0; i < 16; i += 1) statuses.push((await post(url("countTokens"))).status);
      return statuses;
    };
    const first = await run();
    expect(await run()).toEqual(first);
    expect(new Set(first)).toEqual(new Set([200, 503]));
  });

  test("a bad rule set is a 400 naming each problem, and the rules in force stay", async () => {
    await sim.setFaults([{ fault: { status: 503 } }]);
    const res = await fetch(`${sim.url}/_sim/faults`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ rules: [{ fault: { kind: "explode" } }, { fault: { status: 503 }, probability: 2 }] }),
    });
    expect(res.status).toBe(400);
    const message = ((await res.json()) as { error: { message: string } }).error.message;
    expect(message.split("\n")).toHaveLength(2);
    expect(message).toContain("rules.1.probability");
    expect((await post(url("generateContent"))).status).toBe(503);
  });
});

describe("quotas", () => {
  test("rpm per key and model: a 429 with QuotaFailure and a fractional retryDelay from the window", async () => {
    const limited = await startTestSimulator({ rpm: 2 });
    try {
      const model = (key: string, name = "gemini-2.5-flash") =>
        new GoogleGenerativeAI(key).getGenerativeModel({ model: name }, { baseUrl: limited.url });
      await model("a").generateContent("one");
      await model("a").generateContent("two");
      const error = (await model("a").generateContent("three").catch((e: unknown) => e)) as GoogleGenerativeAIFetchError;
      expect(error).toBeInstanceOf(GoogleGenerativeAIFetchError);
      expect(error.status).toBe(429);
      const details = error.errorDetails as Array<Record<string, unknown>>;
      const retryDelay = details.find((d) => String(d["@type"]).endsWith("RetryInfo"))?.retryDelay as string;
      expect(retryDelay).toMatch(/^\d+(\.\d{1,3})?s$/);
      const seconds = Number.parseFloat(retryDelay);
      expect(seconds).toBeGreaterThan(0);
      expect(seconds).toBeLessThanOrEqual(60);
      const failure = details.find((d) => String(d["@type"]).endsWith("QuotaFailure")) as { violations: Array<Record<string, unknown>> };
      expect(failure.violations[0]).toMatchObject({
        quotaId: "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
        quotaDimensions: { location: "global", model: "gemini-2.5-flash" },
        quotaValue: "2",
      });
      expect(details.some((d) => String(d["@type"]).endsWith("Help"))).toBe(true);
      expect(error.message).toContain(`Please retry in ${retryDelay}.`);
      // other keys and other models have their own windows
      await model("b").generateContent("one");
      await model("a", "gemini-2.0-flash").generateContent("one");
      expect((await limited.stats()).byStatus).toEqual({ "200": 4, "429": 1 });
    } finally {
      await limited.close();
    }
  });

  test("tpm counts input tokens; rpd names the daily quota", async () => {
    const limited = await startTestSimulator({ tpm: 8, rpd: 3 });
    try {
      const send = (text: string) =>
        fetch(url("generateContent", "gemini-2.5-flash", limited.url), {
          method: "POST",
          headers: HEADERS,
          body: JSON.stringify({ contents: [{ parts: [{ text }] }] }),
        });
      expect((await send("one two three four five")).status).toBe(200);
      const overTokens = (await (await send("six seven eight nine")).json()) as { error: { details: Array<Record<string, unknown>> } };
      expect(JSON.stringify(overTokens.error.details)).toContain("GenerateContentInputTokensPerModelPerMinute-FreeTier");
      expect((await send("ten")).status).toBe(200);
      expect((await send("x")).status).toBe(200);
      const overDay = (await (await send("y")).json()) as { error: { details: Array<Record<string, unknown>> } };
      expect(JSON.stringify(overDay.error.details)).toContain("GenerateRequestsPerDayPerProjectPerModel-FreeTier");
    } finally {
      await limited.close();
    }
  });
});

describe("latency and stats", () => {
  test("ttftMs and tokensPerSecond: streams trickle chunk by chunk", async () => {
    const slow = await startTestSimulator({ ttftMs: 100, tokensPerSecond: 100, replyTokens: { min: 20, max: 20 } });
    try {
      const started = performance.now();
      const res = await post(url("streamGenerateContent", "gemini-2.0-flash", slow.url));
      const reader = res.body!.getReader();
      const arrivals: number[] = [];
      for (let r = await reader.read(); !r.done; r = await reader.read()) arrivals.push(performance.now() - started);
      // 20 tokens in 4 chunks of 5: the first after ttft, each next one 50 ms later (lower bounds only)
      expect(arrivals[0]).toBeGreaterThanOrEqual(95);
      expect(arrivals.at(-1)!).toBeGreaterThanOrEqual(245);
    } finally {
      await slow.close();
    }
  });

  test("stats count every model-API request by method, model, status and fault, and the tokens reported", async () => {
    await sim.setFaults([{ when: { model: "gemini-2.0-flash" }, fault: { status: 503 }, times: 1 }]);
    const unary = (await (await post(url("generateContent"))).json()) as { usageMetadata: Record<string, number> };
    const events = (await (await post(url("streamGenerateContent", "gemini-2.5-pro"))).text()).trim().split("\r\n\r\n");
    const streamUsage = (JSON.parse(events.at(-1)!.slice(6)) as { usageMetadata: Record<string, number> }).usageMetadata;
    await post(url("countTokens"));
    await post(url("generateContent", "gemini-2.0-flash"));
    await fetch(`${sim.url}/v1beta/models?key=k`);
    await fetch(`${sim.url}/v1beta/models/gemini-2.5-pro?key=k`);
    await fetch(`${sim.url}/nowhere`);
    const stats = await sim.stats();
    expect(stats).toEqual({
      requests: 6,
      byMethod: { ...StatsRecorder.empty().byMethod, generateContent: 2, streamGenerateContent: 1, countTokens: 1, listModels: 1, getModel: 1 },
      byModel: { "gemini-2.5-flash": 2, "gemini-2.5-pro": 1, "gemini-2.0-flash": 1 },
      byStatus: { "200": 5, "503": 1 },
      byFault: { "status:503": 1 },
      tokens: {
        prompt: unary.usageMetadata.promptTokenCount! + streamUsage.promptTokenCount!,
        candidates: unary.usageMetadata.candidatesTokenCount! + streamUsage.candidatesTokenCount!,
        thoughts: unary.usageMetadata.thoughtsTokenCount! + streamUsage.thoughtsTokenCount!,
        cached: 0,
        toolUse: 0,
        total: unary.usageMetadata.totalTokenCount! + streamUsage.totalTokenCount!,
      },
    });
    await sim.resetStats();
    expect((await sim.stats()).requests).toBe(0);
  });
});

describe("faults on the wider surface", () => {
  const document = Array.from({ length: 1100 }, (_, i) => `word${i % 40}`).join(" ");

  test("status faults by operation name: the SDK's ApiError for caches, files, batches and embeddings", async () => {
    await sim.setFaults([
      { when: { method: "createCachedContent" }, fault: { status: 503 } },
      { when: { method: "uploadFileData" }, fault: { status: 429, retryDelay: "2s" } },
      { when: { method: "batchEmbedContents", model: "gemini-embedding-001" }, fault: { status: 500 } },
    ]);
    const ai = genai();
    const statusOf = async (promise: Promise<unknown>) => ((await promise.catch((e: unknown) => e)) as ApiError).status;
    expect(await statusOf(ai.caches.create({ model: "gemini-2.5-flash", config: { contents: document } }))).toBe(503);
    const upload = (await ai.files.upload({ file: new Blob(["abc"], { type: "text/plain" }) }).catch((e: unknown) => e)) as ApiError;
    expect(upload.status).toBe(429);
    expect(upload.message).toContain('"retryDelay":"2s"');
    expect(JSON.parse(upload.message).error.details[1].violations[0].quotaDimensions).toEqual({ location: "global" });
    expect(await statusOf(ai.models.embedContent({ model: "gemini-embedding-001", contents: "x" }))).toBe(500);
    const stats = await sim.stats();
    expect(stats.byFault).toEqual({ "status:503": 1, "status:429": 1, "status:500": 1 });
    expect(stats.byMethod).toMatchObject({ createCachedContent: 1, createFile: 1, uploadFileData: 1, batchEmbedContents: 1 });
    expect(stats.byStatus).toEqual({ "200": 1, "429": 1, "500": 1, "503": 1 });
  });

  test("reset, hang, delay and midstream_error apply to every operation", async () => {
    const batch = await genai().batches.create({ model: "gemini-2.0-flash", src: [{ contents: "x" }] });
    await sim.setFaults([
      { when: { method: "getBatch" }, fault: { kind: "reset" }, times: 1 },
      { when: { method: "listFiles" }, fault: { kind: "hang", ms: 50 }, times: 1 },
      { when: { method: "embedContent" }, fault: { kind: "midstream_error", status: 504 }, times: 1 },
      { when: { method: "getBatch" }, fault: { kind: "delay", ms: 20 }, times: 1 },
    ]);
    await expect(fetch(`${sim.url}/v1beta/${batch.name}?key=k`)).rejects.toThrow(TypeError);
    await expect(fetch(`${sim.url}/v1beta/files?key=k`)).rejects.toThrow(TypeError);
    const embed = await fetch(`${sim.url}/v1beta/models/gemini-embedding-001:embedContent?key=k`, { method: "POST", body: JSON.stringify({ content: { parts: [{ text: "x" }] } }) });
    expect(embed.status).toBe(504);
    expect((await genai().batches.get({ name: batch.name! })).name).toBe(batch.name);
    expect((await sim.stats()).byFault).toEqual({ reset: 1, hang: 1, midstream_error: 1, delay: 1 });
  });

  test("a rule naming an unknown operation is refused", async () => {
    const res = await fetch(`${sim.url}/_sim/faults`, { method: "PUT", body: JSON.stringify({ rules: [{ when: { method: "createFiles" }, fault: { status: 500 } }] }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("rules.0.when.method");
  });
});
