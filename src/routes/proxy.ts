// The drop-in proxy routes: `/{v1beta|v1|v1alpha}/models/{model}:{generateContent|streamGenerateContent|countTokens}`
// and `GET /{v}/models[/{model}]`. A thin shell: match, authenticate, read the raw body, hand over to the
// model-call service. The body goes upstream byte for byte; it is parsed only to reject invalid JSON.

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Authenticator } from "../gateway/auth.js";
import type { CallMethod, ModelCallService } from "../gateway/model-call.js";
import { clientDisconnectSignal, nodeResponseWriter, tagRoute, writeGeminiError, type RouteTag } from "../gateway/response-writer.js";
import { GeminiError, invalidArgument, notFound } from "../gemini/errors.js";
import { MODEL_ID, modelIdProblem } from "../gemini/types.js";
import type { RouteName } from "../turn/record.js";
import { queryOf, readBody } from "./request.js";
import { toGeminiError } from "./http-errors.js";

export interface ProxyRoute {
  route: RouteName;
  method: CallMethod;
  httpMethod: "GET" | "POST";
  apiVersion: string;
  model: string;
  stream: boolean;
}

const PATH = /^\/(v1beta|v1|v1alpha)\/models(?:\/([^/:]+)(?::([^/:]+))?)?\/?$/;
const POST_METHODS = new Set(["generateContent", "streamGenerateContent", "countTokens"]);

/**
 * The proxy route of a request: undefined when the path is not one of ours (the app answers 404), a GeminiError
 * for a known path with an invalid model name (400), an unsupported model method (404, as Google) or the wrong HTTP
 * method (405 + Allow).
 */
export function matchProxyRoute(httpMethod: string, path: string): ProxyRoute | GeminiError | undefined {
  const match = PATH.exec(path);
  if (!match) return undefined;
  const [, apiVersion = "", model = "", method] = match;
  if (model && !MODEL_ID.test(model)) return invalidArgument(modelIdProblem(model));
  let route: ProxyRoute;
  if (method === undefined) {
    route = model
      ? { route: "getModel", method: "getModel", httpMethod: "GET", apiVersion, model, stream: false }
      : { route: "listModels", method: "listModels", httpMethod: "GET", apiVersion, model, stream: false };
  } else if (POST_METHODS.has(method)) {
    const modelMethod = method as "generateContent" | "streamGenerateContent" | "countTokens";
    route = { route: modelMethod, method: modelMethod, httpMethod: "POST", apiVersion, model, stream: modelMethod === "streamGenerateContent" };
  } else {
    return notFound(`Method ${method} is not supported by this gateway (supported: generateContent, streamGenerateContent, countTokens).`);
  }
  if (httpMethod !== route.httpMethod && !(httpMethod === "HEAD" && route.httpMethod === "GET")) {
    return new GeminiError(405, "UNIMPLEMENTED", `Method ${httpMethod} is not allowed on ${path}; use ${route.httpMethod}.`, undefined, {
      allow: route.httpMethod,
    });
  }
  return route;
}


/** The parsed body, or why it is not JSON in Google's words. */
export function parseJsonBody(body: Buffer): { error: GeminiError } | { request: unknown } {
  try {
    return { request: JSON.parse(body.toString("utf8")) };
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return { error: invalidArgument(`Invalid JSON payload received. ${reason}`) };
  }
}

export interface ProxyDeps {
  service: ModelCallService;
  auth: Authenticator;
  maxBodyBytes: number;
  /** Errors that are not the client's (a bug): logged with their stack. */
  onUnexpectedError(err: unknown): void;
}

/** Answers a request on a proxy route; false when the path is not one (the caller passes it on). */
export type ProxyHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * The proxy routes as a plain node handler, mounted ahead of express: this is the path every SDK call takes, and
 * express's per-request work (prototype swaps, router stack, body-parser's checks) cost about a quarter of the
 * gateway's CPU per call (BENCHMARKS.md). Everything else (ops, /metrics, sessions, the 404) stays on express.
 */
export function proxyHandler(deps: ProxyDeps): ProxyHandler {
  return (req, res) => {
    const receivedAt = performance.now();
    const url = req.url ?? "/";
    const queryAt = url.indexOf("?");
    const matched = matchProxyRoute(req.method ?? "GET", queryAt < 0 ? url : url.slice(0, queryAt));
    if (matched === undefined) return false;
    const tag = tagRoute(res, matched instanceof GeminiError ? "unsupported" : matched.route);
    proxy(deps, matched, req, res, receivedAt, tag).catch((err: unknown) => {
      // Answered already (the stream broke), or nobody is left to answer (the client went away mid-body).
      if (res.headersSent || req.socket.destroyed) return void res.destroy();
      const { error, unexpected } = toGeminiError(err, deps.maxBodyBytes);
      if (unexpected) deps.onUnexpectedError(err);
      writeGeminiError(nodeResponseWriter(res), error);
    });
    return true;
  };
}

async function proxy(
  deps: ProxyDeps,
  matched: ProxyRoute | GeminiError,
  req: IncomingMessage,
  res: ServerResponse,
  receivedAt: number,
  tag: RouteTag,
): Promise<void> {
  if (matched instanceof GeminiError) throw matched;
  const query = queryOf(req.url ?? "");
  const caller = deps.auth.authenticate(req.headers, query);
  if (caller instanceof GeminiError) throw caller;
  query.delete("key");

  let body: Buffer = Buffer.alloc(0);
  let request: unknown;
  if (matched.httpMethod === "POST") {
    body = await readBody(req, deps.maxBodyBytes);
    const parsed = parseJsonBody(body);
    if ("error" in parsed) throw parsed.error;
    request = parsed.request;
  }

  // From here the model-call service counts this request and writes its log line (with tokens and trace id).
  tag.modelCall = true;
  const sessionHeader = req.headers["x-gateway-session"];
  await deps.service.run(
    {
      route: matched.route,
      apiVersion: matched.apiVersion,
      model: matched.model,
      method: matched.method,
      stream: matched.stream,
      query,
      body,
      request,
      tenant: caller.tenant,
      upstreamKey: caller.upstreamKey,
      ...(typeof sessionHeader === "string" && sessionHeader ? { conversationId: sessionHeader } : {}),
      clientHeaders: req.headers,
      receivedAt,
      signal: clientDisconnectSignal(req, res),
    },
    nodeResponseWriter(res),
  );
}
