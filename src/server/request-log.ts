// One log line per request. Model calls are logged by the model-call service (with tokens, attempts and the trace
// id); this middleware logs every other request: gateway-made errors (auth, bad JSON, 404) and the ops endpoints.
// Routes that run a model call set `res.locals.modelCall = true`. The query string is never logged (it may hold a key).

import type { RequestHandler } from "express";
import type { Logger } from "pino";

const OPS_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const startedAt = performance.now();
    res.once("close", () => {
      if (res.locals["modelCall"] === true) return;
      const line = { method: req.method, path: req.path, status: res.statusCode, durationMs: Math.round(performance.now() - startedAt) };
      if (OPS_PATHS.has(req.path)) logger.debug(line, "request");
      else logger.info(line, "request");
    });
    next();
  };
}
