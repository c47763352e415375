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
] as const;

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
  serverTimeoutSeconds?: number,
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = client[name];
    if (typeof value === "string") headers[name] = value;
  }
  headers["x-goog-api-key"] = upstreamKey;
  if (serverTimeoutSeconds !== undefined) headers["x-server-timeout"] = String(serverTimeoutSeconds);
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
