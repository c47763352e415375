// The gateway's own errors on the OpenAI-compatible routes, in OpenAI's shape (`{error: {message, type, param,
// code}}`), which the `openai` SDK turns into its typed errors (AuthenticationError, RateLimitError, ...) with the
// message. The HTTP status is the one the Gemini error carries; errors from upstream pass through as Google sent them.

import type { GeminiError } from "../gemini/errors.js";
import type { OpenAiErrorBody } from "./types.js";

/** OpenAI's error `type` for an HTTP status. */
export function openAiErrorType(status: number): string {
  if (status === 401 || status === 403) return "authentication_error";
  if (status === 404) return "not_found_error";
  if (status === 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

export function openAiErrorBody(error: GeminiError): string {
  const body: OpenAiErrorBody = {
    error: { message: error.message, type: openAiErrorType(error.code), param: null, code: error.status.toLowerCase() },
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}
