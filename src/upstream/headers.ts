// Which headers cross the gateway. Upstream: an allow-list (the key is replaced, gateway-only headers and the
// client's key never leave); downstream: everything but hop-by-hop headers.

import type { IncomingHttpHeaders } from "node:http";

/** Client request headers that matter to Gemini. Accept-Encoding is left out so the tap can read the bytes. */
const FORWARDED_REQUEST_HEADERS = [
  "content-type",
  "accept",
  "user-agent",
  "x-goog-api-client",
  "x-goog-user-project",
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
}

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
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
  if (options.bearer) headers.authorization = `Bearer ${upstreamKey}`;
  else headers["x-goog-api-key"] = upstreamKey;
  if (options.streamedBody && typeof client["content-length"] === "string") headers["content-length"] = client["content-length"];
  if (options.serverTimeoutSeconds !== undefined) headers["x-server-timeout"] = String(options.serverTimeoutSeconds);
  return headers;
}

export function clientResponseHeaders(upstream: Record<string, string | string[] | undefined>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined || HOP_BY_HOP.has(name.toLowerCase())) continue;
    headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return headers;
}
