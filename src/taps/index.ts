// Which tap reads an answer: the route table names a kind per route; the format within it comes from the request
// (a stream's `alt`, a chat completion's `stream`).

import { ChatCompletionTap } from "./chat-completion.js";
import { GenerateContentTap, responseFormat } from "./generate-content.js";
import { InteractionTap } from "./interaction.js";
import { ResourceTap, type ResourceUsage } from "./resource.js";
import type { Tap, TapOptions } from "./tap.js";

export type { Tap, TapOptions, TapResult } from "./tap.js";

/** `generate`: Gemini's generate answers; `chat`: OpenAI chat completions; `interaction`: the Interactions API; a
 *  resource kind: the usage of that JSON answer; `none`: nothing is read (lists, metadata, file bytes...). */
export type TapKind = "generate" | "chat" | "interaction" | ResourceUsage | "none";

/** What decides the format of an answer within its kind. */
export interface TapRequest {
  stream: boolean;
  query: URLSearchParams;
}

/** The tap of an answer; undefined for `none`. */
export function createTap(kind: TapKind, request: TapRequest, options: TapOptions): Tap | undefined {
  switch (kind) {
    case "generate":
      return new GenerateContentTap(responseFormat(request.stream, request.query), options);
    case "chat":
      return new ChatCompletionTap(request.stream, options);
    case "interaction":
      return new InteractionTap(request.stream, options);
    case "none":
      return undefined;
    default:
      return new ResourceTap(kind);
  }
}
