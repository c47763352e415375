// THE data path of a model call, shared by the proxy routes and the sessions service:
//   upstream attempts (retry policy, budget, deadline) -> response streamed to the client through the tap
//   -> ONE TurnRecord handed to the TurnSink (also on failure and client abort) -> one request log line.

import { setTimeout as sleep } from "node:timers/promises";
import type { IncomingHttpHeaders } from "node:http";
import { performance } from "node:perf_hooks";
import { context, propagation, type Context } from "@opentelemetry/api";
import type { Logger } from "pino";
import type { GatewayConfig } from "../config/gateway.js";
import { deadlineExceeded, parseErrorEnvelope, unavailable, type GeminiError } from "../gemini/errors.js";
import { retryDelayMs } from "../gemini/retry-info.js";
import { ResponseTap, responseFormat } from "../gemini/stream-tap.js";
import type { Content, GenerateContentRequest, ModelMethod } from "../gemini/types.js";
import type { AttemptRecord, Operation, RecordedTurn, RouteName, TurnRecord, TurnSink } from "../turn/record.js";
import { UpstreamClient, type UpstreamResponse } from "../upstream/client.js";
import { clientResponseHeaders, upstreamRequestHeaders } from "../upstream/headers.js";
import { RetryBudget } from "../upstream/retry-budget.js";
import { decideRetry, outcomeOfStatus, quotaOf, type AttemptResult, type RetryDecision } from "../upstream/retry-policy.js";
import { writeGeminiError, type ResponseWriter } from "./response-writer.js";

/** The model methods, plus the two model-listing GETs. */
export type CallMethod = ModelMethod | "listModels" | "getModel";

export interface ModelCallInput {
  route: RouteName;
  apiVersion: string;
  /** The model id as in the path (`gemini-2.5-flash`); empty for listModels. */
  model: string;
  method: CallMethod;
  stream: boolean;
  /** Forwarded upstream (alt=sse, pageSize...); the key must already be removed. */
  query: URLSearchParams;
  /** Exact bytes to send upstream (empty for GETs). */
  body: Buffer;
  /** The body already parsed, when the caller has it (saves a second parse; read for generationConfig). */
  request?: unknown;
  tenant: string;
  upstreamKey: string;
  conversationId?: string;
  sessionTurn?: number;
  trimmedTurns?: number;
  /** Keep the reply's text and model turn in the record (sessions need it). */
  captureResponseContent?: boolean;
  /** For x-server-timeout, traceparent, user-agent. */
  clientHeaders: IncomingHttpHeaders;
  /** The trace context the call's span nests in (a session message's); default: the client's traceparent. */
  parentContext?: Context;
  /** performance.now() when the request arrived (default: when the call starts): the gateway's own time
   *  (Server-Timing, the overhead metric) counts from it. */
  receivedAt?: number;
  /** Client disconnect. */
  signal: AbortSignal;
}

export interface ModelCallResult {
  record: TurnRecord;
  recorded: RecordedTurn;
}

export interface ModelCallDeps {
  config: GatewayConfig;
  turnSink: TurnSink;
  logger: Logger;
  /** Defaults to a pool on config.upstream.baseUrl. */
  client?: UpstreamClient;
  /** Defaults to one built from config.retryBudget. */
  budget?: RetryBudget;
  /** Backoff jitter source, injectable for tests. */
  random?: () => number;
  /** Keep request contents and reply text in the record (OTel message content capture). */
  captureMessageContent?: boolean;
}

const OPERATIONS: Record<CallMethod, Operation> = {
  generateContent: "generate_content",
  streamGenerateContent: "generate_content",
  countTokens: "count_tokens",
  listModels: "list_models",
  getModel: "get_model",
};

/** Why the call stopped early: the client went away, or the request's deadline passed. */
class CallAborted extends Error {
  constructor(readonly kind: "cancelled" | "deadline") {
    super(kind);
  }
}
class AttemptTimedOut extends Error {}

/** The request's deadline: the configured one, shortened by the client's X-Server-Timeout (seconds). */
export function requestDeadline(startedAt: number, deadlineMs: number, serverTimeout: string | string[] | undefined): number {
  const seconds = typeof serverTimeout === "string" ? Number(serverTimeout) : NaN;
  const clientMs = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : Infinity;
  return startedAt + Math.min(deadlineMs, clientMs);
}

export function upstreamPath(input: Pick<ModelCallInput, "apiVersion" | "model" | "method" | "query">): string {
  const query = input.query.toString();
  const suffix = query ? `?${query}` : "";
  if (input.method === "listModels") return `/${input.apiVersion}/models${suffix}`;
  if (input.method === "getModel") return `/${input.apiVersion}/models/${input.model}${suffix}`;
  return `/${input.apiVersion}/models/${input.model}:${input.method}${suffix}`;
}

export class ModelCallService {
  readonly client: UpstreamClient;
  private readonly budget: RetryBudget;
  private readonly ownsClient: boolean;

  constructor(private readonly deps: ModelCallDeps) {
    this.ownsClient = !deps.client;
    this.client = deps.client ?? new UpstreamClient(deps.config.upstream.baseUrl);
    this.budget = deps.budget ?? new RetryBudget(deps.config.retryBudget);
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.client.close();
  }

  async run(input: ModelCallInput, out: ResponseWriter): Promise<ModelCallResult> {
    const call = new ModelCall(this.deps, this.client, this.budget, input, out);
    const record = await call.execute();
    let recorded: RecordedTurn = {};
    try {
      recorded = this.deps.turnSink.record(record);
    } catch (err) {
      this.deps.logger.error({ err }, "turn sink failed");
    }
    logTurn(this.deps.logger, record, recorded);
    return { record, recorded };
  }
}

/** One run: the state of a single model call, from the first attempt to the record. */
class ModelCall {
  /** When the request arrived (performance.now()). */
  private readonly t0: number;
  private readonly record: TurnRecord;
  private readonly deadline: number;
  /** Aborted on client disconnect or deadline; every attempt and wait listens to it. */
  private readonly controller = new AbortController();
  private upstreamMs = 0;
  private headSent = false;

  constructor(
    private readonly deps: ModelCallDeps,
    private readonly client: UpstreamClient,
    private readonly budget: RetryBudget,
    private readonly input: ModelCallInput,
    private readonly out: ResponseWriter,
  ) {
    this.t0 = input.receivedAt ?? performance.now();
    const startedAt = Date.now();
    this.deadline = requestDeadline(startedAt, deps.config.requestDeadlineMs, input.clientHeaders["x-server-timeout"]);
    this.record = {
      route: input.route,
      operation: OPERATIONS[input.method],
      model: input.model,
      tenant: input.tenant,
      stream: input.stream,
      apiVersion: input.apiVersion,
      attempts: [],
      retryBudgetExhausted: false,
      httpStatus: 0,
      startedAt,
      endedAt: startedAt,
      clientAborted: false,
      parentContext: input.parentContext ?? propagation.extract(context.active(), input.clientHeaders),
      server: client.server,
      ...(input.conversationId !== undefined ? { conversationId: input.conversationId } : {}),
      ...(input.sessionTurn !== undefined ? { sessionTurn: input.sessionTurn } : {}),
      ...(input.trimmedTurns !== undefined ? { trimmedTurns: input.trimmedTurns } : {}),
    };
    this.readRequest();
  }

  async execute(): Promise<TurnRecord> {
    const onClientAbort = (): void => this.controller.abort(new CallAborted("cancelled"));
    if (this.input.signal.aborted) onClientAbort();
    this.input.signal.addEventListener("abort", onClientAbort, { once: true });
    const deadlineTimer = setTimeout(() => this.controller.abort(new CallAborted("deadline")), Math.max(0, this.deadline - Date.now()));
    this.budget.recordRequest();
    try {
      await this.attempts();
    } catch (err) {
      this.fail(err);
    } finally {
      clearTimeout(deadlineTimer);
      this.input.signal.removeEventListener("abort", onClientAbort);
      this.record.endedAt = Date.now();
    }
    return this.record;
  }

  /** Attempts until one answer is handed to the client (streamed through, forwarded, or made by the gateway). */
  private async attempts(): Promise<void> {
    for (;;) {
      this.record.gatewayOverheadMs ??= performance.now() - this.t0;
      const attempt: AttemptRecord = { startedAt: Date.now(), endedAt: 0, outcome: "other" };
      this.record.attempts.push(attempt);
      const { response, result, attemptSignal } = await this.attempt(attempt);
      if (response && result.outcome === "ok") return this.streamThrough(response, attemptSignal);

      const errorText = response ? await response.text() : undefined;
      const error = errorText !== undefined ? parseErrorEnvelope(errorText) : undefined;
      if (error) result.error = error;
      const quota = quotaOf(result);
      if (quota) attempt.quota = quota;
      const decision = decideRetry(
        result,
        { attemptsMade: this.record.attempts.length, now: Date.now(), deadline: this.deadline, random: this.deps.random },
        this.deps.config.retry,
      );
      if (decision.retry && this.budget.tryRetry()) {
        attempt.retry = { reason: decision.reason, delayMs: decision.delayMs, source: decision.source };
        await sleep(decision.delayMs, undefined, { signal: this.controller.signal }).catch(() => this.throwIfAborted());
        continue;
      }
      if (decision.retry) this.record.retryBudgetExhausted = true;
      if (response && errorText !== undefined) return this.forwardError(response, errorText, result, decision);
      return this.gatewayError(result.outcome === "timeout" ? timeoutError() : unreachableError(), result.outcome);
    }
  }

  /** One upstream request, up to its response headers (or its failure). */
  private async attempt(
    attempt: AttemptRecord,
  ): Promise<{ response?: UpstreamResponse; result: AttemptResult; attemptSignal: AbortSignal }> {
    this.throwIfAborted();
    const attemptController = new AbortController();
    const forward = (): void => attemptController.abort(this.controller.signal.reason);
    this.controller.signal.addEventListener("abort", forward, { once: true });
    const timeoutMs = Math.min(this.deps.config.attemptTimeoutMs, Math.max(0, this.deadline - Date.now()));
    const timer = setTimeout(() => attemptController.abort(new AttemptTimedOut()), timeoutMs);
    const sentAt = performance.now();
    try {
      const response = await this.client.send({
        method: this.input.method === "listModels" || this.input.method === "getModel" ? "GET" : "POST",
        path: upstreamPath(this.input),
        headers: upstreamRequestHeaders(this.input.clientHeaders, this.input.upstreamKey, this.upstreamServerTimeout()),
        ...(this.input.body.length > 0 ? { body: this.input.body } : {}),
        signal: attemptController.signal,
      });
      attempt.httpStatus = response.status;
      attempt.outcome = outcomeOfStatus(response.status);
      const retryAfter = response.headers["retry-after"];
      const result: AttemptResult = { outcome: attempt.outcome, httpStatus: response.status };
      if (typeof retryAfter === "string") result.retryAfter = retryAfter;
      return { response, result, attemptSignal: attemptController.signal };
    } catch (err) {
      this.throwIfAborted();
      attempt.outcome = attemptController.signal.reason instanceof AttemptTimedOut ? "timeout" : "network";
      this.deps.logger.debug({ err, outcome: attempt.outcome }, "upstream attempt failed");
      return { result: { outcome: attempt.outcome }, attemptSignal: attemptController.signal };
    } finally {
      clearTimeout(timer);
      attempt.endedAt = Date.now();
      this.upstreamMs += performance.now() - sentAt;
      // After the headers, the attempt's body still stops on client abort or deadline, through `forward`.
    }
  }

  /** A 2xx: head, then every chunk as it arrives, read by the tap on its way. */
  private async streamThrough(response: UpstreamResponse, attemptSignal: AbortSignal): Promise<void> {
    this.record.httpStatus = response.status;
    this.writeHead(response.status, clientResponseHeaders(response.headers));
    const tap = new ResponseTap(responseFormat(this.input.stream, this.input.query), {
      captureContent: this.input.captureResponseContent === true || this.deps.captureMessageContent === true,
    });
    try {
      for await (const chunk of response.body) {
        this.record.firstChunkAt ??= Date.now();
        tap.push(chunk);
        await this.out.chunk(chunk);
      }
    } catch (err) {
      this.record.response = tap.finish().response;
      if (!this.controller.signal.aborted && !attemptSignal.aborted) this.record.errorType = "midstream_error";
      throw err;
    }
    const tapped = tap.finish();
    this.record.response = tapped.response;
    if (tapped.streamError) this.record.errorType = "midstream_error";
    this.out.end();
  }

  /** Hands the upstream's error answer to the client unchanged; a 429 gets a Retry-After matching its RetryInfo. */
  private forwardError(response: UpstreamResponse, body: string, result: AttemptResult, decision: RetryDecision): void {
    const headers = clientResponseHeaders(response.headers);
    delete headers["content-length"];
    if (result.outcome === "429") {
      this.record.rateLimitedQuota = quotaOf(result);
      const delayMs = (result.error && retryDelayMs(result.error)) ?? (decision.retry ? undefined : decision.delayMs);
      if (delayMs !== undefined && !("retry-after" in headers)) headers["retry-after"] = String(Math.ceil(delayMs / 1000));
    }
    this.record.httpStatus = response.status;
    this.record.errorType = String(response.status);
    this.writeHead(response.status, headers);
    void this.out.chunk(Buffer.from(body));
    this.out.end();
  }

  private gatewayError(error: GeminiError, errorType: string): void {
    this.record.httpStatus = error.code;
    this.record.errorType = errorType;
    this.headSent = true;
    writeGeminiError(this.out, error, { "server-timing": this.serverTiming() });
  }

  /** The call ended by an exception: client gone, deadline, or upstream failure mid-body. */
  private fail(err: unknown): void {
    const reason = this.controller.signal.reason;
    if (reason instanceof CallAborted && reason.kind === "cancelled") {
      this.record.clientAborted = true;
      this.record.errorType = "cancelled";
      if (!this.headSent) this.record.httpStatus = 499;
      this.out.abort?.();
      return;
    }
    if (reason instanceof CallAborted && reason.kind === "deadline") {
      this.record.errorType ??= "timeout";
      if (!this.headSent) return this.gatewayError(timeoutError(), "timeout");
    } else if (!this.headSent) {
      this.deps.logger.error({ err }, "model call failed");
      return this.gatewayError(unreachableError(), "network");
    }
    this.record.errorType ??= "midstream_error";
    if (this.out.abort) this.out.abort();
    else this.out.end();
  }

  private writeHead(status: number, headers: Record<string, string>): void {
    this.headSent = true;
    headers["server-timing"] = this.serverTiming();
    this.out.head(status, headers);
  }

  /** gateway = time in the gateway until the head (retry waits included); upstream = attempts' time to headers. */
  private serverTiming(): string {
    const total = performance.now() - this.t0;
    return `gateway;dur=${total.toFixed(2)}, upstream;dur=${this.upstreamMs.toFixed(2)}`;
  }

  /** The client's X-Server-Timeout, forwarded as what is left of the deadline. */
  private upstreamServerTimeout(): number | undefined {
    if (this.input.clientHeaders["x-server-timeout"] === undefined) return undefined;
    return Math.max(1, Math.ceil((this.deadline - Date.now()) / 1000));
  }

  private throwIfAborted(): void {
    if (this.controller.signal.aborted) throw this.controller.signal.reason;
  }

  /** generationConfig (and, with content capture on, the request contents) for the record. */
  private readRequest(): void {
    let request = this.input.request;
    if (request === undefined && this.input.body.length > 0 && this.input.method !== "countTokens") {
      try {
        request = JSON.parse(this.input.body.toString("utf8"));
      } catch {
        return;
      }
    }
    if (!request || typeof request !== "object") return;
    const body = request as GenerateContentRequest & { generation_config?: GenerateContentRequest["generationConfig"] };
    const generationConfig = body.generationConfig ?? body.generation_config;
    if (generationConfig) this.record.generationConfig = generationConfig;
    if (this.deps.captureMessageContent && Array.isArray(body.contents)) {
      this.record.capturedInput = { contents: body.contents as Content[] };
      if (body.systemInstruction) this.record.capturedInput.systemInstruction = body.systemInstruction;
    }
  }
}

const timeoutError = (): GeminiError => deadlineExceeded("Deadline expired before operation could complete.");
const unreachableError = (): GeminiError => unavailable("The gateway could not reach the Gemini API. Please try again later.");

/** The request's log line: what happened, never keys, prompts or answers. */
function logTurn(logger: Logger, record: TurnRecord, recorded: RecordedTurn): void {
  const usage = record.response?.usage;
  logger.info(
    {
      tenant: record.tenant,
      model: record.model,
      route: record.route,
      status: record.httpStatus,
      attempts: record.attempts.length,
      ...(usage
        ? {
            tokens: {
              input: usage.promptTokenCount ?? 0,
              output: (usage.candidatesTokenCount ?? 0) + (usage.thoughtsTokenCount ?? 0),
              total: usage.totalTokenCount ?? 0,
            },
          }
        : {}),
      durationMs: record.endedAt - record.startedAt,
      ...(record.errorType ? { errorType: record.errorType } : {}),
      ...(record.retryBudgetExhausted ? { retryBudgetExhausted: true } : {}),
      ...(record.conversationId ? { conversationId: record.conversationId } : {}),
      ...(recorded.traceId ? { traceId: recorded.traceId } : {}),
    },
    "model call",
  );
}
