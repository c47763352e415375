// A mixed workload through the real gateway to the simulator; every telemetry counter must equal what the clients
// saw and what the simulator's /_sim/stats counted, exactly. Interactions included: each one's outcome is counted once,
// by the first answer that showed it finished (a create, the read that resumed a cut stream, the poll that found a
// background one done).

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
import { normalizeModel } from "../../src/pricing/price-table.js";
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
  /** Interaction calls: the interaction, and its outcome when this answer was the first to show it finished. */
  interaction?: { id: string; outcome?: InteractionOutcome };
  /** A read (interactions.get): not a model operation of the GenAI histograms; measured under the model its answer
   *  names. */
  read?: boolean;
}

/** What a client saw of an interaction's end, in docs/gateway.md's terms. */
interface InteractionOutcome {
  status: string;
  /** A model_output text came back. */
  hasText: boolean;
  /** Its depth in its chain (the chain's first interaction is 1). */
  turn: number;
}

/** An Interaction (or an SSE event's `interaction`) as the wire carries it: the fields this workload reads. */
interface WireInteraction {
  id: string;
  status: string;
  model?: string;
  usage?: WireUsage;
  steps?: Array<{ type: string }>;
}

interface WireUsage {
  total_input_tokens?: number;
  total_cached_tokens?: number;
  total_output_tokens?: number;
  total_thought_tokens?: number;
  total_tool_use_tokens?: number;
  total_tokens?: number;
}

interface InteractionEvent {
  event_type: string;
  event_id?: string;
  delta?: { type: string; text?: string };
  interaction?: WireInteraction;
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

  /** Each interaction's depth in its chain, and those whose outcome a client has already been shown. */
  const depths = new Map<string, number>();
  const finished = new Set<string>();

  /** Records what a client saw of an interaction: its usage and outcome belong to the first answer that shows it
   *  finished (the gateway counts it there, once); an answer that shows it still running carries neither. */
  function sawInteraction(entry: Seen, interaction: WireInteraction, hasText: boolean): void {
    if (entry.read && interaction.model) entry.model = interaction.model;
    entry.interaction = { id: interaction.id };
    if (interaction.status === "in_progress" || interaction.status === "queued" || finished.has(interaction.id)) return;
    finished.add(interaction.id);
    entry.interaction.outcome = { status: interaction.status, hasText, turn: depths.get(interaction.id)! };
    if (interaction.usage) entry.usage = usageMetadataOf(interaction.usage);
  }

  /** POST /v1beta/interactions, unary (or background); the new interaction's id. */
  async function createInteraction(model: string, body: { input: string; previous_interaction_id?: string; background?: boolean }): Promise<string> {
    const res = await fetch(`${gateway.url}/v1beta/interactions`, { method: "POST", headers, body: JSON.stringify({ model, ...body }) });
    expect(res.status).toBe(200);
    const entry: Seen = { model, route: "interactions.create", status: res.status, stream: false, aborted: false, modelCall: true };
    seen.push(entry);
    const interaction = (await res.json()) as WireInteraction;
    depths.set(interaction.id, body.previous_interaction_id === undefined ? 1 : depths.get(body.previous_interaction_id)! + 1);
    sawInteraction(entry, interaction, (interaction.steps ?? []).some((step) => step.type === "model_output"));
    return interaction.id;
  }

  /** The SSE events of an interaction stream until it ends (or its connection drops: `cut`). */
  async function readEvents(res: Response): Promise<{ events: InteractionEvent[]; cut: boolean }> {
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    const events: InteractionEvent[] = [];
    let buffer = "";
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return { events, cut: false };
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const data = buffer.slice(0, end).split("\n").find((line) => line.startsWith("data: "));
          buffer = buffer.slice(end + 2);
          if (data) events.push(JSON.parse(data.slice("data: ".length)) as InteractionEvent);
        }
      }
    } catch {
      return { events, cut: true };
    }
  }

  /** A streamed create (`stream: true`); its id and the last event id the client received. */
  async function streamInteraction(model: string, input: string, expectCut: boolean): Promise<{ id: string; lastEventId: string }> {
    const res = await fetch(`${gateway.url}/v1beta/interactions`, { method: "POST", headers, body: JSON.stringify({ model, input, stream: true }) });
    const entry: Seen = { model, route: "interactions.create", status: res.status, stream: true, aborted: false, modelCall: true };
    seen.push(entry);
    const { events, cut } = await readEvents(res);
    expect(cut).toBe(expectCut);
    const id = events[0]!.interaction!.id;
    depths.set(id, 1);
    entry.interaction = { id };
    const completed = events.find((e) => e.event_type === "interaction.completed");
    if (completed) sawInteraction(entry, completed.interaction!, events.some((e) => e.delta?.type === "text"));
    return { id, lastEventId: events.at(-1)!.event_id! };
  }

  /** GET /v1beta/interactions/{id}, unary or a stream resumed after `lastEventId`; the status it showed. */
  async function readInteraction(model: string, id: string, resumeAfter?: string): Promise<string> {
    const query = resumeAfter === undefined ? "" : `?stream=true&last_event_id=${resumeAfter}`;
    const res = await fetch(`${gateway.url}/v1beta/interactions/${id}${query}`, { headers });
    expect(res.status).toBe(200);
    const entry: Seen = { model, route: "interactions.get", status: res.status, stream: resumeAfter !== undefined, aborted: false, modelCall: true, read: true };
    seen.push(entry);
    if (resumeAfter === undefined) {
      const interaction = (await res.json()) as WireInteraction;
      sawInteraction(entry, interaction, (interaction.steps ?? []).some((step) => step.type === "model_output"));
      return interaction.status;
    }
    const { events, cut } = await readEvents(res);
    expect(cut).toBe(false);
    const completed = events.find((e) => e.event_type === "interaction.completed")!;
    sawInteraction(entry, completed.interaction!, events.some((e) => e.delta?.type === "text"));
    return completed.interaction!.status;
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

    // Interactions: a chain of two, a streamed one, a stream cut by a dropped connection and resumed by its last event
    // id, and a background one polled until it is done.
    const opening = await createInteraction("gemini-2.5-flash", { input: "Explain tides in one sentence" });
    await createInteraction("gemini-2.5-flash", { input: "Now explain them to a five-year-old", previous_interaction_id: opening });
    await streamInteraction("gemini-2.0-flash", "Stream me a short story", false);
    const dropped = await withFaults([{ when: { method: "createInteraction" }, fault: { kind: "hang", afterChunks: 8, ms: 20 }, times: 1 }], () =>
      streamInteraction("gemini-2.5-pro", "Stream me a long story, then drop", true),
    );
    expect(await readInteraction("gemini-2.5-pro", dropped.id, dropped.lastEventId)).toBe("completed");
    const background = await createInteraction("gemini-2.5-flash-lite", { input: "Write a report in the background", background: true });
    let polled = "in_progress";
    for (let polls = 0; polls < 5 && polled === "in_progress"; polls++) polled = await readInteraction("gemini-2.5-flash-lite", background);
    expect(polled).toBe("completed");
    // a finished one read again: nothing more to count
    expect(await readInteraction("gemini-2.5-flash-lite", background)).toBe("completed");

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

    // the sink runs when the gateway has finished each call: wait for the aborted ones, and every call, to land
    const deadline = Date.now() + 5000;
    const requests = seen.filter((s) => s.modelCall).length + answered.length;
    while (Date.now() < deadline) {
      const { body } = await scrape();
      const aborts = sumBy(body, "gemini_gateway_client_aborts_total", []);
      const counted = sumBy(body, "gemini_gateway_requests_total", []);
      if (aborts.get("") === 2 && counted.get("") === requests) break;
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
    // the interaction part: every outcome seen once, by a create, a resumed stream and a poll; reads that counted nothing
    const interactions = seen.filter((s) => s.interaction);
    const outcomes = interactions.filter((s) => s.interaction!.outcome);
    expect(new Set(interactions.map((s) => s.interaction!.id)).size).toBe(5);
    expect(outcomes).toHaveLength(5);
    expect(outcomes.map((s) => s.interaction!.outcome!.status)).toEqual(Array(5).fill("completed"));
    expect(outcomes.map((s) => `${s.route}${s.stream ? " stream" : ""}`)).toEqual([
      "interactions.create",
      "interactions.create",
      "interactions.create stream",
      "interactions.get stream",
      "interactions.get",
    ]);
    expect(outcomes.map((s) => s.interaction!.outcome!.turn)).toEqual([1, 2, 1, 1, 1]);
    expect(interactions.filter((s) => !s.interaction!.outcome).length).toBeGreaterThanOrEqual(4);
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
    const withResponse = seen.filter((s) => s.last || s.interaction?.outcome);
    expect(sumBy(body, "gemini_gateway_responses_total", ["model", "finish_reason"])).toEqual(
      tally(withResponse.map((s) => `${s.model}|${finishReasonLabel(outcomeFacts(s))}`)),
    );
    expect(sumBy(body, "gemini_gateway_truncations_total", ["model", "cause"])).toEqual(
      tally(withResponse.flatMap((s) => {
        const cause = truncationCause(outcomeFacts(s));
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
    // the simulator counts the model a call names; a read of an interaction names none, and is measured under the model
    // its answer names
    const reads = tally(seen.filter((s) => s.read).map((s) => s.model));
    const byModel = new Map(Object.entries(stats.byModel));
    for (const [model, n] of reads) byModel.set(model, (byModel.get(model) ?? 0) + n);
    expect(sumBy(body, "gemini_gateway_upstream_attempts_total", ["model"])).toEqual(byModel);
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
    // the GenAI histograms are for model operations: interaction reads are not among them
    const operations = calls.filter((s) => !s.read);
    expect(sumBy(body, "gen_ai_client_operation_duration_seconds_count", [])).toEqual(new Map([["", operations.length]]));
    expect(sumBy(body, "gen_ai_client_operation_time_to_first_chunk_seconds_count", [])).toEqual(
      new Map([["", operations.filter((s) => s.stream && s.status === 200).length]]),
    );
    // the known-model fold leaves the five simulator models as themselves
    for (const s of seen) expect(normalizeModel(s.model, MODELS)).toBe(s.model);
  });

  it("session metrics equal what the session clients saw", async () => {
    const { body } = await scrape();
    // every session created is held (no eviction in this workload)
    expect(sumBy(body, "gemini_gateway_sessions", [])).toEqual(new Map([["", sessionModels.size]]));
    const turns = seen.filter((s) => s.turn !== undefined && s.modelCall);
    // interaction turns feed the same per-turn histograms, once each: by the answer that showed the turn finished
    const chained = seen.flatMap((s) => (s.interaction?.outcome ? [{ turn: s.interaction.outcome.turn, usage: s.usage }] : []));
    const allTurns = [...turns.map((s) => ({ turn: s.turn!, usage: s.usage })), ...chained];
    expect(sumBy(body, "gemini_gateway_session_turn_count", [])).toEqual(new Map([["", allTurns.length]]));
    expect(sumBy(body, "gemini_gateway_session_turn_sum", [])).toEqual(new Map([["", allTurns.reduce((sum, s) => sum + s.turn, 0)]]));
    const prompts = allTurns.flatMap((s) => (s.usage?.promptTokenCount === undefined ? [] : [s.usage.promptTokenCount]));
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

/** An interaction's usage in Gemini's terms, as docs/gateway.md reads it: total_input_tokens is the whole prompt (cached
 *  included), total_output_tokens the candidates, then thoughts and tool use. */
function usageMetadataOf(usage: WireUsage): UsageMetadata {
  return {
    promptTokenCount: usage.total_input_tokens ?? 0,
    cachedContentTokenCount: usage.total_cached_tokens ?? 0,
    candidatesTokenCount: usage.total_output_tokens ?? 0,
    thoughtsTokenCount: usage.total_thought_tokens ?? 0,
    toolUsePromptTokenCount: usage.total_tool_use_tokens ?? 0,
    totalTokenCount: usage.total_tokens ?? 0,
  };
}

/** docs/gateway.md's reading of an interaction's status as a finish reason: completed and requires_action are STOP,
 *  incomplete MAX_TOKENS, budget_exceeded and requires_continuation their own names; failed and cancelled none. */
const INTERACTION_FINISH: Record<string, string | undefined> = {
  completed: "STOP",
  requires_action: "STOP",
  incomplete: "MAX_TOKENS",
  budget_exceeded: "BUDGET_EXCEEDED",
  requires_continuation: "REQUIRES_CONTINUATION",
};

/** The finish facts of what a client saw: a Gemini response, or an interaction's outcome. */
function outcomeFacts(s: Seen) {
  const outcome = s.interaction?.outcome;
  if (!outcome) return facts(s.last!);
  const finish = INTERACTION_FINISH[outcome.status];
  return { finishReasons: finish ? [finish] : [], blockReason: undefined, hasVisibleParts: outcome.hasText };
}

function facts(response: GenerateContentResponse) {
  const candidate = response.candidates?.[0];
  return {
    finishReasons: (response.candidates ?? []).flatMap((c) => (c.finishReason ? [c.finishReason] : [])),
    blockReason: response.promptFeedback?.blockReason,
    hasVisibleParts: (candidate?.content?.parts ?? []).some((p) => !p.thought),
  };
}
