// What the HTTP shell hands a resource module for one request, and what the module hands back: an answer the shell
// writes (with latency, enum encoding, fault cuts and stats), so that no module touches a socket.
import type { IncomingHttpHeaders } from "node:http";
import type { GeminiError } from "../gemini/errors.js";
import type { UsageMetadata } from "../gemini/types.js";
import type { Fault } from "./faults.js";
import type { SimModel } from "./models.js";
import type { Operation, RouteMatch } from "./routes.js";

/** How a stream is framed: SSE events, or one JSON array written element by element. */
export type StreamFraming = "sse" | "array";

export interface RequestContext {
  route: RouteMatch;
  url: URL;
  headers: IncomingHttpHeaders;
  /** The caller's API key: resources belong to it. Empty on upload-data requests (the upload id authorises them). */
  key: string;
  /** The model the path or body names, when the operation is a model method (checked to exist and support it). */
  model?: SimModel;
  /** The fault rule picked for this request, when it acts on the answer (finish, block, a stream cut). */
  fault?: Fault;
  /** `$alt=json;enum-encoding=int`: the shell writes the answer's enums as numbers. */
  intEnums: boolean;
  /** streamGenerateContent only: `alt=sse` or not. */
  framing: StreamFraming;
  /** `http://<Host header>`: the simulator as this client reaches it (upload URLs, file URIs). */
  origin: string;
  /** The simulator clock (ms since the epoch). */
  now: number;
  /** The body as JSON (Google's 400 for malformed JSON); read once. */
  json(): Promise<unknown>;
  /** The raw body, at most `limit` bytes (Google's 413 beyond). */
  bytes(limit: number): Promise<Buffer>;
}

export interface JsonAnswer {
  kind: "json";
  body: unknown;
  status?: number;
  headers?: Record<string, string>;
  /** Wait before answering (the time a unary reply takes to generate). */
  delayMs?: number;
  /** The model usage this answer reports, for the stats. */
  usage?: UsageMetadata;
}

/** Headers only (the upload protocol's start and query answers). */
export interface EmptyAnswer {
  kind: "empty";
  headers: Record<string, string>;
}

export interface BytesAnswer {
  kind: "bytes";
  body: Buffer;
  contentType: string;
}

export interface StreamFrame {
  /** The bytes of this event or array element, framing included. */
  text: string;
  /** Visible tokens it carries (the trickle waits tokens / tokensPerSecond before it). */
  tokens: number;
  /** The running usage it reports (the stats count the last frame sent). */
  usage?: UsageMetadata;
}

export interface StreamAnswer {
  kind: "stream";
  headers: Record<string, string>;
  frames: StreamFrame[];
  /** What ends a complete stream ("\r\n]" for the array form, `data: [DONE]` for OpenAI chunks). */
  end: string;
  /** The bytes that end a stream failing after `sent` frames. */
  failure(error: GeminiError, sent: number): string;
}

export type Answer = JsonAnswer | EmptyAnswer | BytesAnswer | StreamAnswer;

export type Handler = (ctx: RequestContext) => Promise<Answer>;

/** The handlers a resource module serves, by operation: the shell checks at compile time that every one has one. */
export type Handlers<K extends Operation> = Record<K, Handler>;

export const jsonAnswer = (body: unknown, extra: Omit<JsonAnswer, "kind" | "body"> = {}): JsonAnswer => ({ kind: "json", body, ...extra });

/** The model of a model method: the shell has resolved it (it exists and supports the method) before the handler. */
export const modelOf = (ctx: RequestContext): SimModel => ctx.model!;

/** One request header (the first, when repeated). */
export function firstHeader(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A lookup's result, or the error its absence answers. */
export function orThrow<T>(value: T | undefined, error: () => GeminiError): T {
  if (value === undefined) throw error();
  return value;
}
