// HTTP shell of the operator console (src/console): the page at /ui/ (static files: web/ and the compiled dist/web/),
// `GET /` sending a browser there, and the JSON API at /ui/api/ behind the console's access rules. Errors leave in
// Gemini's envelope like every other route's.

import { fileURLToPath } from "node:url";
import express from "express";
import type { Request, Response, Router } from "express";
import { GeminiError, notFound } from "../gemini/errors.js";
import { JSON_CONTENT_TYPE } from "../gateway/response-writer.js";
import type { ConsoleAccess } from "../console/access.js";
import type { ConsoleScope, OperatorConsole, TurnFilters } from "../console/console.js";
import type { WhoAmI } from "../console/api-types.js";

/** The page and its stylesheet, as shipped (the package's web/); the scripts compiled from web/src into dist/web/. */
const WEB_DIR = fileURLToPath(new URL("../../web/", import.meta.url));
const SCRIPTS_DIR = fileURLToPath(new URL("../../dist/web/", import.meta.url));

/** The page may load only its own scripts and styles, and send its key only to this origin. */
const PAGE_HEADERS = {
  "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

function sendJson(res: Response, body: unknown): void {
  res.status(200).set({ "content-type": JSON_CONTENT_TYPE, "cache-control": "no-store" }).send(JSON.stringify(body));
}

const text = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined);

export function consoleRoutes(operatorConsole: OperatorConsole, access: ConsoleAccess, traceUrl?: string): Router {
  const router = express.Router();
  router.get("/", (_req, res) => res.redirect(302, "/ui/"));
  // Express routes /ui and /ui/ alike; the page's relative URLs (style.css, js/, api/) need the slash.
  router.get("/ui/", (req, res) => {
    if (!new URL(req.originalUrl, "http://gateway").pathname.endsWith("/")) return res.redirect(301, "/ui/");
    res.set(PAGE_HEADERS).set("cache-control", "no-cache").sendFile("index.html", { root: WEB_DIR });
  });
  router.get("/ui/style.css", (_req, res) => res.set(PAGE_HEADERS).set("cache-control", "no-cache").sendFile("style.css", { root: WEB_DIR }));
  router.use("/ui/js", express.static(SCRIPTS_DIR, { index: false, fallthrough: true, setHeaders: (res) => res.setHeader("cache-control", "no-cache") }));

  const scope = (req: Request): ConsoleScope => {
    const result = access.scopeOf(req.headers);
    if (result instanceof GeminiError) throw result;
    return result;
  };
  router.get("/ui/api/whoami", (req, res) => {
    const who = scope(req);
    const body: WhoAmI = { role: who.role, ...(who.role === "tenant" ? { tenant: who.tenant } : {}), ...(traceUrl ? { traceUrl } : {}) };
    sendJson(res, body);
  });
  router.get("/ui/api/overview", async (req, res) => sendJson(res, await operatorConsole.overview(scope(req))));
  router.get("/ui/api/turns", (req, res) => {
    const q = req.query;
    const limit = Number(text(q.limit) ?? NaN);
    const filters: TurnFilters = {
      ...(text(q.tenant) ? { tenant: text(q.tenant)! } : {}),
      ...(text(q.model) ? { model: text(q.model)! } : {}),
      ...(text(q.route) ? { route: text(q.route)! } : {}),
      ...(text(q.finishReason) ? { finishReason: text(q.finishReason)! } : {}),
      ...(text(q.error) ? { error: text(q.error)! } : {}),
      ...(text(q.conversation) ? { conversation: text(q.conversation)! } : {}),
      ...(Number.isInteger(limit) ? { limit } : {}),
    };
    sendJson(res, operatorConsole.turns(scope(req), filters));
  });
  router.get("/ui/api/turns/:id", (req: Request<{ id: string }>, res) => {
    const turn = operatorConsole.turn(scope(req), req.params.id);
    if (!turn) throw notFound(`Turn ${req.params.id} is not in this replica's memory (CONSOLE_TURNS) or not yours.`);
    sendJson(res, turn);
  });
  router.get("/ui/api/conversations", (req, res) => sendJson(res, operatorConsole.conversations(scope(req), text(req.query.q) ?? "")));
  router.get("/ui/api/conversations/:id", async (req: Request<{ id: string }>, res) => {
    const conversation = await operatorConsole.conversation(scope(req), req.params.id);
    if (!conversation) throw notFound(`Conversation ${req.params.id} is neither a live session nor in this replica's memory, or not yours.`);
    sendJson(res, conversation);
  });
  router.get("/ui/api/conversations/:id/export", async (req: Request<{ id: string }>, res) => {
    const exported = await operatorConsole.exportConversation(scope(req), req.params.id);
    if (exported === undefined) throw notFound(`Session ${req.params.id} is not a live session, or not yours.`);
    res.set("content-disposition", `attachment; filename="session-${req.params.id.replace(/[^\w-]/g, "_")}.json"`);
    sendJson(res, exported);
  });
  return router;
}
