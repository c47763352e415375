// Token arithmetic of a UsageMetadata. promptTokenCount INCLUDES cachedContentTokenCount; candidatesTokenCount
// EXCLUDES thoughts; totalTokenCount = prompt + candidates + thoughts + toolUsePrompt. The breakdown below splits the
// total into disjoint parts so that counters per type add up to exactly what Gemini reported.

import type { Modality, ModalityTokenCount, UsageMetadata } from "./types.js";

export const TOKEN_TYPES = ["input", "cached", "output", "thoughts", "tool_use"] as const;
export type TokenType = (typeof TOKEN_TYPES)[number];

/** Disjoint token counts: input = prompt minus cached, cached, output = candidates, thoughts, tool_use. */
export type TokenBreakdown = Record<TokenType, number>;

export function tokenBreakdown(usage: UsageMetadata): TokenBreakdown {
  const prompt = usage.promptTokenCount ?? 0;
  const cached = usage.cachedContentTokenCount ?? 0;
  return {
    input: Math.max(0, prompt - cached),
    cached,
    output: usage.candidatesTokenCount ?? 0,
    thoughts: usage.thoughtsTokenCount ?? 0,
    tool_use: usage.toolUsePromptTokenCount ?? 0,
  };
}

export function breakdownTotal(breakdown: TokenBreakdown): number {
  return TOKEN_TYPES.reduce((sum, type) => sum + breakdown[type], 0);
}

/** Tokens of one modality in a *TokensDetails list (0 when absent). */
export function modalityTokens(details: ModalityTokenCount[] | undefined, modality: Modality): number {
  return (details ?? []).reduce((sum, d) => (d.modality === modality ? sum + d.tokenCount : sum), 0);
}
