// Finish reasons as a bounded metric label, and why a response was truncated.

import { FINISH_REASONS } from "./types.js";

/** What the response tap saw that decides the finish label (a subset of TappedResponse). */
export interface FinishFacts {
  finishReasons: string[];
  blockReason?: string;
  hasVisibleParts: boolean;
}

/** Ends of an interaction turn that Gemini's FinishReason has no name for (src/taps/interaction.ts maps them). */
export const INTERACTION_TRUNCATIONS = ["BUDGET_EXCEEDED", "REQUIRES_CONTINUATION"] as const;

const KNOWN_FINISH_REASONS: ReadonlySet<string> = new Set([...FINISH_REASONS, ...INTERACTION_TRUNCATIONS]);

/**
 * The finish_reason label of one model response: the first candidate's finishReason in lower case, `blocked` when the
 * prompt was blocked (promptFeedback.blockReason), `unspecified` when absent. Unknown names fold into `other`, so the
 * label stays bounded whatever the upstream sends.
 */
export function finishReasonLabel(facts: FinishFacts): string {
  if (facts.blockReason) return "blocked";
  const reason = facts.finishReasons[0];
  if (!reason || reason === "FINISH_REASON_UNSPECIFIED") return "unspecified";
  return KNOWN_FINISH_REASONS.has(reason) ? reason.toLowerCase() : "other";
}

export type TruncationCause = "output_limit" | "thinking" | "budget_exceeded" | "requires_continuation";

/**
 * Why a response was cut. MAX_TOKENS: `thinking` when the thoughts used the whole budget and no visible part came
 * back (the 2.5-class failure mode), `output_limit` otherwise. An interaction may also stop at its budget
 * (`budget_exceeded`) or ask to be continued (`requires_continuation`). Undefined when it was not truncated.
 */
export function truncationCause(facts: FinishFacts): TruncationCause | undefined {
  if (facts.blockReason) return undefined;
  switch (facts.finishReasons[0]) {
    case "MAX_TOKENS":
      return facts.hasVisibleParts ? "output_limit" : "thinking";
    case "BUDGET_EXCEEDED":
      return "budget_exceeded";
    case "REQUIRES_CONTINUATION":
      return "requires_continuation";
    default:
      return undefined;
  }
}
