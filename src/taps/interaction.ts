// The tap of the Interactions API (`/{v}/interactions`): an Interaction JSON body, or SSE events (`stream: true` on a
// create, `?stream=true` on a get that resumes) with `event_type` interaction.created, step.start / step.delta /
// step.stop, interaction.status_update, interaction.completed and error. Its status is mapped onto the same finish
// reasons (and error types) as a generate answer, its usage onto the same token kinds.

import { tokenCount, type TokenUsage } from "../gemini/usage.js";
import type { TappedResponse } from "../turn/record.js";
import { JsonEventsTap, type TapOptions } from "./tap.js";

/** What an interaction's status says of the turn. */
export interface InteractionOutcome {
  /** In Gemini's vocabulary (for the finish_reason label and the truncation cause). */
  finishReason?: string;
  /** A turn that ended in failure: the error_type label. */
  errorType?: string;
  /** Still running (a background interaction): the turn's outcome is counted when a later read shows it final. */
  pending: boolean;
}

/**
 * `completed` and `requires_action` (the model called a tool) end a turn like Gemini's STOP; `incomplete` is
 * MAX_TOKENS; `budget_exceeded` and `requires_continuation` are truncations of their own; `failed` and `cancelled`
 * are errors; `in_progress` and `queued` are not an outcome yet.
 */
export function interactionOutcome(status: string | undefined): InteractionOutcome {
  switch (status) {
    case "completed":
    case "requires_action":
      return { finishReason: "STOP", pending: false };
    case "incomplete":
      return { finishReason: "MAX_TOKENS", pending: false };
    case "budget_exceeded":
    case "requires_continuation":
      return { finishReason: status.toUpperCase(), pending: false };
    case "failed":
    case "cancelled":
      return { errorType: status, pending: false };
    case undefined:
    case "in_progress":
    case "queued":
      return { pending: true };
    default:
      return { finishReason: status.toUpperCase(), pending: false };
  }
}

type JsonObject = Record<string, unknown>;
const isObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);

function modalityTokens(list: unknown, modality: string): number {
  if (!Array.isArray(list)) return 0;
  return list.reduce<number>((sum, entry) => (isObject(entry) && String(entry.modality).toUpperCase() === modality ? sum + tokenCount(entry.tokens) : sum), 0);
}

/** An interaction's usage in the wire-neutral kinds: total_input_tokens is the whole context, cached included. */
export function tokensOfInteractionUsage(usage: JsonObject): TokenUsage {
  const prompt = tokenCount(usage.total_input_tokens);
  const cached = Math.min(prompt, tokenCount(usage.total_cached_tokens));
  const input = prompt - cached;
  return {
    input,
    cached,
    output: tokenCount(usage.total_output_tokens),
    thoughts: tokenCount(usage.total_thought_tokens),
    tool_use: tokenCount(usage.total_tool_use_tokens),
    inputAudio: Math.min(input, modalityTokens(usage.input_tokens_by_modality, "AUDIO")),
  };
}

/** The step types that are the model's visible answer (a tool call is one too). */
const ANSWER_STEPS = new Set(["model_output", "function_call"]);

export class InteractionTap extends JsonEventsTap {
  private id: string | undefined;
  private model: string | undefined;
  private status: string | undefined;
  private usage: JsonObject | undefined;
  private readonly stepTypes = new Map<number, string>();
  private text = "";
  private hasVisibleParts = false;

  constructor(
    stream: boolean,
    private readonly options: TapOptions,
  ) {
    super(stream);
  }

  /** The unary Interaction, or one event of a stream (an `error` event never reaches here: it ends the stream). */
  protected read(object: JsonObject): void {
    if (!this.stream) return this.readInteraction(object);
    const index = typeof object.index === "number" ? object.index : -1;
    switch (object.event_type) {
      case "interaction.created":
      case "interaction.completed":
        if (isObject(object.interaction)) this.readInteraction(object.interaction);
        break;
      case "interaction.status_update":
        if (typeof object.status === "string") this.status = object.status;
        break;
      case "step.start":
        if (isObject(object.step) && typeof object.step.type === "string") {
          this.stepTypes.set(index, object.step.type);
          this.readStep(object.step);
        }
        break;
      case "step.delta":
        if (isObject(object.delta)) this.readDelta(index, object.delta);
        if (isObject(object.metadata) && isObject(object.metadata.total_usage)) this.usage = object.metadata.total_usage;
        break;
      case "step.stop":
        if (isObject(object.usage)) this.usage = object.usage;
        break;
    }
  }

  private readInteraction(interaction: JsonObject): void {
    if (typeof interaction.id === "string") this.id = interaction.id;
    if (typeof interaction.model === "string") this.model = interaction.model;
    if (typeof interaction.status === "string") this.status = interaction.status;
    if (isObject(interaction.usage)) this.usage = interaction.usage;
    if (Array.isArray(interaction.steps) && this.stream === false) for (const step of interaction.steps) if (isObject(step)) this.readStep(step);
  }

  /** A whole step (a unary answer's, or the start of a streamed one): the visible answer is in model_output content. */
  private readStep(step: JsonObject): void {
    if (typeof step.type !== "string" || !ANSWER_STEPS.has(step.type)) return;
    if (step.type === "function_call") {
      this.hasVisibleParts = true;
      return;
    }
    if (!Array.isArray(step.content)) return;
    for (const block of step.content) if (isObject(block) && typeof block.text === "string") this.addText(block.text);
  }

  private readDelta(index: number, delta: JsonObject): void {
    const step = this.stepTypes.get(index);
    if (step !== undefined && !ANSWER_STEPS.has(step)) return;
    if (delta.type === "text" && typeof delta.text === "string") this.addText(delta.text);
    else if (delta.type === "arguments") this.hasVisibleParts = true;
  }

  private addText(text: string): void {
    if (text === "") return;
    this.hasVisibleParts = true;
    if (this.options.captureContent) this.text += text;
  }

  protected tapped(): TappedResponse {
    const outcome = interactionOutcome(this.status);
    const response: TappedResponse = {
      finishReasons: outcome.finishReason ? [outcome.finishReason] : [],
      hasVisibleParts: this.hasVisibleParts,
    };
    if (outcome.pending) response.pending = true;
    if (outcome.errorType) response.errorType = outcome.errorType;
    if (this.usage && !outcome.pending) response.tokens = tokensOfInteractionUsage(this.usage);
    if (this.id) response.responseId = this.id;
    if (this.model) response.modelVersion = this.model;
    if (this.options.captureContent) response.text = this.text;
    return response;
  }
}
