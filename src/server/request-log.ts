// One log line per request. Model calls are logged by the model-call service (with tokens, attempts and the trace
// id); this logs every other request: gateway-made errors (auth, bad JSON, 404) and the ops endpoints.
// The query string is never logged (it may hold a key).

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { isModelCall } from "../gateway/response-writer.js";

const OPS_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

/** Call once per request as it arrives; the line is written when the response closes. */
export function requestLog(logger: Logger): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const startedAt = performance.now();
    const url = req.url ?? "/";
    res.once("close", () => {
      if (isModelCall(res)) return;
      const path = url.includes("?") ? url.slice(0, url.indexOf("?")) : url;
      const line = { method: req.method, path, status: res.statusCode, durationMs: Math.round(performance.now() - startedAt) };
      if (OPS_PATHS.has(path)) logger.debug(line, "request");
      else logger.info(line, "request");
    });
  };
}
