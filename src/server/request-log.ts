// One log line per request, and gemini_gateway_requests_total for requests no model call covers. Model calls are
// logged and counted from their TurnRecord (with tokens, attempts and the trace id); this covers every other
// request: gateway-made errors (auth, bad JSON, 404, a session turn refused), session CRUD, and the ops endpoints
// (logged at debug, not counted). The query string is never logged (it may hold a key).

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { routeTagOf } from "../gateway/response-writer.js";

const OPS_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

/** A request the client left before any answer was written (nginx's convention). */
const CLIENT_CLOSED = 499;

/** Call once per request as it arrives; the line is written when the response closes. */
export function requestLog(
  logger: Logger,
  countRequest?: (route: string, code: number) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const startedAt = performance.now();
    const url = req.url ?? "/";
    res.once("close", () => {
      const tag = routeTagOf(res);
      if (tag?.modelCall) return;
      const path = url.includes("?") ? url.slice(0, url.indexOf("?")) : url;
      const status = res.headersSent ? res.statusCode : CLIENT_CLOSED;
      const line = { method: req.method, path, status, durationMs: Math.round(performance.now() - startedAt) };
      if (OPS_PATHS.has(path)) return void logger.debug(line, "request");
      logger.info({ ...line, route: tag?.route ?? "unknown" }, "request");
      countRequest?.(tag?.route ?? "unknown", status);
    });
  };
}
