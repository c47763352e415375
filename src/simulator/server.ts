// The HTTP shell of the simulator (node:http, for exact control of the bytes): routing, auth, faults, latency, framing.
// Protocol decisions live in the pure modules beside it (validate, generation, quota, faults).
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import type { ErrorDetail } from "../gemini/errors.js";
import { GeminiError, RPC_TYPE_PREFIX, canonicalError, formatEnvelope, invalidArgument, notFound } from "../gemini/errors.js";
import type { GenerateContentResponse } from "../gemini/types.js";
import type { Fault, FaultMethod } from "./faults.js";
import { FaultBook, describeIssues, faultConfigSchema, faultLabel } from "./faults.js";
import type { ReplyPlan } from "./generation.js";
import { planReply, streamChunks, unaryResponse } from "./generation.js";
import type { SimModel } from "./models.js";
import { MODELS, describeModel, findModel } from "./models.js";
import { QuotaLedger, quotaError, violationError } from "./quota.js";
import type { StatsMethod } from "./stats.js";
import { StatsRecorder } from "./stats.js";
import { countPromptTokens } from "./tokenizer.js";
import type { SimulatorOptions } from "./index.js";
import type { ApiVersion } from "./validate.js";
import { parseCountTokensRequest, parseGenerateContentRequest, parseJsonBody } from "./validate.js";

const JSON_TYPE = "application/json; charset=UTF-8";
const MAX_BODY_BYTES = 20 * 1024 * 1024;
const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;
const MIDSTREAM_503 = "This model is currently experiencing high demand. Spikes in demand are usually temporary. Please try again later.";
const DEFAULT_429_QUOTA_ID = "GenerateRequestsPerMinutePerProjectPerModel-FreeTier";

const MODEL_ROUTE = /^\/(v1|v1beta|v1alpha)\/models(?:\/([^/:]+)(?::([A-Za-z]+))?)?\/?$/;

/** How the answer of one request is framed: a plain JSON body, SSE events, or a streamed JSON array. */
type Framing = "json" | "sse" | "array";

interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  /** Aborted when the client goes away or the simulator closes. */
  signal: AbortSignal;
  framing: Framing;
  /** Whether this is model-API traffic, counted in the stats. */
  counted: boolean;
}

const pretty = (value: unknown): string => JSON.stringify(value, null, 2);

function apiKeyOf(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers["x-goog-api-key"];
  const key = (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get("key") ?? undefined;
  return key === "" ? undefined : key;
}

const invalidKey = (): GeminiError =>
  invalidArgument("API key not valid. Please pass a valid API key.", [
    { "@type": `${RPC_TYPE_PREFIX}ErrorInfo`, reason: "API_KEY_INVALID", domain: "googleapis.com", metadata: { service: "generativelanguage.googleapis.com" } },
    { "@type": `${RPC_TYPE_PREFIX}LocalizedMessage`, locale: "en-US", message: "API key not valid. Please pass a valid API key." },
  ] satisfies ErrorDetail[]);

function faultError(fault: Fault & { status: number }, model: string): GeminiError {
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

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw canonicalError(413);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
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
  readonly faults = new FaultBook();
  readonly stats = new StatsRecorder();
  private readonly quotas: QuotaLedger;

  constructor(private readonly options: SimulatorOptions) {
    this.quotas = new QuotaLedger({ rpm: options.rpm, rpd: options.rpd, tpm: options.tpm });
  }

  async handle(req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const url = new URL(req.url ?? "/", "http://simulator");
    const call: Call = { req, res, signal, framing: "json", counted: false };
    try {
      if (url.pathname === "/_sim/faults" || url.pathname === "/_sim/stats") {
        await this.handleControl(call, url.pathname);
        return;
      }
      await this.handleModelApi(call, url);
    } catch (err) {
      const error = err instanceof GeminiError ? err : canonicalError(500);
      this.sendError(call, error);
    }
  }

  private async handleControl(call: Call, path: string): Promise<void> {
    const method = call.req.method ?? "GET";
    if (path === "/_sim/stats") {
      if (method === "GET") return this.sendJson(call, 200, this.stats.snapshot());
      if (method === "DELETE") {
        this.stats.reset();
        return this.sendJson(call, 200, this.stats.snapshot());
      }
    } else {
      if (method === "GET") return this.sendJson(call, 200, this.faults.show());
      if (method === "DELETE") {
        this.faults.clear();
        return this.sendJson(call, 200, this.faults.show());
      }
      if (method === "PUT") {
        const parsed = faultConfigSchema.safeParse(parseJsonBody(await readBody(call.req)));
        if (!parsed.success) throw invalidArgument(describeIssues(parsed.error));
        this.faults.set(parsed.data);
        return this.sendJson(call, 200, this.faults.show());
      }
    }
    throw notFound(`${method} ${path} is not a simulator control route.`);
  }

  private async handleModelApi(call: Call, url: URL): Promise<void> {
    const match = MODEL_ROUTE.exec(url.pathname);
    const httpMethod = call.req.method ?? "GET";
    const [, version, modelId, action] = match ?? [];
    const method = this.routeMethod(httpMethod, modelId, action);
    if (!match || !version || !method) throw canonicalError(404);
    const isModelMethod = method !== "listModels" && method !== "getModel";
    this.stats.request(method, isModelMethod ? modelId : undefined);
    call.counted = true;
    if (method === "streamGenerateContent") call.framing = url.searchParams.get("alt") === "sse" ? "sse" : "array";

    const key = apiKeyOf(call.req, url);
    if (key === undefined) throw canonicalError(403);
    if (this.options.keys && !this.options.keys.includes(key)) throw invalidKey();

    if (method === "listModels") return this.listModels(call, url);
    const model = findModel(modelId ?? "");
    if (method === "getModel") {
      if (!model) throw notFound(`Model is not found: models/${modelId} for api version ${version}`);
      return this.sendJson(call, 200, describeModel(model));
    }
    if (!model) {
      throw notFound(
        `models/${modelId} is not found for API version ${version}, or is not supported for ${method}. Call ListModels to see the list of available models and their supported methods.`,
      );
    }

    const fault = this.faults.pick(method, model.id);
    if (fault) {
      this.stats.fault(faultLabel(fault));
      if (!(await this.applyEarlyFault(call, fault, model, method))) return;
    }

    const body = parseJsonBody(await readBody(call.req));
    if (method === "countTokens") {
      const request = parseCountTokensRequest(body, model, version as ApiVersion);
      const prompt = countPromptTokens(request);
      const answer: Record<string, unknown> = { totalTokens: prompt.total };
      if (prompt.details.length > 0) answer.promptTokensDetails = prompt.details;
      return this.sendJson(call, 200, answer);
    }

    const request = parseGenerateContentRequest(body, model, version as ApiVersion);
    const plan = planReply(model, request, this.options.replyTokens, {
      finishReason: fault && "kind" in fault && fault.kind === "finish" ? fault.finishReason : undefined,
      blockReason: fault && "kind" in fault && fault.kind === "block" ? (fault.blockReason ?? "SAFETY") : undefined,
    });
    const violation = this.quotas.enabled ? this.quotas.admit(key, model.id, plan.prompt.total, Date.now()) : undefined;
    if (violation) throw violationError(model.id, violation);

    if (method === "generateContent") {
      const wait = this.options.ttftMs + this.trickleMs(plan.pieces.length);
      if (!(await pause(wait, call.signal))) return;
      const response = unaryResponse(plan);
      this.stats.usage(response.usageMetadata);
      return this.sendJson(call, 200, response);
    }
    return this.stream(call, plan, fault);
  }

  private routeMethod(httpMethod: string, modelId: string | undefined, action: string | undefined): StatsMethod | undefined {
    if (httpMethod === "GET" && action === undefined) return modelId === undefined ? "listModels" : "getModel";
    if (httpMethod === "POST" && modelId !== undefined) {
      if (action === "generateContent" || action === "streamGenerateContent" || action === "countTokens") return action;
    }
    return undefined;
  }

  /** Applies the faults that act before the body is read; false when the request is finished. */
  private async applyEarlyFault(call: Call, fault: Fault, model: SimModel, method: FaultMethod): Promise<boolean> {
    if (!("kind" in fault)) throw faultError(fault, model.id);
    switch (fault.kind) {
      case "reset":
        call.req.socket.destroy();
        return false;
      case "hang":
        if (method === "streamGenerateContent" && fault.afterChunks !== undefined) return true; // hangs mid-stream
        if (fault.ms === undefined) await untilAborted(call.signal);
        else await pause(fault.ms, call.signal);
        call.req.socket.destroy();
        return false;
      case "delay":
        return pause(fault.ms, call.signal);
      case "midstream_error":
        // Only a stream can fail midway; any other method answers the error status outright.
        if (method !== "streamGenerateContent") throw this.midstreamError(fault.status);
        return true;
      default:
        return true;
    }
  }

  private midstreamError(status = 503): GeminiError {
    return status === 503 ? canonicalError(503, MIDSTREAM_503) : canonicalError(status);
  }

  private trickleMs(tokens: number): number {
    return this.options.tokensPerSecond > 0 ? (tokens * 1000) / this.options.tokensPerSecond : 0;
  }

  private async stream(call: Call, plan: ReplyPlan, fault: Fault | undefined): Promise<void> {
    const { res, signal } = call;
    const chunks = streamChunks(plan);
    // A fault that cuts the stream: after `afterChunks` chunks (never all of them), an error tail or a hang.
    const cut = fault && "kind" in fault && (fault.kind === "midstream_error" || fault.kind === "hang") ? fault : undefined;
    const sendCount = cut ? Math.min(cut.afterChunks ?? 1, chunks.length - 1) : chunks.length;

    if (!(await pause(this.options.ttftMs, signal))) return;
    this.stats.status(200);
    res.writeHead(200, { "Content-Type": call.framing === "sse" ? "text/event-stream" : JSON_TYPE, "Content-Disposition": "attachment" });
    let lastSent: GenerateContentResponse | undefined;
    try {
      for (let i = 0; i < sendCount; i += 1) {
        const chunk = chunks[i]!;
        if (i > 0 && !(await pause(this.trickleMs(plan.pieces.length > 0 ? countChunkTokens(chunks, i) : 0), signal))) return;
        res.write(this.frame(call.framing, chunk, i === 0));
        lastSent = chunk;
      }
      if (cut?.kind === "hang") {
        if (cut.ms === undefined) await untilAborted(signal);
        else await pause(cut.ms, signal);
        res.destroy();
        return;
      }
      if (cut?.kind === "midstream_error") {
        const envelope = this.midstreamError(cut.status).toEnvelope();
        // SSE: the raw pretty error, no `data:` prefix. Array: one more element, then the array closes.
        res.end(call.framing === "array" ? `${sendCount > 0 ? "\r\n," : "["}${pretty(envelope)}\r\n]` : formatEnvelope(envelope));
        return;
      }
      res.end(call.framing === "array" ? "\r\n]" : undefined);
    } finally {
      this.stats.usage(lastSent?.usageMetadata);
    }
  }

  private frame(framing: Framing, chunk: GenerateContentResponse, first: boolean): string {
    if (framing === "sse") return `data: ${JSON.stringify(chunk)}\r\n\r\n`;
    return `${first ? "[" : "\r\n,"}${pretty(chunk)}`;
  }

  private listModels(call: Call, url: URL): void {
    const pageSizeParam = url.searchParams.get("pageSize");
    const pageSize = pageSizeParam === null ? DEFAULT_PAGE_SIZE : Number(pageSizeParam);
    if (!Number.isInteger(pageSize) || pageSize < 0) throw invalidArgument(`Invalid value at 'page_size' (TYPE_INT32), "${pageSizeParam}"`);
    const size = pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(pageSize, MAX_PAGE_SIZE);
    const token = url.searchParams.get("pageToken");
    const offset = token ? Number(Buffer.from(token, "base64url").toString("utf8")) : 0;
    if (!Number.isInteger(offset) || offset < 0 || offset > MODELS.length) throw invalidArgument("Invalid page token.");
    const page = MODELS.slice(offset, offset + size);
    const answer: Record<string, unknown> = { models: page.map(describeModel) };
    if (offset + size < MODELS.length) answer.nextPageToken = Buffer.from(String(offset + size)).toString("base64url");
    this.sendJson(call, 200, answer);
  }

  private sendJson(call: Call, status: number, body: unknown): void {
    if (call.counted) this.stats.status(status);
    call.res.writeHead(status, { "Content-Type": JSON_TYPE });
    call.res.end(`${pretty(body)}\n`);
  }

  private sendError(call: Call, error: GeminiError): void {
    const { res } = call;
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    if (call.counted) this.stats.status(error.code);
    const body = error.toBody();
    res.writeHead(error.code, { "Content-Type": JSON_TYPE, ...error.headers });
    res.end(call.framing === "array" ? `[${body}]` : body);
  }
}

/** Visible tokens carried by chunk i: the difference of the running candidatesTokenCount. */
function countChunkTokens(chunks: readonly GenerateContentResponse[], i: number): number {
  const before = i > 0 ? (chunks[i - 1]?.usageMetadata?.candidatesTokenCount ?? 0) : 0;
  return (chunks[i]?.usageMetadata?.candidatesTokenCount ?? 0) - before;
}
