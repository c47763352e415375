// A mixed workload through the real gateway to the simulator; every telemetry counter must equal what the clients
// saw and what the simulator's /_sim/stats counted, exactly.

import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadGatewayConfig } from "../../src/config/gateway.js";
import { finishReasonLabel, truncationCause } from "../../src/gemini/finish.js";
import { TOKEN_TYPES, tokenBreakdown } from "../../src/gemini/usage.js";
import type { GenerateContentResponse } from "../../src/gemini/types.js";
import { startGateway } from "../../src/server/gateway.js";
import type { RunningGateway } from "../../src/server/gateway.js";
import { normalizeModel } from "../../src/telemetry/pricing.js";
import { startTestSimulator } from "../helpers/sim.js";
import type { FaultRule, TestSimulator } from "../helpers/sim.js";
import { startHarness } from "./helpers.js";
import type { Harness } from "./helpers.js";

const KEY = "e2e-gateway-key";
const MODELS = ["gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.0-flash", "gemini-2.0-flash-lite"];

/** What one client saw of one call. */
interface Seen {
  model: string;
  status: number;
  /** The last response object (or chunk) received; undefined when none. */
  last?: GenerateContentResponse;
  stream: boolean;
  aborted: boolean;
}

type Series = Map<string, number>;

function parseMetrics(body: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  return body
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((line) => {
      const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)!;
      const labels: Record<string, string> = {};
      for (const [, k, v] of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
      return { name: m[1]!, labels, value: Number(m[3]) };
    });
}

/** Sums a metric's samples grouped by some of its labels (key: label values joined by `|`). */
function sumBy(body: string, name: string, by: string[]): Series {
  const out: Series = new Map();
  for (const s of parseMetrics(body)) {
    if (s.name !== name) continue;
    const key = by.map((b) => s.labels[b] ?? "").join("|");
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  for (const [k, v] of out) if (v === 0) out.delete(k);
  return out;
}

function tally(keys: string[]): Series {
  const out: Series = new Map();
  for (const k of keys) out.set(k, (out.get(k) ?? 0) + 1);
  return out;
}

describe("end to end: telemetry equals what clients and the simulator saw", () => {
  let sim: TestSimulator;
  let gateway: RunningGateway;
  let h: Harness;
  const seen: Seen[] = [];

  async function call(model: string, options: { stream?: "sse" | "array"; maxOutputTokens?: number; abortAfterChunks?: number } = {}): Promise<void> {
    const method = options.stream ? "streamGenerateContent" : "generateContent";
    const query = options.stream === "sse" ? "?alt=sse" : "";
    const body = {
      contents: [{ role: "user", parts: [{ text: `Tell me about call ${seen.length} on ${model}` }] }],
      ...(options.maxOutputTokens ? { generationConfig: { maxOutputTokens: options.maxOutputTokens } } : {}),
    };
    const abort = new AbortController();
    const res = await fetch(`${gateway.url}/v1beta/models/${model}:${method}${query}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-goog-api-key": KEY },
      body: JSON.stringify(body),
      signal: abort.signal,
    });
    const entry: Seen = { model, status: res.status, stream: Boolean(options.stream), aborted: false };
    seen.push(entry);
    if (res.status !== 200) {
      await res.text();
      return;
    }
    if (!options.stream) {
      entry.last = (await res.json()) as GenerateContentResponse;
      return;
    }
    if (options.stream === "array") {
      const parsed = JSON.parse(await res.text()) as GenerateContentResponse[];
      entry.last = parsed.filter((c) => !("error" in c)).at(-1);
      return;
    }
    // SSE: read events as they come; a mid-stream error ends with a raw error object (no `data:`), which is skipped.
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let events = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf("\r\n\r\n")) >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 4);
          if (!event.startsWith("data: ")) continue;
          entry.last = JSON.parse(event.slice("data: ".length)) as GenerateContentResponse;
          events += 1;
        }
        if (options.abortAfterChunks !== undefined && events >= options.abortAfterChunks) {
          entry.aborted = true;
          abort.abort();
          break;
        }
      }
    } catch (err) {
      if (!entry.aborted) throw err;
    }
  }

  async function withFaults(rules: FaultRule[], run: () => Promise<void>): Promise<void> {
    await sim.setFaults(rules, 1);
    await run();
    await sim.clearFaults();
  }

  beforeAll(async () => {
    sim = await startTestSimulator();
    h = await startHarness({}, { isKnownTenant: (t) => t === "e2e" });
    const config = loadGatewayConfig({
      PORT: "0",
      HOST: "127.0.0.1",
      GEMINI_BASE_URL: sim.url,
      GEMINI_API_KEY: "upstream-key",
      GATEWAY_KEYS: `${KEY}:e2e`,
      RETRY_BASE_MS: "5",
      RETRY_CAP_MS: "20",
    });
    const quiet = new Writable({ write: (_chunk, _encoding, callback) => callback() });
    gateway = await startGateway({ gateway: config }, { logger: pino({ level: "silent" }, quiet), turnSink: h.telemetry.turnSink });

    // plain traffic on every model, unary and both stream framings
    for (const model of MODELS) {
      await call(model);
      await call(model, { stream: "sse" });
      await call(model, { stream: "array" });
    }
    // MAX_TOKENS: a small limit on a non-thinking model (output limit), and on thinking models (thoughts eat it)
    await call("gemini-2.0-flash", { maxOutputTokens: 5 });
    await call("gemini-2.5-flash", { maxOutputTokens: 8 });
    await call("gemini-2.5-pro", { maxOutputTokens: 8, stream: "sse" });
    // SAFETY finish, a blocked prompt
    await withFaults([{ when: { model: "gemini-2.5-flash" }, fault: { kind: "finish", finishReason: "SAFETY" }, times: 1 }], () => call("gemini-2.5-flash"));
    await withFaults([{ when: { model: "gemini-2.0-flash" }, fault: { kind: "block", blockReason: "SAFETY" }, times: 1 }], () => call("gemini-2.0-flash", { stream: "sse" }));
    // a per-minute 429 and two 503s, retried; a per-day 429 handed to the client
    await withFaults(
      [{ fault: { status: 429, retryDelay: "0.02s", quotaId: "GenerateRequestsPerMinutePerProjectPerModel-FreeTier" }, times: 1 }],
      () => call("gemini-2.5-flash-lite"),
    );
    await withFaults([{ fault: { status: 503 }, times: 2 }], () => call("gemini-2.0-flash-lite", { stream: "sse" }));
    await withFaults([{ fault: { status: 429, quotaId: "GenerateRequestsPerDayPerProjectPerModel" }, times: 1 }], () => call("gemini-2.5-pro"));
    // a mid-stream error, and a client that goes away mid-stream while the upstream hangs
    await withFaults([{ fault: { kind: "midstream_error", afterChunks: 2 }, times: 1 }], () => call("gemini-2.5-flash", { stream: "sse" }));
    await withFaults([{ fault: { kind: "hang", afterChunks: 2 }, times: 1 }], () => call("gemini-2.5-pro", { stream: "sse", abortAfterChunks: 2 }));
    // the sink runs when the gateway has finished each call: wait for the last (aborted) one to land
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const aborts = sumBy((await h.scrape()).body, "gemini_gateway_client_aborts_total", []);
      if (aborts.get("") === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }, 60_000);

  afterAll(async () => {
    await gateway?.close();
    await sim?.close();
    await h?.close();
  });

  it("covers every case of the workload", () => {
    const finishes = seen.filter((s) => s.last).map((s) => finishReasonLabel(facts(s.last!)));
    expect(new Set(finishes)).toEqual(new Set(["stop", "max_tokens", "safety", "blocked", "unspecified"]));
    const causes = seen.filter((s) => s.last).map((s) => truncationCause(facts(s.last!)));
    expect(causes).toContain("thinking");
    expect(causes).toContain("output_limit");
    expect(seen.filter((s) => s.status === 429)).toHaveLength(1);
    expect(seen.filter((s) => s.aborted)).toHaveLength(1);
  });

  it("tokens by model and type equal the usage the clients received, and the simulator's totals", async () => {
    const { body } = await h.scrape();
    const expected: Series = new Map();
    for (const s of seen) {
      const usage = s.last?.usageMetadata;
      if (!usage) continue;
      const b = tokenBreakdown(usage);
      for (const type of TOKEN_TYPES) {
        const key = `${s.model}|e2e|${type}`;
        if (b[type] > 0) expected.set(key, (expected.get(key) ?? 0) + b[type]);
      }
    }
    expect(sumBy(body, "gemini_gateway_tokens_total", ["model", "tenant", "type"])).toEqual(expected);
    const total = [...expected.values()].reduce((a, b) => a + b, 0);
    const clientTotal = seen.reduce((sum, s) => sum + (s.last?.usageMetadata?.totalTokenCount ?? 0), 0);
    expect(total).toBe(clientTotal);
    expect(total).toBe((await sim.stats()).tokens.total);
  });

  it("responses by finish reason and truncations by cause equal what the clients saw", async () => {
    const { body } = await h.scrape();
    const withResponse = seen.filter((s) => s.last);
    expect(sumBy(body, "gemini_gateway_responses_total", ["model", "finish_reason"])).toEqual(
      tally(withResponse.map((s) => `${s.model}|${finishReasonLabel(facts(s.last!))}`)),
    );
    expect(sumBy(body, "gemini_gateway_truncations_total", ["model", "cause"])).toEqual(
      tally(withResponse.flatMap((s) => {
        const cause = truncationCause(facts(s.last!));
        return cause ? [`${s.model}|${cause}`] : [];
      })),
    );
  });

  it("upstream attempts, retries and 429s equal the simulator's counts", async () => {
    const { body } = await h.scrape();
    const stats = await sim.stats();
    const attempts = sumBy(body, "gemini_gateway_upstream_attempts_total", ["outcome"]);
    expect([...attempts.values()].reduce((a, b) => a + b, 0)).toBe(stats.requests);
    expect(attempts).toEqual(
      new Map(Object.entries(stats.byStatus).map(([status, n]) => [status === "200" ? "ok" : status, n])),
    );
    expect(sumBy(body, "gemini_gateway_upstream_attempts_total", ["model"])).toEqual(new Map(Object.entries(stats.byModel)));
    expect(sumBy(body, "gemini_gateway_retries_total", ["reason"])).toEqual(new Map([["429", 1], ["503", 2]]));
    expect(sumBy(body, "gemini_gateway_retry_delay_seconds_count", ["source"])).toEqual(new Map([["retry_info", 1], ["backoff", 2]]));
    expect(sumBy(body, "gemini_gateway_rate_limited_total", ["model", "quota"])).toEqual(new Map([["gemini-2.5-pro|per_day", 1]]));
    expect(sumBy(body, "gemini_gateway_client_aborts_total", ["model"])).toEqual(new Map([["gemini-2.5-pro", 1]]));
  });

  it("requests by route and code equal the statuses the clients got", async () => {
    const { body } = await h.scrape();
    expect(sumBy(body, "gemini_gateway_requests_total", ["route", "code"])).toEqual(
      tally(seen.map((s) => `${s.stream ? "streamGenerateContent" : "generateContent"}|${s.status}`)),
    );
    expect(sumBy(body, "gen_ai_client_operation_duration_seconds_count", [])).toEqual(new Map([["", seen.length]]));
    expect(sumBy(body, "gen_ai_client_operation_time_to_first_chunk_seconds_count", [])).toEqual(
      new Map([["", seen.filter((s) => s.stream && s.status === 200).length]]),
    );
    // the known-model fold leaves the five simulator models as themselves
    for (const s of seen) expect(normalizeModel(s.model, MODELS)).toBe(s.model);
  });
});

function facts(response: GenerateContentResponse) {
  const candidate = response.candidates?.[0];
  return {
    finishReasons: (response.candidates ?? []).flatMap((c) => (c.finishReason ? [c.finishReason] : [])),
    blockReason: response.promptFeedback?.blockReason,
    hasVisibleParts: (candidate?.content?.parts ?? []).some((p) => !p.thought),
  };
}
