// History arithmetic (pure): turn counting, the turn cap (reject or slide) and token-budget trimming.
// A turn is one send: one user content (a message, or the function responses answering a call) and what the model
// answered to it. Trimming drops whole exchanges from the oldest: a user message with every turn up to the next user
// message, so the history still starts with a user turn and no function call loses its response.

import { failedPrecondition } from "../gemini/errors.js";
import type { Content } from "../gemini/types.js";

/** Number of user turns in `contents`: the 1-based turn number of a request whose last content is the new user turn. */
export function turnFromContents(contents: readonly Content[]): number {
  return contents.filter((c) => c.role === "user").length;
}

const isFunctionResponseTurn = (c: Content): boolean => c.role === "user" && c.parts.some((p) => p.functionResponse !== undefined);
const startsExchange = (c: Content): boolean => c.role === "user" && !isFunctionResponseTurn(c);

/** Splits a history into exchanges (see the file comment). Anything before the first user message is its own block. */
export function exchanges(history: readonly Content[]): Content[][] {
  const blocks: Content[][] = [];
  for (const content of history) {
    const current = blocks[blocks.length - 1];
    if (!current || startsExchange(content)) blocks.push([content]);
    else current.push(content);
  }
  return blocks;
}

/** A rough token estimate (4 characters per token) for budgeting before the model reports the real count. */
export function estimateTokens(contents: readonly Content[]): number {
  let chars = 0;
  for (const content of contents) {
    for (const part of content.parts) chars += part.text !== undefined ? part.text.length : JSON.stringify(part).length;
  }
  return Math.ceil(chars / 4);
}

export interface FitOptions {
  sessionId: string;
  maxTurns: number;
  policy: "reject" | "slide";
  /** With slide or token trimming: never drop the first exchange. */
  pinFirstTurn: boolean;
  maxHistoryTokens: number | undefined;
  /** Tokens of the history as the model last counted them (last promptTokenCount + its reply), when known. */
  lastHistoryTokens: number | undefined;
}

export interface Fitted {
  history: Content[];
  /** User turns dropped to fit (0 when nothing was trimmed). */
  trimmedTurns: number;
}

/**
 * Makes room for `newTurn` in `history`: applies the turn cap (throws FAILED_PRECONDITION under `reject`) and the token
 * budget. Returns the history to send before the new turn.
 */
export function fitHistory(history: readonly Content[], newTurn: Content, options: FitOptions): Fitted {
  const turns = turnFromContents(history);
  if (turns + 1 > options.maxTurns && options.policy === "reject") {
    throw failedPrecondition(
      `Session ${options.sessionId} has reached its cap of ${options.maxTurns} turns (SESSION_MAX_TURNS). ` +
        `Export the conversation with GET /v1/sessions/${options.sessionId} and start a new session with ` +
        `POST /v1/sessions {"model": ..., "history": [...]} holding the part of it you want to keep.`,
    );
  }
  const blocks = exchanges(history);
  const pinned = options.pinFirstTurn && blocks.length > 0 ? 1 : 0;
  let dropped = 0; // exchanges dropped after the pinned ones
  let turnsLeft = turns;
  let tokens = options.lastHistoryTokens ?? estimateTokens(history);
  const newTokens = estimateTokens([newTurn]);
  const overCap = () => turnsLeft + 1 > options.maxTurns;
  const overBudget = () => options.maxHistoryTokens !== undefined && tokens + newTokens > options.maxHistoryTokens;
  while ((overCap() || overBudget()) && pinned + dropped < blocks.length) {
    const block = blocks[pinned + dropped]!;
    turnsLeft -= turnFromContents(block);
    tokens -= estimateTokens(block);
    dropped += 1;
  }
  if (dropped === 0) return { history: [...history], trimmedTurns: 0 };
  return {
    history: [...blocks.slice(0, pinned).flat(), ...blocks.slice(pinned + dropped).flat()],
    trimmedTurns: turns - turnsLeft,
  };
}
