// A mixed workload through the real gateway to the simulator; every telemetry counter must equal what the clients
// saw and what the simulator's /_sim/stats counted, exactly.

import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadGatewayConfig } from "../../src/config/gateway.js";
import { defaultSessionConfig } from "../../src/config/sessions.js";
import { loadTelemetryConfig } from "../../src/config/telemetry.js";
import { finishReasonLabel, truncationCause } from "../../src/gemini/finish.js";
import { TOKEN_TYPES, tokenBreakdown } from "../../src/gemini/usage.js";
import type { GenerateContentResponse, UsageMetadata } from "../../src/gemini/types.js";
import { startGateway } from "../../src/server/gateway.js";
import type { RunningGateway } from "../../src/server/gateway.js";
import { normalizeModel } from "../../src/telemetry/pricing.js";
import { createTelemetry } from "../../src/telemetry/telemetry.js";
import type { RouteName } from "../../src/turn/record.js";
import { sumBy, tally, type Series } from "../helpers/metrics.js";
import { startTestSimulator } from "../helpers/sim.js";
import type { FaultRule, TestSimulator } from "../helpers/sim.js";

const KEY = "e2e-gateway-key";
const MODELS = ["gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.0-flash", "gemini-2.0-flash-lite"];
/** SESSION_MAX_TURNS: small, so that the multi-turn chat reaches it. */
const MAX_TURNS = 3;

/** What one client saw of one call. */
interface Seen {
  model: string;
  route: RouteName;
  status: number;
  /** The last Gemini response object (or chunk) received; undefined when none. */
  last?: GenerateContentResponse;
  /** The usage the client was given: the response's (the last chunk's), or for a session the reply's / its last event's. */
  usage?: UsageMetadata;
  stream: boolean;
  aborted: boolean;
  /** False when the gateway answered without calling the model (turn cap). */
  modelCall: boolean;
  /** Session calls: the turn number (the reply's `turn`, or the session's turns + 1 when no summary came back). */
  turn?: number;
  /** Session calls: whether the reply said the turn was appended. */
  appended?: boolean;
}

/** The session fields of a reply (unary body or the last SSE event). */
interface SessionSummary {
  turn: number;
  appended: boolean;
  usageMetadata: UsageMetadata | null;
  finishReason: string | null;
}

describe("end to end: telemetry equals what clients and the simulator saw", () => {
  let sim: TestSimulator;
  let gateway: RunningGateway;
  const seen: Seen[] = [];
  /** `route|status` of every request the gateway answered without a model call (session CRUD, rejections). */
  const answered: string[] = [];

  const scrape = async (): Promise<{ body: string }> => ({ body: await (await fetch(`${gateway.url}/metrics`)).text() });
  const headers = { "content-type": "application/json", "x-goog-api-key": KEY };

  /**
   * Reads an SSE body into `entry`: Gemini chunks go to `last` (and `usage`); a session's closing event (it has `turn`)
   * gives the turn, appended and usage. A mid-stream error ends with a raw error object (no `data:`), which is skipped.
   */
  async function readSse(res: Response, entry: Seen, abort: AbortController, abortAfterChunks?: number): Promise<void> {
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
          const data = JSON.parse(event.slice("data: ".length)) as GenerateContentResponse & Partial<SessionSummary>;
          if (data.turn !== undefined) {
            // the session's closing event repeats the usage of the last chunk
            expect(data.usageMetadata ?? undefined).toEqual(entry.last?.usageMetadata);
            entry.usage = data.usageMetadata ?? undefined;
            entry.turn = data.turn;
            entry.appended = data.appended;
            continue;
          }
          entry.last = data;
          entry.usage = data.usageMetadata;
          events += 1;
        }
        if (abortAfterChunks !== undefined && events >= abortAfterChunks) {
          entry.aborted = true;
          abort.abort();
          break;
        }
      }
    } catch (err) {
      if (!entry.aborted) throw err;
    }
  }

  async function call(
    model: string,
    options: { stream?: "sse" | "array"; maxOutputTokens?: number; includeThoughts?: boolean; abortAfterChunks?: number } = {},
  ): Promise<void> {
    const method = options.stream ? "streamGenerateContent" : "generateContent";
    const query = options.stream === "sse" ? "?alt=sse" : "";
    const generationConfig = {
      ...(options.maxOutputTokens ? { maxOutputTokens: options.maxOutputTokens } : {}),
      ...(options.includeThoughts ? { thinkingConfig: { includeThoughts: true } } : {}),
    };
    const body = {
      contents: [{ role: "user", parts: [{ text: `Tell me about call ${seen.length} on ${model}` }] }],
      ...(Object.keys(generationConfig).length > 0 ? { generationConfig } : {}),
    };
    const abort = new AbortController();
    const res = await fetch(`${gateway.url}/v1beta/models/${model}:${method}${query}`, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      signal: abort.signal,
    });
    const entry: Seen = { model, route: method, status: res.status, stream: Boolean(options.stream), aborted: false, modelCall: true };
    seen.push(entry);
    if (res.status !== 200) {
      await res.text();
      return;
    }
    if (!options.stream) {
      entry.last = (await res.json()) as GenerateContentResponse;
      entry.usage = entry.last.usageMetadata;
      return;
    }
    if (options.stream === "array") {
      const parsed = JSON.parse(await res.text()) as GenerateContentResponse[];
      entry.last = parsed.filter((c) => !("error" in c)).at(-1);
      entry.usage = entry.last?.usageMetadata;
      return;
    }
    await readSse(res, entry, abort, options.abortAfterChunks);
  }

  /** Session ids by their model. */
  const sessionModels = new Map<string, string>();

  async function createSession(model: string): Promise<string> {
    const res = await fetch(`${gateway.url}/v1/sessions`, { method: "POST", headers, body: JSON.stringify({ model }) });
    expect(res.status).toBe(201);
    answered.push("sessionCreate|201");
    const { id } = (await res.json()) as { id: string };
    sessionModels.set(id, model);
    return id;
  }

  async function sessionTurns(id: string): Promise<number> {
    const res = await fetch(`${gateway.url}/v1/sessions/${id}`, { headers });
    expect(res.status).toBe(200);
    answered.push("sessionGet|200");
    return ((await res.json()) as { turns: number }).turns;
  }

  async function send(id: string, options: { stream?: boolean; maxOutputTokens?: number; abortAfterChunks?: number } = {}): Promise<Seen> {
    const model = sessionModels.get(id)!;
    const turnsBefore = await sessionTurns(id);
    const body = {
      message: `Session message ${seen.length}: tell me more about ${model}, in a few sentences please`,
      ...(options.maxOutputTokens ? { generationConfig: { maxOutputTokens: options.maxOutputTokens } } : {}),
    };
    const abort = new AbortController();
    const res = await fetch(`${gateway.url}/v1/sessions/${id}/messages${options.stream ? "?stream=sse" : ""}`, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      signal: abort.signal,
    });
    const entry: Seen = {
      model,
      route: options.stream ? "sessionMessageStream" : "sessionMessage",
      status: res.status,
      stream: Boolean(options.stream),
      aborted: false,
      // the only session call of this workload answered without the model is the turn-cap rejection (400)
      modelCall: res.status !== 400,
      turn: turnsBefore + 1,
    };
    seen.push(entry);
    if (!entry.modelCall) answered.push(`${entry.route}|${entry.status}`);
    if (res.status !== 200) {
      await res.text();
    } else if (!options.stream) {
      const reply = (await res.json()) as GenerateContentResponse & SessionSummary;
      entry.last = reply;
      entry.usage = reply.usageMetadata ?? undefined;
      expect(reply.turn).toBe(entry.turn);
      entry.appended = reply.appended;
    } else {
      await readSse(res, entry, abort, options.abortAfterChunks);
      if (!entry.aborted) expect(entry.appended).toBeDefined();
    }
    // a turn is kept exactly when the reply says so
    expect(await sessionTurns(id)).toBe(turnsBefore + (entry.appended ? 1 : 0));
    return entry;
  }

  async function withFaults<T>(rules: FaultRule[], run: () => Promise<T>): Promise<T> {
    await sim.setFaults(rules, 1);
    const result = await run();
    await sim.clearFaults();
    return result;
  }

  beforeAll(async () => {
    sim = await startTestSimulator();
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
    // The real telemetry, served by the gateway's own /metrics, with the session events and gauges wired by startGateway.
    const telemetry = createTelemetry(loadTelemetryConfig({}), { isKnownTenant: (t) => t === "e2e", log: () => {} });
    gateway = await startGateway(
      { gateway: config, sessions: { ...defaultSessionConfig, maxTurns: MAX_TURNS } },
      { logger: pino({ level: "silent" }, quiet), telemetry },
    );

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
    // with thought summaries on, the summary is a part, but not a visible one: still the thinking cause
    await call("gemini-2.5-flash", { maxOutputTokens: 8, includeThoughts: true });
    await call("gemini-2.5-pro", { includeThoughts: true, stream: "sse" });
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

    // Sessions. A multi-turn chat up to the cap (unary and SSE), then one message too many: rejected, no model call.
    const chat = await createSession("gemini-2.5-flash");
    await send(chat);
    await send(chat, { stream: true });
    await send(chat);
    await send(chat, { stream: true });
    // MAX_TOKENS in a session (unary and SSE; the thinking model's thoughts eat the budget), a 503 retried in a session
    const limited = await createSession("gemini-2.0-flash");
    await send(limited, { maxOutputTokens: 5 });
    await send(limited, { stream: true, maxOutputTokens: 5 });
    await withFaults([{ when: { model: "gemini-2.0-flash" }, fault: { status: 503 }, times: 1 }], () => send(limited, { stream: true }));
    const thinking = await createSession("gemini-2.5-pro");
    await send(thinking, { stream: true, maxOutputTokens: 8 });
    // a blocked prompt in a session (nothing appended), then a session stream the client cuts while the upstream hangs
    await withFaults([{ when: { model: "gemini-2.5-pro" }, fault: { kind: "block", blockReason: "SAFETY" }, times: 1 }], () => send(thinking));
    await send(thinking);
    await withFaults([{ when: { model: "gemini-2.5-pro" }, fault: { kind: "hang", afterChunks: 2 }, times: 1 }], () =>
      send(thinking, { stream: true, abortAfterChunks: 2 }),
    );

    // Requests the gateway refuses itself: a wrong key, a body that is not JSON, a path that could steer the upstream
    // path, a path outside the API, a session that does not exist.
    const refusals: Array<[string, string, Record<string, string>, string, string]> = [
      ["/v1beta/models/gemini-2.5-flash:generateContent", "{}", { "x-goog-api-key": "not-a-gateway-key" }, "generateContent", "400"],
      ["/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", "{not json", {}, "streamGenerateContent", "400"],
      ["/v1beta/files/..%2Fcorpora", "{}", {}, "unsupported", "400"],
      ["/v2/elsewhere", "{}", {}, "unknown", "404"],
      ["/v1/sessions/no-such-session/messages", JSON.stringify({ message: "hello?" }), {}, "sessionMessage", "404"],
    ];
    for (const [path, body, extraHeaders, route, status] of refusals) {
      const res = await fetch(`${gateway.url}${path}`, { method: "POST", headers: { ...headers, ...extraHeaders }, body });
      expect(String(res.status)).toBe(status);
      await res.text();
      answered.push(`${route}|${status}`);
    }

    // the sink runs when the gateway has finished each call: wait for the aborted ones to land
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const aborts = sumBy((await scrape()).body, "gemini_gateway_client_aborts_total", []);
      if (aborts.get("") === 2) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }, 60_000);

  afterAll(async () => {
    await gateway?.close();
    await sim?.close();
  });

  it("covers every case of the workload", () => {
    const finishes = seen.filter((s) => s.last).map((s) => finishReasonLabel(facts(s.last!)));
    expect(new Set(finishes)).toEqual(new Set(["stop", "max_tokens", "safety", "blocked", "unspecified"]));
    const causes = seen.filter((s) => s.last).map((s) => truncationCause(facts(s.last!)));
    expect(causes).toContain("thinking");
    // the thought summary came back as a part, and the truncation still counts as thinking
    const summarised = seen.filter((s) => s.last?.candidates?.[0]?.content?.parts?.some((p) => p.thought));
    expect(summarised.map((s) => truncationCause(facts(s.last!)))).toContain("thinking");
    expect(causes).toContain("output_limit");
    expect(seen.filter((s) => s.status === 429)).toHaveLength(1);
    expect(seen.filter((s) => s.aborted)).toHaveLength(2);
    // the session part: every kind of turn happened, unary and SSE
    const session = seen.filter((s) => s.turn !== undefined);
    expect(new Set(session.map((s) => s.route))).toEqual(new Set(["sessionMessage", "sessionMessageStream"]));
    expect(session.filter((s) => s.status === 400 && !s.modelCall)).toHaveLength(1);
    expect(session.filter((s) => s.last && finishReasonLabel(facts(s.last)) === "max_tokens").length).toBeGreaterThanOrEqual(2);
    expect(session.filter((s) => s.last && truncationCause(facts(s.last)) === "thinking")).toHaveLength(1);
    const blocked = session.filter((s) => s.last && finishReasonLabel(facts(s.last)) === "blocked");
    expect(blocked).toHaveLength(1);
    expect(blocked[0]!.appended).toBe(false);
    expect(session.filter((s) => s.aborted)).toHaveLength(1);
    expect(session.filter((s) => s.appended).length).toBeGreaterThanOrEqual(5);
  });

  it("tokens by model and type equal the usage the clients received, and the simulator's totals", async () => {
    const { body } = await scrape();
    const expected: Series = new Map();
    for (const s of seen) {
      const usage = s.usage;
      if (!usage) continue;
      const b = tokenBreakdown(usage);
      for (const type of TOKEN_TYPES) {
        const key = `${s.model}|e2e|${type}`;
        if (b[type] > 0) expected.set(key, (expected.get(key) ?? 0) + b[type]);
      }
    }
    expect(sumBy(body, "gemini_gateway_tokens_total", ["model", "tenant", "type"])).toEqual(expected);
    const total = [...expected.values()].reduce((a, b) => a + b, 0);
    const clientTotal = seen.reduce((sum, s) => sum + (s.usage?.totalTokenCount ?? 0), 0);
    expect(total).toBe(clientTotal);
    expect(total).toBe((await sim.stats()).tokens.total);
  });

  it("responses by finish reason and truncations by cause equal what the clients saw", async () => {
    const { body } = await scrape();
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
    const { body } = await scrape();
    const stats = await sim.stats();
    const attempts = sumBy(body, "gemini_gateway_upstream_attempts_total", ["outcome"]);
    expect([...attempts.values()].reduce((a, b) => a + b, 0)).toBe(stats.requests);
    expect(attempts).toEqual(
      new Map(Object.entries(stats.byStatus).map(([status, n]) => [status === "200" ? "ok" : status, n])),
    );
    expect(sumBy(body, "gemini_gateway_upstream_attempts_total", ["model"])).toEqual(new Map(Object.entries(stats.byModel)));
    expect(sumBy(body, "gemini_gateway_retries_total", ["reason"])).toEqual(new Map([["429", 1], ["503", 3]]));
    expect(sumBy(body, "gemini_gateway_retries_total", ["model", "reason"])).toEqual(
      new Map([["gemini-2.5-flash-lite|429", 1], ["gemini-2.0-flash-lite|503", 2], ["gemini-2.0-flash|503", 1]]),
    );
    expect(sumBy(body, "gemini_gateway_retry_delay_seconds_count", ["source"])).toEqual(new Map([["retry_info", 1], ["backoff", 3]]));
    expect(sumBy(body, "gemini_gateway_rate_limited_total", ["model", "quota"])).toEqual(new Map([["gemini-2.5-pro|per_day", 1]]));
    expect(sumBy(body, "gemini_gateway_client_aborts_total", ["model"])).toEqual(new Map([["gemini-2.5-pro", 2]]));
  });

  it("requests by route and code equal the statuses the clients got, model calls and the gateway's own answers", async () => {
    const { body } = await scrape();
    const calls = seen.filter((s) => s.modelCall);
    expect(sumBy(body, "gemini_gateway_requests_total", ["route", "code"])).toEqual(tally([...calls.map((s) => `${s.route}|${s.status}`), ...answered]));
    expect(sumBy(body, "gen_ai_client_operation_duration_seconds_count", [])).toEqual(new Map([["", calls.length]]));
    expect(sumBy(body, "gen_ai_client_operation_time_to_first_chunk_seconds_count", [])).toEqual(
      new Map([["", calls.filter((s) => s.stream && s.status === 200).length]]),
    );
    // the known-model fold leaves the five simulator models as themselves
    for (const s of seen) expect(normalizeModel(s.model, MODELS)).toBe(s.model);
  });

  it("session metrics equal what the session clients saw", async () => {
    const { body } = await scrape();
    // every session created is held (no eviction in this workload)
    expect(sumBy(body, "gemini_gateway_sessions", [])).toEqual(new Map([["", sessionModels.size]]));
    const turns = seen.filter((s) => s.turn !== undefined && s.modelCall);
    expect(sumBy(body, "gemini_gateway_session_turn_count", [])).toEqual(new Map([["", turns.length]]));
    expect(sumBy(body, "gemini_gateway_session_turn_sum", [])).toEqual(new Map([["", turns.reduce((sum, s) => sum + s.turn!, 0)]]));
    const prompts = turns.flatMap((s) => (s.usage?.promptTokenCount === undefined ? [] : [s.usage.promptTokenCount]));
    expect(sumBy(body, "gemini_gateway_session_prompt_tokens_count", [])).toEqual(new Map([["", prompts.length]]));
    expect(sumBy(body, "gemini_gateway_session_prompt_tokens_sum", [])).toEqual(new Map([["", prompts.reduce((a, b) => a + b, 0)]]));
    expect(sumBy(body, "gemini_gateway_turn_cap_total", ["action"])).toEqual(new Map([["rejected", 1]]));
    expect(sumBy(body, "gemini_gateway_session_evictions_total", ["reason"])).toEqual(new Map());
    // the context grows with the chat: each turn's prompt holds the ones before
    const chat = turns.filter((s) => s.model === "gemini-2.5-flash").map((s) => s.usage!.promptTokenCount!);
    expect(chat).toHaveLength(MAX_TURNS);
    for (let i = 1; i < chat.length; i += 1) expect(chat[i]).toBeGreaterThan(chat[i - 1]!);
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
