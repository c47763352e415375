// The tap of the JSON answers of the rest of the REST surface that carry billed usage: embeddings (OpenAI form
// `usage`, or a Gemini `usageMetadata` should the native answer carry one), a context cache's creation (its tokens are
// billed as input, then stored per token-hour) and a finished batch's inlined responses (billed at the batch rate).
// The body is small JSON; it is read whole at the end, up to a bound (a larger answer is passed on, not read).

import { enumName, STATE_NUMBERS } from "../gemini/enums.js";
import type { UsageMetadata } from "../gemini/types.js";
import { tokenCount, tokensOfUsageMetadata, TOKEN_TYPES, type TokenUsage } from "../gemini/usage.js";
import type { TappedResponse } from "../turn/record.js";
import { parseObject, type Tap, type TapResult } from "./tap.js";

export type ResourceUsage = "embeddings" | "cached_content" | "batch";

/** Answers above this are not parsed for usage (a batch with thousands of inlined responses is still far below). */
export const MAX_TAPPED_JSON_BYTES = 64 * 1024 * 1024;

type JsonObject = Record<string, unknown>;
const isObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);
const at = (value: unknown, ...path: string[]): unknown => path.reduce<unknown>((v, key) => (isObject(v) ? v[key] : undefined), value);

const addTokens = (a: TokenUsage, b: TokenUsage): TokenUsage => {
  const sum = { inputAudio: a.inputAudio + b.inputAudio } as TokenUsage;
  for (const type of TOKEN_TYPES) sum[type] = a[type] + b[type];
  return sum;
};
const NO_TOKENS: TokenUsage = { input: 0, cached: 0, output: 0, thoughts: 0, tool_use: 0, inputAudio: 0 };

/** Seconds between two RFC 3339 timestamps (0 when either is missing or unreadable). */
function secondsBetween(from: unknown, to: unknown): number {
  const start = typeof from === "string" ? Date.parse(from) : NaN;
  const end = typeof to === "string" ? Date.parse(to) : NaN;
  return Number.isFinite(start) && Number.isFinite(end) && end > start ? (end - start) / 1000 : 0;
}

/** What an answer of `kind` carries; pure, for unit tests. */
export function readResourceUsage(kind: ResourceUsage, answer: JsonObject): Partial<TappedResponse> {
  switch (kind) {
    case "embeddings": {
      const usage = answer.usage;
      if (isObject(usage)) return { tokens: { ...NO_TOKENS, input: tokenCount(usage.prompt_tokens) } };
      return isObject(answer.usageMetadata) ? { tokens: tokensOfUsageMetadata(answer.usageMetadata as UsageMetadata) } : {};
    }
    case "cached_content": {
      const tokens = tokenCount(at(answer, "usageMetadata", "totalTokenCount"));
      const model = answer.model;
      return {
        tokens: { ...NO_TOKENS, input: tokens },
        cacheStorage: { tokens, seconds: secondsBetween(answer.createTime, answer.expireTime) },
        ...(typeof model === "string" ? { modelVersion: model } : {}),
      };
    }
    case "batch": {
      // A batch's results, once it is done: the SDK reads them from metadata.output; the operation's response holds the same.
      const state = enumName(STATE_NUMBERS, at(answer, "metadata", "state"));
      const results = at(answer, "metadata", "output", "inlinedResponses", "inlinedResponses") ?? at(answer, "response", "inlinedResponses", "inlinedResponses");
      if (state !== "BATCH_STATE_SUCCEEDED" || !Array.isArray(results)) return {};
      let tokens = NO_TOKENS;
      for (const result of results) {
        const usage = at(result, "response", "usageMetadata");
        if (isObject(usage)) tokens = addTokens(tokens, tokensOfUsageMetadata(usage as UsageMetadata));
      }
      const model = at(answer, "metadata", "model");
      return { tokens, billing: "batch", ...(typeof model === "string" ? { modelVersion: model } : {}) };
    }
  }
}

export class ResourceTap implements Tap {
  private readonly pieces: Buffer[] = [];
  private size = 0;

  constructor(private readonly kind: ResourceUsage) {}

  push(bytes: Uint8Array): void {
    this.size += bytes.length;
    if (this.size <= MAX_TAPPED_JSON_BYTES) this.pieces.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
  }

  finish(): TapResult {
    const response: TappedResponse = { finishReasons: [], hasVisibleParts: false };
    if (this.size > MAX_TAPPED_JSON_BYTES) return { response, chunks: 1, malformed: false };
    const answer = parseObject(Buffer.concat(this.pieces).toString("utf8"));
    if (!answer) return { response, chunks: 0, malformed: this.size > 0 };
    return { response: { ...response, ...readResourceUsage(this.kind, answer) }, chunks: 1, malformed: false };
  }
}
