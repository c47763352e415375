// The drop-in proxy: every path of the Gemini API (native, OpenAI-compatible under /{v}/openai/, uploads under
// /upload/{v}/), as the route table (src/gateway/route-table.ts) describes it. A thin shell: match, authenticate,
// read (or stream) the body, check resource ownership, hand over to the model-call service. Bodies go upstream
// byte for byte; a JSON body is parsed only where the gateway reads fields of it.

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import { presentedKey, type Authenticator, type Caller } from "../gateway/auth.js";
import { combineHooks, type ModelCallService, type ResponseHook } from "../gateway/model-call.js";
import { clientDisconnectSignal, nodeResponseWriter, tagRoute, writeGeminiError, type RouteTag } from "../gateway/response-writer.js";
import { matchRoute, type RouteMatch } from "../gateway/route-table.js";
import { GeminiError, invalidArgument } from "../gemini/errors.js";
import { jsonNestingExceeds, tooDeepMessage } from "../gemini/json-limits.js";
import { MODEL_ID, modelIdProblem } from "../gemini/types.js";
import type { InteractionTracker } from "../interactions/tracker.js";
import type { ResourceGuard } from "../resources/guard.js";
import { toGeminiError } from "./http-errors.js";
import { upstreamQuery } from "../upstream/query.js";
import { idleLimited, parseJsonBody, queryOf, readBody } from "./request.js";

export interface ProxyDeps {
  service: ModelCallService;
  auth: Authenticator;
  guard: ResourceGuard;
  interactions: InteractionTracker;
  maxBodyBytes: number;
  /** REQUEST_BODY_TIMEOUT_MS: a body that sends nothing for this long is answered 408. */
  bodyIdleMs: number;
  /** Errors that are not the client's (a bug): logged with their stack. */
  onUnexpectedError(err: unknown): void;
}

/** Answers a request on a proxy route; false when the path is not one (the caller passes it on). */
export type ProxyHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

const NO_BODY = Buffer.alloc(0);

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
    const query = queryOf(url);
    const command = req.headers["x-goog-upload-command"];
    const matched = matchRoute({
      method: req.method ?? "GET",
      path: queryAt < 0 ? url : url.slice(0, queryAt),
      query,
      ...(typeof command === "string" ? { uploadCommand: command } : {}),
    });
    if (matched === undefined) return false;
    const tag = tagRoute(res, matched instanceof GeminiError ? "unsupported" : matched.route);
    const shape = matched instanceof GeminiError ? "gemini" : matched.errors;
    proxy(deps, matched, req, res, { receivedAt, tag, query }).catch((err: unknown) => {
      // Answered already (the stream broke), or nobody is left to answer (the client went away mid-body).
      if (res.headersSent || req.socket.destroyed) return void res.destroy();
      const { error, unexpected } = toGeminiError(err, deps.maxBodyBytes);
      if (unexpected) deps.onUnexpectedError(err);
      writeGeminiError(nodeResponseWriter(res), error, {}, shape);
    });
    return true;
  };
}

interface Arrival {
  receivedAt: number;
  tag: RouteTag;
  /** The request's query as the client sent it (its key included): what goes upstream is upstreamQuery's. */
  query: URLSearchParams;
}

async function proxy(deps: ProxyDeps, matched: RouteMatch | GeminiError, req: IncomingMessage, res: ServerResponse, arrival: Arrival): Promise<void> {
  if (matched instanceof GeminiError) throw matched;
  const caller = await authenticate(deps, matched, req, arrival.query);
  const query = upstreamQuery(arrival.query, matched.tap !== "none");
  if (query instanceof GeminiError) throw query;

  let body: Buffer | Readable = NO_BODY;
  let request: unknown;
  if (matched.body === "json" || matched.body === "bytes") {
    body = await readBody(req, deps.maxBodyBytes, deps.bodyIdleMs);
    // Nested past Gemini's own limit: upstream would answer 500, and a retry could not fix it. (Every buffered body
    // of the API is JSON; one that says it is something else is not scanned.)
    const contentType = req.headers["content-type"];
    if ((matched.body === "json" || contentType === undefined || /json/i.test(contentType)) && jsonNestingExceeds(body)) {
      throw invalidArgument(tooDeepMessage("(body)"));
    }
    if (matched.body === "json") {
      const parsed = parseJsonBody(body);
      if ("error" in parsed) throw parsed.error;
      request = parsed.request;
    }
  } else if (matched.body === "stream") {
    // File data is piped as it arrives; a compressed one would reach Google without its Content-Encoding.
    const encoding = (req.headers["content-encoding"] ?? "identity").trim().toLowerCase();
    if (encoding !== "identity") throw invalidArgument(`Send file data without a Content-Encoding (got "${encoding}").`);
    body = idleLimited(req, deps.bodyIdleMs);
  }
  const fromBody = isObject(request) ? request : {};
  const model = matched.modelSource === "body" ? modelOfBody(fromBody.model) : matched.model;
  const sessionHeader = conversationHeader(req.headers["x-gateway-session"]);
  const stream = matched.stream === "body" ? fromBody.stream === true : matched.stream;

  const guarded = { ownership: matched.ownership, tap: matched.tap, tenant: caller.tenant, clientHeaders: req.headers };
  await deps.guard.admit(guarded, Buffer.isBuffer(body) ? body : undefined, request);
  let hook = deps.guard.hook(guarded);
  if (matched.tap === "interaction") hook = combineHooks(hook, await interactionHook(deps.interactions, matched, caller.tenant, request, stream));

  // Answered already (Node's parser refused the rest of the request, answered through this response while the
  // checks above ran): the request log counts that answer; no call goes upstream.
  if (res.headersSent) return;
  // From here the model-call service counts this request and writes its log line (with tokens and trace id).
  arrival.tag.modelCall = true;
  await deps.service.run(
    {
      route: matched.route,
      operation: matched.operation,
      apiVersion: matched.apiVersion,
      model,
      httpMethod: req.method ?? "GET",
      path: matched.path,
      stream,
      tap: matched.tap,
      bearerAuth: matched.bearerAuth,
      errors: matched.errors,
      once: matched.once,
      query,
      body,
      request,
      ...(hook ? { hook } : {}),
      tenant: caller.tenant,
      upstreamKey: caller.upstreamKey,
      ...(caller.clientsOwnKey ? { clientsOwnKey: true } : {}),
      ...(sessionHeader ? { conversationId: sessionHeader } : {}),
      clientHeaders: req.headers,
      receivedAt: arrival.receivedAt,
      signal: clientDisconnectSignal(req, res),
    },
    nodeResponseWriter(res),
  );
}

/** An interaction create takes its place in its chain (refused past the turn cap); a read or cancel names its own. */
async function interactionHook(
  tracker: InteractionTracker,
  matched: RouteMatch,
  tenant: string,
  request: unknown,
  stream: boolean,
): Promise<ResponseHook | undefined> {
  if (matched.ownership.kind === "create_interaction") return tracker.createHook(await tracker.placeOfCreate(request), tenant, stream);
  if (matched.ownership.kind === "owned") return tracker.readHook(matched.ownership.name.slice("interactions/".length));
  return undefined;
}

/** The caller by its key; file data sent without one (its upload URL is its credential) is the upload's starter's. */
async function authenticate(deps: ProxyDeps, matched: RouteMatch, req: IncomingMessage, query: URLSearchParams): Promise<Caller> {
  const caller = deps.auth.authenticate(req.headers, query, matched.bearerAuth);
  if (!(caller instanceof GeminiError)) return caller;
  if (matched.ownership.kind === "upload_data" && presentedKey(req.headers, query, matched.bearerAuth) === undefined) {
    const owner = await deps.guard.uploadOwner(matched.ownership.uploadId);
    const starter = owner === undefined ? undefined : deps.auth.callerFor(owner);
    if (starter) return starter;
  }
  throw caller;
}

/** A model named in the body (OpenAI-compatible, Interactions): a model id, `models/` allowed; absent is "" (an agent,
 *  or upstream's 400). It becomes a span attribute and a label, so anything else is refused here. */
function modelOfBody(model: unknown): string {
  if (model === undefined) return "";
  const id = typeof model === "string" ? model.replace(/^models\//, "") : undefined;
  if (id === undefined || id.length > MAX_MODEL_ID || !MODEL_ID.test(id)) {
    throw invalidArgument(`model: ${typeof model === "string" ? modelIdProblem(model.slice(0, MAX_MODEL_ID)) : "must be a string"}`);
  }
  return model as string;
}

/** The x-gateway-session header: a conversation id for spans and logs, so bounded. */
function conversationHeader(value: string | string[] | undefined): string | undefined {
  if (typeof value !== "string" || value === "") return undefined;
  if (value.length > MAX_CONVERSATION_ID || !/^[\x21-\x7e]+$/.test(value)) {
    throw invalidArgument(`x-gateway-session must be up to ${MAX_CONVERSATION_ID} visible ASCII characters.`);
  }
  return value;
}

const MAX_MODEL_ID = 128;
const MAX_CONVERSATION_ID = 256;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
