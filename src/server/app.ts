// The HTTP request handler: the proxy routes first, as a plain node handler (the hot path), then the express app
// (ops routes, /metrics, sessions, 404), whose errors all leave in Gemini's envelope.
// Other concerns mount their routes in the express app with one line each.

import type { IncomingMessage, ServerResponse } from "node:http";
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import type { Logger } from "pino";
import type { Authenticator } from "../gateway/auth.js";
import type { ModelCallService } from "../gateway/model-call.js";
import { nodeResponseWriter, writeGeminiError } from "../gateway/response-writer.js";
import { notFound } from "../gemini/errors.js";
import { toGeminiError } from "../routes/http-errors.js";
import { metricsRouter } from "../routes/metrics.js";
import { opsRoutes } from "../routes/ops.js";
import { proxyHandler } from "../routes/proxy.js";
import type { ResourceGuard } from "../resources/guard.js";
import type { InteractionTracker } from "../interactions/tracker.js";
import { sessionRoutes } from "../routes/sessions.js";
import { consoleRoutes } from "../routes/console.js";
import type { ConsoleAccess } from "../console/access.js";
import type { OperatorConsole } from "../console/console.js";
import type { SessionService } from "../sessions/index.js";
import type { Telemetry } from "../telemetry/telemetry.js";
import type { Config } from "./config.js";
import { requestLog } from "./request-log.js";

export interface AppDeps {
  config: Config;
  modelCalls: ModelCallService;
  sessions: SessionService;
  guard: ResourceGuard;
  interactions: InteractionTracker;
  /** Absent when a test replaced the turn sink. */
  telemetry: Telemetry | undefined;
  auth: Authenticator;
  logger: Logger;
  isDraining(): boolean;
  /** The tenants file's version now live, for /readyz. */
  configVersion(): string | undefined;
  /** The operator console at /ui/ (absent with CONSOLE=off). */
  console?: { service: OperatorConsole; access: ConsoleAccess; traceUrl?: string };
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

export function createRequestHandler(deps: AppDeps): RequestHandler {
  const maxBodyBytes = deps.config.gateway.maxBodyBytes;
  const onUnexpectedError = (err: unknown): void => deps.logger.error({ err }, "unhandled error");
  const proxy = proxyHandler({
    service: deps.modelCalls,
    auth: deps.auth,
    guard: deps.guard,
    interactions: deps.interactions,
    maxBodyBytes,
    bodyIdleMs: deps.config.gateway.bodyIdleTimeoutMs,
    onUnexpectedError,
  });
  const app = expressApp(deps, onUnexpectedError);
  const telemetry = deps.telemetry;
  const log = requestLog(deps.logger, telemetry && ((route, code) => telemetry.countRequest(route, code)));
  return (req, res) => {
    log(req, res);
    // While draining, let each connection end with its response.
    if (deps.isDraining()) res.setHeader("connection", "close");
    if (!proxy(req, res)) void app(req, res);
  };
}

function expressApp(deps: AppDeps, onUnexpectedError: (err: unknown) => void): Express {
  const { maxBodyBytes, metrics, healthOnApiPort } = deps.config.gateway;
  const app = bareApp();
  if (healthOnApiPort) app.use(opsRoutes({ isDraining: deps.isDraining, configVersion: deps.configVersion }));
  // With METRICS_PORT, /metrics is on its own listener only (see opsHandler).
  if (deps.telemetry && !metrics) app.use(metricsRouter(deps.telemetry));
  app.use(sessionRoutes(deps.sessions, deps.auth, { maxBodyBytes, bodyIdleMs: deps.config.gateway.bodyIdleTimeoutMs, onUnexpectedError }));
  if (deps.console) app.use(consoleRoutes(deps.console.service, deps.console.access, deps.console.traceUrl));
  finish(app, maxBodyBytes, onUnexpectedError);
  return app;
}

/** The METRICS_PORT listener: /metrics and the probes, nothing else. */
export function opsHandler(deps: Pick<AppDeps, "telemetry" | "isDraining" | "configVersion" | "logger">): RequestHandler {
  const app = bareApp();
  app.use(opsRoutes({ isDraining: deps.isDraining, configVersion: deps.configVersion }));
  if (deps.telemetry) app.use(metricsRouter(deps.telemetry));
  finish(app, 0, (err) => deps.logger.error({ err }, "unhandled error"));
  return (req, res) => void app(req, res);
}

function bareApp(): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  return app;
}

/** The 404 of any other path, and every error in Gemini's envelope. */
function finish(app: Express, maxBodyBytes: number, onUnexpectedError: (err: unknown) => void): void {
  app.use((req, _res, next) => next(notFound(`Requested entity was not found: ${req.method} ${req.path}`)));
  app.use((err: unknown, _req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) return next(err);
    const { error, unexpected } = toGeminiError(err, maxBodyBytes);
    if (unexpected) onUnexpectedError(err);
    writeGeminiError(nodeResponseWriter(res), error);
  });
}
