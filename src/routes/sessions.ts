// HTTP shell of chat sessions (src/sessions/service.ts):
//   POST /v1/sessions, GET /v1/sessions?limit=&cursor=, GET|DELETE /v1/sessions/{id},
//   POST /v1/sessions/{id}/messages[?stream=sse]
// Callers authenticate like on the proxy routes (x-goog-api-key or ?key=); every error is in Gemini's envelope.

import express from "express";
import type { NextFunction, Request, Response, Router } from "express";
import { GeminiError, invalidArgument } from "../gemini/errors.js";
import { clientDisconnectSignal, JSON_CONTENT_TYPE, nodeResponseWriter, routeTagOf, tagRoute, writeGeminiError } from "../gateway/response-writer.js";
import { toGeminiError } from "./http-errors.js";
import { parseJsonBody, queryOf, readBody } from "./request.js";
import type { Authenticator, Caller } from "../gateway/auth.js";
import type { SessionService } from "../sessions/service.js";

export type SessionAuth = Pick<Authenticator, "authenticate">;

const DEFAULT_PAGE = 50;
const MAX_PAGE = 1000;

function sendJson(res: Response, status: number, body: unknown): void {
  res.status(status).set("content-type", JSON_CONTENT_TYPE).send(`${JSON.stringify(body, null, 2)}\n`);
}

function pageSize(raw: string | null): number {
  if (raw === null || raw === "") return DEFAULT_PAGE;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw invalidArgument(`limit must be an integer from 1 to ${MAX_PAGE}`);
  return limit;
}

export interface SessionRouteOptions {
  /** MAX_BODY_BYTES, as on the proxy routes: checked against Content-Length before anything is read. */
  maxBodyBytes: number;
  /** REQUEST_BODY_TIMEOUT_MS: a body that stops arriving is answered 408. */
  bodyIdleMs: number;
  /** Errors that are not the client's (a bug): logged with their stack. */
  onUnexpectedError(err: unknown): void;
}

const DEFAULT_OPTIONS: SessionRouteOptions = { maxBodyBytes: 20 * 1024 * 1024, bodyIdleMs: 30_000, onUnexpectedError: () => undefined };

/** The session API. */
export function sessionRoutes(service: SessionService, auth: SessionAuth, options: SessionRouteOptions = DEFAULT_OPTIONS): Router {
  const { maxBodyBytes, bodyIdleMs, onUnexpectedError } = options;
  const router = express.Router();
  const caller = (req: Request): Caller => {
    const result = auth.authenticate(req.headers, queryOf(req.originalUrl));
    if (result instanceof GeminiError) throw result;
    return result;
  };
  // The same reader as the proxy routes (not express.json, which reads a refused body to its end before answering).
  const json = (req: Request, _res: Response, next: NextFunction): void => {
    readBody(req, maxBodyBytes, bodyIdleMs).then((raw) => {
      if (raw.length === 0) {
        req.body = {};
        return next();
      }
      const parsed = parseJsonBody(raw);
      if ("error" in parsed) return next(parsed.error);
      req.body = parsed.request;
      next();
    }, next);
  };

  // Each route names itself for the request log and gemini_gateway_requests_total, before its body is parsed.
  const named = (route: string) => (_req: Request, res: Response, next: NextFunction) => {
    tagRoute(res, route);
    next();
  };

  router.post("/v1/sessions", named("sessionCreate"), json, async (req, res) => {
    const { view, warnings } = await service.create(caller(req), req.body);
    sendJson(res, 201, warnings.length > 0 ? { ...view, warnings } : view);
  });

  router.get("/v1/sessions", named("sessionList"), async (req, res) => {
    const query = queryOf(req.originalUrl);
    const cursor = query.get("cursor") || undefined;
    sendJson(res, 200, await service.list(caller(req), pageSize(query.get("limit")), cursor));
  });

  router.get("/v1/sessions/:id", named("sessionGet"), async (req: Request<{ id: string }>, res: Response) => {
    sendJson(res, 200, await service.export(caller(req), req.params.id));
  });

  router.delete("/v1/sessions/:id", named("sessionDelete"), async (req: Request<{ id: string }>, res: Response) => {
    await service.delete(caller(req), req.params.id);
    res.status(204).end();
  });

  const messageRoute = (req: Request): string => (queryOf(req.originalUrl).get("stream") === "sse" ? "sessionMessageStream" : "sessionMessage");
  const arrived = (req: Request, res: Response, next: NextFunction): void => {
    res.locals["receivedAt"] = performance.now(); // the gateway's own time (overhead metric) counts from here
    named(messageRoute(req))(req, res, next);
  };
  router.post("/v1/sessions/:id/messages", arrived, json, async (req: Request<{ id: string }>, res: Response) => {
    const stream = queryOf(req.originalUrl).get("stream");
    if (stream !== null && stream !== "sse") throw invalidArgument('stream must be "sse" (or absent for a unary reply)');
    // The model-call service counts this request and writes its log line (with tokens and trace id), unless the
    // send fails before the model is called (then the error handler below takes the tag back).
    const tag = routeTagOf(res);
    if (tag) tag.modelCall = true;
    await service.send(
      caller(req),
      req.params.id,
      req.body,
      {
        stream: stream === "sse",
        clientHeaders: req.headers,
        receivedAt: res.locals["receivedAt"] as number,
        signal: clientDisconnectSignal(req, res),
      },
      nodeResponseWriter(res),
    );
  });

  router.use("/v1/sessions", (error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const tag = routeTagOf(res);
    if (tag) tag.modelCall = false; // no model call answered: the request log covers this one
    const { error: mapped, unexpected } = toGeminiError(error, maxBodyBytes);
    if (unexpected) onUnexpectedError(error);
    writeGeminiError(nodeResponseWriter(res), mapped); // (four parameters: express sees an error handler)
  });
  return router;
}
