// The tap of the OpenAI-compatible chat completions (`/{v}/openai/chat/completions`): a `chat.completion` JSON body,
// or with `stream: true` SSE `chat.completion.chunk` events ending in `data: [DONE]` (usage in a last chunk when
// `stream_options.include_usage` is set). Its finish reasons are mapped onto Gemini's vocabulary and its usage onto
// the same token kinds, so a chat completion is measured like a generateContent call.

import { tokenCount, type TokenUsage } from "../gemini/usage.js";
import type { ChatCompletion, ChatCompletionChunk, CompletionUsage } from "../openai/types.js";
import type { TappedResponse } from "../turn/record.js";
import { JsonEventsTap, type TapOptions } from "./tap.js";

/** OpenAI's finish_reason in Gemini's terms: `length` is MAX_TOKENS (a truncation), `content_filter` SAFETY; a tool
 *  call ends like any answer (Gemini says STOP). Unknown values keep their name (the label folds them into `other`). */
export function geminiFinishReason(reason: string): string {
  switch (reason) {
    case "stop":
    case "tool_calls":
    case "function_call":
      return "STOP";
    case "length":
      return "MAX_TOKENS";
    case "content_filter":
      return "SAFETY";
    default:
      return reason.toUpperCase();
  }
}

/** OpenAI usage in the wire-neutral kinds: prompt_tokens includes the cached ones; completion_tokens the reasoning. */
export function tokensOfCompletionUsage(usage: CompletionUsage): TokenUsage {
  const prompt = tokenCount(usage.prompt_tokens);
  const cached = Math.min(prompt, tokenCount(usage.prompt_tokens_details?.cached_tokens));
  const completion = tokenCount(usage.completion_tokens);
  const reasoning = Math.min(completion, tokenCount(usage.completion_tokens_details?.reasoning_tokens));
  const input = prompt - cached;
  return {
    input,
    cached,
    output: completion - reasoning,
    thoughts: reasoning,
    tool_use: 0,
    inputAudio: Math.min(input, tokenCount(usage.prompt_tokens_details?.audio_tokens)),
  };
}

export class ChatCompletionTap extends JsonEventsTap {
  private readonly finishByChoice = new Map<number, string>();
  private usage: CompletionUsage | undefined;
  private id: string | undefined;
  private model: string | undefined;
  private text = "";
  private hasVisibleParts = false;

  constructor(
    stream: boolean,
    private readonly options: TapOptions,
  ) {
    super(stream);
  }

  protected read(object: Record<string, unknown>): void {
    const answer = object as Partial<ChatCompletion> & Partial<Pick<ChatCompletionChunk, "choices">>;
    if (typeof answer.id === "string") this.id = answer.id;
    if (typeof answer.model === "string") this.model = answer.model;
    if (answer.usage && typeof answer.usage === "object") this.usage = answer.usage;
    if (!Array.isArray(answer.choices)) return;
    answer.choices.forEach((choice: unknown, position) => {
      if (!choice || typeof choice !== "object") return;
      const { index, finish_reason: finish, message, delta } = choice as {
        index?: unknown;
        finish_reason?: unknown;
        message?: { content?: unknown; tool_calls?: unknown };
        delta?: { content?: unknown; tool_calls?: unknown };
      };
      const at = typeof index === "number" ? index : position;
      if (typeof finish === "string") this.finishByChoice.set(at, geminiFinishReason(finish));
      const content = message ?? delta;
      if (at !== 0 || !content || typeof content !== "object") return;
      if (typeof content.content === "string" && content.content !== "") {
        this.hasVisibleParts = true;
        if (this.options.captureContent) this.text += content.content;
      }
      if (Array.isArray(content.tool_calls) && content.tool_calls.length > 0) this.hasVisibleParts = true;
    });
  }

  protected tapped(): TappedResponse {
    const response: TappedResponse = {
      finishReasons: [...this.finishByChoice.entries()].sort(([a], [b]) => a - b).map(([, reason]) => reason),
      hasVisibleParts: this.hasVisibleParts,
    };
    if (this.usage) response.tokens = tokensOfCompletionUsage(this.usage);
    if (this.id) response.responseId = this.id;
    if (this.model) response.modelVersion = this.model;
    if (this.options.captureContent) response.text = this.text;
    return response;
  }
}
