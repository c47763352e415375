// Reading an OpenAI-compatible chat request in Gemini's terms, for the call's record: the generation parameters
// (span attributes gen_ai.request.*) and, when message capture is on, the messages as Gemini contents.

import type { Content, GenerationConfig, Part } from "../gemini/types.js";
import type { ChatCompletionRequest, ChatMessage } from "./types.js";

const number = (value: unknown): number | undefined => (typeof value === "number" && Number.isFinite(value) ? value : undefined);

/** max_completion_tokens (or the older max_tokens), temperature, top_p, stop, seed, n as a GenerationConfig. */
export function chatGenerationConfig(request: object): GenerationConfig | undefined {
  const chat = request as Partial<ChatCompletionRequest>;
  const config: GenerationConfig = {};
  const maxTokens = number(chat.max_completion_tokens) ?? number(chat.max_tokens);
  if (maxTokens !== undefined) config.maxOutputTokens = maxTokens;
  if (number(chat.temperature) !== undefined) config.temperature = chat.temperature;
  if (number(chat.top_p) !== undefined) config.topP = chat.top_p;
  if (number(chat.seed) !== undefined) config.seed = chat.seed;
  if (number(chat.n) !== undefined) config.candidateCount = chat.n;
  if (typeof chat.stop === "string") config.stopSequences = [chat.stop];
  else if (Array.isArray(chat.stop)) config.stopSequences = chat.stop.filter((s): s is string => typeof s === "string");
  return Object.keys(config).length > 0 ? config : undefined;
}

function textParts(content: ChatMessage["content"]): Part[] {
  if (typeof content === "string") return [{ text: content }];
  if (!Array.isArray(content)) return [];
  return content.flatMap((part): Part[] => (part && typeof part === "object" && typeof part.text === "string" ? [{ text: part.text }] : []));
}

/** The messages as Gemini contents (assistant -> model); system and developer messages as the system instruction. */
export function chatCapturedInput(request: object): { contents: Content[]; systemInstruction?: Content } | undefined {
  const messages = (request as Partial<ChatCompletionRequest>).messages;
  if (!Array.isArray(messages)) return undefined;
  const contents: Content[] = [];
  const system: Part[] = [];
  for (const message of messages) {
    if (!message || typeof message !== "object") continue;
    const parts = textParts(message.content);
    if (message.role === "system" || message.role === "developer") system.push(...parts);
    else contents.push({ role: message.role === "assistant" ? "model" : "user", parts });
  }
  return system.length > 0 ? { contents, systemInstruction: { parts: system } } : { contents };
}
