// The HTTP shell of the simulator (node:http, for exact control of the bytes): control routes, then for the API the
// route table, the key, the model check, the fault rules, and the resource module's handler; then the writing of its
// answer (latency, integer enums, stream framing and cuts, stats). Protocol decisions live in the modules.
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { parseAlt } from "../gemini/alt.js";
import type { ErrorDetail } from "../gemini/errors.js";
import { GeminiError, RPC_TYPE_PREFIX, canonicalError, invalidArgument, notFound } from "../gemini/errors.js";
import { batchHandlers } from "./batches.js";
import { cachedContentHandlers } from "./cached-contents.js";
import type { Answer, Handler, RequestContext, StreamAnswer } from "./context.js";
import { firstHeader } from "./context.js";
import { embeddingHandlers } from "./embeddings.js";
import { encodeIntEnums } from "./enum-encoding.js";
import type { Fault } from "./faults.js";
import { describeIssues, faultConfigSchema, faultLabel, framesBeforeCut, midstreamError } from "./faults.js";
import { fileHandlers } from "./files.js";
import { generateHandlers, trickleMs } from "./generate.js";
import type { SimulatorOptions } from "./index.js";
import { requestedInteractionModel } from "./interaction-input.js";
import { interactionHandlers } from "./interactions.js";
import type { SimModel } from "./models.js";
import { findModel, modelNotFound, supports } from "./models.js";
import { openaiHandlers, requestedModel } from "./openai.js";
import { quotaError } from "./quota.js";
import type { Operation, RouteFamily, RouteMatch } from "./routes.js";
import { MODEL_METHODS, familyOfPath, matchRoute } from "./routes.js";
import { SimulatorState } from "./state.js";
import { isObject, parseJsonBody } from "./validate.js";

const JSON_TYPE = "application/json; charset=UTF-8";
/** JSON request bodies; upload data has its own limit (files.ts). */
const MAX_JSON_BODY_BYTES = 20 * 1024 * 1024;
const DEFAULT_429_QUOTA_ID = "GenerateRequestsPerMinutePerProjectPerModel-FreeTier";

interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  /** Aborted when the client goes away or the simulator closes. */
  signal: AbortSignal;
  /** Which error form the answer takes (OpenAI-compatible errors come in a JSON list). */
  family: RouteFamily;
  /** A native stream in the JSON-array form wraps its errors in a list too. */
  arrayFraming: boolean;
  /** Whether this is API traffic, counted in the stats. */
  counted: boolean;
}

const pretty = (value: unknown): string => JSON.stringify(value, null, 2);

/** The API key: `x-goog-api-key` or `?key=`; on the OpenAI-compatible paths `Authorization: Bearer` first. */
function apiKeyOf(req: IncomingMessage, url: URL, family: RouteFamily): string | undefined {
  const bearer = family === "openai" ? /^Bearer\s+(.+)$/i.exec(firstHeader(req.headers, "authorization") ?? "")?.[1] : undefined;
  const key = bearer ?? firstHeader(req.headers, "x-goog-api-key") ?? url.searchParams.get("key") ?? undefined;
  return key === "" ? undefined : key;
}

const invalidKey = (): GeminiError =>
  invalidArgument("API key not valid. Please pass a valid API key.", [
    { "@type": `${RPC_TYPE_PREFIX}ErrorInfo`, reason: "API_KEY_INVALID", domain: "googleapis.com", metadata: { service: "generativelanguage.googleapis.com" } },
    { "@type": `${RPC_TYPE_PREFIX}LocalizedMessage`, locale: "en-US", message: "API key not valid. Please pass a valid API key." },
  ] satisfies ErrorDetail[]);

function faultError(fault: Fault & { status: number }, model: string | undefined): GeminiError {
  if (fault.status === 429) {
    const { retryDelay, quotaId = DEFAULT_429_QUOTA_ID } = fault as { retryDelay?: string; quotaId?: string };
    // A 429 rule with neither field answers the bare RESOURCE_EXHAUSTED that Google also sends.
    if (retryDelay === undefined && !("quotaId" in fault)) return canonicalError(429);
    const metric = quotaId.includes("InputTokens")
      ? "generativelanguage.googleapis.com/generate_content_free_tier_input_token_count"
      : "generativelanguage.googleapis.com/generate_content_free_tier_requests";
    return quotaError(model, quotaId, metric, undefined, retryDelay === undefined ? undefined : Number.parseFloat(retryDelay) * 1000);
  }
  return canonicalError(fault.status);
}

const asksToStream = (body: unknown): boolean => isObject(body) && body.stream === true;

/** The model methods whose model is named in the body, not the path, and how to read it. */
const BODY_MODELS: Partial<Record<Operation, (body: unknown) => string>> = {
  openaiChatCompletions: requestedModel,
  openaiEmbeddings: requestedModel,
  createInteraction: requestedInteractionModel,
};

/** Reads a request body once, at most `limit` bytes (Google's 413 beyond). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw canonicalError(413);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Waits, or returns false when the request was aborted meanwhile. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (ms <= 0) return true;
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/** Waits until the request is aborted (client gone or simulator closing). */
function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

export class SimulatorService {
  readonly state: SimulatorState;
  private readonly handlers: Record<Operation, Handler>;

  constructor(options: SimulatorOptions) {
    this.state = new SimulatorState(options);
    this.handlers = {
      ...generateHandlers(this.state),
      ...embeddingHandlers(),
      ...cachedContentHandlers(this.state),
      ...fileHandlers(this.state),
      ...batchHandlers(this.state),
      ...openaiHandlers(this.state),
      ...interactionHandlers(this.state),
    } satisfies Record<Operation, Handler>;
  }

  async handle(req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const url = new URL(req.url ?? "/", "http://simulator");
    const call: Call = { req, res, signal, family: familyOfPath(url.pathname), arrayFraming: false, counted: false };
    try {
      if (url.pathname === "/_sim/faults" || url.pathname === "/_sim/stats") await this.handleControl(call, url.pathname);
      else await this.handleApi(call, url);
    } catch (err) {
      this.sendError(call, err instanceof GeminiError ? err : canonicalError(500));
    }
  }

  private async handleControl(call: Call, path: string): Promise<void> {
    const { faults, stats } = this.state;
    const method = call.req.method ?? "GET";
    if (path === "/_sim/stats") {
      if (method === "GET") return this.sendJson(call, 200, stats.snapshot());
      if (method === "DELETE") {
        stats.reset();
        return this.sendJson(call, 200, stats.snapshot());
      }
    } else {
      if (method === "GET") return this.sendJson(call, 200, faults.show());
      if (method === "DELETE") {
        faults.clear();
        return this.sendJson(call, 200, faults.show());
      }
      if (method === "PUT") {
        const parsed = faultConfigSchema.safeParse(parseJsonBody((await readBody(call.req, MAX_JSON_BODY_BYTES)).toString("utf8")));
        if (!parsed.success) throw invalidArgument(describeIssues(parsed.error));
        faults.set(parsed.data);
        return this.sendJson(call, 200, faults.show());
      }
    }
    throw notFound(`${method} ${path} is not a simulator control route.`);
  }

  /** Order of checks: route, key, model, fault rule, then the handler (body, validation, quota, answer). */
  private async handleApi(call: Call, url: URL): Promise<void> {
    const route = matchRoute(call.req.method ?? "GET", url.pathname, url.searchParams);
    if (!route) throw canonicalError(404);
    const { stats, faults } = this.state;
    stats.request(route.operation);
    call.counted = true;
    call.family = route.family;
    const alt = parseAlt(url.searchParams);
    call.arrayFraming = route.operation === "streamGenerateContent" && alt.form !== "sse";

    const key = apiKeyOf(call.req, url, route.family);
    // Upload data is authorised by its upload id; a key may come along or not.
    if (key === undefined && route.family !== "upload") throw canonicalError(403);
    if (key !== undefined && this.state.options.keys && !this.state.options.keys.includes(key)) throw invalidKey();

    let raw: Promise<Buffer> | undefined;
    let body: Promise<unknown> | undefined;
    const bytes = (limit: number): Promise<Buffer> => (raw ??= readBody(call.req, limit));
    const json = (): Promise<unknown> => (body ??= bytes(MAX_JSON_BODY_BYTES).then((b) => parseJsonBody(b.toString("utf8"))));

    const model = await this.modelOf(route, json);
    const streaming = await this.isStream(route, url, json);
    const fault = faults.pick(route.operation, model?.id ?? route.model);
    if (fault) {
      stats.fault(faultLabel(fault));
      if (!(await this.applyEarlyFault(call, fault, model, streaming))) return;
    }
    const ctx: RequestContext = {
      route,
      url,
      headers: call.req.headers,
      key: key ?? "",
      ...(model ? { model } : {}),
      ...(fault ? { fault } : {}),
      intEnums: alt.intEnums && route.family === "native",
      framing: alt.form === "sse" ? "sse" : "array",
      origin: `http://${call.req.headers.host ?? "127.0.0.1"}`,
      now: this.state.now(),
      json,
      bytes,
    };
    await this.write(call, await this.handlers[route.operation](ctx), ctx, fault);
  }

  /** The model a model method names (path, or body: OpenAI-compatible paths, interactions): it must exist and support it. */
  private async modelOf(route: RouteMatch, json: () => Promise<unknown>): Promise<SimModel | undefined> {
    const method = MODEL_METHODS[route.operation];
    if (method === undefined) return undefined;
    const fromBody = BODY_MODELS[route.operation];
    const name = fromBody ? fromBody(await json()) : (route.model ?? "");
    this.state.stats.model(name);
    const model = findModel(name);
    if (!model || !supports(model, method)) throw modelNotFound(name, route.version, fromBody ? method : route.operation);
    return model;
  }

  /** Whether the answer is a stream (the faults that cut streams act on it; on anything else they answer an error). */
  private async isStream(route: RouteMatch, url: URL, json: () => Promise<unknown>): Promise<boolean> {
    switch (route.operation) {
      case "streamGenerateContent":
        return true;
      case "openaiChatCompletions":
      case "createInteraction":
        return asksToStream(await json());
      case "getInteraction":
        return url.searchParams.get("stream") === "true";
      default:
        return false;
    }
  }

  /** Applies the faults that act before the handler; false when the request is finished. */
  private async applyEarlyFault(call: Call, fault: Fault, model: SimModel | undefined, streaming: boolean): Promise<boolean> {
    if (!("kind" in fault)) throw faultError(fault, model?.id);
    switch (fault.kind) {
      case "reset":
        call.req.socket.destroy();
        return false;
      case "hang":
        if (streaming && fault.afterChunks !== undefined) return true; // hangs mid-stream
        if (fault.ms === undefined) await untilAborted(call.signal);
        else await pause(fault.ms, call.signal);
        call.req.socket.destroy();
        return false;
      case "delay":
        return pause(fault.ms, call.signal);
      case "midstream_error":
        // Only a stream can fail midway; any other request answers the error status outright.
        if (!streaming) throw midstreamError(fault.status);
        return true;
      default:
        return true;
    }
  }

  private async write(call: Call, answer: Answer, ctx: RequestContext, fault: Fault | undefined): Promise<void> {
    const { res, signal } = call;
    switch (answer.kind) {
      case "json":
        if (!(await pause(answer.delayMs ?? 0, signal))) return;
        this.state.stats.usage(answer.usage);
        return this.sendJson(call, answer.status ?? 200, ctx.intEnums ? encodeIntEnums(answer.body) : answer.body, answer.headers);
      case "empty":
        this.state.stats.status(200);
        res.writeHead(200, answer.headers);
        res.end();
        return;
      case "bytes":
        this.state.stats.status(200);
        res.writeHead(200, { "Content-Type": answer.contentType, "Content-Length": String(answer.body.length) });
        res.end(answer.body);
        return;
      case "stream":
        return this.stream(call, answer, fault);
    }
  }

  private async stream(call: Call, answer: StreamAnswer, fault: Fault | undefined): Promise<void> {
    const { res, signal } = call;
    const { frames } = answer;
    // A fault that cuts the stream: after `afterChunks` frames (never all of them), an error tail or a hang.
    const cut = fault && "kind" in fault && (fault.kind === "midstream_error" || fault.kind === "hang") ? fault : undefined;
    const sendCount = framesBeforeCut(cut, frames.length) ?? frames.length;

    if (!(await pause(this.state.options.ttftMs, signal))) return;
    this.state.stats.status(200);
    res.writeHead(200, answer.headers);
    let sent = 0;
    try {
      for (const frame of frames.slice(0, sendCount)) {
        if (sent > 0 && !(await pause(trickleMs(this.state, frame.tokens), signal))) return;
        res.write(frame.text);
        sent += 1;
      }
      if (cut?.kind === "hang") {
        if (cut.ms === undefined) await untilAborted(signal);
        else await pause(cut.ms, signal);
        res.destroy();
        return;
      }
      res.end(cut?.kind === "midstream_error" ? answer.failure(midstreamError(cut.status), sent) : answer.end);
    } finally {
      this.state.stats.usage(sent > 0 ? frames[sent - 1]!.usage : undefined);
    }
  }

  private sendJson(call: Call, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (call.counted) this.state.stats.status(status);
    call.res.writeHead(status, { "Content-Type": JSON_TYPE, ...headers });
    call.res.end(`${pretty(body)}\n`);
  }

  private sendError(call: Call, error: GeminiError): void {
    const { res } = call;
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    if (call.counted) this.state.stats.status(error.code);
    const body = error.toBody();
    res.writeHead(error.code, { "Content-Type": JSON_TYPE, ...error.headers });
    res.end(call.arrayFraming || call.family === "openai" ? `[${body}]` : body);
  }
}
