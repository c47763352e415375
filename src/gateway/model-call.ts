// THE data path of every call the gateway forwards, whatever its route or wire format (native, OpenAI-compatible,
// the REST resources, session messages):
//   upstream attempts (retry policy, budget, deadline) -> response streamed to the client through the route's tap
//   -> ONE TurnRecord handed to the TurnSink (also on failure and client abort) -> one request log line.

import type { Admission, AdmittedCall, CallToAdmit } from "../tenants/governor.js";
import { setTimeout as sleep } from "node:timers/promises";
import type { IncomingHttpHeaders } from "node:http";
import { performance } from "node:perf_hooks";
import type { Readable } from "node:stream";
import { context, propagation, type Context } from "@opentelemetry/api";
import type { Logger } from "pino";
import type { GatewayConfig } from "../config/gateway.js";
import { GeminiError, parseErrorEnvelope, retryInfoDetail, withRetryInfo, type ErrorDetail } from "../gemini/errors.js";
import { retryDelayMs } from "../gemini/retry-info.js";
import type { Content, GenerateContentRequest } from "../gemini/types.js";
import { interactionRequestConfig } from "../gemini/interactions.js";
import { breakdownTotal, promptTokens } from "../gemini/usage.js";
import { chatCapturedInput, chatGenerationConfig } from "../openai/request.js";
import { createTap, type TapKind } from "../taps/index.js";
import type { AttemptRecord, Operation, RecordedTurn, RouteName, TurnRecord, TurnSink } from "../turn/record.js";
import { UpstreamClient, type UpstreamResponse } from "../upstream/client.js";
import { clientResponseHeaders, upstreamRequestHeaders } from "../upstream/headers.js";
import { RetryBudgets } from "../upstream/retry-budget.js";
import { decideRetry, outcomeOfStatus, quotaOf, type AttemptResult, type RetryDecision } from "../upstream/retry-policy.js";
import { writeGeminiError, type ErrorShape, type ResponseWriter } from "./response-writer.js";

/** What is called upstream and how its answer is read: a route of the route table, or a session message's call. */
export interface CallTarget {
  route: RouteName;
  operation: Operation;
  apiVersion: string;
  /** The model id (`gemini-2.5-flash`, `tunedModels/x`); empty when the call names none. */
  model: string;
  httpMethod: string;
  /** The upstream path, without the query. */
  path: string;
  stream: boolean;
  tap: TapKind;
  /** Upstream auth as OpenAI's `Authorization: Bearer <key>` (the OpenAI-compatible routes), else x-goog-api-key. */
  bearerAuth?: boolean;
  /** The shape of the gateway's own errors; default Gemini's envelope. */
  errors?: ErrorShape;
  /** The call keeps state upstream and must not run twice (an interaction's create): retried only after a 429 or
   *  a 503, which say nothing was done. */
  once?: boolean;
}

/** A generate call on a model (sessions). */
export function generateTarget(route: RouteName, apiVersion: string, model: string, stream: boolean): CallTarget {
  const method = stream ? "streamGenerateContent" : "generateContent";
  return { route, operation: "generate_content", apiVersion, model, httpMethod: "POST", path: `/${apiVersion}/models/${model}:${method}`, stream, tap: "generate" };
}

/** Another page of the same list: the call's path and query with `pageToken` set, one upstream GET (no retries);
 *  undefined when it did not answer 200. */
export type FetchPage = (pageToken: string) => Promise<Buffer | undefined>;

/** What a route does with a 2xx answer besides passing it on (resource ownership, the upload URL). */
export interface ResponseHook {
  /** Rewrites the head before it is sent (may wait, e.g. to record who owns an upload, or to release a deleted
   *  resource before its deletion is acknowledged). */
  headers?(headers: Record<string, string>): Promise<void>;
  /** Reads the whole body and returns what the client gets instead (record who owns a created resource before its
   *  name reaches the client; keep only the caller's items of a list, reading further pages when a page kept none). */
  body?(body: Buffer, fetchPage: FetchPage): Promise<Buffer>;
  /** Sees each chunk before it is written, without holding the stream back unless it returns a promise (record who
   *  owns a streamed interaction as soon as its id passes, before the client can use it). */
  beforeChunk?(chunk: Buffer): Promise<void> | undefined;
  /** Runs on the finished record before it is recorded (results metered once; a conversation's turn number). */
  settle?(record: TurnRecord): Promise<void>;
}

/** The hooks of several concerns on one call, each step run in order. */
export function combineHooks(...hooks: Array<ResponseHook | undefined>): ResponseHook | undefined {
  const present = hooks.filter((hook): hook is ResponseHook => hook !== undefined);
  if (present.length <= 1) return present[0];
  const combined: ResponseHook = {};
  const headers = present.flatMap((h) => (h.headers ? [h.headers] : []));
  const bodies = present.flatMap((h) => (h.body ? [h.body] : []));
  const chunks = present.flatMap((h) => (h.beforeChunk ? [h.beforeChunk] : []));
  const settles = present.flatMap((h) => (h.settle ? [h.settle] : []));
  if (headers.length > 0) {
    combined.headers = async (h) => {
      for (const step of headers) await step(h);
    };
  }
  if (bodies.length > 0) {
    combined.body = async (body, fetchPage) => {
      let out = body;
      for (const step of bodies) out = await step(out, fetchPage);
      return out;
    };
  }
  if (chunks.length > 0) {
    combined.beforeChunk = (chunk) => {
      const waits = chunks.map((step) => step(chunk)).filter((w): w is Promise<void> => w !== undefined);
      return waits.length > 0 ? Promise.all(waits).then(() => undefined) : undefined;
    };
  }
  if (settles.length > 0) {
    combined.settle = async (record) => {
      for (const step of settles) await step(record);
    };
  }
  return combined;
}

export interface ModelCallInput extends CallTarget {
  /** Forwarded upstream (alt=sse, pageSize...); the key must already be removed. */
  query: URLSearchParams;
  /** The bytes to send upstream (empty: none), or a stream piped as it arrives (file data: never retried). */
  body: Buffer | Readable;
  /** The body already parsed, when the caller has it (saves a second parse; read for the generation parameters). */
  request?: unknown;
  hook?: ResponseHook;
  tenant: string;
  upstreamKey: string;
  /** Passthrough mode: the upstream key is the client's (x-goog-user-project may then go upstream). */
  clientsOwnKey?: boolean;
  conversationId?: string;
  sessionTurn?: number;
  trimmedTurns?: number;
  /** Keep the reply's text and model turn in the record (sessions need it). */
  captureResponseContent?: boolean;
  /** For x-server-timeout, traceparent, user-agent, the upload headers. */
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

/** Where telemetry failed for a turn: the turn itself is still counted (see TurnSink). */
export type TelemetryStage = "span" | "exemplar" | "metrics" | "log" | "settle";

export interface ModelCallDeps {
  config: GatewayConfig;
  turnSink: TurnSink;
  logger: Logger;
  /** Defaults to a pool on config.upstream.baseUrl. */
  client?: UpstreamClient;
  /** Defaults to ones built from config.retryBudget. */
  budget?: RetryBudgets;
  /** Backoff jitter source, injectable for tests. */
  random?: () => number;
  /** Keep request contents and reply text in the record (OTel message content capture). */
  captureMessageContent?: boolean;
  /** A fault outside the sink (the log line, a settle hook): counted and logged by telemetry. */
  onTelemetryFault?(stage: TelemetryStage, err: unknown): void;
  /** The tenant's policy: a refusal answers the call before any upstream attempt (and is recorded); an admitted call
   *  is settled when it ends. */
  admit?(call: CallToAdmit): Promise<Admission>;
}

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

export function upstreamPath(input: Pick<ModelCallInput, "path" | "query">): string {
  const query = input.query.toString();
  return query ? `${input.path}?${query}` : input.path;
}

export class ModelCallService {
  readonly client: UpstreamClient;
  private readonly budget: RetryBudgets;
  private readonly ownsClient: boolean;

  constructor(private readonly deps: ModelCallDeps) {
    this.ownsClient = !deps.client;
    this.client = deps.client ?? new UpstreamClient(deps.config.upstream.baseUrl);
    this.budget = deps.budget ?? new RetryBudgets(deps.config.retryBudget);
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.client.close();
  }

  async run(input: ModelCallInput, out: ResponseWriter): Promise<ModelCallResult> {
    const call = new ModelCall(this.deps, this.client, this.budget, input, out);
    const record = await call.execute();
    if (input.hook?.settle) {
      try {
        await input.hook.settle(record);
      } catch (err) {
        this.fault("settle", err);
      }
    }
    let recorded: RecordedTurn = {};
    try {
      recorded = this.deps.turnSink.record(record);
    } catch (err) {
      // The sink isolates its own stages; this is the last guard, so a sink bug never takes the request down.
      this.fault("metrics", err);
    }
    try {
      logTurn(this.deps.logger, record, recorded);
    } catch (err) {
      this.fault("log", err);
    }
    return { record, recorded };
  }

  private fault(stage: TelemetryStage, err: unknown): void {
    if (this.deps.onTelemetryFault) this.deps.onTelemetryFault(stage, err);
    else this.deps.logger.error({ err, stage }, "telemetry failed for a turn");
  }
}

/** One run: the state of a single model call, from the first attempt to the record. */
class ModelCall {
  /** When the request arrived (performance.now()). */
  private readonly t0: number;
  private readonly record: TurnRecord;
  private readonly deadline: number;
  /** Why the call stopped early (client disconnect or deadline); undefined while it runs. */
  private abortReason: CallAborted | undefined;
  /** What stop() aborts: the current attempt (before and after its headers, so its body too) or retry wait. One
   *  controller per attempt rather than a call-wide one forwarded to each: an AbortSignal costs microseconds to make
   *  and to listen to, on every call. */
  private current: AbortController | undefined;
  private upstreamMs = 0;
  private headSent = false;
  /** The request body is piped upstream as it arrives (file data). */
  private readonly streamedBody: boolean;
  /** Admitted by the tenant's policy: settled (slot freed, usage counted) when the call ends. */
  private admitted: AdmittedCall | undefined;

  constructor(
    private readonly deps: ModelCallDeps,
    private readonly client: UpstreamClient,
    private readonly budget: RetryBudgets,
    private readonly input: ModelCallInput,
    private readonly out: ResponseWriter,
  ) {
    this.t0 = input.receivedAt ?? performance.now();
    this.streamedBody = !Buffer.isBuffer(input.body);
    const startedAt = Date.now();
    this.deadline = requestDeadline(startedAt, deps.config.requestDeadlineMs, input.clientHeaders["x-server-timeout"]);
    this.record = {
      route: input.route,
      operation: input.operation,
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
    const onClientAbort = (): void => this.stop(new CallAborted("cancelled"));
    if (this.input.signal.aborted) onClientAbort();
    this.input.signal.addEventListener("abort", onClientAbort, { once: true });
    const deadlineTimer = setTimeout(() => this.stop(new CallAborted("deadline")), Math.max(0, this.deadline - Date.now()));
    this.budget.recordRequest(this.input.tenant);
    try {
      await this.attempts();
    } catch (err) {
      this.fail(err);
    } finally {
      clearTimeout(deadlineTimer);
      this.input.signal.removeEventListener("abort", onClientAbort);
      this.record.endedAt = Date.now();
    }
    await this.admitted?.settle(this.record);
    // The record says what the client got, even when the server answered for the call (a parser error mid-body).
    const sent = this.out.sentStatus?.();
    if (sent !== undefined && sent !== this.record.httpStatus && this.record.httpStatus !== 0) this.record.httpStatus = sent;
    return this.record;
  }

  /** Attempts until one answer is handed to the client (streamed through, forwarded, or made by the gateway). */
  private async attempts(): Promise<void> {
    const admission = await this.deps.admit?.({
      tenant: this.input.tenant,
      model: this.input.model,
      operation: this.input.operation,
      requestBytes: Buffer.isBuffer(this.input.body) ? this.input.body.length : 0,
      ...(this.record.generationConfig?.maxOutputTokens !== undefined ? { maxOutputTokens: this.record.generationConfig.maxOutputTokens } : {}),
    });
    if (admission && "refused" in admission) {
      this.record.refusedBy = admission.rule;
      return this.gatewayError(admission.refused, String(admission.refused.code));
    }
    this.admitted = admission;
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
        {
          attemptsMade: this.record.attempts.length,
          previous: this.record.attempts.at(-2)?.outcome,
          now: Date.now(),
          deadline: this.deadline,
          random: this.deps.random,
        },
        this.deps.config.retry,
        this.input.once === true,
      );
      // A streamed body went upstream with the first attempt: there is nothing left to send again.
      if (decision.retry && !this.streamedBody && this.budget.tryRetry(this.input.tenant)) {
        attempt.retry = { reason: decision.reason, delayMs: decision.delayMs, source: decision.source };
        this.current = new AbortController();
        await sleep(decision.delayMs, undefined, { signal: this.current.signal }).catch(() => this.throwIfAborted());
        continue;
      }
      if (decision.retry && !this.streamedBody) this.record.retryBudgetExhausted = true;
      if (response && errorText !== undefined) return this.forwardError(response, errorText, result, decision);
      const waitMs = this.giveUpDelayMs();
      return this.gatewayError(result.outcome === "timeout" ? timeoutError(waitMs) : unreachableError(waitMs), result.outcome, waitMs);
    }
  }

  /** One upstream request, up to its response headers (or its failure). */
  private async attempt(
    attempt: AttemptRecord,
  ): Promise<{ response?: UpstreamResponse; result: AttemptResult; attemptSignal: AbortSignal }> {
    this.throwIfAborted();
    const attemptController = new AbortController();
    this.current = attemptController;
    const timeoutMs = Math.min(this.deps.config.attemptTimeoutMs, Math.max(0, this.deadline - Date.now()));
    const timer = setTimeout(() => attemptController.abort(new AttemptTimedOut()), timeoutMs);
    const sentAt = performance.now();
    try {
      const body = this.input.body;
      const response = await this.client.send({
        method: this.input.httpMethod,
        path: upstreamPath(this.input),
        headers: upstreamRequestHeaders(this.input.clientHeaders, this.input.upstreamKey, {
          serverTimeoutSeconds: this.upstreamServerTimeout(),
          bearer: this.input.bearerAuth === true,
          streamedBody: this.streamedBody,
          clientsOwnKey: this.input.clientsOwnKey === true,
        }),
        ...(this.streamedBody || (body as Buffer).length > 0 ? { body } : {}),
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
      // A streamed body that failed on the client's side (it stalled: 408; the client left) is the answer, not upstream's.
      const bodyError = this.streamedBody ? (this.input.body as Readable).errored : null;
      if (bodyError instanceof GeminiError) throw bodyError;
      attempt.outcome = attemptController.signal.reason instanceof AttemptTimedOut ? "timeout" : "network";
      this.deps.logger.debug({ err, outcome: attempt.outcome }, "upstream attempt failed");
      return { result: { outcome: attempt.outcome }, attemptSignal: attemptController.signal };
    } finally {
      clearTimeout(timer);
      attempt.endedAt = Date.now();
      this.upstreamMs += performance.now() - sentAt;
      // After the headers, the attempt's body still stops on client abort or deadline: it is still `current`.
    }
  }

  /** A 2xx: head, then every chunk as it arrives, read by the tap on its way (or, for a route that must see the
   *  whole answer first, the body once its hook has read it). */
  private async streamThrough(response: UpstreamResponse, attemptSignal: AbortSignal): Promise<void> {
    this.record.httpStatus = response.status;
    const headers = clientResponseHeaders(response.headers);
    const hook = this.input.hook;
    if (hook?.headers) await hook.headers(headers);
    const tap = createTap(this.input.tap, this.input, {
      captureContent: this.input.captureResponseContent === true || this.deps.captureMessageContent === true,
    });
    const held: Buffer[] | undefined = hook?.body ? [] : undefined;
    if (!held) this.writeHead(response.status, headers);
    try {
      for await (const chunk of response.body) {
        this.record.firstChunkAt ??= Date.now();
        tap?.push(chunk);
        const before = hook?.beforeChunk?.(chunk);
        if (before) await before;
        if (held) held.push(chunk);
        else await this.out.chunk(chunk);
      }
    } catch (err) {
      if (tap) this.record.response = tap.finish().response;
      if (this.abortReason === undefined && !attemptSignal.aborted) this.record.errorType = "midstream_error";
      throw err;
    }
    const tapped = tap?.finish();
    if (tapped) {
      this.record.response = tapped.response;
      if (tapped.streamError) this.record.errorType = "midstream_error";
      else if (tapped.response.errorType) this.record.errorType = tapped.response.errorType;
      // A call that names its model only in the answer (a batch, a cache) is measured under that model.
      if (!this.record.model && tapped.response.modelVersion) this.record.model = tapped.response.modelVersion;
    }
    if (held && hook?.body) {
      const body = await hook.body(Buffer.concat(held), (pageToken) => this.fetchPage(pageToken));
      headers["content-length"] = String(body.length);
      this.writeHead(response.status, headers);
      await this.out.chunk(body);
    }
    this.out.end();
  }

  private async fetchPage(pageToken: string): Promise<Buffer | undefined> {
    const query = new URLSearchParams(this.input.query);
    query.set("pageToken", pageToken);
    const response = await this.client.send({
      method: "GET",
      path: upstreamPath({ path: this.input.path, query }),
      headers: upstreamRequestHeaders(this.input.clientHeaders, this.input.upstreamKey, {
        bearer: this.input.bearerAuth === true,
        clientsOwnKey: this.input.clientsOwnKey === true,
      }),
      signal: this.current!.signal, // the last attempt's: stop() aborts it
    });
    if (response.status !== 200) {
      await response.dump();
      return undefined;
    }
    return Buffer.from(await response.text());
  }

  /** Hands the upstream's error answer to the client unchanged; a 429 gets a Retry-After matching its RetryInfo. */
  private forwardError(response: UpstreamResponse, body: string, result: AttemptResult, decision: RetryDecision): void {
    const headers = clientResponseHeaders(response.headers);
    delete headers["content-length"];
    let answer = body;
    if (result.outcome === "429") {
      this.record.rateLimitedQuota = quotaOf(result);
      const delayMs = (result.error && retryDelayMs(result.error)) ?? (decision.retry ? undefined : decision.delayMs);
      if (delayMs !== undefined) setRetryAfter(headers, delayMs);
    } else if (response.status >= 500 && this.record.attempts.length > 1) {
      // The gateway retried already: the client's own retries should wait before trying again (headers for the SDKs
      // that read them, a RetryInfo in the envelope for those that read that).
      const waitMs = this.giveUpDelayMs();
      setRetryAfter(headers, waitMs);
      answer = withRetryInfo(body, waitMs) ?? body;
    }
    this.record.httpStatus = response.status;
    this.record.errorType = String(response.status);
    this.writeHead(response.status, headers);
    void this.out.chunk(Buffer.from(answer));
    this.out.end();
  }

  private gatewayError(error: GeminiError, errorType: string, waitMs?: number): void {
    this.record.httpStatus = error.code;
    this.record.errorType = errorType;
    this.headSent = true;
    const headers: Record<string, string> = { "server-timing": this.serverTiming() };
    if (waitMs !== undefined) setRetryAfter(headers, waitMs);
    writeGeminiError(this.out, error, headers, this.input.errors);
  }

  /** How long a client should wait after the gateway gave up: the backoff its next retry would have used (the
   *  ceiling, not a jittered draw), so SDKs that read Retry-After do not hammer a gateway that just retried. */
  private giveUpDelayMs(): number {
    const { baseMs, capMs } = this.deps.config.retry;
    return Math.max(MIN_GIVE_UP_DELAY_MS, Math.min(capMs, baseMs * 2 ** this.record.attempts.length));
  }

  /** The call ended by an exception: client gone, deadline, or upstream failure mid-body. */
  private fail(err: unknown): void {
    const reason = this.abortReason;
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
    } else if (!this.headSent && err instanceof GeminiError) {
      // A route's hook refused the answer before it was sent (e.g. its ownership store is down).
      return this.gatewayError(err, String(err.code));
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
    if (this.abortReason) throw this.abortReason;
  }

  /** Client disconnect or deadline: the first reason wins; the attempt or wait under way ends with it. */
  private stop(reason: CallAborted): void {
    if (this.abortReason) return;
    this.abortReason = reason;
    this.current?.abort(reason);
  }

  /** The generation parameters (and, with content capture on, the request contents) of an inference call. */
  private readRequest(): void {
    const { operation, body } = this.input;
    if (operation !== "generate_content" && operation !== "chat") return;
    let request = this.input.request;
    if (request === undefined && Buffer.isBuffer(body) && body.length > 0) {
      try {
        request = JSON.parse(body.toString("utf8"));
      } catch {
        return;
      }
    }
    if (!request || typeof request !== "object" || Array.isArray(request)) return;
    if (this.input.tap === "interaction") {
      const generationConfig = interactionRequestConfig(request);
      if (generationConfig) this.record.generationConfig = generationConfig;
      return;
    }
    if (operation === "chat") {
      const generationConfig = chatGenerationConfig(request);
      if (generationConfig) this.record.generationConfig = generationConfig;
      if (this.deps.captureMessageContent) {
        const captured = chatCapturedInput(request);
        if (captured) this.record.capturedInput = captured;
      }
      return;
    }
    const gemini = request as GenerateContentRequest & { generation_config?: GenerateContentRequest["generationConfig"] };
    const generationConfig = gemini.generationConfig ?? gemini.generation_config;
    if (generationConfig && typeof generationConfig === "object") this.record.generationConfig = generationConfig;
    if (this.deps.captureMessageContent && Array.isArray(gemini.contents)) {
      this.record.capturedInput = { contents: gemini.contents as Content[] };
      if (gemini.systemInstruction) this.record.capturedInput.systemInstruction = gemini.systemInstruction;
    }
  }
}

/** The least wait a give-up answer asks for. */
const MIN_GIVE_UP_DELAY_MS = 1000;

/** Retry-After in seconds (the standard) and in milliseconds (read first by the openai and Interactions SDKs). */
function setRetryAfter(headers: Record<string, string>, delayMs: number): void {
  if (!("retry-after" in headers)) headers["retry-after"] = String(Math.max(1, Math.ceil(delayMs / 1000)));
  if (!("retry-after-ms" in headers)) headers["retry-after-ms"] = String(Math.round(delayMs));
}

const retryInfo = (waitMs?: number): ErrorDetail[] | undefined => (waitMs === undefined ? undefined : [retryInfoDetail(waitMs)]);
const timeoutError = (waitMs?: number): GeminiError => new GeminiError(504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete.", retryInfo(waitMs));
const unreachableError = (waitMs?: number): GeminiError =>
  new GeminiError(503, "UNAVAILABLE", "The gateway could not reach the Gemini API after retrying; wait for the RetryInfo delay before trying again.", retryInfo(waitMs));

/** The request's log line: what happened, never keys, prompts or answers. */
function logTurn(logger: Logger, record: TurnRecord, recorded: RecordedTurn): void {
  const tokens = record.response?.tokens;
  logger.info(
    {
      tenant: record.tenant,
      model: record.model,
      route: record.route,
      status: record.httpStatus,
      attempts: record.attempts.length,
      ...(tokens
        ? { tokens: { input: promptTokens(tokens), output: tokens.output + tokens.thoughts, total: breakdownTotal(tokens) } }
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
