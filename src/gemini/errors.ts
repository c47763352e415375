// Gemini's error envelope: {"error": {code, message, status, details}}, pretty-printed as Google sends it.
// Both the simulator and the gateway build every error they make through this module, so SDKs parse them alike.

export type CanonicalStatus =
  | "INVALID_ARGUMENT"
  | "FAILED_PRECONDITION"
  | "PERMISSION_DENIED"
  | "NOT_FOUND"
  | "RESOURCE_EXHAUSTED"
  | "CANCELLED"
  | "INTERNAL"
  | "UNAVAILABLE"
  | "DEADLINE_EXCEEDED"
  | "UNAUTHENTICATED"
  | "ABORTED"
  | "UNIMPLEMENTED";

/** A google.rpc detail: `@type` plus its fields. */
export type ErrorDetail = { "@type": string } & Record<string, unknown>;

export interface ErrorBody {
  code: number;
  message: string;
  status: CanonicalStatus;
  details?: ErrorDetail[];
}

export interface ErrorEnvelope {
  error: ErrorBody;
}

export const RPC_TYPE_PREFIX = "type.googleapis.com/google.rpc.";

/** The canonical messages Google uses for errors that carry no specific one. */
export const CANONICAL_MESSAGES: Readonly<Record<number, { status: CanonicalStatus; message: string }>> = {
  400: { status: "INVALID_ARGUMENT", message: "Request contains an invalid argument." },
  403: { status: "PERMISSION_DENIED", message: "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API." },
  404: { status: "NOT_FOUND", message: "Requested entity was not found." },
  413: { status: "INVALID_ARGUMENT", message: "Request payload size exceeds the limit." },
  429: { status: "RESOURCE_EXHAUSTED", message: "Resource has been exhausted (e.g. check quota)." },
  499: { status: "CANCELLED", message: "The operation was cancelled." },
  500: { status: "INTERNAL", message: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting" },
  503: { status: "UNAVAILABLE", message: "The model is overloaded. Please try again later." },
  504: { status: "DEADLINE_EXCEEDED", message: "Deadline expired before operation could complete." },
};

/** An error to be answered in Gemini's envelope. Thrown by services, written by the HTTP shell. */
export class GeminiError extends Error {
  readonly code: number;
  readonly status: CanonicalStatus;
  readonly details: ErrorDetail[] | undefined;
  /** Extra response headers (e.g. Retry-After). */
  readonly headers: Record<string, string>;

  constructor(
    code: number,
    status: CanonicalStatus,
    message: string,
    details?: ErrorDetail[],
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "GeminiError";
    this.code = code;
    this.status = status;
    this.details = details;
    this.headers = headers;
  }

  toEnvelope(): ErrorEnvelope {
    const error: ErrorBody = { code: this.code, message: this.message, status: this.status };
    if (this.details && this.details.length > 0) error.details = this.details;
    return { error };
  }

  /** The body as Google writes it: 2-space indent, trailing newline. */
  toBody(): string {
    return formatEnvelope(this.toEnvelope());
  }
}

export function formatEnvelope(envelope: ErrorEnvelope): string {
  return `${JSON.stringify(envelope, null, 2)}\n`;
}

/** The error Google answers for a status code with no specific message. */
export function canonicalError(code: number, message?: string, details?: ErrorDetail[]): GeminiError {
  const known = CANONICAL_MESSAGES[code] ?? CANONICAL_MESSAGES[500]!;
  return new GeminiError(code, known.status, message ?? known.message, details);
}

export const invalidArgument = (message: string, details?: ErrorDetail[]): GeminiError =>
  new GeminiError(400, "INVALID_ARGUMENT", message, details);
export const failedPrecondition = (message: string): GeminiError => new GeminiError(400, "FAILED_PRECONDITION", message);
export const permissionDenied = (message: string): GeminiError => new GeminiError(403, "PERMISSION_DENIED", message);
export const notFound = (message: string): GeminiError => new GeminiError(404, "NOT_FOUND", message);
export const resourceExhausted = (message: string, details?: ErrorDetail[], headers?: Record<string, string>): GeminiError =>
  new GeminiError(429, "RESOURCE_EXHAUSTED", message, details, headers);
export const unavailable = (message: string): GeminiError => new GeminiError(503, "UNAVAILABLE", message);
export const deadlineExceeded = (message: string): GeminiError => new GeminiError(504, "DEADLINE_EXCEEDED", message);
export const internalError = (message?: string): GeminiError => canonicalError(500, message);

/** Parses an upstream error body; undefined when it is not Gemini's envelope (or the array form of streams). */
export function parseErrorEnvelope(body: string): ErrorBody | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    const candidate = Array.isArray(parsed) ? parsed[0] : parsed;
    if (candidate && typeof candidate === "object" && "error" in candidate) {
      const error = (candidate as { error: unknown }).error;
      if (error && typeof error === "object" && typeof (error as ErrorBody).code === "number") return error as ErrorBody;
    }
  } catch {
    // not JSON: the caller treats the body as opaque
  }
  return undefined;
}

export function findDetail(error: ErrorBody, type: string): ErrorDetail | undefined {
  return error.details?.find((d) => d["@type"] === `${RPC_TYPE_PREFIX}${type}`);
}

/** A RetryInfo detail (`retryDelay` as a protobuf Duration: "2s", "0.05s"). */
export function retryInfoDetail(delayMs: number): ErrorDetail {
  return { "@type": `${RPC_TYPE_PREFIX}RetryInfo`, retryDelay: `${(delayMs / 1000).toFixed(3).replace(/\.?0+$/, "")}s` };
}

/** An error body (the object or the stream's array form) with a RetryInfo added when it has none; undefined when the
 *  body is not Gemini's envelope (then it is passed on as it is). */
export function withRetryInfo(body: string, delayMs: number): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    const envelope = (Array.isArray(parsed) ? parsed[0] : parsed) as { error?: ErrorBody } | undefined;
    const error = envelope?.error;
    if (!error || typeof error !== "object" || typeof error.code !== "number") return undefined;
    if (findDetail(error, "RetryInfo")) return body;
    error.details = [...(Array.isArray(error.details) ? error.details : []), retryInfoDetail(delayMs)];
    return `${JSON.stringify(parsed, null, 2)}\n`;
  } catch {
    return undefined;
  }
}
