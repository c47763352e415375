// The pure parts of the Interactions API: the create body, the input forms, steps as contents, the outcome and its
// status, the usage, the SSE events (and the steps they rebuild), resumption, the JSON.
import { describe, expect, test } from "vitest";
import { GeminiError, canonicalError } from "../../src/gemini/errors.js";
import { framesBeforeCut, midstreamError } from "../../src/simulator/faults.js";
import type { ReplyPlan } from "../../src/simulator/generation.js";
import { planReply } from "../../src/simulator/generation.js";
import {
  argumentsFor,
  contentsOfSteps,
  forcedFunction,
  functionCallNames,
  normalizeInput,
  parseCreateInteraction,
  requestedInteractionModel,
} from "../../src/simulator/interaction-input.js";
import {
  backgroundDone,
  describeInteraction,
  errorEventBody,
  eventId,
  interactionUsage,
  isoSeconds,
  resumeIndex,
  sseEvent,
  statusOfFinish,
  stepsFromEvents,
  turnEvents,
  turnOutcome,
  withEventId,
} from "../../src/simulator/interaction-output.js";
import type { InteractionStep } from "../../src/simulator/interaction-types.js";
import { findModel } from "../../src/simulator/models.js";
import { splitTokens } from "../../src/simulator/tokenizer.js";

const flash = findModel("gemini-2.5-flash")!;
const flash20 = findModel("gemini-2.0-flash")!;
const RANGE = { min: 12, max: 12 };
const HEAD = { id: "v1_abc", model: "gemini-2.5-flash", created: Date.UTC(2026, 0, 1), updated: Date.UTC(2026, 0, 1, 0, 0, 3) };
const ask = (text: string, extra: object = {}) => ({ contents: [{ role: "user", parts: [{ text }] }], ...extra });

function rejects(fn: () => unknown, message: string | RegExp, code = 400): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GeminiError);
    expect((err as GeminiError).code).toBe(code);
    expect((err as GeminiError).message).toMatch(message);
    return;
  }
  throw new Error("expected a GeminiError");
}

describe("the create body", () => {
  test("model or agent: the model named (models/ optional); agents, both or neither are 400s", () => {
    expect(requestedInteractionModel({ model: "models/gemini-2.5-pro", input: "x" })).toBe("gemini-2.5-pro");
    rejects(() => requestedInteractionModel({ agent: "deep-research-pro-preview-12-2025", input: "x" }), /Agent interactions are not simulated/);
    rejects(() => requestedInteractionModel({ agent: "a", model: "m" }), "Exactly one of model or agent must be set.");
    rejects(() => requestedInteractionModel({ input: "x" }), "Exactly one of model or agent must be set.");
    rejects(() => requestedInteractionModel("nope"), /Expected an object/);
  });

  test("defaults, generation_config as Gemini's, tools grouped, tool_choice as toolConfig; unknown names are 400s", () => {
    const parsed = parseCreateInteraction({
      model: "gemini-2.5-flash",
      input: "Hi",
      system_instruction: "Be terse.",
      generation_config: { max_output_tokens: 50, temperature: 0.2, thinking_level: "low", thinking_summaries: "auto", tool_choice: { allowed_tools: { mode: "any", tools: ["f"] } } },
      tools: [{ type: "function", name: "f", parameters: { type: "object" } }, { type: "code_execution" }, { type: "google_search" }],
    });
    expect(parsed).toMatchObject({ model: "gemini-2.5-flash", store: true, stream: false, background: false, toolChoice: { mode: "any", allowed: ["f"] } });
    expect(parsed.generate).toEqual({
      systemInstruction: { parts: [{ text: "Be terse." }] },
      generationConfig: { maxOutputTokens: 50, temperature: 0.2, thinkingConfig: { thinkingLevel: "low", includeThoughts: true } },
      tools: [{ functionDeclarations: [{ name: "f", parameters: { type: "object" } }] }, { codeExecution: {} }, { googleSearch: {} }],
      toolConfig: { functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["f"] } },
    });
    expect(parseCreateInteraction({ model: "m", input: "x", store: false, stream: true, background: false })).toMatchObject({ store: false, stream: true });
    rejects(() => parseCreateInteraction({ model: "m", input: "x", temperature: 1 }), 'Invalid JSON payload received. Unknown name "temperature": Cannot find field.');
    rejects(() => parseCreateInteraction({ model: "m", input: "x", generation_config: { thinking_config: {} } }), /Unknown name "thinking_config" at 'generation_config'/);
    rejects(() => parseCreateInteraction({ model: "m", input: "x", generation_config: { thinking_level: "huge" } }), /generation_config.thinking_level/);
    rejects(() => parseCreateInteraction({ model: "m", input: "x", store: "yes" }), `Invalid value at 'store' (TYPE_BOOL), "yes"`);
    rejects(() => parseCreateInteraction({ model: "m", input: "x", tools: [{ type: "teleport" }] }), /tools\[0\].type/);
    rejects(() => parseCreateInteraction({ model: "m" }), "input is required.");
    // A continuation hop carries no input of its own.
    expect(parseCreateInteraction({ model: "m", continuation_token: "ct_1", previous_interaction_id: "v1_x" })).toMatchObject({ continuationToken: "ct_1", inputSteps: [] });
  });

  test("every input form becomes steps: a string, content, a content list, turns, steps", () => {
    const hi = { type: "user_input", content: [{ type: "text", text: "Hi" }] };
    expect(normalizeInput("Hi")).toEqual([hi]);
    expect(normalizeInput({ type: "text", text: "Hi" })).toEqual([hi]);
    expect(normalizeInput([{ type: "text", text: "Look:" }, { type: "image", data: "AAAA", mime_type: "image/png" }])).toEqual([
      { type: "user_input", content: [{ type: "text", text: "Look:" }, { type: "image", data: "AAAA", mime_type: "image/png" }] },
    ]);
    expect(normalizeInput([{ role: "user", content: "Hi" }, { role: "model", content: [{ type: "text", text: "Hello" }] }])).toEqual([
      hi,
      { type: "model_output", content: [{ type: "text", text: "Hello" }] },
    ]);
    expect(normalizeInput([hi, { type: "function_call", id: "c1", name: "f", arguments: { a: 1 } }, { type: "function_result", call_id: "c1", result: "ok" }])).toEqual([
      hi,
      { type: "function_call", id: "c1", name: "f", arguments: { a: 1 } },
      { type: "function_result", call_id: "c1", result: "ok" },
    ]);
    rejects(() => normalizeInput([]), "input must not be empty.");
    rejects(() => normalizeInput([{ type: "text", text: "a" }, hi]), /all contents, or all steps/);
    rejects(() => normalizeInput([{ type: "google_search_call", id: "x" }]), /"google_search_call" steps are not supported/);
    rejects(() => normalizeInput({ type: "image", data: "AAAA" }), "input.mime_type: mime_type is required with data.");
    rejects(() => normalizeInput([{ role: "system", content: "x" }]), /Use user or model/);
  });

  test("steps as contents: model steps merge into one turn, results into one user turn, thoughts dropped, names looked up", () => {
    const steps: InteractionStep[] = [
      { type: "user_input", content: [{ type: "text", text: "Weather?" }, { type: "document", uri: "https://x/doc.pdf", mime_type: "application/pdf" }] },
      { type: "thought", signature: "sig" },
      { type: "model_output", content: [{ type: "text", text: "Let me check." }] },
      { type: "function_call", id: "c1", name: "weather", arguments: { city: "Paris" } },
      { type: "function_call", id: "c2", name: "time", arguments: {} },
      { type: "function_result", call_id: "c1", result: { temp: 20 } },
      { type: "function_result", call_id: "c2", name: "time", result: "noon" },
    ];
    expect(contentsOfSteps(steps)).toEqual([
      { role: "user", parts: [{ text: "Weather?" }, { fileData: { fileUri: "https://x/doc.pdf", mimeType: "application/pdf" } }] },
      {
        role: "model",
        parts: [{ text: "Let me check." }, { functionCall: { name: "weather", args: { city: "Paris" }, id: "c1" } }, { functionCall: { name: "time", args: {}, id: "c2" } }],
      },
      { role: "user", parts: [{ functionResponse: { name: "weather", response: { temp: 20 }, id: "c1" } }, { functionResponse: { name: "time", response: { result: "noon" }, id: "c2" } }] },
    ]);
    const history = contentsOfSteps(steps.slice(0, 4));
    expect(functionCallNames(history)).toEqual(new Map([["c1", "weather"]]));
    expect(contentsOfSteps([{ type: "function_result", call_id: "c1", result: 1 }], functionCallNames(history))[0]!.parts[0]!.functionResponse?.name).toBe("weather");
    rejects(() => contentsOfSteps([{ type: "function_result", call_id: "zz", result: 1 }]), /names no function call/);
  });

  test("a forced call: tool_choice any picks the first allowed function; its arguments follow the schema", () => {
    const functions = [{ name: "a" }, { name: "b", parameters: {} }];
    expect(forcedFunction(functions, { mode: "auto" })).toBeUndefined();
    expect(forcedFunction(functions, { mode: "any" })?.name).toBe("a");
    expect(forcedFunction(functions, { mode: "any", allowed: ["b"] })?.name).toBe("b");
    const schema = {
      type: "object",
      properties: { city: { type: "string" }, days: { type: "integer" }, unit: { type: "STRING", enum: ["C", "F"] }, exact: { type: "boolean" }, nested: { type: "object", properties: { q: { type: "string" } }, required: ["q"] } },
      required: ["city", "days", "unit", "exact", "nested"],
    };
    expect(argumentsFor(schema, "What is the weather in Paris this week, please tell me")).toEqual({
      city: "What is the weather in Paris this week,",
      days: 11,
      unit: "C",
      exact: true,
      nested: { q: "What is the weather in Paris this week," },
    });
    expect(argumentsFor(undefined, "x")).toEqual({});
  });
});

describe("the outcome of a turn", () => {
  const plan = (text: string, extra: object = {}, model = flash): ReplyPlan => planReply(model, ask(text, extra), RANGE);

  test("statuses: STOP completes, MAX_TOKENS is incomplete, any other finish fails", () => {
    expect(statusOfFinish("STOP")).toBe("completed");
    expect(statusOfFinish("MAX_TOKENS")).toBe("incomplete");
    expect(statusOfFinish("SAFETY")).toBe("failed");
  });

  test("a thinking reply: a thought step with a signature (and a summary when asked), then the text", () => {
    const thinking = turnOutcome(plan("Why is the sky blue?", { generationConfig: { thinkingConfig: { includeThoughts: true } } }));
    expect(thinking.status).toBe("completed");
    expect(thinking.steps.map((s) => s.type)).toEqual(["thought", "model_output"]);
    const thought = thinking.steps[0] as Extract<InteractionStep, { type: "thought" }>;
    expect(thought.summary?.[0]?.text).toContain('"Why is the sky blue?"');
    expect(thought.signature).toMatch(/^[A-Za-z0-9+/]{32}$/);
    expect(thinking.usage.candidatesTokenCount).toBe(12);
    const plain = turnOutcome(plan("Why is the sky blue?", {}, flash20));
    expect(plain.steps).toEqual([{ type: "model_output", content: [{ type: "text", text: expect.stringMatching(/^\[context: 1 content;/) as unknown }] }]);
  });

  test("max_output_tokens: text cut (incomplete); spent by thinking: no model_output at all (incomplete)", () => {
    const cut = turnOutcome(plan("Why is the sky blue?", { generationConfig: { maxOutputTokens: 5 } }, flash20));
    expect(cut.status).toBe("incomplete");
    expect(cut.usage.candidatesTokenCount).toBe(5);
    const spent = turnOutcome(plan("Why is the sky blue?", { generationConfig: { maxOutputTokens: 10 } }));
    expect(spent.status).toBe("incomplete");
    expect(spent.steps.map((s) => s.type)).toEqual(["thought"]);
    expect(spent.usage).toMatchObject({ thoughtsTokenCount: 10 });
    expect(spent.usage.candidatesTokenCount).toBeUndefined();
  });

  test("a forced call requires action; a blocked prompt fails with no output; code execution is a call and a result", () => {
    const call = turnOutcome(plan("Weather in Paris?", {}, flash20), { functionCall: { name: "weather", args: { city: "Paris" } } });
    expect(call.status).toBe("requires_action");
    expect(call.steps).toEqual([{ type: "function_call", id: expect.stringMatching(/^call_/) as unknown, name: "weather", arguments: { city: "Paris" } }]);
    expect(call.usage.candidatesTokenCount).toBe(splitTokens('weather {"city":"Paris"}').length);
    const blocked = turnOutcome(planReply(flash20, ask("bad"), RANGE, { blockReason: "SAFETY" }));
    expect(blocked).toMatchObject({ status: "failed", steps: [] });
    const code = turnOutcome(plan("Count these words", { tools: [{ codeExecution: {} }] }, flash20));
    expect(code.steps.map((s) => s.type)).toEqual(["code_execution_call", "code_execution_result", "model_output"]);
    const [callStep, resultStep] = code.steps as [Extract<InteractionStep, { type: "code_execution_call" }>, Extract<InteractionStep, { type: "code_execution_result" }>];
    expect(resultStep.call_id).toBe(callStep.id);
    expect(resultStep.result).toBe("3\n");
    expect(code.usage.toolUsePromptTokenCount).toBe(1);
  });

  test("forced statuses cut the text to half; requires_continuation says how far it got, unless nothing is left", () => {
    const full = turnOutcome(plan("Tell me a story", {}, flash20));
    const failed = turnOutcome(plan("Tell me a story", {}, flash20), { forcedStatus: "failed" });
    expect(failed).toMatchObject({ status: "failed", usage: { candidatesTokenCount: 6 } });
    const budget = turnOutcome(plan("Tell me a story", {}, flash20), { forcedStatus: "budget_exceeded" });
    expect(budget.status).toBe("budget_exceeded");
    const continued = turnOutcome(plan("Tell me a story", {}, flash20), { forcedStatus: "requires_continuation" });
    expect(continued).toMatchObject({ status: "requires_continuation", piecesSent: 6 });
    const text = (o: typeof full): string => (o.steps.at(-1) as { content: Array<{ text: string }> }).content[0]!.text;
    expect(text(full).startsWith(text(continued))).toBe(true);
    const oneLeft = turnOutcome({ ...plan("Tell me a story", {}, flash20), pieces: ["x"] }, { forcedStatus: "requires_continuation" });
    expect(oneLeft.status).toBe("completed");
    expect(oneLeft.piecesSent).toBeUndefined();
  });
});

describe("usage", () => {
  test("Gemini usage as Interactions usage: input is the whole prompt, cached included; zeros left out", () => {
    expect(
      interactionUsage({
        promptTokenCount: 1200,
        cachedContentTokenCount: 1100,
        candidatesTokenCount: 20,
        thoughtsTokenCount: 50,
        toolUsePromptTokenCount: 2,
        totalTokenCount: 1272,
        promptTokensDetails: [{ modality: "TEXT", tokenCount: 942 }, { modality: "IMAGE", tokenCount: 258 }],
        cacheTokensDetails: [{ modality: "TEXT", tokenCount: 1100 }],
        toolUsePromptTokensDetails: [{ modality: "TEXT", tokenCount: 2 }],
      }),
    ).toEqual({
      total_input_tokens: 1200,
      input_tokens_by_modality: [{ modality: "text", tokens: 942 }, { modality: "image", tokens: 258 }],
      total_cached_tokens: 1100,
      cached_tokens_by_modality: [{ modality: "text", tokens: 1100 }],
      total_output_tokens: 20,
      output_tokens_by_modality: [{ modality: "text", tokens: 20 }],
      total_thought_tokens: 50,
      total_tool_use_tokens: 2,
      tool_use_tokens_by_modality: [{ modality: "text", tokens: 2 }],
      total_tokens: 1272,
    });
    expect(interactionUsage({ promptTokenCount: 3, totalTokenCount: 3, thoughtsTokenCount: 0 })).toEqual({ total_input_tokens: 3, total_tokens: 3 });
  });
});

describe("events", () => {
  const outcome = turnOutcome(planReply(flash, ask("Why is the sky blue?", { generationConfig: { thinkingConfig: { includeThoughts: true } } }), RANGE));

  test("created and in_progress first; per step start, deltas (text in 5-token chunks), stop; completed with the usage", () => {
    const frames = turnEvents(HEAD, outcome);
    expect(frames.map((f) => f.body.event_type)).toEqual([
      "interaction.created",
      "interaction.status_update",
      "step.start",
      "step.delta",
      "step.delta",
      "step.stop",
      "step.start",
      "step.delta",
      "step.delta",
      "step.delta",
      "step.stop",
      "interaction.completed",
    ]);
    expect(frames[0]!.body).toEqual({
      event_type: "interaction.created",
      interaction: { id: "v1_abc", status: "in_progress", object: "interaction", model: "gemini-2.5-flash", created: "2026-01-01T00:00:00Z", updated: "2026-01-01T00:00:03Z" },
    });
    expect(frames.map((f) => f.tokens)).toEqual([0, 0, 0, 0, 0, 0, 0, 5, 5, 2, 0, 0]);
    // Running usage: what a stream cut at each event has cost.
    expect(frames.map((f) => f.usage.candidatesTokenCount ?? 0)).toEqual([0, 0, 0, 0, 0, 0, 0, 5, 10, 12, 12, 12]);
    const completed = frames.at(-1)!.body;
    expect(completed).toMatchObject({ event_type: "interaction.completed", interaction: { status: "completed", usage: interactionUsage(outcome.usage) } });
    expect("steps" in (completed as { interaction: object }).interaction).toBe(false);
  });

  test("the steps the events rebuild are the outcome's steps, for every prefix a client may have seen", () => {
    const bodies = turnEvents(HEAD, outcome).map((f) => f.body);
    expect(stepsFromEvents(bodies)).toEqual(outcome.steps);
    const call = turnOutcome(planReply(flash20, ask("Weather?", { tools: [{ codeExecution: {} }] }), RANGE), { functionCall: { name: "w", args: { a: [1] } } });
    expect(stepsFromEvents(turnEvents(HEAD, call).map((f) => f.body))).toEqual(call.steps);
    const partial = stepsFromEvents(bodies.slice(0, 8));
    expect(partial).toEqual([outcome.steps[0], { type: "model_output", content: [{ type: "text", text: "[context: 1 content" }] }]);
  });

  test("ids, SSE framing, error events and where a resumed stream starts", () => {
    expect(eventId(0)).toBe("evt_0001");
    const events = turnEvents(HEAD, outcome).map((f, i) => withEventId(f.body, i));
    expect(sseEvent(events[1]!)).toBe(
      'event: interaction.status_update\ndata: {"event_type":"interaction.status_update","interaction_id":"v1_abc","status":"in_progress","event_id":"evt_0002"}\n\n',
    );
    expect(withEventId(errorEventBody(midstreamError(503)), 4)).toEqual({
      event_type: "error",
      error: { code: "UNAVAILABLE", message: "This model is currently experiencing high demand. Spikes in demand are usually temporary. Please try again later." },
      event_id: "evt_0005",
    });
    expect(errorEventBody(canonicalError(500))).toMatchObject({ error: { code: "INTERNAL" } });
    expect(resumeIndex(events, undefined)).toBe(0);
    expect(resumeIndex(events, "evt_0003")).toBe(3);
    expect(resumeIndex(events, "evt_0012")).toBe(12);
    expect(resumeIndex(events, "evt_9999")).toBeUndefined();
  });

  test("stream cuts: afterChunks (default 1), never the last frame; only midstream_error and hang cut", () => {
    expect(framesBeforeCut({ kind: "midstream_error" }, 12)).toBe(1);
    expect(framesBeforeCut({ kind: "midstream_error", afterChunks: 40 }, 12)).toBe(11);
    expect(framesBeforeCut({ kind: "hang", afterChunks: 0 }, 12)).toBe(0);
    expect(framesBeforeCut({ kind: "delay", ms: 1 }, 12)).toBeUndefined();
    expect(framesBeforeCut(undefined, 12)).toBeUndefined();
  });
});

describe("the Interaction JSON and the background rule", () => {
  test("steps and usage once there are any; timestamps to the second", () => {
    expect(isoSeconds(Date.UTC(2026, 4, 8, 10, 44, 43, 999))).toBe("2026-05-08T10:44:43Z");
    expect(describeInteraction({ ...HEAD, status: "in_progress", steps: [] })).toEqual({
      id: "v1_abc",
      status: "in_progress",
      object: "interaction",
      model: "gemini-2.5-flash",
      created: "2026-01-01T00:00:00Z",
      updated: "2026-01-01T00:00:03Z",
    });
    const done = describeInteraction({
      ...HEAD,
      status: "requires_continuation",
      previousInteractionId: "v1_prev",
      input: "Hi",
      steps: [{ type: "model_output", content: [{ type: "text", text: "Hel" }] }],
      usage: { promptTokenCount: 1, candidatesTokenCount: 1, totalTokenCount: 2 },
      continuationToken: "ct_1",
    });
    expect(Object.keys(done)).toEqual(["id", "status", "object", "model", "previous_interaction_id", "input", "steps", "usage", "continuation_token", "created", "updated"]);
  });

  test("a background interaction ends at the pollsUntilDone-th GET", () => {
    expect([1, 2, 3].map((polls) => backgroundDone(polls, 2))).toEqual([false, true, true]);
  });
});
