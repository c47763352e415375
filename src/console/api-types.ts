// The console's JSON API (`/ui/api/...`): the one contract between the gateway and the console page, which compiles
// against these types too (tsconfig.web.json). Types only: nothing here runs.

/** Tokens by kind, as the metrics count them (disjoint: input excludes cached; output excludes thoughts). */
export interface TokenKinds {
  input: number;
  cached: number;
  output: number;
  thoughts: number;
  tool_use: number;
}

export const TOKEN_KINDS = ["input", "cached", "output", "thoughts", "tool_use"] as const;

/** GET /ui/api/whoami: who the key is. A wrong or missing key gets 401 (Gemini's error envelope). */
export interface WhoAmI {
  role: "admin" | "tenant";
  /** The tenant a tenant key sees (only its own turns, spend and conversations). */
  tenant?: string;
  /** Link to a trace: this URL with `{traceId}` replaced (TRACE_UI_URL); absent when not configured. */
  traceUrl?: string;
}

/** GET /ui/api/overview: the last hour on this replica, in buckets of `bucketSeconds`, oldest first. */
export interface Overview {
  /** Epoch ms when computed. */
  now: number;
  /** Whose figures: this replica's memory, or the whole fleet's from Prometheus (PROMETHEUS_URL, admin keys only). */
  source: "replica" | "prometheus";
  /** Prometheus could not be asked (the replica's own figures are shown instead): why. */
  sourceError?: string;
  bucketSeconds: number;
  /** Bucket start times (epoch ms), one per value of every series below. */
  t: number[];
  series: {
    requests: number[];
    /** Calls answered with an error (status >= 400 or a failure mid-stream), any cause. */
    errors: number[];
    /** 429s handed to clients (Google's, after retries, and the tenant limits'). */
    rateLimited: number[];
    retries: number[];
    tokens: Record<keyof TokenKinds, number[]>;
    costUsd: number[];
    /** Responses with a finish reason, and of them those truncated, by cause. */
    responses: number[];
    truncations: { output_limit: number[]; thinking: number[] };
    /** Latency of the calls that ended in the bucket; null when none did. */
    latencyP50Ms: Array<number | null>;
    latencyP95Ms: Array<number | null>;
  };
  /** Over the last 5 minutes. */
  recent: {
    requestsPerSecond: number;
    tokensPerSecond: TokenKinds;
    /** Truncated / responses (0 when no responses). */
    truncationRate: number;
    rateLimited: number;
    retries: number;
    errors: number;
    latencyP50Ms: number | null;
    latencyP95Ms: number | null;
  };
  /** Spend since 00:00 UTC and in the last hour, by model and by tenant, highest first. */
  spend: {
    todayUsd: number;
    byModel: Array<{ model: string; todayUsd: number; lastHourUsd: number }>;
    byTenant: Array<{ tenant: string; todayUsd: number; lastHourUsd: number }>;
  };
  /** Errors in the last hour by type (HTTP status, timeout, network, cancelled, midstream_error, a tenant limit). */
  errorsByType: Array<{ type: string; count: number }>;
}

/** One row of the turns table. */
export interface TurnSummary {
  /** Unique on this replica: `<replica>-<n>`. */
  id: string;
  /** Epoch ms when the call arrived. */
  at: number;
  tenant: string;
  model: string;
  route: string;
  operation: string;
  stream: boolean;
  httpStatus: number;
  errorType?: string;
  /** Lower-case finish reason of the first candidate (stop, max_tokens, safety, blocked, unspecified...). */
  finishReason?: string;
  truncation?: "output_limit" | "thinking" | "budget_exceeded" | "requires_continuation";
  tokens: TokenKinds & { total: number };
  /** Absent when the model is not in the price table or the call reported no usage. */
  costUsd?: number;
  latencyMs: number;
  attempts: number;
  retries: number;
  conversationId?: string;
  sessionTurn?: number;
  traceId?: string;
  /** The tenant policy refused the call before upstream: "models" or the limit's name. */
  refusedBy?: string;
}

/** GET /ui/api/turns?tenant=&model=&route=&finishReason=&error=&conversation=&limit= (newest first). */
export interface TurnList {
  turns: TurnSummary[];
  /** The values present in the ring (for the filter menus), within what the key may see. */
  facets: { tenants: string[]; models: string[]; routes: string[]; finishReasons: string[]; errors: string[] };
  /** How many turns the ring holds at most. */
  capacity: number;
}

export interface AttemptView {
  startedAt: number;
  durationMs: number;
  httpStatus?: number;
  outcome: string;
  quota?: string;
  /** The gateway retried after this attempt: why, after how long, and where the delay came from. */
  retry?: { reason: string; delayMs: number; source: string };
}

/** GET /ui/api/turns/:id */
export interface TurnDetail extends TurnSummary {
  attemptList: AttemptView[];
  apiVersion: string;
  generationConfig?: Record<string, unknown>;
  /** Streaming: ms from arrival to the first chunk sent. */
  firstChunkMs?: number;
  gatewayOverheadMs?: number;
  trimmedTurns?: number;
  rateLimitedQuota?: string;
  blockReason?: string;
  responseId?: string;
  modelVersion?: string;
  retryBudgetExhausted: boolean;
  clientAborted: boolean;
}

/** A conversation: a session of the session API, an Interactions API chain (by its first interaction's id), or turns
 *  grouped by their `x-gateway-session` header on the proxy routes. */
export interface ConversationSummary {
  id: string;
  kind: "session" | "interaction_chain" | "tagged";
  tenant: string;
  model: string;
  turns: number;
  /** Epoch ms of the last turn seen. */
  lastAt: number;
}

/** GET /ui/api/conversations?q=<id prefix> (most recent first). */
export interface ConversationList {
  conversations: ConversationSummary[];
}

export interface ConversationTurn {
  /** 1-based turn number. */
  turn: number;
  /** The record of the call that answered the turn (else of the last that tried), when still in this replica's memory
   *  (absent for older turns). */
  turnId?: string;
  /** Calls made for this turn: more than 1 when one was refused or failed and the client sent it again. */
  calls?: number;
  at?: number;
  promptTokens?: number;
  outputTokens?: number;
  thoughtsTokens?: number;
  costUsd?: number;
  finishReason?: string;
  truncation?: string;
  /** History turns dropped before this one was sent (turn cap, token budget). */
  trimmedTurns?: number;
  httpStatus?: number;
  /** The messages, when the session holds them (a session's history) and content may be shown; else their sizes. */
  user?: { text?: string; chars: number };
  model?: { text?: string; chars: number };
}

/** GET /ui/api/conversations/:id */
export interface ConversationDetail extends ConversationSummary {
  /** Turns in order. */
  turnList: ConversationTurn[];
  /** Whether message texts are shown: only with content capture on (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT). */
  contentShown: boolean;
  /** Session API only: GET this (with the same key) for the session's export. */
  exportPath?: string;
  /** Session API only: turns dropped from the history so far; the turn cap. */
  trimmedTurns?: number;
  maxTurns?: number;
}
