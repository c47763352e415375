// The simulator's tokenizer: deterministic, documented (docs/simulator.md), used for usageMetadata and countTokens alike.
// A token is a run of up to 8 letters/digits, or one other non-space character; whitespace rides along with the
// token that follows it. Non-text parts have fixed or JSON-derived costs.
import type { Content, Modality, ModalityTokenCount, Part } from "../gemini/types.js";

const MAX_WORD_PIECE = 8;
/** What Gemini charges for one image or file reference, whatever its size. */
export const MEDIA_PART_TOKENS = 258;

const TOKEN_PATTERN = new RegExp(`\\s*(?:[\\p{L}\\p{N}]{1,${MAX_WORD_PIECE}}|[^\\s\\p{L}\\p{N}])`, "gu");

/** Splits text into token pieces; joined together they give back the text (less trailing whitespace). */
export function splitTokens(text: string): string[] {
  return text.match(TOKEN_PATTERN) ?? [];
}

export function countTextTokens(text: string): number {
  return splitTokens(text).length;
}

export function countPartTokens(part: Part): number {
  if (typeof part.text === "string") return countTextTokens(part.text);
  if (part.inlineData || part.fileData) return MEDIA_PART_TOKENS;
  if (part.functionCall) return countTextTokens(`${part.functionCall.name} ${JSON.stringify(part.functionCall.args ?? {})}`);
  if (part.functionResponse) {
    return countTextTokens(`${part.functionResponse.name} ${JSON.stringify(part.functionResponse.response)}`);
  }
  if (part.executableCode) return countTextTokens(part.executableCode.code);
  if (part.codeExecutionResult) return countTextTokens(part.codeExecutionResult.output ?? "");
  return 0;
}

export function partModality(part: Part): Modality {
  const mimeType = part.inlineData?.mimeType ?? part.fileData?.mimeType;
  if (part.fileData && !mimeType) return "DOCUMENT";
  if (!mimeType) return "TEXT";
  if (mimeType.startsWith("image/")) return "IMAGE";
  if (mimeType.startsWith("audio/")) return "AUDIO";
  if (mimeType.startsWith("video/")) return "VIDEO";
  return "DOCUMENT";
}

export interface PromptTokens {
  total: number;
  /** Per modality, in first-seen order, as promptTokensDetails. */
  details: ModalityTokenCount[];
}

/** The prompt of a request: system instruction, every content, and the tool declarations (as JSON text, TEXT modality). */
export function countPromptTokens(request: { contents: Content[]; systemInstruction?: Content; tools?: unknown[] }): PromptTokens {
  const byModality = new Map<Modality, number>();
  const add = (modality: Modality, n: number): void => {
    byModality.set(modality, (byModality.get(modality) ?? 0) + n);
  };
  const contents = request.systemInstruction ? [request.systemInstruction, ...request.contents] : request.contents;
  for (const content of contents) for (const part of content.parts) add(partModality(part), countPartTokens(part));
  if (request.tools && request.tools.length > 0) add("TEXT", countTextTokens(JSON.stringify(request.tools)));
  const details = [...byModality].map(([modality, tokenCount]) => ({ modality, tokenCount }));
  return { total: details.reduce((sum, d) => sum + d.tokenCount, 0), details };
}

/** Several counts as one: totals added, details merged per modality in first-seen order. */
export function sumPromptTokens(counts: readonly PromptTokens[]): PromptTokens {
  const byModality = new Map<Modality, number>();
  for (const count of counts) for (const d of count.details) byModality.set(d.modality, (byModality.get(d.modality) ?? 0) + d.tokenCount);
  const details = [...byModality].map(([modality, tokenCount]) => ({ modality, tokenCount }));
  return { total: details.reduce((sum, d) => sum + d.tokenCount, 0), details };
}
