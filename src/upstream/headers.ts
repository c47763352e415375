// Which headers cross the gateway, both ways by allow-list. Upstream: what Gemini reads (the key replaced; the
// gateway's own headers and the client's key never leave; x-goog-user-project, which picks the project billed for
// the key, only with the client's own key in passthrough mode). Downstream: what describes the answer (no set-cookie,
// no hop-by-hop headers, nothing internal to the upstream).

import type { IncomingHttpHeaders } from "node:http";

/** Client request headers that matter to Gemini. Accept-Encoding is left out so the tap can read the bytes. */
const FORWARDED_REQUEST_HEADERS = [
  "content-type",
  "accept",
  "user-agent",
  "x-goog-api-client",
  "x-goog-request-params",
  "traceparent",
  "tracestate",
  // Google's resumable upload protocol (files.upload).
  "x-goog-upload-protocol",
  "x-goog-upload-command",
  "x-goog-upload-offset",
  "x-goog-upload-header-content-length",
  "x-goog-upload-header-content-type",
  "x-goog-upload-file-name",
] as const;

export interface UpstreamHeaderOptions {
  /** The client's X-Server-Timeout, as what is left of the deadline. */
  serverTimeoutSeconds?: number;
  /** The key as OpenAI's `Authorization: Bearer` (the OpenAI-compatible endpoint), else x-goog-api-key. */
  bearer?: boolean;
  /** The body is piped as it arrives: its Content-Length is the client's (a buffered body gets its own). */
  streamedBody?: boolean;
  /** Passthrough mode: the key is the client's own, and so may be its choice of project (x-goog-user-project). */
  clientsOwnKey?: boolean;
}

/** Response headers passed to clients (and every `x-goog-upload-*` of the upload protocol). */
const FORWARDED_RESPONSE_HEADERS: ReadonlySet<string> = new Set([
  "content-type",
  "content-length",
  "content-encoding",
  "content-disposition",
  "content-language",
  "cache-control",
  "expires",
  "last-modified",
  "etag",
  "vary",
  "retry-after",
  "location",
]);

export function upstreamRequestHeaders(
  client: IncomingHttpHeaders,
  upstreamKey: string,
  options: UpstreamHeaderOptions = {},
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = client[name];
    if (typeof value === "string") headers[name] = value;
  }
  const project = client["x-goog-user-project"];
  if (options.clientsOwnKey && typeof project === "string") headers["x-goog-user-project"] = project;
  if (options.bearer) headers.authorization = `Bearer ${upstreamKey}`;
  else headers["x-goog-api-key"] = upstreamKey;
  if (options.streamedBody && typeof client["content-length"] === "string") headers["content-length"] = client["content-length"];
  if (options.serverTimeoutSeconds !== undefined) headers["x-server-timeout"] = String(options.serverTimeoutSeconds);
  return headers;
}

export function clientResponseHeaders(upstream: Record<string, string | string[] | undefined>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(upstream)) {
    const lower = name.toLowerCase();
    if (value === undefined || !(FORWARDED_RESPONSE_HEADERS.has(lower) || lower.startsWith("x-goog-upload-"))) continue;
    headers[lower] = Array.isArray(value) ? value.join(", ") : value;
  }
  return headers;
}
