// The Interactions API through the gateway, with @google/genai's `ai.interactions.*` unmodified but for base URL and
// key, and the gateway's own simulator upstream: a chain's conversation and turn numbers, a stream cut and resumed, a
// background interaction polled to its end, cancel and delete, every status, the turn cap, two tenants on one upstream
// key, and the retry rule of a create (it must not run twice). In each, the gateway's counters must gain exactly what
// the client received, each interaction's outcome counted once.

import type { GoogleGenAIInteraction } from "@google/genai";
import { SpanStatusCode } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterEach, describe, expect, test, vi } from "vitest";
import type { TokenUsage } from "../../src/gemini/usage.js";
import { loadPriceTable, turnCost } from "../../src/pricing/price-table.js";
import { QUESTIONS, THIRD_REPLY_CONTEXT } from "../helpers/chat.js";
import { delta, scrapeMetrics, sumBy, tally, type Series } from "../helpers/metrics.js";
import type { TestSimulator } from "../helpers/sim.js";
import { KEY_ALPHA, KEY_BETA, useSurfaceStack, type SurfaceStack } from "./surface-stack.js";

let stack: SurfaceStack;
const spans = new InMemorySpanExporter();
useSurfaceStack((started) => (stack = started), { spanProcessors: [new SimpleSpanProcessor(spans)], sim: { replyTokens: { min: 30, max: 60 } } });
afterEach(() => {
  expect(stack.errors).toEqual([]);
});

const MODEL = "gemini-2.5-flash";
/** The SDK retries 429s, 5xx and dropped connections by itself; where the gateway's own answer matters, it must not. */
const NO_RETRY = { maxRetries: 0 };
const prices = loadPriceTable();

// ---------------------------------------------------------------------------------------------------------------
// What the client saw
// ---------------------------------------------------------------------------------------------------------------

/** An interaction's usage as the wire carries it (the SDK's type, loosely: only the totals are read). */
interface WireUsage {
  total_input_tokens?: number;
  total_cached_tokens?: number;
  total_output_tokens?: number;
  total_thought_tokens?: number;
  total_tool_use_tokens?: number;
  total_tokens?: number;
}

/** An SSE event as the SDK yields it (its types are a union; the tests read it loosely). */
interface Event {
  event_type: string;
  event_id?: string;
  index?: number;
  delta?: { type: string; text?: string };
  interaction?: { id: string; status: string; model?: string; usage?: WireUsage };
}

async function collect(stream: AsyncIterable<unknown>): Promise<Event[]> {
  const events: Event[] = [];
  for await (const event of stream) events.push(event as Event);
  return events;
}

/** The events a stream yields before it throws, and what it threw. */
async function collectUntilError(stream: AsyncIterable<unknown>): Promise<{ events: Event[]; error: unknown }> {
  const events: Event[] = [];
  try {
    for await (const event of stream) events.push(event as Event);
  } catch (error) {
    return { events, error };
  }
  throw new Error("expected the stream to fail");
}

const textOf = (events: readonly Event[]): string =>
  events
    .filter((e) => e.event_type === "step.delta" && e.delta?.type === "text")
    .map((e) => e.delta!.text)
    .join("");

/** docs/gateway.md's reading of an interaction's usage: input = total_input_tokens − total_cached_tokens, cached,
 *  output = total_output_tokens, thoughts, tool_use (text only here: no audio). */
function tokensOf(usage: WireUsage | undefined): TokenUsage {
  expect(usage?.total_tokens).toBeGreaterThan(0);
  const cached = usage?.total_cached_tokens ?? 0;
  return {
    input: (usage?.total_input_tokens ?? 0) - cached,
    cached,
    output: usage?.total_output_tokens ?? 0,
    thoughts: usage?.total_thought_tokens ?? 0,
    tool_use: usage?.total_tool_use_tokens ?? 0,
    inputAudio: 0,
  };
}

/** The `model|tenant|type` token series some turns add (kinds at zero are absent, as in `delta`). */
function tokenSeries(model: string, tenant: string, ...turns: TokenUsage[]): Series {
  const out: Series = new Map();
  for (const tokens of turns) {
    for (const type of ["input", "cached", "output", "thoughts", "tool_use"] as const) {
      if (tokens[type] > 0) out.set(`${model}|${tenant}|${type}`, (out.get(`${model}|${tenant}|${type}`) ?? 0) + tokens[type]);
    }
  }
  return out;
}

const costOf = (model: string, ...turns: TokenUsage[]): number => turns.reduce((sum, tokens) => sum + turnCost(prices, prices.models[model]!, tokens), 0);
const totalOf = (...usages: Array<WireUsage | undefined>): number => usages.reduce((sum, u) => sum + (u?.total_tokens ?? 0), 0);

/** What a rejected SDK call threw: its class name, status and, when it carried one, the error body. */
async function rejection(promise: Promise<unknown>): Promise<{ name: string; status?: number; body?: unknown }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof Error)) throw new Error("expected a rejection");
  const { status, body } = error as Error & { status?: number; body?: string };
  return { name: error.name, ...(status !== undefined ? { status } : {}), ...(body ? { body: JSON.parse(body) as unknown } : {}) };
}

/** The gateway's answer for another tenant's interaction: the 404 of a name that does not exist. */
async function expectNotFound(promise: Promise<unknown>, id: string): Promise<void> {
  expect(await rejection(promise)).toEqual({
    name: "NotFoundError",
    status: 404,
    body: { error: { code: 404, status: "NOT_FOUND", message: `Requested entity was not found: interactions/${id}.` } },
  });
}

/** Runs `work` and checks that not one request of it reached the simulator. */
async function unreached(sim: TestSimulator, work: () => Promise<void>): Promise<void> {
  const before = await sim.stats();
  await work();
  expect((await sim.stats()).requests - before.requests).toBe(0);
}

// ---------------------------------------------------------------------------------------------------------------
// What the gateway counted
// ---------------------------------------------------------------------------------------------------------------

interface Gained {
  /** `route|code` */
  requests: Series;
  /** `model|tenant|type` */
  tokens: Series;
  /** `model|tenant` */
  cost: Series;
  /** `model|finish_reason` */
  responses: Series;
  /** `model|cause` */
  truncations: Series;
  /** `model|outcome` */
  attempts: Series;
  /** `model|reason` */
  retries: Series;
  /** `source` */
  retryDelays: Series;
  /** `action` */
  turnCap: Series;
  /** `model` */
  aborts: Series;
  /** gen_ai_client_operation_duration_seconds samples, `gen_ai_operation_name|error_type` */
  durations: Series;
  /** gen_ai_client_operation_time_to_first_chunk_seconds samples, `gen_ai_operation_name` */
  firstChunks: Series;
  /** gemini_gateway_session_turn: `count`, `sum` and the buckets as `le=N` */
  sessionTurns: Series;
  /** gemini_gateway_session_prompt_tokens: `count`, `sum` */
  sessionPrompts: Series;
}

function histogram(body: string, name: string, buckets = false): Series {
  const out: Series = new Map();
  const count = sumBy(body, `${name}_count`, []).get("");
  const sum = sumBy(body, `${name}_sum`, []).get("");
  if (count !== undefined) out.set("count", count);
  if (sum !== undefined) out.set("sum", sum);
  if (buckets) for (const [le, n] of sumBy(body, `${name}_bucket`, ["le"])) out.set(`le=${le}`, n);
  return out;
}

function series(body: string): Gained {
  return {
    requests: sumBy(body, "gemini_gateway_requests_total", ["route", "code"]),
    tokens: sumBy(body, "gemini_gateway_tokens_total", ["model", "tenant", "type"]),
    cost: sumBy(body, "gemini_gateway_cost_usd_total", ["model", "tenant"]),
    responses: sumBy(body, "gemini_gateway_responses_total", ["model", "finish_reason"]),
    truncations: sumBy(body, "gemini_gateway_truncations_total", ["model", "cause"]),
    attempts: sumBy(body, "gemini_gateway_upstream_attempts_total", ["model", "outcome"]),
    retries: sumBy(body, "gemini_gateway_retries_total", ["model", "reason"]),
    retryDelays: sumBy(body, "gemini_gateway_retry_delay_seconds_count", ["source"]),
    turnCap: sumBy(body, "gemini_gateway_turn_cap_total", ["action"]),
    aborts: sumBy(body, "gemini_gateway_client_aborts_total", ["model"]),
    durations: sumBy(body, "gen_ai_client_operation_duration_seconds_count", ["gen_ai_operation_name", "error_type"]),
    firstChunks: sumBy(body, "gen_ai_client_operation_time_to_first_chunk_seconds_count", ["gen_ai_operation_name"]),
    sessionTurns: histogram(body, "gemini_gateway_session_turn", true),
    sessionPrompts: histogram(body, "gemini_gateway_session_prompt_tokens"),
  };
}

/**
 * What a gateway's counters gained while `work` ran; `requests` (`route|code`, one per call) must be exactly what was
 * counted. A call is recorded once its answer has been written, so the counters are read again until that many calls
 * are in (a bounded number of reads; no clock is asserted on).
 */
async function counted(metricsOf: () => Promise<string>, requests: string[], work: () => Promise<void>): Promise<Gained> {
  const gained = await gain(metricsOf, requests.length, work);
  expect(gained.requests).toEqual(tally(requests));
  return gained;
}

/** What the counters gained while `work` ran, once `calls` requests are in (whatever their routes and codes). */
async function gain(metricsOf: () => Promise<string>, calls: number, work: () => Promise<void>): Promise<Gained> {
  const before = series(await metricsOf());
  await work();
  for (let reads = 0; ; reads++) {
    const after = series(await metricsOf());
    const gained = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, delta(before[k as keyof Gained], v)])) as unknown as Gained;
    const counted = [...gained.requests.values()].reduce((a, b) => a + b, 0);
    if (counted >= calls || reads >= 200) return gained;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The samples gemini_gateway_session_turn gains for these turn numbers (its buckets: 1, 2, 4, ... 256). */
function turnSamples(...turns: number[]): Series {
  const out: Series = new Map();
  if (turns.length === 0) return out;
  out.set("count", turns.length);
  out.set("sum", turns.reduce((a, b) => a + b, 0));
  for (const le of [1, 2, 4, 8, 16, 32, 64, 128, 256]) {
    const n = turns.filter((t) => t <= le).length;
    if (n > 0) out.set(`le=${le}`, n);
  }
  out.set("le=+Inf", turns.length);
  return out;
}

const measure = (requests: string[], work: () => Promise<void>): Promise<Gained> => counted(() => stack.metrics(), requests, work);
const times = (n: number, key: string): string[] => Array<string>(n).fill(key);

/** The finished spans of an operation (`chat` for creates, `interactions.get`, ...). */
const spansOf = (operation: string): ReadableSpan[] => spans.getFinishedSpans().filter((s) => s.attributes["gen_ai.operation.name"] === operation);
const spanOfResponse = (id: string): ReadableSpan | undefined => spans.getFinishedSpans().find((s) => s.attributes["gen_ai.response.id"] === id);

// ---------------------------------------------------------------------------------------------------------------

describe("a chain of interactions (previous_interaction_id)", () => {
  test("the three-question chat: the third reply saw the first question; tokens, cost, responses and requests gain what the client saw; conversation and turn on each span", async () => {
    const ai = stack.genai();
    spans.reset();
    const turns: GoogleGenAIInteraction[] = [];
    const m = await measure(times(3, "interactions.create|200"), async () => {
      for (const [i, input] of QUESTIONS.entries()) {
        turns.push(await ai.interactions.create({ model: MODEL, input, ...(i > 0 ? { previous_interaction_id: turns[i - 1]!.id } : {}) }));
      }
    });
    expect(turns.map((t) => t.status)).toEqual(["completed", "completed", "completed"]);
    expect(turns[2]!.output_text?.startsWith(THIRD_REPLY_CONTEXT)).toBe(true);

    const tokens = turns.map((t) => tokensOf(t.usage));
    expect(m.tokens).toEqual(tokenSeries(MODEL, "alpha", ...tokens));
    expect([...m.tokens.values()].reduce((a, b) => a + b, 0)).toBe(totalOf(...turns.map((t) => t.usage)));
    expect(m.cost.get(`${MODEL}|alpha`)).toBeCloseTo(costOf(MODEL, ...tokens), 12);
    expect([...m.cost.keys()]).toEqual([`${MODEL}|alpha`]);
    expect(m.responses).toEqual(new Map([[`${MODEL}|stop`, 3]]));
    expect(m.truncations).toEqual(new Map());
    expect(m.durations).toEqual(new Map([["chat|", 3]]));
    // One sample per turn: 1, 2 and 3.
    expect(m.sessionTurns).toEqual(turnSamples(1, 2, 3));
    // The history-cost curve: each turn's whole context.
    expect(m.sessionPrompts).toEqual(new Map([["count", 3], ["sum", turns.reduce((sum, t) => sum + (t.usage?.total_input_tokens ?? 0), 0)]]));
    expect((await stack.sim.stats()).tokens.total).toBe(totalOf(...turns.map((t) => t.usage)));

    const chat = spansOf("chat");
    expect(chat).toHaveLength(3);
    for (const [i, turn] of turns.entries()) {
      const span = spanOfResponse(turn.id);
      expect(span?.name).toBe(`chat ${MODEL}`);
      expect(span?.attributes).toMatchObject({
        "gen_ai.conversation.id": turns[0]!.id,
        "gemini_gateway.session.turn": i + 1,
        "gen_ai.response.id": turn.id,
        "gen_ai.usage.input_tokens": turn.usage?.total_input_tokens,
        "gen_ai.usage.output_tokens": (turn.usage?.total_output_tokens ?? 0) + (turn.usage?.total_thought_tokens ?? 0),
        "gen_ai.response.finish_reasons": ["stop"],
        "gemini_gateway.tenant": "alpha",
      });
    }
  });
});

describe("streams", () => {
  test("a streamed create cut by a dropped connection, resumed with get(id, {stream, last_event_id}): the text is whole, the turn's tokens counted once", async () => {
    const ai = stack.genai();
    await stack.sim.setFaults([{ when: { method: "createInteraction" }, fault: { kind: "hang", afterChunks: 8, ms: 20 }, times: 1 }]);
    spans.reset();
    let seen: Event[] = [];
    const cut = await measure(["interactions.create|200"], async () => {
      const { events, error } = await collectUntilError(await ai.interactions.create({ model: MODEL, input: "Tell me about the sea, then drop", stream: true }, NO_RETRY));
      expect((error as Error).name).toBe("APIConnectionError");
      seen = events;
    });
    expect(seen).toHaveLength(8);
    expect(textOf(seen)).not.toBe("");
    const id = seen[0]!.interaction!.id;
    // Nothing final was seen: no tokens, no response yet; the stream's first chunk was timed.
    expect(cut.tokens).toEqual(new Map());
    expect(cut.responses).toEqual(new Map());
    expect(cut.firstChunks).toEqual(new Map([["chat", 1]]));
    expect(cut.durations).toEqual(new Map([["chat|midstream_error", 1]]));
    expect(cut.sessionTurns).toEqual(turnSamples());

    let rest: Event[] = [];
    const resumed = await measure(["interactions.get|200"], async () => {
      rest = await collect(await ai.interactions.get(id, { stream: true, last_event_id: seen.at(-1)!.event_id! }));
    });
    const final = rest.at(-1)!.interaction!;
    expect(final.status).toBe("completed");
    expect(resumed.tokens).toEqual(tokenSeries(MODEL, "alpha", tokensOf(final.usage)));
    expect(resumed.cost.get(`${MODEL}|alpha`)).toBeCloseTo(costOf(MODEL, tokensOf(final.usage)), 12);
    expect(resumed.responses).toEqual(new Map([[`${MODEL}|stop`, 1]]));
    expect(resumed.sessionTurns).toEqual(turnSamples(1));
    // A read is no model operation of the GenAI histograms (docs/telemetry.md): its time to first chunk is not one either.
    expect(resumed.firstChunks).toEqual(new Map());
    const read = spansOf("interactions.get");
    expect(read).toHaveLength(1);
    expect(read[0]!.attributes).toMatchObject({ "gen_ai.conversation.id": id, "gemini_gateway.session.turn": 1, "gen_ai.response.id": id });

    // The client's text is whole: what came before the cut and after it is the stored interaction's text.
    let whole: GoogleGenAIInteraction | undefined;
    const again = await measure(["interactions.get|200"], async () => {
      whole = await ai.interactions.get(id);
    });
    expect(`${textOf(seen)}${textOf(rest)}`).toBe(whole!.output_text);
    expect(again.tokens).toEqual(new Map());
    expect(again.responses).toEqual(new Map());
    // Once, not zero times and not twice: what the simulator counted for the interaction.
    expect((await stack.sim.stats()).tokens.total).toBe(final.usage?.total_tokens);
  });

  test("a streamed create the client abandons mid-stream (the upstream hanging), resumed to the end: counted once, by the read that finished it", async () => {
    const ai = stack.genai();
    await stack.sim.setFaults([{ when: { method: "createInteraction" }, fault: { kind: "hang", afterChunks: 7 }, times: 1 }]);
    const seen: Event[] = [];
    const cut = await measure(["interactions.create|200"], async () => {
      const stream = await ai.interactions.create({ model: MODEL, input: "Tell me about rivers, I will leave", stream: true }, NO_RETRY);
      for await (const event of stream) {
        seen.push(event as Event);
        if (seen.length === 7) break; // the SDK aborts the request
      }
    });
    expect(cut.aborts).toEqual(new Map([[MODEL, 1]]));
    expect(cut.durations).toEqual(new Map([["chat|cancelled", 1]]));
    expect(cut.firstChunks).toEqual(new Map([["chat", 1]]));
    expect(cut.tokens).toEqual(new Map());
    expect(cut.responses).toEqual(new Map());

    const id = seen[0]!.interaction!.id;
    let rest: Event[] = [];
    const resumed = await measure(["interactions.get|200"], async () => {
      rest = await collect(await ai.interactions.get(id, { stream: true, last_event_id: seen.at(-1)!.event_id! }));
    });
    const final = rest.at(-1)!.interaction!;
    expect(final.status).toBe("completed");
    expect(resumed.tokens).toEqual(tokenSeries(MODEL, "alpha", tokensOf(final.usage)));
    expect(resumed.responses).toEqual(new Map([[`${MODEL}|stop`, 1]]));
    const whole = await ai.interactions.get(id);
    expect(`${textOf(seen)}${textOf(rest)}`).toBe(whole.output_text);
    expect((await stack.sim.stats()).tokens.total).toBe(final.usage?.total_tokens);
  });

  test("a streamed create broken by an error event: the interaction failed; the read that shows it counts its outcome once (an error, no response), as a failed create's is counted", async () => {
    const ai = stack.genai();
    await stack.sim.setFaults([{ when: { method: "createInteraction" }, fault: { kind: "midstream_error", afterChunks: 8 }, times: 1 }]);
    spans.reset();
    let events: Event[] = [];
    const broken = await measure(["interactions.create|200"], async () => {
      events = await collect(await ai.interactions.create({ model: MODEL, input: "Stream, then fail", stream: true }, NO_RETRY));
    });
    expect(events.at(-1)!.event_type).toBe("error");
    const id = events[0]!.interaction!.id;
    // The error event carries no usage and no status: nothing final was seen yet.
    expect(broken.durations).toEqual(new Map([["chat|midstream_error", 1]]));
    expect(broken.tokens).toEqual(new Map());

    let failed: GoogleGenAIInteraction | undefined;
    const read = await measure(["interactions.get|200"], async () => {
      failed = await ai.interactions.get(id);
    });
    expect(failed!.status).toBe("failed");
    expect(failed!.output_text).toBe(textOf(events));
    expect(read.tokens).toEqual(tokenSeries(MODEL, "alpha", tokensOf(failed!.usage)));
    expect((await stack.sim.stats()).tokens.total).toBe(failed!.usage?.total_tokens);
    expect(spansOf("interactions.get")[0]?.attributes).toMatchObject({ "error.type": "failed", "gen_ai.conversation.id": id, "gemini_gateway.session.turn": 1 });
    // A failed turn is an error (error_type failed), not a response, whichever answer first shows it (see "failed" below).
    expect(new Map([...broken.responses, ...read.responses])).toEqual(new Map());
  });

  test("an uncut streamed create: counted at its end, with its time to first chunk, its conversation and turn", async () => {
    const ai = stack.genai();
    spans.reset();
    let events: Event[] = [];
    const m = await measure(["interactions.create|200"], async () => {
      events = await collect(await ai.interactions.create({ model: MODEL, input: "Stream me whole", stream: true }));
    });
    const final = events.at(-1)!.interaction!;
    expect(final.status).toBe("completed");
    expect(m.tokens).toEqual(tokenSeries(MODEL, "alpha", tokensOf(final.usage)));
    expect(m.responses).toEqual(new Map([[`${MODEL}|stop`, 1]]));
    expect(m.firstChunks).toEqual(new Map([["chat", 1]]));
    expect(m.sessionTurns).toEqual(turnSamples(1));
    const span = spanOfResponse(final.id);
    expect(span?.attributes).toMatchObject({ "gen_ai.request.stream": true, "gen_ai.conversation.id": final.id, "gemini_gateway.session.turn": 1 });
    expect(span?.attributes["gen_ai.response.time_to_first_chunk"]).toBeTypeOf("number");
  });
});

describe("background interactions", () => {
  test("the create counts no tokens and no response; the GET that shows it finished counts its outcome once, later GETs nothing", async () => {
    const ai = stack.genai();
    let started: GoogleGenAIInteraction | undefined;
    const created = await measure(["interactions.create|200"], async () => {
      started = await ai.interactions.create({ model: MODEL, input: "Write a long report in the background", background: true });
    });
    expect(started!.status).toBe("in_progress");
    expect(created.tokens).toEqual(new Map());
    expect(created.cost).toEqual(new Map());
    expect(created.responses).toEqual(new Map());
    expect(created.sessionTurns).toEqual(turnSamples());
    const id = started!.id;

    spans.reset();
    const polls: GoogleGenAIInteraction[] = [];
    const polled = await measure(times(2, "interactions.get|200"), async () => {
      polls.push(await ai.interactions.get(id));
      polls.push(await ai.interactions.get(id));
    });
    expect(polls.map((p) => p.status)).toEqual(["in_progress", "completed"]);
    const done = polls[1]!;
    expect(polled.tokens).toEqual(tokenSeries(MODEL, "alpha", tokensOf(done.usage)));
    expect(polled.cost.get(`${MODEL}|alpha`)).toBeCloseTo(costOf(MODEL, tokensOf(done.usage)), 12);
    expect(polled.responses).toEqual(new Map([[`${MODEL}|stop`, 1]]));
    expect(polled.sessionTurns).toEqual(turnSamples(1));
    const reads = spansOf("interactions.get");
    expect(reads).toHaveLength(2);
    const finishing = reads.find((s) => s.attributes["gen_ai.usage.input_tokens"] !== undefined);
    expect(finishing?.attributes).toMatchObject({
      "gen_ai.conversation.id": id,
      "gemini_gateway.session.turn": 1,
      "gen_ai.response.id": id,
      "gen_ai.usage.input_tokens": done.usage?.total_input_tokens,
      "gen_ai.response.finish_reasons": ["stop"],
    });

    const later = await measure(times(2, "interactions.get|200"), async () => {
      expect((await ai.interactions.get(id)).status).toBe("completed");
      expect((await ai.interactions.get(id)).output_text).toBe(done.output_text);
    });
    expect(later.tokens).toEqual(new Map());
    expect(later.responses).toEqual(new Map());
    expect(later.sessionTurns).toEqual(turnSamples());
    expect((await stack.sim.stats()).tokens.total).toBe(done.usage?.total_tokens);
  });
});

describe("cancel and delete", () => {
  test("cancel of a running background interaction: an error on its span, counted under its route, no tokens, not in the GenAI histograms", async () => {
    const ai = stack.genai();
    const started = await ai.interactions.create({ model: MODEL, input: "Never mind this one", background: true });
    spans.reset();
    let cancelled: GoogleGenAIInteraction | undefined;
    const m = await measure(["interactions.cancel|200"], async () => {
      cancelled = await ai.interactions.cancel(started.id);
    });
    expect(cancelled!.status).toBe("cancelled");
    expect(m.tokens).toEqual(new Map());
    expect(m.cost).toEqual(new Map());
    expect(m.responses).toEqual(new Map());
    // gen_ai_client_operation_duration_seconds is for model operations only.
    expect(m.durations).toEqual(new Map());
    // The cancel is the turn's outcome: its one sample of the per-turn histogram (the create, pending, had none), no
    // prompt tokens (nothing was generated).
    expect(m.sessionTurns).toEqual(turnSamples(1));
    expect(m.sessionPrompts).toEqual(new Map());
    const span = spansOf("interactions.cancel")[0];
    expect(span?.attributes).toMatchObject({ "error.type": "cancelled", "gen_ai.conversation.id": started.id, "http.response.status_code": 200 });
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);

    // Reading it afterwards shows the same end: nothing more is counted, and no second error.
    spans.reset();
    const read = await measure(["interactions.get|200"], async () => {
      expect((await ai.interactions.get(started.id)).status).toBe("cancelled");
    });
    expect(read.tokens).toEqual(new Map());
    expect(read.responses).toEqual(new Map());
    expect(read.sessionTurns).toEqual(turnSamples());
    expect(spansOf("interactions.get")[0]?.attributes["error.type"]).toBeUndefined();
    expect((await stack.sim.stats()).tokens.total).toBe(0);
  });

  test("delete: answered by upstream; a GET afterwards is the gateway's own 404, nothing reaching the simulator", async () => {
    const ai = stack.genai();
    const made = await ai.interactions.create({ model: MODEL, input: "Forget me" });
    const deleted = await measure(["interactions.delete|200"], async () => {
      expect(await ai.interactions.delete(made.id)).toBeUndefined();
    });
    expect(deleted.tokens).toEqual(new Map());
    expect((await stack.sim.stats()).byMethod.deleteInteraction).toBe(1);
    const gone = await measure(["interactions.get|404", "interactions.delete|404", "interactions.create|404"], () =>
      unreached(stack.sim, async () => {
        await expectNotFound(ai.interactions.get(made.id, {}, NO_RETRY), made.id);
        await expectNotFound(ai.interactions.delete(made.id, {}, NO_RETRY), made.id);
        await expectNotFound(ai.interactions.create({ model: MODEL, input: "Go on", previous_interaction_id: made.id }, NO_RETRY), made.id);
      }),
    );
    expect(gone.attempts).toEqual(new Map());
  });
});

describe("statuses", () => {
  test("incomplete (max_output_tokens): max_tokens, a truncation by output limit, or by thinking when no text came back", async () => {
    const ai = stack.genai();
    let cut: GoogleGenAIInteraction | undefined;
    let spent: GoogleGenAIInteraction | undefined;
    const m = await measure(times(2, "interactions.create|200"), async () => {
      cut = await ai.interactions.create({ model: "gemini-2.0-flash", input: "Tell me everything", generation_config: { max_output_tokens: 5 } });
      spent = await ai.interactions.create({ model: MODEL, input: "Think hard about everything", generation_config: { max_output_tokens: 10 } });
    });
    expect([cut!.status, spent!.status]).toEqual(["incomplete", "incomplete"]);
    expect(cut!.output_text).toBeTruthy();
    expect(spent!.output_text).toBeUndefined();
    expect(m.responses).toEqual(new Map([["gemini-2.0-flash|max_tokens", 1], [`${MODEL}|max_tokens`, 1]]));
    expect(m.truncations).toEqual(new Map([["gemini-2.0-flash|output_limit", 1], [`${MODEL}|thinking`, 1]]));
    expect(m.tokens).toEqual(new Map([...tokenSeries("gemini-2.0-flash", "alpha", tokensOf(cut!.usage)), ...tokenSeries(MODEL, "alpha", tokensOf(spent!.usage))]));
  });

  test("the call span carries the request's generation_config as the GenAI request attributes", async () => {
    const ai = stack.genai();
    spans.reset();
    let made: GoogleGenAIInteraction | undefined;
    await measure(["interactions.create|200"], async () => {
      made = await ai.interactions.create({
        model: "gemini-2.0-flash",
        input: "Tell me everything",
        generation_config: { max_output_tokens: 5, temperature: 0.5, top_p: 0.9, seed: 7, stop_sequences: ["END"] },
      });
    });
    expect(spanOfResponse(made!.id)?.attributes).toMatchObject({
      "gen_ai.request.max_tokens": 5,
      "gen_ai.request.temperature": 0.5,
      "gen_ai.request.top_p": 0.9,
      "gen_ai.request.seed": 7,
      "gen_ai.request.stop_sequences": ["END"],
    });
  });

  test("budget_exceeded and requires_continuation (automatic continuation off) count their truncation causes", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const ai = stack.genai();
    await stack.sim.setFaults([
      { when: { method: "createInteraction" }, fault: { kind: "interaction_status", status: "budget_exceeded" }, times: 1 },
      { when: { method: "createInteraction" }, fault: { kind: "interaction_status", status: "requires_continuation" }, times: 1 },
    ]);
    let budget: GoogleGenAIInteraction | undefined;
    let stopped: GoogleGenAIInteraction | undefined;
    const m = await measure(times(2, "interactions.create|200"), async () => {
      budget = await ai.interactions.create({ model: "gemini-2.0-flash", input: "Spend it all" });
      stopped = await ai.interactions.create({ model: "gemini-2.0-flash", input: "Go on and on", automatic_continuation: false });
    });
    warn.mockRestore();
    expect([budget!.status, stopped!.status]).toEqual(["budget_exceeded", "requires_continuation"]);
    expect(m.responses).toEqual(new Map([["gemini-2.0-flash|budget_exceeded", 1], ["gemini-2.0-flash|requires_continuation", 1]]));
    expect(m.truncations).toEqual(new Map([["gemini-2.0-flash|budget_exceeded", 1], ["gemini-2.0-flash|requires_continuation", 1]]));
    expect(m.tokens).toEqual(tokenSeries("gemini-2.0-flash", "alpha", tokensOf(budget!.usage), tokensOf(stopped!.usage)));
  });

  test("requires_continuation with the SDK's automatic continuation: two creates, each billed, one turn of the per-turn histograms", async () => {
    const ai = stack.genai();
    await stack.sim.setFaults([{ when: { method: "createInteraction" }, fault: { kind: "interaction_status", status: "requires_continuation" }, times: 1 }]);
    spans.reset();
    let merged: GoogleGenAIInteraction | undefined;
    const m = await measure(times(2, "interactions.create|200"), async () => {
      merged = await ai.interactions.create({ model: MODEL, input: "Write a long poem" });
    });
    expect(merged!.status).toBe("completed");
    expect(merged!.continuation_ids).toHaveLength(2);
    // The SDK sums the hops' usage: the gateway counted each hop, so the two agree.
    expect(m.tokens).toEqual(tokenSeries(MODEL, "alpha", tokensOf(merged!.usage)));
    expect(m.responses).toEqual(new Map([[`${MODEL}|requires_continuation`, 1], [`${MODEL}|stop`, 1]]));
    expect(m.truncations).toEqual(new Map([[`${MODEL}|requires_continuation`, 1]]));
    expect(m.sessionTurns).toEqual(turnSamples(1));
    const [first, hop] = merged!.continuation_ids!;
    expect(spanOfResponse(first!)?.attributes).toMatchObject({ "gen_ai.conversation.id": first, "gemini_gateway.session.turn": 1 });
    expect(spanOfResponse(hop!)?.attributes).toMatchObject({ "gen_ai.conversation.id": first });
    expect(spanOfResponse(hop!)?.attributes["gemini_gateway.session.turn"]).toBeUndefined();
  });

  test("failed: counted as an error (error_type failed), its tokens as billed", async () => {
    const ai = stack.genai();
    await stack.sim.setFaults([{ when: { method: "createInteraction" }, fault: { kind: "interaction_status", status: "failed" }, times: 1 }]);
    spans.reset();
    let failed: GoogleGenAIInteraction | undefined;
    const m = await measure(["interactions.create|200"], async () => {
      failed = await ai.interactions.create({ model: "gemini-2.0-flash", input: "Fail me" });
    });
    expect(failed!.status).toBe("failed");
    expect(m.durations).toEqual(new Map([["chat|failed", 1]]));
    expect(m.responses).toEqual(new Map());
    expect(m.truncations).toEqual(new Map());
    expect(m.tokens).toEqual(tokenSeries("gemini-2.0-flash", "alpha", tokensOf(failed!.usage)));
    expect(spanOfResponse(failed!.id)?.attributes["error.type"]).toBe("failed");
  });
});

describe("the turn cap (INTERACTION_MAX_TURNS)", () => {
  let capped: SurfaceStack;
  useSurfaceStack((started) => (capped = started), { env: { INTERACTION_MAX_TURNS: "2" } });
  afterEach(() => {
    expect(capped.errors).toEqual([]);
  });
  const onCapped = (requests: string[], work: () => Promise<void>): Promise<Gained> => counted(() => scrapeMetrics(capped.url), requests, work);

  test("the third create of a chain is refused with 400 FAILED_PRECONDITION and the cap's message before anything reaches the simulator", async () => {
    const { sim } = capped;
    const ai = capped.genai();
    const first = await ai.interactions.create({ model: MODEL, input: QUESTIONS[0]! });
    const second = await ai.interactions.create({ model: MODEL, input: QUESTIONS[1]!, previous_interaction_id: first.id });
    let refusal: Awaited<ReturnType<typeof rejection>> | undefined;
    const m = await onCapped(["interactions.create|400"], () =>
      unreached(sim, async () => {
        refusal = await rejection(ai.interactions.create({ model: MODEL, input: QUESTIONS[2]!, previous_interaction_id: second.id }, NO_RETRY));
      }),
    );
    expect(refusal).toMatchObject({ name: "BadRequestError", status: 400, body: { error: { code: 400, status: "FAILED_PRECONDITION" } } });
    const message = (refusal!.body as { error: { message: string } }).error.message;
    expect(message).toBe(
      `This conversation has reached the gateway's limit of 2 turns (INTERACTION_MAX_TURNS): ${second.id} cannot be continued. ` +
        "Start a new chain (a create without previous_interaction_id), giving it a summary of this conversation as its first input if the model needs it.",
    );
    expect(m.turnCap).toEqual(new Map([["rejected", 1]]));
    expect(m.tokens).toEqual(new Map());
    expect(m.attempts).toEqual(new Map());
    expect((await sim.stats()).byMethod.createInteraction).toBe(2);
    // A new chain is not refused.
    expect((await ai.interactions.create({ model: MODEL, input: "A summary, to start again" })).status).toBe("completed");
  });

  test("a continuation hop of the last turn allowed is not refused: the SDK completes the turn", async () => {
    const { sim } = capped;
    const ai = capped.genai();
    const first = await ai.interactions.create({ model: MODEL, input: QUESTIONS[0]! });
    await sim.setFaults([{ when: { method: "createInteraction" }, fault: { kind: "interaction_status", status: "requires_continuation" }, times: 1 }]);
    let second: GoogleGenAIInteraction | undefined;
    const m = await onCapped(times(2, "interactions.create|200"), async () => {
      second = await ai.interactions.create({ model: MODEL, input: QUESTIONS[1]!, previous_interaction_id: first.id });
    });
    expect(second!.status).toBe("completed");
    expect(second!.continuation_ids).toHaveLength(2);
    expect(m.turnCap).toEqual(new Map());
  });

  test("a create naming its previous interaction in proto JSON's camelCase (previousInteractionId, which Google and the simulator accept) is held to the cap too", async () => {
    const { sim, url } = capped;
    const ai = capped.genai();
    const first = await ai.interactions.create({ model: MODEL, input: QUESTIONS[0]! });
    const second = await ai.interactions.create({ model: MODEL, input: QUESTIONS[1]!, previous_interaction_id: first.id });
    let status = 0;
    let answer = "";
    let reached = 0;
    const m = await gain(() => scrapeMetrics(url), 1, async () => {
      const before = (await sim.stats()).requests;
      const res = await fetch(`${url}/v1beta/interactions`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-goog-api-key": KEY_ALPHA },
        body: JSON.stringify({ model: MODEL, input: QUESTIONS[2]!, previousInteractionId: second.id }),
      });
      status = res.status;
      answer = await res.text();
      reached = (await sim.stats()).requests - before;
    });
    expect({
      status,
      reachedSimulator: reached,
      // Had it gone upstream, the chain would have had a third turn: its reply would show the first question.
      thirdTurnAnswered: answer.includes(JSON.stringify(THIRD_REPLY_CONTEXT).slice(1, -1)),
      requests: m.requests,
      turnCap: m.turnCap,
    }).toEqual({
      status: 400,
      reachedSimulator: 0,
      thirdTurnAnswered: false,
      requests: new Map([["interactions.create|400", 1]]),
      turnCap: new Map([["rejected", 1]]),
    });
    expect(answer).toContain("FAILED_PRECONDITION");
  });
});

describe("two tenants on the one upstream key", () => {
  test("beta's get, delete, cancel and continuation of alpha's interactions are the 404 of a name that never existed, before the simulator; alpha's go on", async () => {
    const alpha = stack.genai(KEY_ALPHA);
    const beta = stack.genai(KEY_BETA);
    const mine = await alpha.interactions.create({ model: MODEL, input: "Alpha's secret plan" });
    const running = await alpha.interactions.create({ model: MODEL, input: "Alpha's long job", background: true });
    const never = "v1_neverexistedneverexisted0";
    const refused = await measure(
      ["interactions.get|404", "interactions.get|404", "interactions.get|404", "interactions.delete|404", "interactions.cancel|404", "interactions.create|404"],
      () =>
        unreached(stack.sim, async () => {
          await expectNotFound(beta.interactions.get(mine.id, {}, NO_RETRY), mine.id);
          await expectNotFound(beta.interactions.get(mine.id, { stream: true }, NO_RETRY), mine.id);
          await expectNotFound(beta.interactions.delete(mine.id, {}, NO_RETRY), mine.id);
          await expectNotFound(beta.interactions.cancel(running.id, {}, NO_RETRY), running.id);
          await expectNotFound(beta.interactions.create({ model: MODEL, input: "What was the plan?", previous_interaction_id: mine.id }, NO_RETRY), mine.id);
          // The same answer as for a name that never existed: nothing tells beta that alpha's is there.
          await expectNotFound(beta.interactions.get(never, {}, NO_RETRY), never);
        }),
    );
    expect(refused.tokens).toEqual(new Map());
    expect(refused.attempts).toEqual(new Map());

    // Untouched: alpha reads, continues, cancels and deletes its own.
    let next: GoogleGenAIInteraction | undefined;
    const own = await measure(["interactions.get|200", "interactions.create|200", "interactions.cancel|200", "interactions.delete|200"], async () => {
      expect((await alpha.interactions.get(mine.id)).output_text).toBe(mine.output_text);
      next = await alpha.interactions.create({ model: MODEL, input: "What was the plan?", previous_interaction_id: mine.id });
      expect((await alpha.interactions.cancel(running.id)).status).toBe("cancelled");
      await alpha.interactions.delete(mine.id);
    });
    expect(next!.output_text).toMatch(/^\[context: 3 contents; first user message: "Alpha's secret plan"\]/);
    expect(own.tokens).toEqual(tokenSeries(MODEL, "alpha", tokensOf(next!.usage)));
  });
});

describe("retries of a create (it must not run twice)", () => {
  test("a 503 and a 429 with RetryInfo are retried and answered", async () => {
    const ai = stack.genai();
    await stack.sim.setFaults([
      { when: { method: "createInteraction" }, fault: { status: 503 }, times: 1 },
      { when: { method: "createInteraction" }, fault: { status: 429, retryDelay: "0.02s", quotaId: "GenerateRequestsPerMinutePerProjectPerModel" }, times: 1 },
    ]);
    const made: GoogleGenAIInteraction[] = [];
    const m = await measure(times(2, "interactions.create|200"), async () => {
      made.push(await ai.interactions.create({ model: MODEL, input: "Retry me" }, NO_RETRY));
      made.push(await ai.interactions.create({ model: MODEL, input: "Retry me too" }, NO_RETRY));
    });
    expect(made.map((i) => i.status)).toEqual(["completed", "completed"]);
    expect(m.retries).toEqual(new Map([[`${MODEL}|503`, 1], [`${MODEL}|429`, 1]]));
    expect(m.attempts).toEqual(new Map([[`${MODEL}|503`, 1], [`${MODEL}|429`, 1], [`${MODEL}|ok`, 2]]));
    expect(m.retryDelays.get("retry_info")).toBe(1);
    expect(m.tokens).toEqual(tokenSeries(MODEL, "alpha", ...made.map((i) => tokensOf(i.usage))));
    expect((await stack.sim.stats()).byMethod.createInteraction).toBe(4);
  });

  test("a 500 is not retried: the client gets it, the simulator saw exactly one create", async () => {
    const ai = stack.genai();
    await stack.sim.setFaults([{ when: { method: "createInteraction" }, fault: { status: 500 }, times: 1 }]);
    let failure: Awaited<ReturnType<typeof rejection>> | undefined;
    const m = await measure(["interactions.create|500"], async () => {
      failure = await rejection(ai.interactions.create({ model: MODEL, input: "Do not run me twice" }, NO_RETRY));
    });
    expect(failure).toMatchObject({ name: "InternalServerError", status: 500, body: { error: { code: 500, status: "INTERNAL" } } });
    expect(m.retries).toEqual(new Map());
    expect(m.attempts).toEqual(new Map([[`${MODEL}|500`, 1]]));
    expect(m.tokens).toEqual(new Map());
    expect(m.durations).toEqual(new Map([["chat|500", 1]]));
    expect((await stack.sim.stats()).byMethod.createInteraction).toBe(1);
  });

  test("a broken connection (a reset before any byte) is not retried either: the gateway answers 503 itself, the simulator saw one create", async () => {
    const ai = stack.genai();
    await stack.sim.setFaults([{ when: { method: "createInteraction" }, fault: { kind: "reset" }, times: 1 }]);
    let failure: Awaited<ReturnType<typeof rejection>> | undefined;
    const m = await measure(["interactions.create|503"], async () => {
      failure = await rejection(ai.interactions.create({ model: MODEL, input: "Reset me once" }, NO_RETRY));
    });
    expect(failure).toMatchObject({ status: 503, body: { error: { code: 503, status: "UNAVAILABLE" } } });
    expect(m.retries).toEqual(new Map());
    expect(m.attempts).toEqual(new Map([[`${MODEL}|network`, 1]]));
    expect((await stack.sim.stats()).byMethod.createInteraction).toBe(1);
  });
});
