// The one record of a model call ("turn"), built along the data path
//   request -> session -> upstream attempts -> response tap -> TurnRecord -> metrics, span, log, history
// and handed once, when the call is over (completed, failed or aborted), to the TurnSink.
// Every telemetry output is derived from this record, so metrics, spans and logs cannot disagree.

import type { Context } from "@opentelemetry/api";
import type { Content, GenerationConfig, UsageMetadata } from "../gemini/types.js";
import type { TokenUsage } from "../gemini/usage.js";

/** Outcome of one upstream attempt: the label set of gemini_gateway_upstream_attempts_total. */
export type AttemptOutcome = "ok" | "400" | "403" | "404" | "429" | "500" | "503" | "504" | "other" | "timeout" | "network";

/** Where a retry delay came from. */
export type DelaySource = "retry_info" | "retry_after" | "backoff";

/** Which quota a 429 exhausted, from its QuotaFailure quotaId. */
export type QuotaKind = "per_minute" | "per_day" | "tokens" | "unknown";

export interface AttemptRecord {
  /** Epoch milliseconds (fractional). */
  startedAt: number;
  /** When the attempt's outcome was known: headers received, or the failure. */
  endedAt: number;
  /** HTTP status received, when one was. */
  httpStatus?: number;
  outcome: AttemptOutcome;
  /** For a 429: the quota kind it reported. */
  quota?: QuotaKind;
  /** Present when the gateway retried after this attempt. */
  retry?: { reason: AttemptOutcome; delayMs: number; source: DelaySource };
}

/** How the tokens of a call are billed. */
export type Billing =
  /** Tokens at the model's rates. */
  | "standard"
  /** Batch mode: the model's rates times the batch discount. */
  | "batch";

/** What the response tap read from the response (the last chunk's usage for a stream), in wire-neutral terms. */
export interface TappedResponse {
  /** Tokens by kind (absent when the answer carried no usage). Telemetry reads only this. */
  tokens?: TokenUsage;
  /** Gemini's usageMetadata as the upstream sent it (generate answers only): sessions hand it back to their client. */
  usage?: UsageMetadata;
  billing?: Billing;
  /** A context cache created by this call: its tokens are stored for this long (storage is billed per token-hour). */
  cacheStorage?: { tokens: number; seconds: number };
  /** One per candidate, in Gemini's vocabulary (upper-case enum names; other formats are mapped onto it). */
  finishReasons: string[];
  /** The answer is not the turn's end (a background interaction still running): its outcome, tokens included, is
   *  counted when a later read shows it final. */
  pending?: boolean;
  /** The answer reports a failed turn in a 2xx (an interaction whose status is failed or cancelled). */
  errorType?: string;
  blockReason?: string;
  responseId?: string;
  modelVersion?: string;
  /** True when the first candidate carried at least one non-thought part. */
  hasVisibleParts: boolean;
  /** Visible text of the first candidate (kept only when content capture or sessions need it). */
  text?: string;
  /** The model turn to append to a session (first candidate's content, thought parts removed). */
  modelContent?: Content;
}

/** gen_ai.operation.name for inference (generate_content, chat, embeddings), else the gateway's name of the call
 *  (count_tokens, list_models, a resource route's name): always from a bounded set (the route table's). */
export type Operation = string;

/** The route label of gemini_gateway_requests_total: a name from the route table (src/gateway/route-table.ts) or a
 *  session route; bounded. */
export type RouteName = string;

export interface TurnRecord {
  route: RouteName;
  operation: Operation;
  /** The model as requested by the client (raw; telemetry folds it to a bounded set). */
  model: string;
  /** Tenant from the configured gateway keys, passthrough hash, or "anonymous". */
  tenant: string;
  stream: boolean;
  apiVersion: string;
  /** Session id, or the x-gateway-session header of a passthrough call. */
  conversationId?: string;
  /** 1-based turn number within the conversation. */
  sessionTurn?: number;
  generationConfig?: GenerationConfig;
  /** The request contents, only kept when message content capture is on. */
  capturedInput?: { contents: Content[]; systemInstruction?: Content };
  attempts: AttemptRecord[];
  retryBudgetExhausted: boolean;
  response?: TappedResponse;
  /** Status returned to the client (for a stream: the status line, 200, even if it failed later). */
  httpStatus: number;
  /** Low-cardinality error type: the HTTP status as a string, "timeout", "network", "cancelled", "midstream_error". */
  errorType?: string;
  /** For 429s handed to the client. */
  rateLimitedQuota?: QuotaKind;
  /** The tenant's policy refused the call before upstream: "models" or the limit's name (requestsPerMinute, ...). */
  refusedBy?: string;
  startedAt: number;
  endedAt: number;
  /** Streaming: when the first chunk reached the client. */
  firstChunkAt?: number;
  /** Milliseconds (high resolution) in the gateway from the request's arrival to the first upstream attempt: reading
   *  and checking the request, and for a session message the store work and the wait for its turn. Absent when no
   *  attempt was made. */
  gatewayOverheadMs?: number;
  clientAborted: boolean;
  /** When session history trimming happened for this turn. */
  trimmedTurns?: number;
  /** Trace context of the incoming request (traceparent). */
  parentContext?: Context;
  /** Upstream endpoint, for server.address / server.port. */
  server?: { address: string; port: number };
}

/** Where the turn's span landed, for the request's log line. */
export interface RecordedTurn {
  traceId?: string;
  spanId?: string;
  /** What the sink priced the turn at (undefined: not priced), so later readers of the turn do not price it again. */
  costUsd?: number;
}

/** Consumes finished turns: exactly one call per model call. Implemented by telemetry (metrics + span). */
export interface TurnSink {
  record(turn: TurnRecord): RecordedTurn;
}

export const noopTurnSink: TurnSink = { record: () => ({}) };
