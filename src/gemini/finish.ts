// Finish reasons as a bounded metric label, and why a response was truncated.

import { FINISH_REASONS } from "./types.js";

/** What the response tap saw that decides the finish label (a subset of TappedResponse). */
export interface FinishFacts {
  finishReasons: string[];
  blockReason?: string;
  hasVisibleParts: boolean;
}

const KNOWN_FINISH_REASONS: ReadonlySet<string> = new Set(FINISH_REASONS);

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

export type TruncationCause = "output_limit" | "thinking";

/**
 * Why a response ended with MAX_TOKENS: `thinking` when the thoughts used the whole budget and no visible part came
 * back (the 2.5-class failure mode), `output_limit` otherwise. Undefined when it was not truncated.
 */
export function truncationCause(facts: FinishFacts): TruncationCause | undefined {
  if (facts.blockReason || facts.finishReasons[0] !== "MAX_TOKENS") return undefined;
  return facts.hasVisibleParts ? "output_limit" : "thinking";
}
