// Reading an Interactions API create request (`POST /{v}/interactions`), in either spelling proto JSON accepts:
// snake_case as the SDKs send it, or lowerCamelCase. Pure.

import type { GenerationConfig } from "./types.js";

type JsonObject = Record<string, unknown>;
const isObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);

/** A field by its snake_case name, or its lowerCamelCase one. */
function field(object: JsonObject, snake: string): unknown {
  if (object[snake] !== undefined) return object[snake];
  return object[snake.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase())];
}

const stringField = (request: unknown, snake: string): string | undefined => {
  const value = isObject(request) ? field(request, snake) : undefined;
  return typeof value === "string" ? value : undefined;
};

/** The interaction a create continues. */
export const previousInteractionOf = (request: unknown): string | undefined => stringField(request, "previous_interaction_id");

/** The continuation token of a hop (the rest of a requires_continuation turn). */
export const continuationTokenOf = (request: unknown): string | undefined => stringField(request, "continuation_token");

/** The generation parameters of a create as Gemini's GenerationConfig (for the span's gen_ai.request.* attributes). */
export function interactionRequestConfig(request: unknown): GenerationConfig | undefined {
  const config = isObject(request) ? field(request, "generation_config") : undefined;
  if (!isObject(config)) return undefined;
  const out: GenerationConfig = {};
  const numbers: Array<[string, keyof GenerationConfig]> = [
    ["max_output_tokens", "maxOutputTokens"],
    ["temperature", "temperature"],
    ["top_p", "topP"],
    ["seed", "seed"],
  ];
  for (const [snake, camel] of numbers) {
    const value = field(config, snake);
    if (typeof value === "number") out[camel] = value;
  }
  const stops = field(config, "stop_sequences");
  if (Array.isArray(stops)) out.stopSequences = stops.filter((s): s is string => typeof s === "string");
  return Object.keys(out).length > 0 ? out : undefined;
}
