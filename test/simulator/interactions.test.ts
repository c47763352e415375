// Conformance of the Interactions API: @google/genai 2.x's `ai.interactions.*`, unmodified and pointed at the simulator
// by its base URL, must accept every answer: chained turns, streams and their resumption, background interactions,
// every status, faults and stats.
import type { GoogleGenAIInteraction } from "@google/genai";
import { GoogleGenAI } from "@google/genai";
import { describe, expect, test, vi } from "vitest";
import { QUESTIONS, THIRD_REPLY_CONTEXT } from "../helpers/chat.js";
import type { TestSimulator } from "../helpers/sim.js";
import { useTestSimulator } from "../helpers/sim.js";

const MODEL = "gemini-2.5-flash";
/** The SDK retries 429s, 5xx and dropped connections four times with backoff; fault tests want the first answer. */
const NO_RETRY = { maxRetries: 0 };

let sim: TestSimulator;
useTestSimulator((started) => (sim = started), { replyTokens: { min: 30, max: 60 } });

const client = (apiKey = "test-key") => new GoogleGenAI({ apiKey, httpOptions: { baseUrl: sim.url } });

/** An SSE event as the SDK yields it (its types are a union; the tests read it loosely). */
type Event = { event_type: string; event_id?: string; index?: number; delta?: { type: string; text?: string; arguments?: string }; interaction?: Record<string, unknown> & { id: string; status: string }; error?: { code: string; message: string }; step?: { type: string } };
type Usage = Record<string, unknown> & { total_input_tokens: number; total_output_tokens?: number; total_tokens: number };

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

const textOf = (events: readonly Event[]): string => events.filter((e) => e.event_type === "step.delta" && e.delta?.type === "text").map((e) => e.delta!.text).join("");

/** The SDK adds initial_input_tokens when it merges continuation hops (a unary create always goes through it). */
const wireUsage = (usage: unknown): Usage => {
  const { initial_input_tokens: _added, ...rest } = usage as Usage;
  return rest as Usage;
};

async function rejection(promise: Promise<unknown>): Promise<{ status?: number; name: string; message: string; error?: { error?: { status?: string; details?: Array<Record<string, unknown>> } } }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof Error)) throw new Error("expected a rejection");
  return error as unknown as Awaited<ReturnType<typeof rejection>>;
}

describe("chained turns", () => {
  test("the chat example: three turns chained by previous_interaction_id; the third reply's context line shows the first question", async () => {
    const ai = client();
    const turns: GoogleGenAIInteraction[] = [];
    for (const [i, input] of QUESTIONS.entries()) {
      turns.push(await ai.interactions.create({ model: MODEL, input, ...(i > 0 ? { previous_interaction_id: turns[i - 1]!.id } : {}) }));
    }
    expect(turns.map((t) => t.status)).toEqual(["completed", "completed", "completed"]);
    expect(turns[0]!.output_text).toMatch(/^\[context: 1 content; first user message: "Explain quantum entanglement in one sentence"\]/);
    expect(turns[2]!.output_text?.startsWith(THIRD_REPLY_CONTEXT)).toBe(true);
    expect(turns[2]!.previous_interaction_id).toBe(turns[1]!.id);
    // A create answers its output steps: the thought (2.5 models think), then the text.
    expect(turns[0]!.steps.map((s) => s.type)).toEqual(["thought", "model_output"]);
    for (const turn of turns) {
      const usage = wireUsage(turn.usage);
      expect(usage.total_tokens).toBe(usage.total_input_tokens + (usage.total_output_tokens as number) + (usage.total_thought_tokens as number));
    }
    // The whole conversation is input: each turn's input holds the one before's input and reply.
    const inputs = turns.map((t) => wireUsage(t.usage).total_input_tokens);
    expect(inputs[1]).toBeGreaterThan(inputs[0]! + wireUsage(turns[0]!.usage).total_output_tokens!);

    const got = await ai.interactions.get(turns[2]!.id);
    expect(got.steps[0]).toEqual({ type: "user_input", content: [{ type: "text", text: QUESTIONS[2] }] });
    expect(got.steps.slice(1)).toEqual(turns[2]!.steps);
    expect(got.output_text).toBe(turns[2]!.output_text);
    expect(got.usage).toEqual(wireUsage(turns[2]!.usage));
    const stats = await sim.stats();
    expect(stats.byMethod).toMatchObject({ createInteraction: 3, getInteraction: 1 });
    expect(stats.byModel).toEqual({ [MODEL]: 3 });
  });

  test("the same generation as generateContent: a turn's reply and input tokens are those of the same conversation there", async () => {
    const ai = client();
    const first = await ai.interactions.create({ model: MODEL, input: QUESTIONS[0]! });
    const second = await ai.interactions.create({ model: MODEL, input: QUESTIONS[1]!, previous_interaction_id: first.id });
    const generated = await ai.models.generateContent({
      model: MODEL,
      contents: [
        { role: "user", parts: [{ text: QUESTIONS[0]! }] },
        { role: "model", parts: [{ text: first.output_text! }] },
        { role: "user", parts: [{ text: QUESTIONS[1]! }] },
      ],
    });
    expect(second.output_text).toBe(generated.text);
    expect(wireUsage(second.usage)).toMatchObject({
      total_input_tokens: generated.usageMetadata?.promptTokenCount,
      total_output_tokens: generated.usageMetadata?.candidatesTokenCount,
      total_thought_tokens: generated.usageMetadata?.thoughtsTokenCount,
      total_tokens: generated.usageMetadata?.totalTokenCount,
    });
  });

  test("a long first message is served from the implicit cache on the next turn: cached tokens are among the input", async () => {
    const ai = client("cache-key");
    const long = Array.from({ length: 1100 }, () => "lorem").join(" ");
    const first = await ai.interactions.create({ model: MODEL, input: long });
    const second = await ai.interactions.create({ model: MODEL, input: "Summarise that.", previous_interaction_id: first.id });
    const usage = wireUsage(second.usage);
    expect(usage.total_cached_tokens).toBe(1100);
    expect(usage.cached_tokens_by_modality).toEqual([{ modality: "text", tokens: 1100 }]);
    expect(usage.total_input_tokens).toBeGreaterThan(1100);
  });

  test("the stateless way: the conversation sent as steps, replaying the model's output", async () => {
    const ai = client();
    const first = await ai.interactions.create({ model: MODEL, input: QUESTIONS[0]!, store: false });
    const replayed = await ai.interactions.create({
      model: MODEL,
      store: false,
      input: [{ type: "user_input", content: [{ type: "text", text: QUESTIONS[0]! }] }, ...first.steps, { type: "user_input", content: [{ type: "text", text: QUESTIONS[1]! }] }],
    });
    expect(replayed.output_text).toMatch(/^\[context: 3 contents; first user message: "Explain quantum entanglement in one sentence"\]/);
    // Not stored: neither readable nor a previous interaction.
    expect((await rejection(ai.interactions.get(first.id, {}, NO_RETRY))).status).toBe(404);
    const previous = await rejection(ai.interactions.create({ model: MODEL, input: "x", previous_interaction_id: first.id }, NO_RETRY));
    expect(previous.status).toBe(404);
    expect(previous.message).toContain(`Interaction ${first.id} was not found`);
  });
});

describe("streams", () => {
  test("created, in_progress, step start/deltas/stop, completed with the usage; every event has an id; the text is the unary text", async () => {
    const ai = client();
    const input = "Tell me about the sea";
    const events = await collect(await ai.interactions.create({ model: MODEL, input, stream: true }));
    const types = events.map((e) => e.event_type);
    expect(types.slice(0, 2)).toEqual(["interaction.created", "interaction.status_update"]);
    expect(types.at(-1)).toBe("interaction.completed");
    expect(events[0]!.interaction).toMatchObject({ status: "in_progress", model: MODEL, object: "interaction" });
    expect(types.filter((t) => t === "step.delta").length).toBeGreaterThan(3);
    expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);
    const steps = events.filter((e) => e.event_type === "step.start").map((e) => e.step?.type);
    expect(steps).toEqual(["thought", "model_output"]);
    const unary = await ai.interactions.create({ model: MODEL, input });
    expect(textOf(events)).toBe(unary.output_text);
    const completed = events.at(-1)!.interaction!;
    expect(completed.status).toBe("completed");
    expect(completed.usage).toEqual(wireUsage(unary.usage));
    expect(completed.steps).toBeUndefined();
  });

  test("the wire: event and data lines, text/event-stream; the data's event_type is the event line's", async () => {
    const res = await fetch(`${sim.url}/v1beta/interactions`, {
      method: "POST",
      headers: { "x-goog-api-key": "k", "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, input: "Hi", stream: true }),
    });
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const blocks = (await res.text()).split("\n\n").filter((b) => b !== "");
    for (const block of blocks) {
      const [eventLine, dataLine, ...rest] = block.split("\n");
      expect(rest).toEqual([]);
      const data = JSON.parse(dataLine!.replace(/^data: /, "")) as Event;
      expect(eventLine).toBe(`event: ${data.event_type}`);
    }
  });

  test("GET ?stream=true resumes after last_event_id (all events without one); an unknown id is a 400", async () => {
    const ai = client();
    const events = await collect(await ai.interactions.create({ model: MODEL, input: "Resume me", stream: true }));
    const id = events[0]!.interaction!.id;
    expect(await collect(await ai.interactions.get(id, { stream: true, last_event_id: events[4]!.event_id! }))).toEqual(events.slice(5));
    expect(await collect(await ai.interactions.get(id, { stream: true }))).toEqual(events);
    const unknown = await rejection(ai.interactions.get(id, { stream: true, last_event_id: "evt_9999" }, NO_RETRY));
    expect(unknown.status).toBe(400);
    // The stream's usage is counted once: replays count nothing.
    const stats = await sim.stats();
    expect(stats.tokens.total).toBe((events.at(-1)!.interaction!.usage as Usage).total_tokens);
  });

  test("a dropped connection (hang after some events): the interaction completes anyway; the rest is resumed by event id", async () => {
    await sim.setFaults([{ when: { method: "createInteraction" }, fault: { kind: "hang", afterChunks: 8, ms: 20 }, times: 1 }]);
    const ai = client();
    const { events: seen, error } = await collectUntilError(await ai.interactions.create({ model: MODEL, input: "Drop me", stream: true }, NO_RETRY));
    expect((error as Error).name).toBe("APIConnectionError");
    expect(seen.length).toBeGreaterThan(0);
    const id = seen[0]!.interaction!.id;
    const rest = await collect(await ai.interactions.get(id, { stream: true, last_event_id: seen.at(-1)!.event_id! }));
    expect([...seen, ...rest]).toEqual(await collect(await ai.interactions.get(id, { stream: true })));
    expect(rest.at(-1)!.interaction!.status).toBe("completed");
    expect((await ai.interactions.get(id)).status).toBe("completed");
  });

  test("midstream_error: an error event after N events; the interaction failed with what was streamed", async () => {
    await sim.setFaults([{ when: { method: "createInteraction" }, fault: { kind: "midstream_error", afterChunks: 8 } }]);
    const ai = client();
    const events = await collect(await ai.interactions.create({ model: MODEL, input: "Fail me", stream: true }));
    expect(events).toHaveLength(9);
    expect(events.at(-1)).toEqual({
      event_type: "error",
      error: { code: "UNAVAILABLE", message: "This model is currently experiencing high demand. Spikes in demand are usually temporary. Please try again later." },
      event_id: "evt_0009",
    });
    const failed = await ai.interactions.get(events[0]!.interaction!.id);
    expect(failed.status).toBe("failed");
    expect(failed.output_text).toBe(textOf(events));
    expect(failed.usage?.total_output_tokens).toBe(splitCount(textOf(events)));
    // The stats count what the failed interaction cost, once.
    expect((await sim.stats()).tokens.total).toBe(failed.usage?.total_tokens);
    // Its replay ends with the same error event.
    expect(await collect(await ai.interactions.get(failed.id, { stream: true }))).toEqual(events);
    // A request that is not a stream answers the error status outright.
    const unary = await rejection(ai.interactions.create({ model: MODEL, input: "x" }, NO_RETRY));
    expect(unary.status).toBe(503);
  });

  test("midstream_error on a resumed stream cuts that stream only", async () => {
    const ai = client();
    const events = await collect(await ai.interactions.create({ model: MODEL, input: "Keep me", stream: true }));
    await sim.setFaults([{ when: { method: "getInteraction" }, fault: { kind: "midstream_error", afterChunks: 2, status: 500 } }]);
    const replay = await collect(await ai.interactions.get(events[0]!.interaction!.id, { stream: true, last_event_id: events[1]!.event_id! }));
    expect(replay.slice(0, 2)).toEqual(events.slice(2, 4));
    expect(replay[2]).toMatchObject({ event_type: "error", error: { code: "INTERNAL" }, event_id: events[4]!.event_id });
    await sim.clearFaults();
    expect((await ai.interactions.get(events[0]!.interaction!.id)).status).toBe("completed");
  });
});

/** Tokens of a text as the simulator counts them (runs of up to 8 letters/digits, or one other character). */
const splitCount = (text: string): number => text.match(/\s*(?:[\p{L}\p{N}]{1,8}|[^\s\p{L}\p{N}])/gu)?.length ?? 0;

describe("background interactions", () => {
  test("in_progress at once with no usage; completed at the second GET; its tokens counted once", async () => {
    const ai = client();
    const started = await ai.interactions.create({ model: MODEL, input: "Write a long report", background: true });
    expect(started).toMatchObject({ status: "in_progress", steps: [] });
    expect(started.usage).toBeUndefined();
    expect((await sim.stats()).tokens.total).toBe(0);
    const polled = await ai.interactions.get(started.id);
    expect(polled.status).toBe("in_progress");
    expect(polled.steps.map((s) => s.type)).toEqual(["user_input"]);
    const done = await ai.interactions.get(started.id);
    expect(done.status).toBe("completed");
    expect(done.steps.map((s) => s.type)).toEqual(["user_input", "thought", "model_output"]);
    expect(done.output_text).toMatch(/^\[context: 1 content; first user message: "Write a long report"\]/);
    const counted = (await sim.stats()).tokens.total;
    expect(counted).toBe(done.usage?.total_tokens);
    await ai.interactions.get(started.id);
    expect((await sim.stats()).tokens.total).toBe(counted);
    // Finished: it cannot be cancelled.
    const late = await rejection(ai.interactions.cancel(started.id, {}, NO_RETRY));
    expect(late.status).toBe(400);
    expect(late.error?.error?.status).toBe("FAILED_PRECONDITION");
  });

  test("cancel: a running one becomes cancelled, with no output and no tokens; a stream GET finishes a running one", async () => {
    const ai = client();
    const started = await ai.interactions.create({ model: MODEL, input: "Never mind", background: true });
    const cancelled = await ai.interactions.cancel(started.id);
    expect(cancelled.status).toBe("cancelled");
    expect((await ai.interactions.get(started.id)).status).toBe("cancelled");
    expect((await sim.stats()).tokens.total).toBe(0);
    const other = await ai.interactions.create({ model: MODEL, input: "Watch me", background: true });
    const events = await collect(await ai.interactions.get(other.id, { stream: true }));
    expect(events.at(-1)!.interaction!.status).toBe("completed");
    // background needs store
    expect((await rejection(ai.interactions.create({ model: MODEL, input: "x", background: true, store: false }, NO_RETRY))).status).toBe(400);
  });
});

describe("statuses", () => {
  test("incomplete: max_output_tokens cuts the text; when thinking spends all of it there is no model_output", async () => {
    const ai = client();
    const cut = await ai.interactions.create({ model: "gemini-2.0-flash", input: "Tell me everything", generation_config: { max_output_tokens: 5 } });
    expect(cut.status).toBe("incomplete");
    expect(wireUsage(cut.usage).total_output_tokens).toBe(5);
    const spent = await ai.interactions.create({ model: MODEL, input: "Think hard", generation_config: { max_output_tokens: 10 } });
    expect(spent.status).toBe("incomplete");
    expect(spent.steps.map((s) => s.type)).toEqual(["thought"]);
    expect(spent.output_text).toBeUndefined();
    expect(wireUsage(spent.usage)).toMatchObject({ total_thought_tokens: 10 });
    expect(wireUsage(spent.usage).total_output_tokens).toBeUndefined();
  });

  test("requires_action: tool_choice any calls the function; its result continues the conversation", async () => {
    const ai = client();
    const tools = [{ type: "function" as const, name: "get_weather", description: "Weather in a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }];
    const asked = await ai.interactions.create({ model: MODEL, input: "What is the weather in Paris?", tools, generation_config: { tool_choice: "any" } });
    expect(asked.status).toBe("requires_action");
    const call = asked.steps.at(-1) as { type: string; id: string; name: string; arguments: Record<string, unknown> };
    expect(call).toMatchObject({ type: "function_call", name: "get_weather", arguments: { city: "What is the weather in Paris?" } });
    expect(asked.output_text).toBeUndefined();
    const answered = await ai.interactions.create({
      model: MODEL,
      previous_interaction_id: asked.id,
      tools,
      input: [{ type: "function_result", call_id: call.id, name: "get_weather", result: "18 degrees and sunny" }],
    });
    expect(answered.status).toBe("completed");
    expect(answered.output_text).toMatch(/^\[context: 3 contents; first user message: "What is the weather in Paris\?"\]/);
    // Streamed, the arguments come as one arguments_delta.
    const events = await collect(await ai.interactions.create({ model: MODEL, input: "Weather in Rome?", tools, generation_config: { tool_choice: "any" }, stream: true }));
    expect(events.find((e) => e.delta?.type === "arguments_delta")?.delta?.arguments).toBe('{"city":"Weather in Rome?"}');
    expect(events.at(-1)!.interaction!.status).toBe("requires_action");
  });

  test("code execution: a call and a result step before the text; the result is tool-use input", async () => {
    const done = await client().interactions.create({ model: "gemini-2.0-flash", input: "Count the words in this sentence", tools: [{ type: "code_execution" }] });
    expect(done.steps.map((s) => s.type)).toEqual(["code_execution_call", "code_execution_result", "model_output"]);
    expect(wireUsage(done.usage)).toMatchObject({ total_tool_use_tokens: 1, tool_use_tokens_by_modality: [{ modality: "text", tokens: 1 }] });
  });

  test("failed and budget_exceeded by fault (half the text); a finish fault maps SAFETY to failed", async () => {
    const ai = client();
    const input = "Tell me a story";
    const full = await ai.interactions.create({ model: "gemini-2.0-flash", input });
    await sim.setFaults([
      { fault: { kind: "interaction_status", status: "failed" }, times: 1 },
      { fault: { kind: "interaction_status", status: "budget_exceeded" }, times: 1 },
      { fault: { kind: "finish", finishReason: "SAFETY" }, times: 1 },
    ]);
    const failed = await ai.interactions.create({ model: "gemini-2.0-flash", input });
    const budget = await ai.interactions.create({ model: "gemini-2.0-flash", input });
    const safety = await ai.interactions.create({ model: "gemini-2.0-flash", input });
    expect([failed.status, budget.status, safety.status]).toEqual(["failed", "budget_exceeded", "failed"]);
    expect(full.output_text?.startsWith(failed.output_text!)).toBe(true);
    expect(wireUsage(failed.usage).total_output_tokens).toBe(Math.ceil(wireUsage(full.usage).total_output_tokens as number / 2));
    expect((await sim.stats()).byFault).toEqual({ interaction_status: 2, finish: 1 });
  });

  test("requires_continuation: the SDK continues by itself (unary, stream, store: false) to the whole reply", async () => {
    const ai = client();
    const input = "Write a long poem";
    const full = await ai.interactions.create({ model: MODEL, input });
    const rule = { when: { method: "createInteraction" as const }, fault: { kind: "interaction_status" as const, status: "requires_continuation" as const }, times: 1 };
    await sim.setFaults([rule]);
    const merged = await ai.interactions.create({ model: MODEL, input });
    expect(merged.status).toBe("completed");
    expect(merged.output_text).toBe(full.output_text);
    expect(merged.continuation_ids).toHaveLength(2);
    // The hop re-reads the context and the text so far: its input is billed again.
    expect(wireUsage(merged.usage).total_input_tokens).toBeGreaterThan(2 * wireUsage(full.usage).total_input_tokens);
    // The continued turn is one model turn in the conversation.
    const next = await ai.interactions.create({ model: MODEL, input: "And another", previous_interaction_id: merged.id });
    expect(next.output_text).toMatch(/^\[context: 3 contents;/);

    await sim.setFaults([rule]);
    const events = await collect(await ai.interactions.create({ model: MODEL, input, stream: true }));
    expect(events.filter((e) => e.event_type === "interaction.completed").map((e) => e.interaction!.status)).toEqual(["requires_continuation", "completed"]);
    expect(textOf(events)).toBe(full.output_text);

    await sim.setFaults([rule]);
    const unstored = await ai.interactions.create({ model: MODEL, input, store: false });
    expect(unstored.output_text).toBe(full.output_text);
    expect((await sim.stats()).byMethod.createInteraction).toBe(8);
  });

  test("requires_continuation by hand: automatic_continuation false answers the token; a create with it goes on", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const ai = client();
    await sim.setFaults([{ fault: { kind: "interaction_status", status: "requires_continuation" }, times: 1 }]);
    const stopped = await ai.interactions.create({ model: "gemini-2.0-flash", input: "Go on and on", automatic_continuation: false });
    expect(stopped.status).toBe("requires_continuation");
    expect(stopped.continuation_token).toMatch(/^ct_/);
    const rest = await ai.interactions.create({ model: "gemini-2.0-flash", continuation_token: stopped.continuation_token!, previous_interaction_id: stopped.id });
    const whole = await ai.interactions.create({ model: "gemini-2.0-flash", input: "Go on and on" });
    expect(`${stopped.output_text}${rest.output_text}`).toBe(whole.output_text);
    const bad = await rejection(ai.interactions.create({ model: "gemini-2.0-flash", continuation_token: "ct_nope" }, NO_RETRY));
    expect(bad.status).toBe(400);
    warn.mockRestore();
  });
});

describe("faults, ownership and errors", () => {
  test("429 with RetryInfo, 500/503 on the other operations, reset: what the SDK throws", async () => {
    const ai = client();
    await sim.setFaults([{ when: { method: "createInteraction" }, fault: { status: 429, retryDelay: "2.5s" }, times: 1 }]);
    const limited = await rejection(ai.interactions.create({ model: MODEL, input: "x" }, NO_RETRY));
    expect(limited.status).toBe(429);
    expect(limited.error?.error?.details?.find((d) => String(d["@type"]).endsWith("RetryInfo"))?.retryDelay).toBe("2.5s");
    const made = await ai.interactions.create({ model: MODEL, input: "x" });
    await sim.setFaults([
      { when: { method: "getInteraction" }, fault: { status: 503 }, times: 1 },
      { when: { method: "deleteInteraction" }, fault: { status: 500 }, times: 1 },
      { when: { method: "cancelInteraction" }, fault: { kind: "reset" }, times: 1 },
    ]);
    expect((await rejection(ai.interactions.get(made.id, {}, NO_RETRY))).status).toBe(503);
    expect((await rejection(ai.interactions.delete(made.id, {}, NO_RETRY))).status).toBe(500);
    expect((await rejection(ai.interactions.cancel(made.id, {}, NO_RETRY))).name).toBe("APIConnectionError");
    await sim.setFaults([{ when: { method: "getInteraction" }, fault: { kind: "delay", ms: 1 }, times: 1 }]);
    expect((await ai.interactions.get(made.id)).status).toBe("completed");
    expect((await sim.stats()).byFault).toEqual({ "status:429": 1, "status:503": 1, "status:500": 1, reset: 1, delay: 1 });
  });

  test("delete; another key's, deleted and unknown interactions are 404s; every version the SDK may use", async () => {
    const ai = client();
    const made = await ai.interactions.create({ model: MODEL, input: "Mine" });
    expect((await rejection(client("other-key").interactions.get(made.id, {}, NO_RETRY))).status).toBe(404);
    const foreign = await rejection(client("other-key").interactions.create({ model: MODEL, input: "x", previous_interaction_id: made.id }, NO_RETRY));
    expect(foreign.status).toBe(404);
    expect(await ai.interactions.delete(made.id)).toBeUndefined();
    expect((await rejection(ai.interactions.get(made.id, {}, NO_RETRY))).status).toBe(404);
    expect((await rejection(ai.interactions.delete(made.id, {}, NO_RETRY))).status).toBe(404);
    for (const api_version of ["v1alpha", "v1"]) {
      const versioned = await ai.interactions.create({ model: MODEL, input: "Hi", api_version });
      expect((await ai.interactions.get(versioned.id, { api_version })).status).toBe("completed");
    }
    const unknownModel = await rejection(ai.interactions.create({ model: "gemini-9", input: "x" }, NO_RETRY));
    expect(unknownModel.status).toBe(404);
    expect(unknownModel.message).toContain("models/gemini-9 is not found for API version v1beta, or is not supported for generateContent.");
    const agent = await rejection(ai.interactions.create({ agent: "deep-research-pro-preview-12-2025", input: "x", background: true }, NO_RETRY));
    expect(agent.status).toBe(400);
    const del = await fetch(`${sim.url}/v1beta/interactions/${(await ai.interactions.create({ model: MODEL, input: "y" })).id}`, { method: "DELETE", headers: { "x-goog-api-key": "test-key" } });
    expect(await del.text()).toBe("{}\n");
  });
});
