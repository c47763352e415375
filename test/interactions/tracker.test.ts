// Interactions without HTTP: the tap of their answers, the status mapping, chains (conversation id, turn number, the
// cap) and outcomes counted once.
import { describe, expect, test } from "vitest";
import { GeminiError } from "../../src/gemini/errors.js";
import { combineHooks, type ResponseHook } from "../../src/gateway/model-call.js";
import { matchRoute, type RouteMatch } from "../../src/gateway/route-table.js";
import { InteractionTracker, placeAfter } from "../../src/interactions/tracker.js";
import { memoryKeyedStore } from "../../src/store/keyed.js";
import { interactionOutcome, InteractionTap, tokensOfInteractionUsage } from "../../src/taps/interaction.js";
import { decideRetry } from "../../src/upstream/retry-policy.js";
import { turn } from "../telemetry/helpers.js";

const usage = { total_input_tokens: 120, total_cached_tokens: 20, total_output_tokens: 30, total_thought_tokens: 10, total_tokens: 160 };
const interaction = (status: string, extra: object = {}) => ({
  id: "i-1",
  status,
  model: "gemini-2.5-flash",
  steps: [
    { type: "user_input", content: [{ type: "text", text: "hi" }] },
    { type: "thought", summary: [{ type: "text", text: "hmm" }] },
    { type: "model_output", content: [{ type: "text", text: "Hello" }] },
  ],
  usage,
  ...extra,
});

function feed(stream: boolean, text: string, size: number) {
  const tap = new InteractionTap(stream, { captureContent: true });
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += size) tap.push(bytes.subarray(i, i + size));
  return tap.finish();
}

describe("interaction tap", () => {
  test("statuses in Gemini's vocabulary; usage in the token kinds", () => {
    expect(["completed", "requires_action", "incomplete", "budget_exceeded", "requires_continuation"].map((s) => interactionOutcome(s).finishReason)).toEqual([
      "STOP",
      "STOP",
      "MAX_TOKENS",
      "BUDGET_EXCEEDED",
      "REQUIRES_CONTINUATION",
    ]);
    expect(interactionOutcome("failed")).toEqual({ errorType: "failed", pending: false });
    expect(interactionOutcome("in_progress").pending).toBe(true);
    expect(interactionOutcome("queued").pending).toBe(true);
    expect(tokensOfInteractionUsage(usage)).toEqual({ input: 100, cached: 20, output: 30, thoughts: 10, tool_use: 0, inputAudio: 0 });
  });

  test("a unary Interaction: the model's output is visible (thoughts are not), tokens, the id", () => {
    for (const size of [1, 9, 100_000]) {
      expect(feed(false, JSON.stringify(interaction("completed")), size).response).toEqual({
        finishReasons: ["STOP"],
        hasVisibleParts: true,
        tokens: { input: 100, cached: 20, output: 30, thoughts: 10, tool_use: 0, inputAudio: 0 },
        responseId: "i-1",
        modelVersion: "gemini-2.5-flash",
        text: "Hello",
      });
    }
    const thinkingOnly = { ...interaction("incomplete"), steps: [{ type: "thought" }] };
    expect(feed(false, JSON.stringify(thinkingOnly), 50).response).toMatchObject({ finishReasons: ["MAX_TOKENS"], hasVisibleParts: false });
    expect(feed(false, JSON.stringify({ id: "i-2", status: "in_progress" }), 50).response).toEqual({ finishReasons: [], hasVisibleParts: false, pending: true, responseId: "i-2", text: "" });
    expect(feed(false, JSON.stringify({ ...interaction("failed") }), 50).response).toMatchObject({ errorType: "failed", finishReasons: [] });
  });

  test("the SSE events: id from interaction.created, text from model_output deltas only, usage and status from interaction.completed", () => {
    const events = [
      { event_type: "interaction.created", event_id: "e1", interaction: { id: "i-3", status: "in_progress", model: "gemini-2.5-flash" } },
      { event_type: "step.start", event_id: "e2", index: 0, step: { type: "thought" } },
      { event_type: "step.delta", event_id: "e3", index: 0, delta: { type: "thought_summary", content: { type: "text", text: "x" } } },
      { event_type: "step.stop", event_id: "e4", index: 0 },
      { event_type: "step.start", event_id: "e5", index: 1, step: { type: "model_output" } },
      { event_type: "step.delta", event_id: "e6", index: 1, delta: { type: "text", text: "Hel" } },
      { event_type: "step.delta", event_id: "e7", index: 1, delta: { type: "text", text: "lo" } },
      { event_type: "step.stop", event_id: "e8", index: 1 },
      { event_type: "interaction.status_update", event_id: "e9", status: "completed" },
      { event_type: "interaction.completed", event_id: "e10", interaction: { id: "i-3", status: "completed", usage } },
    ];
    const text = events.map((e) => `event: ${e.event_type}\ndata: ${JSON.stringify(e)}\n\n`).join("");
    for (const size of [1, 13, 100_000]) {
      const result = feed(true, text, size);
      expect(result.response).toMatchObject({ finishReasons: ["STOP"], text: "Hello", responseId: "i-3", tokens: { cached: 20 } });
      expect(result.streamError).toBeUndefined();
    }
    const cut = feed(true, text.split("event: interaction.status_update")[0]! + `data: ${JSON.stringify({ event_type: "error", error: { code: 503, message: "x", status: "UNAVAILABLE" } })}\n\n`, 7);
    expect(cut.streamError).toMatchObject({ code: 503 });
    expect(cut.response.pending).toBe(true);
  });
});

describe("route table and retries for interactions", () => {
  const route = (method: string, path: string, query = ""): RouteMatch => matchRoute({ method, path, query: new URLSearchParams(query) }) as RouteMatch;
  test("create, read (streamed with ?stream=true), cancel, delete", () => {
    expect(route("POST", "/v1beta/interactions")).toMatchObject({ route: "interactions.create", operation: "chat", tap: "interaction", stream: "body", modelSource: "body", once: true, ownership: { kind: "create_interaction" } });
    expect(route("GET", "/v1beta/interactions/i-1", "stream=true&last_event_id=e4")).toMatchObject({ route: "interactions.get", tap: "interaction", stream: true, ownership: { kind: "owned", name: "interactions/i-1" } });
    expect(route("POST", "/v1beta/interactions/i-1/cancel")).toMatchObject({ route: "interactions.cancel", tap: "interaction", once: false });
    expect(route("DELETE", "/v1alpha/interactions/i-1")).toMatchObject({ route: "interactions.delete", ownership: { deletes: true } });
    expect(route("GET", "/v1beta/agents/a1")).toMatchObject({ route: "agents.get", ownership: { kind: "owned", name: "agents/a1" } });
  });

  test("a create is retried only after an answer that says nothing was done", () => {
    const state = { attemptsMade: 1, now: 0, deadline: 1e9, random: () => 0 };
    const settings = { baseMs: 1, capMs: 1, maxAttempts: 4 };
    for (const outcome of ["429", "503"] as const) expect(decideRetry({ outcome }, state, settings, true).retry).toBe(true);
    for (const outcome of ["500", "504", "timeout", "network"] as const) {
      expect(decideRetry({ outcome }, state, settings, true).retry).toBe(false);
      expect(decideRetry({ outcome }, state, settings).retry).toBe(true);
    }
  });
});

describe("chains", () => {
  const tracker = async (maxTurns?: number) => {
    const claims: string[] = [];
    const marks = new Set<string>();
    let refused = 0;
    const t = new InteractionTracker(memoryKeyedStore(), { maxTurns, maxChains: 100, maxChainBytes: 1 << 20, chainTtlSeconds: 60 }, {
      firstTime: async (mark) => (marks.has(mark) ? false : (marks.add(mark), true)),
      claim: async (name, tenant) => void claims.push(`${tenant}:${name}`),
      onTurnCapRejected: () => void refused++,
    });
    return { t, claims, refused: () => refused };
  };
  const answered = async (hook: ResponseHook, id: string, status = "completed") => {
    await hook.body!(Buffer.from(JSON.stringify({ id, status, usage })), async () => undefined);
    const record = turn({ response: { finishReasons: status === "completed" ? ["STOP"] : [], hasVisibleParts: true, ...(status === "completed" ? { tokens: tokensOfInteractionUsage(usage) } : { pending: true }), responseId: id } });
    await hook.settle!(record);
    return record;
  };

  test("placeAfter: a new chain is turn 1; a known link gives root and depth; an unknown one only the conversation", () => {
    expect(placeAfter(undefined, undefined)).toEqual({ turn: 1 });
    expect(placeAfter("i-2", { root: "i-1", depth: 2 })).toEqual({ conversationId: "i-1", turn: 3 });
    expect(placeAfter("elsewhere", undefined)).toEqual({ conversationId: "elsewhere" });
    // A continuation hop goes on with the previous interaction's turn.
    expect(placeAfter("i-2", { root: "i-1", depth: 2 }, true)).toEqual({ conversationId: "i-1", turn: 2, hop: true });
  });

  test("a three-turn chain: conversation id = the first interaction's, turn = depth; the new ids are the caller's", async () => {
    const { t, claims } = await tracker();
    const first = await answered(t.createHook(await t.placeOfCreate({ input: "q1" }), "alpha", false), "i-1");
    const second = await answered(t.createHook(await t.placeOfCreate({ input: "q2", previous_interaction_id: "i-1" }), "alpha", false), "i-2");
    const third = await answered(t.createHook(await t.placeOfCreate({ input: "q3", previous_interaction_id: "i-2" }), "alpha", false), "i-3");
    expect([first, second, third].map((r) => [r.conversationId, r.sessionTurn])).toEqual([
      ["i-1", 1],
      ["i-1", 2],
      ["i-1", 3],
    ]);
    expect(claims).toEqual(["alpha:interactions/i-1", "alpha:interactions/i-2", "alpha:interactions/i-3"]);
  });

  test("the cap: the create past it is refused before upstream, and counted", async () => {
    const { t, refused } = await tracker(2);
    await answered(t.createHook(await t.placeOfCreate({}), "alpha", false), "c-1");
    await answered(t.createHook(await t.placeOfCreate({ previous_interaction_id: "c-1" }), "alpha", false), "c-2");
    const error = await t.placeOfCreate({ previous_interaction_id: "c-2" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GeminiError);
    expect((error as GeminiError).status).toBe("FAILED_PRECONDITION");
    expect((error as GeminiError).message).toMatch(/limit of 2 turns \(INTERACTION_MAX_TURNS\).*Start a new chain/);
    expect(refused()).toBe(1);
    // A continuation hop of the last turn is no new turn: not refused.
    expect(await t.placeOfCreate({ previous_interaction_id: "c-2", continuation_token: "ct_1" })).toEqual({ conversationId: "c-1", turn: 2, hop: true });
  });

  test("a background interaction: pending at create, counted at the first read that shows it final, never again", async () => {
    const { t } = await tracker();
    const created = await answered(t.createHook(await t.placeOfCreate({ background: true }), "alpha", false), "b-1", "in_progress");
    expect(created.response?.pending).toBe(true);
    expect(created.sessionTurn).toBeUndefined();
    const read = async () => {
      const record = turn({ response: { finishReasons: ["STOP"], hasVisibleParts: true, tokens: tokensOfInteractionUsage(usage), responseId: "b-1" } });
      await t.readHook("b-1").settle!(record);
      return record;
    };
    const first = await read();
    expect(first.response?.tokens).toBeDefined();
    expect([first.conversationId, first.sessionTurn]).toEqual(["b-1", 1]);
    const again = await read();
    expect(again.response).toBeUndefined();
    expect(again.sessionTurn).toBeUndefined();
  });

  test("a streamed create: the id is recorded from interaction.created, before the rest of the stream", async () => {
    const { t, claims } = await tracker();
    const hook = t.createHook(await t.placeOfCreate({}), "alpha", true);
    const created = `event: interaction.created\ndata: ${JSON.stringify({ event_type: "interaction.created", interaction: { id: "s-1", status: "in_progress" } })}\n\n`;
    expect(hook.beforeChunk!(Buffer.from(created.slice(0, 30)))).toBeUndefined();
    await hook.beforeChunk!(Buffer.from(created.slice(30)));
    expect(claims).toEqual(["alpha:interactions/s-1"]);
    expect(hook.beforeChunk!(Buffer.from("data: {}\n\n"))).toBeUndefined();
  });

  test("hooks of several concerns run in order", async () => {
    const steps: string[] = [];
    const a: ResponseHook = { headers: async () => void steps.push("a.headers"), settle: async () => void steps.push("a.settle") };
    const b: ResponseHook = { headers: async () => void steps.push("b.headers"), body: async (x) => (steps.push("b.body"), x) };
    const hook = combineHooks(a, undefined, b)!;
    await hook.headers!({});
    await hook.body!(Buffer.alloc(0), async () => undefined);
    await hook.settle!(turn());
    expect(steps).toEqual(["a.headers", "b.headers", "b.body", "a.settle"]);
    expect(combineHooks(undefined, a)).toBe(a);
  });
});
