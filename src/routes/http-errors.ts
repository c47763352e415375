// The one mapping from what can go wrong while serving a request (our GeminiErrors, the body readers' errors,
// anything unexpected) to Gemini's envelope, for every route.

import { canonicalError, GeminiError, invalidArgument } from "../gemini/errors.js";
import { tooLarge } from "./request.js";

export interface MappedError {
  error: GeminiError;
  /** Not a client mistake: worth an error log line. */
  unexpected: boolean;
}

/** `maxBodyBytes` names the limit in a 413's message. */
export function toGeminiError(err: unknown, maxBodyBytes: number): MappedError {
  if (err instanceof GeminiError) return { error: err, unexpected: false };
  const status = typeof err === "object" && err !== null && "status" in err && typeof err.status === "number" ? err.status : 500;
  const type = typeof err === "object" && err !== null && "type" in err ? err.type : undefined;
  const message = err instanceof Error ? err.message : undefined;
  if (status === 413) return { error: tooLarge(maxBodyBytes), unexpected: false };
  if (type === "entity.parse.failed") return { error: invalidArgument(`Invalid JSON payload received. ${message ?? ""}`.trim()), unexpected: false };
  if (status >= 400 && status < 500) return { error: canonicalError(400, message), unexpected: false };
  return { error: canonicalError(500), unexpected: true };
}
