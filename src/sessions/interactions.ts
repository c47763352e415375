// The interactions backend of sessions (`backend: "interactions"`): Google keeps the history, the session keeps the
// chain head and sends each message as an interaction that continues it (`previous_interaction_id`). Pure mapping
// between the session API's Gemini contents and the Interactions API's contents and steps.

import { invalidArgument } from "../gemini/errors.js";
import type { Content, GenerationConfig, Part } from "../gemini/types.js";

type JsonObject = Record<string, unknown>;
const isObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);

/** The Interactions content type of a MIME type. */
function mediaType(mimeType: string | undefined): string {
  if (mimeType?.startsWith("image/")) return "image";
  if (mimeType?.startsWith("audio/")) return "audio";
  if (mimeType?.startsWith("video/")) return "video";
  return "document";
}

/** A message's parts as Interactions contents: text and media. Function calls and responses are not carried (the
 *  interactions backend of sessions takes plain messages; call ai.interactions directly for tools). */
export function interactionContents(parts: readonly Part[], at = "message"): JsonObject[] {
  return parts.map((part, i) => {
    if (typeof part.text === "string") return { type: "text", text: part.text };
    if (part.inlineData) return { type: mediaType(part.inlineData.mimeType), data: part.inlineData.data, mime_type: part.inlineData.mimeType };
    if (part.fileData) {
      return { type: mediaType(part.fileData.mimeType), uri: part.fileData.fileUri, ...(part.fileData.mimeType ? { mime_type: part.fileData.mimeType } : {}) };
    }
    throw invalidArgument(`${at}.parts[${i}]: a session with backend "interactions" takes text, inlineData and fileData parts only.`);
  });
}

/** An imported history as the steps of the first interaction's input (user turns as user_input, model turns as
 *  model_output), so Google holds it like any earlier turn. */
export function historySteps(history: readonly Content[]): JsonObject[] {
  return history.map((content, i) => ({
    type: content.role === "model" ? "model_output" : "user_input",
    content: interactionContents(content.parts, `history[${i}]`),
  }));
}

/** Gemini's generationConfig in the Interactions API's terms (what it has no field for is left out). */
export function interactionGenerationConfig(config: GenerationConfig | undefined): JsonObject | undefined {
  if (!config) return undefined;
  const out: JsonObject = {};
  const copy: Array<[keyof GenerationConfig, string]> = [
    ["maxOutputTokens", "max_output_tokens"],
    ["temperature", "temperature"],
    ["topP", "top_p"],
    ["seed", "seed"],
    ["stopSequences", "stop_sequences"],
  ];
  for (const [from, to] of copy) if (config[from] !== undefined) out[to] = config[from];
  const thinking = config.thinkingConfig;
  if (thinking?.thinkingLevel !== undefined) out.thinking_level = String(thinking.thinkingLevel).toLowerCase();
  if (thinking?.includeThoughts) out.thinking_summaries = "auto";
  return Object.keys(out).length > 0 ? out : undefined;
}

/** A system instruction as the Interactions API takes it: text. */
export function interactionSystemInstruction(instruction: Content | undefined): string | undefined {
  if (!instruction) return undefined;
  return instruction.parts.map((part) => (typeof part.text === "string" ? part.text : "")).join("");
}

/** Interactions contents back as Gemini parts. */
function partsOf(content: unknown): Part[] {
  if (!Array.isArray(content)) return [];
  return content.flatMap((block): Part[] => {
    if (!isObject(block)) return [];
    if (block.type === "text" && typeof block.text === "string") return [{ text: block.text }];
    const mimeType = typeof block.mime_type === "string" ? block.mime_type : "application/octet-stream";
    if (typeof block.data === "string") return [{ inlineData: { mimeType, data: block.data } }];
    if (typeof block.uri === "string") return [{ fileData: { fileUri: block.uri, mimeType } }];
    return [];
  });
}

/** One interaction, as a GET answers it (its input steps, then its output steps), as the session history turns it
 *  adds. Thoughts and tool steps are not part of a session's history. */
export function historyOfInteraction(interaction: unknown): Content[] {
  if (!isObject(interaction) || !Array.isArray(interaction.steps)) return [];
  const contents: Content[] = [];
  for (const step of interaction.steps) {
    if (!isObject(step)) continue;
    const role = step.type === "user_input" ? "user" : step.type === "model_output" ? "model" : undefined;
    const parts = role ? partsOf(step.content) : [];
    if (!role || parts.length === 0) continue;
    const last = contents[contents.length - 1];
    if (last?.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  }
  return contents;
}
