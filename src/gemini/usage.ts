// Token arithmetic of a UsageMetadata. promptTokenCount INCLUDES cachedContentTokenCount; candidatesTokenCount
// EXCLUDES thoughts; totalTokenCount = prompt + candidates + thoughts + toolUsePrompt. The breakdown below splits the
// total into disjoint parts so that counters per type add up to exactly what Gemini reported.

import { enumName, MODALITY_NUMBERS } from "./enums.js";
import type { Modality, ModalityTokenCount, UsageMetadata } from "./types.js";

export const TOKEN_TYPES = ["input", "cached", "output", "thoughts", "tool_use"] as const;
export type TokenType = (typeof TOKEN_TYPES)[number];

/** Disjoint token counts: input = prompt minus cached, cached, output = candidates, thoughts, tool_use. */
export type TokenBreakdown = Record<TokenType, number>;

/** Tokens of one call, in the same terms whatever the wire format (every tap fills this): disjoint kinds that add up
 *  to what was billed. */
export interface TokenUsage extends TokenBreakdown {
  /** Of `input`: audio tokens, billed at the audio rate where the price table has one. */
  inputAudio: number;
}

/** A token count as an upstream sent it: a non-negative integer, or 0 (a missing, negative or non-numeric field
 *  must neither throw in a counter nor make one go backwards). */
export function tokenCount(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}

export function tokenBreakdown(usage: UsageMetadata): TokenBreakdown {
  const prompt = tokenCount(usage.promptTokenCount);
  const cached = tokenCount(usage.cachedContentTokenCount);
  return {
    input: Math.max(0, prompt - cached),
    cached,
    output: tokenCount(usage.candidatesTokenCount),
    thoughts: tokenCount(usage.thoughtsTokenCount),
    tool_use: tokenCount(usage.toolUsePromptTokenCount),
  };
}

/** The wire-neutral tokens of a Gemini usageMetadata (modalities sent as names or, with enum-encoding=int, numbers). */
export function tokensOfUsageMetadata(usage: UsageMetadata): TokenUsage {
  const breakdown = tokenBreakdown(usage);
  const uncachedAudio = Math.max(0, modalityTokens(usage.promptTokensDetails, "AUDIO") - modalityTokens(usage.cacheTokensDetails, "AUDIO"));
  return { ...breakdown, inputAudio: Math.min(uncachedAudio, breakdown.input) };
}

export function breakdownTotal(breakdown: TokenBreakdown): number {
  return TOKEN_TYPES.reduce((sum, type) => sum + breakdown[type], 0);
}

/** The prompt as Gemini counts it (promptTokenCount): uncached plus cached input. */
export const promptTokens = (tokens: TokenBreakdown): number => tokens.input + tokens.cached;

/** Tokens of one modality in a *TokensDetails list (0 when absent). */
export function modalityTokens(details: ModalityTokenCount[] | undefined, modality: Modality): number {
  if (!Array.isArray(details)) return 0;
  return details.reduce((sum, d) => (enumName(MODALITY_NUMBERS, d?.modality) === modality ? sum + tokenCount(d.tokenCount) : sum), 0);
}
