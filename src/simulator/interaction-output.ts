// What an interaction answers, decided from the same reply plan as generateContent: the status a turn ends with, its
// output steps, the Interactions usage, the SSE events of a stream (and the steps those events rebuild), the JSON of
// an Interaction. Pure: interactions.ts keeps the records and times nothing itself.
import { createHash } from "node:crypto";
import type { GeminiError } from "../gemini/errors.js";
import type { FinishReason, UsageMetadata } from "../gemini/types.js";
import type { ReplyPlan } from "./generation.js";
import { TOKENS_PER_CHUNK, usageAfter } from "./generation.js";
import type {
  EventInteraction,
  ForcedInteractionStatus,
  InteractionEvent,
  InteractionEventBody,
  InteractionStatus,
  InteractionStep,
  InteractionUsage,
  ModalityTokens,
  StepHeader,
  TurnStatus,
} from "./interaction-types.js";
import { countPartTokens, countTextTokens, splitTokens } from "./tokenizer.js";

/** The function call a forced tool choice makes instead of a text answer. */
export interface PlannedCall {
  name: string;
  args: Record<string, unknown>;
}

export interface OutcomeOptions {
  functionCall?: PlannedCall;
  /** A fault rule's status: the text is cut to half (rounded up) and the turn ends so. */
  forcedStatus?: ForcedInteractionStatus;
}

/** How a model turn (or one continuation hop of it) ends. */
export interface TurnOutcome {
  status: TurnStatus;
  /** The output steps, in order: thought, code execution, then the function call or the model's text. */
  steps: InteractionStep[];
  /** The plan the usage is counted from: usageAfter(accounting, progress). */
  accounting: ReplyPlan;
  /** The usage of the whole turn (or hop). */
  usage: UsageMetadata;
  /** With requires_continuation: how many of the plan's visible pieces this hop sent; the next hop goes on from there. */
  piecesSent?: number;
}

/** The status generateContent's finishReason amounts to: MAX_TOKENS leaves the turn incomplete, a stop for any
 *  other reason than STOP (safety, recitation, ...) fails it. */
export function statusOfFinish(finishReason: FinishReason): TurnStatus {
  if (finishReason === "STOP") return "completed";
  return finishReason === "MAX_TOKENS" ? "incomplete" : "failed";
}

const digestOf = (text: string): Buffer => createHash("sha256").update(text).digest();

/** A thought's signature: opaque, deterministic per reply. */
export const thoughtSignature = (plan: ReplyPlan): string => digestOf(`thought:${plan.responseId}`).subarray(0, 24).toString("base64");

/** A tool call's id: deterministic per reply and call. */
export const callId = (plan: ReplyPlan, n: number): string => `call_${digestOf(`call:${plan.responseId}:${n}`).subarray(0, 9).toString("base64url")}`;

const callTokens = (call: PlannedCall): number => countPartTokens({ functionCall: { name: call.name, args: call.args } });

/**
 * The outcome of a planned reply. A blocked prompt fails with no output; a forced call requires action; otherwise the
 * finishReason decides (statusOfFinish), unless a fault forces a status: then the text is cut to half, and
 * requires_continuation leaves the rest for the next hop (none when nothing is left: the turn ends as planned).
 */
export function turnOutcome(plan: ReplyPlan, options: OutcomeOptions = {}): TurnOutcome {
  if (plan.blockReason) return { status: "failed", steps: [], accounting: plan, usage: usageAfter(plan, { candidates: 0, toolUse: false }) };
  const { functionCall, forcedStatus } = options;
  let pieces = plan.pieces;
  let status: TurnStatus = functionCall ? "requires_action" : statusOfFinish(plan.finishReason);
  let piecesSent: number | undefined;
  if (forcedStatus) {
    const cut = Math.ceil(pieces.length / 2);
    if (forcedStatus !== "requires_continuation" || cut < pieces.length) {
      pieces = pieces.slice(0, cut);
      status = forcedStatus;
      if (forcedStatus === "requires_continuation") piecesSent = cut;
    }
  }
  const steps: InteractionStep[] = [];
  if (plan.thoughtsTokens > 0) {
    steps.push({
      type: "thought",
      ...(plan.thoughtSummary === undefined ? {} : { summary: [{ type: "text", text: plan.thoughtSummary }] }),
      signature: thoughtSignature(plan),
    });
  }
  const code = plan.codeExecution;
  if (code) {
    const id = callId(plan, 0);
    steps.push({ type: "code_execution_call", id, arguments: { code: code.code, language: "python" } });
    steps.push({ type: "code_execution_result", call_id: id, result: code.output });
  }
  if (functionCall) steps.push({ type: "function_call", id: callId(plan, 1), name: functionCall.name, arguments: functionCall.args });
  else if (pieces.length > 0) steps.push({ type: "model_output", content: [{ type: "text", text: pieces.join("") }] });
  const candidates = (code?.codeTokens ?? 0) + (functionCall ? callTokens(functionCall) : pieces.length);
  const usage = usageAfter(plan, { candidates, toolUse: code !== undefined });
  return { status, steps, accounting: plan, usage, ...(piecesSent === undefined ? {} : { piecesSent }) };
}

const modality = (name: string): string => name.toLowerCase();

const byModality = (details: ReadonlyArray<{ modality: string; tokenCount: number }> | undefined): ModalityTokens[] =>
  (details ?? []).filter((d) => d.tokenCount > 0).map((d) => ({ modality: modality(d.modality), tokens: d.tokenCount }));

/**
 * generateContent's usage as the Interactions API reports it: total_input_tokens is the whole context the model was
 * sent (the history of a chain, the system instruction and tools; cached tokens included, as promptTokenCount does),
 * total_tokens = input + output + thoughts + tool use. Zero figures and empty lists are left out.
 */
export function interactionUsage(usage: UsageMetadata): InteractionUsage {
  const out: InteractionUsage = {};
  const set = <K extends keyof InteractionUsage>(key: K, value: InteractionUsage[K] | undefined): void => {
    if (value !== undefined && value !== 0 && !(Array.isArray(value) && value.length === 0)) out[key] = value;
  };
  set("total_input_tokens", usage.promptTokenCount);
  set("input_tokens_by_modality", byModality(usage.promptTokensDetails));
  set("total_cached_tokens", usage.cachedContentTokenCount);
  set("cached_tokens_by_modality", byModality(usage.cacheTokensDetails));
  set("total_output_tokens", usage.candidatesTokenCount);
  set("output_tokens_by_modality", usage.candidatesTokenCount ? [{ modality: "text", tokens: usage.candidatesTokenCount }] : []);
  set("total_thought_tokens", usage.thoughtsTokenCount);
  set("total_tool_use_tokens", usage.toolUsePromptTokenCount);
  set("tool_use_tokens_by_modality", byModality(usage.toolUsePromptTokensDetails));
  set("total_tokens", usage.totalTokenCount);
  return out;
}

/** Timestamps as the Interactions API writes them: ISO 8601 to the second (`2026-05-08T10:44:43Z`). */
export const isoSeconds = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** What lifecycle events and the JSON say about an interaction besides its steps. */
export interface InteractionHead {
  id: string;
  model: string;
  created: number;
  updated: number;
}

/** One event of a stream before its id is given, with what it carries: visible tokens and the running usage. */
export interface EventFrame {
  body: InteractionEventBody;
  /** Visible output tokens (the trickle waits for them). */
  tokens: number;
  /** The usage after this event: a stream cut here has cost this much. */
  usage: UsageMetadata;
}

const eventInteraction = (head: InteractionHead, status: InteractionStatus): EventInteraction => ({
  id: head.id,
  status,
  object: "interaction",
  model: head.model,
  created: isoSeconds(head.created),
  updated: isoSeconds(head.updated),
});

/** The opening events of every stream: interaction.created, then the status (in_progress). */
export function openingEvents(head: InteractionHead, usage: UsageMetadata): EventFrame[] {
  return [
    { body: { event_type: "interaction.created", interaction: eventInteraction(head, "in_progress") }, tokens: 0, usage },
    { body: { event_type: "interaction.status_update", interaction_id: head.id, status: "in_progress" }, tokens: 0, usage },
  ];
}

/** The closing event: interaction.completed with the final status and usage (no steps: the deltas carried them). */
export function completedEvent(head: InteractionHead, status: InteractionStatus, usage: UsageMetadata | undefined, continuationToken?: string): InteractionEventBody {
  return {
    event_type: "interaction.completed",
    interaction: {
      ...eventInteraction(head, status),
      ...(usage ? { usage: interactionUsage(usage) } : {}),
      ...(continuationToken === undefined ? {} : { continuation_token: continuationToken }),
    },
  };
}

const headerOf = (step: InteractionStep): StepHeader => {
  switch (step.type) {
    case "function_call":
      return { type: "function_call", id: step.id, name: step.name };
    case "code_execution_call":
      return { type: "code_execution_call", id: step.id };
    case "code_execution_result":
      return { type: "code_execution_result", call_id: step.call_id };
    case "thought":
      return { type: "thought" };
    default:
      return { type: "model_output" };
  }
};

/**
 * The events of a turn, as a stream sends them: the opening events; per output step a step.start (type and ids),
 * its deltas (text in chunks of `tokensPerChunk` tokens, a thought's summary and signature, a call's arguments as one
 * JSON string) and a step.stop; interaction.completed with the status and usage.
 */
export function turnEvents(head: InteractionHead, outcome: TurnOutcome, continuationToken?: string, tokensPerChunk = TOKENS_PER_CHUNK): EventFrame[] {
  const { accounting } = outcome;
  let candidates = 0;
  let toolUse = false;
  const usageNow = (): UsageMetadata => usageAfter(accounting, { candidates, toolUse });
  const frames = openingEvents(head, usageNow());
  const push = (body: InteractionEventBody, tokens = 0): void => {
    candidates += tokens;
    frames.push({ body, tokens, usage: usageNow() });
  };
  outcome.steps.forEach((step, index) => {
    push({ event_type: "step.start", index, step: headerOf(step) });
    switch (step.type) {
      case "thought":
        for (const content of step.summary ?? []) push({ event_type: "step.delta", index, delta: { type: "thought_summary", content } });
        if (step.signature !== undefined) push({ event_type: "step.delta", index, delta: { type: "thought_signature", signature: step.signature } });
        break;
      case "model_output":
        for (const content of step.content ?? []) {
          if (content.type !== "text") continue;
          const pieces = splitTokens(content.text);
          for (let start = 0; start < pieces.length; start += tokensPerChunk) {
            const chunk = pieces.slice(start, start + tokensPerChunk);
            push({ event_type: "step.delta", index, delta: { type: "text", text: chunk.join("") } }, chunk.length);
          }
        }
        break;
      case "function_call":
        push({ event_type: "step.delta", index, delta: { type: "arguments_delta", arguments: JSON.stringify(step.arguments) } }, callTokens({ name: step.name, args: step.arguments }));
        break;
      case "code_execution_call":
        push({ event_type: "step.delta", index, delta: { type: "code_execution_call", arguments: step.arguments } }, countTextTokens(step.arguments.code));
        break;
      case "code_execution_result":
        // The result is fed back to the model: from here on it counts as tool-use prompt.
        toolUse = true;
        push({ event_type: "step.delta", index, delta: { type: "code_execution_result", result: step.result, ...(step.is_error ? { is_error: true } : {}) } });
        break;
      default:
        break;
    }
    push({ event_type: "step.stop", index });
  });
  frames.push({ body: completedEvent(head, outcome.status, outcome.usage, continuationToken), tokens: 0, usage: outcome.usage });
  return frames;
}

/** Event ids: opaque to clients, in order within an interaction (`last_event_id` names one). */
export const eventId = (index: number): string => `evt_${String(index + 1).padStart(4, "0")}`;

export const withEventId = (body: InteractionEventBody, index: number): InteractionEvent => ({ ...body, event_id: eventId(index) });

/** An `error` event: a failure after the stream began (code is the canonical status name). */
export const errorEventBody = (error: GeminiError): InteractionEventBody => ({ event_type: "error", error: { code: error.status, message: error.message } });

/** One SSE event as Google frames it: `event: <type>` and `data: <one-line JSON>`, then a blank line. */
export const sseEvent = (event: InteractionEvent): string => `event: ${event.event_type}\ndata: ${JSON.stringify(event)}\n\n`;

/** Where a resumed stream starts: after the event `lastEventId` names (at the start without one); undefined when no
 *  event has that id. */
export function resumeIndex(events: readonly InteractionEvent[], lastEventId: string | undefined): number | undefined {
  if (lastEventId === undefined) return 0;
  const index = events.findIndex((e) => e.event_id === lastEventId);
  return index < 0 ? undefined : index + 1;
}

/** Arguments streamed as JSON text; text that does not parse to an object (a cut stream) leaves them empty. */
function parseArguments(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * The steps a run of events builds, as a client accumulating a stream would: what a stream that stopped early (a
 * mid-stream failure) had delivered. Text deltas append to the step's text; arguments_delta strings are joined and
 * parsed at step.stop.
 */
export function stepsFromEvents(events: readonly InteractionEventBody[]): InteractionStep[] {
  const steps: InteractionStep[] = [];
  const argumentText = new Map<number, string>();
  for (const event of events) {
    if (event.event_type === "step.start") {
      const header = event.step;
      switch (header.type) {
        case "function_call":
          steps[event.index] = { ...header, arguments: {} };
          argumentText.set(event.index, "");
          break;
        case "code_execution_call":
          steps[event.index] = { ...header, arguments: { code: "", language: "python" } };
          break;
        case "code_execution_result":
          steps[event.index] = { ...header, result: "" };
          break;
        default:
          steps[event.index] = { type: header.type };
      }
    } else if (event.event_type === "step.delta") {
      const step = steps[event.index];
      const { delta } = event;
      if (!step) continue;
      if (delta.type === "text" && step.type === "model_output") {
        const last = step.content?.at(-1);
        if (last?.type === "text") last.text += delta.text;
        else step.content = [...(step.content ?? []), { type: "text", text: delta.text }];
      } else if (delta.type === "thought_summary" && step.type === "thought") step.summary = [...(step.summary ?? []), delta.content];
      else if (delta.type === "thought_signature" && step.type === "thought") step.signature = delta.signature;
      else if (delta.type === "arguments_delta") argumentText.set(event.index, (argumentText.get(event.index) ?? "") + delta.arguments);
      else if (delta.type === "code_execution_call" && step.type === "code_execution_call") step.arguments = delta.arguments;
      else if (delta.type === "code_execution_result" && step.type === "code_execution_result") Object.assign(step, { result: delta.result }, delta.is_error ? { is_error: true } : {});
    } else if (event.event_type === "step.stop") {
      const step = steps[event.index];
      const text = argumentText.get(event.index);
      if (step?.type === "function_call" && text) step.arguments = parseArguments(text);
    }
  }
  return steps.filter((step): step is InteractionStep => step !== undefined);
}

/** An interaction as GET and create answer it. */
export interface InteractionView extends InteractionHead {
  status: InteractionStatus;
  previousInteractionId?: string;
  /** The input as sent (GET with include_input=true). */
  input?: unknown;
  steps: InteractionStep[];
  usage?: UsageMetadata;
  continuationToken?: string;
}

/** The Interaction JSON; steps and usage appear once there are any (a running background interaction has neither). */
export function describeInteraction(view: InteractionView): Record<string, unknown> {
  const out: Record<string, unknown> = { id: view.id, status: view.status, object: "interaction", model: view.model };
  if (view.previousInteractionId !== undefined) out.previous_interaction_id = view.previousInteractionId;
  if (view.input !== undefined) out.input = view.input;
  if (view.steps.length > 0) out.steps = view.steps;
  if (view.usage) out.usage = interactionUsage(view.usage);
  if (view.continuationToken !== undefined) out.continuation_token = view.continuationToken;
  out.created = isoSeconds(view.created);
  out.updated = isoSeconds(view.updated);
  return out;
}

/** Background interactions end at a GET: the `pollsUntilDone`-th (polls counted so far, this one included). */
export const backgroundDone = (polls: number, pollsUntilDone: number): boolean => polls >= pollsUntilDone;

/** Statuses after which nothing changes (a background interaction is in_progress until it reaches one). */
export const isFinished = (status: InteractionStatus): boolean => status !== "in_progress" && status !== "queued";
