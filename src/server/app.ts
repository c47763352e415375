// The express app: ops routes, then the concern routes, then the proxy, then 404 and the error envelope.
// Other concerns mount their routes with one line each, before the proxy.

import express, { type Express, type NextFunction, type Request, type Response } from "express";
import type { Logger } from "pino";
import type { Authenticator } from "../gateway/auth.js";
import type { ModelCallService } from "../gateway/model-call.js";
import { nodeResponseWriter, writeGeminiError } from "../gateway/response-writer.js";
import { canonicalError, GeminiError, notFound } from "../gemini/errors.js";
import { metricsRouter } from "../routes/metrics.js";
import { opsRoutes } from "../routes/ops.js";
import { proxyRoutes } from "../routes/proxy.js";
import { sessionRoutes } from "../routes/sessions.js";
import type { SessionService } from "../sessions/index.js";
import type { Telemetry } from "../telemetry/telemetry.js";
import type { Config } from "./config.js";
import { requestLog } from "./request-log.js";

export interface AppDeps {
  config: Config;
  modelCalls: ModelCallService;
  sessions: SessionService;
  /** Absent when a test replaced the turn sink. */
  telemetry: Telemetry | undefined;
  auth: Authenticator;
  logger: Logger;
  isDraining(): boolean;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.use(requestLog(deps.logger));
  app.use((_req, res, next) => {
    // While draining, let each connection end with its response.
    if (deps.isDraining()) res.setHeader("connection", "close");
    next();
  });
  app.use(opsRoutes({ isDraining: deps.isDraining }));
  if (deps.telemetry) app.use(metricsRouter(deps.telemetry));
  app.use(sessionRoutes(deps.sessions, deps.auth, deps.config.gateway.maxBodyBytes));
  app.use(proxyRoutes({ service: deps.modelCalls, auth: deps.auth, maxBodyBytes: deps.config.gateway.maxBodyBytes }));
  app.use((req, _res, next) => next(notFound(`Requested entity was not found: ${req.method} ${req.path}`)));
  app.use(geminiErrorHandler(deps.config.gateway.maxBodyBytes, deps.logger));
  return app;
}

/** Every error leaves as a Gemini envelope: ours as they are, body-parser's by their status, the rest as 500. */
function geminiErrorHandler(maxBodyBytes: number, logger: Logger) {
  return (err: unknown, _req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) return next(err);
    writeGeminiError(nodeResponseWriter(res), toGeminiError(err, maxBodyBytes, logger));
  };
}

function toGeminiError(err: unknown, maxBodyBytes: number, logger: Logger): GeminiError {
  if (err instanceof GeminiError) return err;
  const status = typeof err === "object" && err !== null && "status" in err && typeof err.status === "number" ? err.status : 500;
  if (status === 413) return canonicalError(413, `Request payload size exceeds the limit: ${maxBodyBytes} bytes.`);
  if (status >= 400 && status < 500) return canonicalError(400, err instanceof Error ? err.message : undefined);
  logger.error({ err }, "unhandled error");
  return canonicalError(500);
}
