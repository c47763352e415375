// Chat sessions as a service: the gateway keeps the history, the client sends only the new message.
// A send: parse -> per-session queue (bounded) -> turn lease (one at a time, arrival order, across replicas) ->
// cap/trim -> ONE model call through the gateway's ModelCallService (retries, telemetry, TurnRecord) -> append the
// turn only when the reply is valid -> commit with a version compare-and-set.

import type { IncomingHttpHeaders } from "node:http";
import type { SessionConfig } from "../config/sessions.js";
import type { Caller } from "../gateway/auth.js";
import { generateTarget, type ModelCallService } from "../gateway/model-call.js";
import { GeminiError, notFound, resourceExhausted, unavailable } from "../gemini/errors.js";
import type { Content, GenerateContentRequest, GenerateContentResponse, GenerationConfig, UsageMetadata } from "../gemini/types.js";
import type { ResponseWriter } from "../gateway/response-writer.js";
import type { TurnRecord } from "../turn/record.js";
import type { TokenUsage } from "../gemini/usage.js";
import { noSessionTracing, type SessionMessageTrace, type SessionTracing } from "../turn/session-trace.js";
import { fitHistory, turnFromContents } from "./history.js";
import { historyOfInteraction, historySteps, interactionContents, interactionGenerationConfig, interactionSystemInstruction } from "./interactions.js";
import { newSessionId, sessionTurns } from "./store.js";
import type { GoneReason, SessionData, SessionPage, SessionStore, UsageTotals } from "./store.js";
import { parseCreateSession, parseSendMessage, validateNewTurn } from "./validate.js";

/** The one upstream path: the gateway's ModelCallService (retries, tap, TurnRecord, telemetry). */
export type ModelCaller = Pick<ModelCallService, "run">;

/** Telemetry's events of sessions; unreplicated_commit: a turn acknowledged before SESSION_REDIS_WAIT_REPLICAS replicas
 *  confirmed it. */
export type SessionEvent = { type: "evicted"; reason: Exclude<GoneReason, "deleted"> } | { type: "turn_cap_rejected" } | { type: "unreplicated_commit" };

/** The interactions a session makes, handed to the Interactions concern: the tenant's, in the session's chain, and
 *  measured already (src/interactions/tracker.ts adopt()). */
export type AdoptInteraction = (id: string, tenant: string, link: { root: string; depth: number }) => Promise<void>;

export interface SendOptions {
  stream: boolean;
  apiVersion?: string;
  clientHeaders: IncomingHttpHeaders;
  /** performance.now() when the request arrived: the model call's overhead counts the session work from it. */
  receivedAt?: number;
  signal: AbortSignal;
}

/** What a reply carries beside the upstream response. */
export interface TurnSummary {
  turn: number;
  turnsLeft: number;
  historyLength: number;
  trimmedTurns: number;
  appended: boolean;
  /** Why nothing was appended. */
  notAppendedReason?: string;
}

export interface SessionView {
  id: string;
  model: string;
  turns: number;
  maxTurns: number;
  history: Content[];
  createdAt: string;
}

export interface SessionExport {
  id: string;
  model: string;
  backend?: "interactions";
  history: Content[];
  turns: number;
  usage: UsageTotals;
  createdAt: string;
  lastUsedAt: string;
  systemInstruction?: Content;
  generationConfig?: GenerationConfig;
  safetySettings?: Array<{ category: string; threshold: string }>;
  tools?: unknown[];
  toolConfig?: unknown;
}

const JSON_CONTENT_TYPE = "application/json; charset=UTF-8";
const SSE_CONTENT_TYPE = "text/event-stream";

const GONE_MESSAGES: Record<GoneReason, string> = {
  capacity: "it was evicted to make room for newer sessions (SESSION_MAX reached; least recently used first)",
  bytes: "it was evicted to keep the session store under SESSION_MAX_BYTES (least recently used first)",
  ttl: "it expired after SESSION_TTL_SECONDS without use",
  deleted: "it was deleted",
};

export function sessionNotFound(id: string, gone: GoneReason | undefined): GeminiError {
  return notFound(gone ? `Session ${id} is gone: ${GONE_MESSAGES[gone]}.` : `Session ${id} was not found.`);
}

const emptyUsage = (): UsageTotals => ({ promptTokenCount: 0, candidatesTokenCount: 0, thoughtsTokenCount: 0, totalTokenCount: 0 });

/** The tokens of an interaction turn in the session's Gemini-shaped totals. */
function usageOfTokens(tokens: TokenUsage | undefined): UsageMetadata | undefined {
  if (!tokens) return undefined;
  const prompt = tokens.input + tokens.cached;
  return {
    promptTokenCount: prompt,
    candidatesTokenCount: tokens.output,
    thoughtsTokenCount: tokens.thoughts,
    totalTokenCount: prompt + tokens.output + tokens.thoughts + tokens.tool_use,
  };
}

function addUsage(totals: UsageTotals, usage: UsageMetadata | undefined): UsageTotals {
  return {
    promptTokenCount: totals.promptTokenCount + (usage?.promptTokenCount ?? 0),
    candidatesTokenCount: totals.candidatesTokenCount + (usage?.candidatesTokenCount ?? 0),
    thoughtsTokenCount: totals.thoughtsTokenCount + (usage?.thoughtsTokenCount ?? 0),
    totalTokenCount: totals.totalTokenCount + (usage?.totalTokenCount ?? 0),
  };
}

/** Why a finished model call cannot be appended, or undefined when it can. `interactions`: the reply is Google's to
 *  keep, so a visible answer is enough (the gateway holds no model turn). */
export function rejectReason(record: TurnRecord, status: number, interactions = false): string | undefined {
  if (record.clientAborted) return "the client went away before the reply was complete";
  if (status !== 200) return `the model call failed (HTTP ${status})`;
  if (record.errorType) return `the reply ended with an error (${record.errorType})`;
  const response = record.response;
  if (response?.blockReason) return `the prompt was blocked (${response.blockReason})`;
  if (interactions ? !response?.hasVisibleParts || !response.responseId : !response?.modelContent || response.modelContent.parts.length === 0) {
    const finish = response?.finishReasons[0];
    return `the reply has no content${finish ? ` (finishReason ${finish})` : ""}`;
  }
  return undefined;
}

function mergeGenerationConfig(base: GenerationConfig | undefined, over: GenerationConfig | undefined): GenerationConfig | undefined {
  if (!over) return base;
  if (!base) return over;
  const merged: GenerationConfig = { ...base, ...over };
  if (base.thinkingConfig && over.thinkingConfig) merged.thinkingConfig = { ...base.thinkingConfig, ...over.thinkingConfig };
  return merged;
}

export class SessionService {
  readonly #store: SessionStore;
  readonly #calls: ModelCaller;
  readonly #config: SessionConfig;
  readonly #onEvent: (event: SessionEvent) => void;
  /** Sends waiting or running per session in this process. */
  readonly #pending = new Map<string, number>();
  readonly #now: () => Date;
  readonly #tracing: SessionTracing;
  readonly #adoptInteraction: AdoptInteraction | undefined;

  constructor(options: {
    store: SessionStore;
    modelCalls: ModelCaller;
    config: SessionConfig;
    onEvent?: (event: SessionEvent) => void;
    tracing?: SessionTracing;
    now?: () => Date;
    adoptInteraction?: AdoptInteraction;
  }) {
    this.#adoptInteraction = options.adoptInteraction;
    this.#tracing = options.tracing ?? noSessionTracing;
    this.#store = options.store;
    this.#calls = options.modelCalls;
    this.#config = options.config;
    this.#onEvent = options.onEvent ?? (() => {});
    this.#now = options.now ?? (() => new Date());
  }

  get store(): SessionStore {
    return this.#store;
  }

  async create(caller: Caller, body: unknown): Promise<{ view: SessionView; warnings: string[] }> {
    const input = parseCreateSession(body, this.#config.strictAlternation);
    const turns = turnFromContents(input.history);
    if (turns > this.#config.maxTurns && this.#config.turnCapPolicy === "reject") {
      throw new GeminiError(400, "FAILED_PRECONDITION", `The history has ${turns} turns, more than the cap of ${this.#config.maxTurns} (SESSION_MAX_TURNS).`);
    }
    const now = this.#now().toISOString();
    const { warnings, backend, ...fields } = input;
    const session: SessionData = {
      id: newSessionId(),
      tenant: caller.tenant,
      ...fields,
      ...(backend === "interactions" ? { backend, chainTurns: 0 } : {}),
      usage: emptyUsage(),
      trimmedTurns: 0,
      createdAt: now,
      lastUsedAt: now,
      version: 0,
    };
    await this.#store.create(session);
    return { view: this.#view(session), warnings };
  }

  async export(caller: Caller, id: string, apiVersion = "v1beta"): Promise<SessionExport> {
    const s = await this.#owned(caller, id);
    const out: SessionExport = {
      id: s.id,
      model: s.model,
      ...(s.backend === "interactions" ? { backend: s.backend } : {}),
      history: s.backend === "interactions" ? [...(await this.#chainHistory(caller, s, apiVersion)), ...s.history] : s.history,
      turns: sessionTurns(s),
      usage: s.usage,
      createdAt: s.createdAt,
      lastUsedAt: s.lastUsedAt,
    };
    for (const key of ["systemInstruction", "generationConfig", "safetySettings", "tools", "toolConfig"] as const) {
      if (s[key] !== undefined) Object.assign(out, { [key]: s[key] });
    }
    return out;
  }

  async delete(caller: Caller, id: string): Promise<void> {
    await this.#owned(caller, id);
    await this.#store.delete(id);
  }

  list(caller: Caller, limit: number, cursor?: string): Promise<SessionPage> {
    return this.#store.list(caller.tenant, limit, cursor);
  }

  /**
   * Runs one turn and writes the whole reply to `out`: JSON for unary, Gemini's SSE chunks then one session event for
   * streams. Throws a GeminiError only before anything was written.
   */
  async send(caller: Caller, id: string, body: unknown, options: SendOptions, out: ResponseWriter): Promise<void> {
    const trace = this.#tracing.startMessage({
      sessionId: id,
      tenant: caller.tenant,
      store: this.#store.kind,
      stream: options.stream,
      clientHeaders: options.clientHeaders,
    });
    try {
      trace.end(await this.#send(caller, id, body, options, out, trace));
    } catch (err) {
      trace.end({ error: err });
      throw err;
    }
  }

  async #send(caller: Caller, id: string, body: unknown, options: SendOptions, out: ResponseWriter, trace: SessionMessageTrace): Promise<TurnSummary> {
    const message = parseSendMessage(body);
    await trace.step("lookup", () => this.#owned(caller, id)); // a 404 or 403-as-404 answers at once, without queueing
    const pending = this.#pending.get(id) ?? 0;
    if (pending >= this.#config.queueMax) {
      throw resourceExhausted(`Session ${id} already has ${pending} messages in progress (SESSION_QUEUE_MAX=${this.#config.queueMax}); wait for a reply before sending more.`);
    }
    this.#pending.set(id, pending + 1);
    try {
      const lease = await trace.step("acquire_turn", () => this.#store.acquireTurn(id, options.signal));
      try {
        return await this.#turn(caller, id, message, options, out, trace);
      } finally {
        await lease.release();
      }
    } finally {
      const left = (this.#pending.get(id) ?? 1) - 1;
      if (left === 0) this.#pending.delete(id);
      else this.#pending.set(id, left);
    }
  }

  async #turn(
    caller: Caller,
    id: string,
    message: ReturnType<typeof parseSendMessage>,
    options: SendOptions,
    out: ResponseWriter,
    trace: SessionMessageTrace,
  ): Promise<TurnSummary> {
    if (options.signal.aborted) throw new GeminiError(499, "CANCELLED", "The client went away while the message was queued.");
    const session = await trace.step("lookup", () => this.#owned(caller, id));
    validateNewTurn(session.history, message.turn, this.#config.strictAlternation);
    if (session.backend === "interactions") return this.#interactionTurn(caller, session, message, options, out, trace);
    let fitted;
    try {
      fitted = fitHistory(session.history, message.turn, {
        sessionId: id,
        maxTurns: this.#config.maxTurns,
        policy: this.#config.turnCapPolicy,
        pinFirstTurn: this.#config.pinFirstTurn,
        maxHistoryTokens: this.#config.maxHistoryTokens,
        lastHistoryTokens: session.lastHistoryTokens,
      });
    } catch (err) {
      this.#onEvent({ type: "turn_cap_rejected" });
      throw err;
    }
    const contents = [...fitted.history, message.turn];
    const request: GenerateContentRequest = { contents };
    if (session.systemInstruction) request.systemInstruction = session.systemInstruction;
    const generationConfig = mergeGenerationConfig(session.generationConfig, message.generationConfig);
    if (generationConfig) request.generationConfig = generationConfig;
    if (session.safetySettings) request.safetySettings = session.safetySettings;
    if (session.tools) request.tools = session.tools;
    if (session.toolConfig) request.toolConfig = session.toolConfig;

    const turn = session.trimmedTurns + fitted.trimmedTurns + turnFromContents(contents);
    const reply = options.stream ? new StreamReply(out) : new UnaryReply();
    const { record } = await this.#calls.run(
      {
        ...generateTarget(options.stream ? "sessionMessageStream" : "sessionMessage", options.apiVersion ?? "v1beta", session.model, options.stream),
        query: new URLSearchParams(options.stream ? { alt: "sse" } : {}),
        body: Buffer.from(JSON.stringify(request)),
        tenant: caller.tenant,
        upstreamKey: caller.upstreamKey,
        ...(caller.clientsOwnKey ? { clientsOwnKey: true } : {}),
        conversationId: id,
        sessionTurn: turn,
        trimmedTurns: fitted.trimmedTurns,
        captureResponseContent: true,
        request,
        clientHeaders: options.clientHeaders,
        ...(trace.context ? { parentContext: trace.context } : {}),
        ...(options.receivedAt !== undefined ? { receivedAt: options.receivedAt } : {}),
        signal: options.signal,
      },
      reply.writer,
    );

    const reason = rejectReason(record, reply.status);
    let history = session.history;
    let appended = false;
    let notAppendedReason = reason;
    if (!reason) {
      const usage = record.response?.usage;
      const next: SessionData = {
        ...session,
        history: [...contents, { ...record.response!.modelContent!, role: "model" }],
        usage: addUsage(session.usage, usage),
        trimmedTurns: session.trimmedTurns + fitted.trimmedTurns,
        lastUsedAt: this.#now().toISOString(),
        version: session.version + 1,
      };
      if (usage?.promptTokenCount !== undefined) next.lastHistoryTokens = usage.promptTokenCount + (usage.candidatesTokenCount ?? 0);
      else delete next.lastHistoryTokens;
      try {
        if (await trace.step("commit", () => this.#store.commit(next))) {
          history = next.history;
          appended = true;
        } else {
          notAppendedReason = "the session changed or vanished while the model was answering";
        }
      } catch (err) {
        notAppendedReason = notCommitted(err, options.stream === true);
      }
    }
    const summary: TurnSummary = {
      turn,
      turnsLeft: Math.max(0, this.#config.maxTurns - turnFromContents(history)),
      historyLength: history.length,
      trimmedTurns: appended ? fitted.trimmedTurns : 0,
      appended,
      ...(notAppendedReason ? { notAppendedReason } : {}),
    };
    reply.finish(summary, record, out);
    return summary;
  }

  /** A message of an interactions-backend session: one interaction continuing the chain from its head (the first one
   *  carries an imported history as its input steps); the head moves when the reply is a visible answer. */
  async #interactionTurn(
    caller: Caller,
    session: SessionData,
    message: ReturnType<typeof parseSendMessage>,
    options: SendOptions,
    out: ResponseWriter,
    trace: SessionMessageTrace,
  ): Promise<TurnSummary> {
    const turn = sessionTurns(session) + 1;
    if (turn > this.#config.maxTurns) {
      this.#onEvent({ type: "turn_cap_rejected" });
      // Google holds the history: the gateway cannot slide it, whatever SESSION_TURN_CAP_POLICY says.
      throw new GeminiError(
        400,
        "FAILED_PRECONDITION",
        `Session ${session.id} has reached the cap of ${this.#config.maxTurns} turns (SESSION_MAX_TURNS). Its history is held by the Interactions API and cannot be trimmed: start a new session, with a summary of this one as its history if the model needs it.`,
      );
    }
    const input =
      session.history.length > 0
        ? [...historySteps(session.history), { type: "user_input", content: interactionContents(message.turn.parts) }]
        : interactionContents(message.turn.parts);
    const generationConfig = interactionGenerationConfig(mergeGenerationConfig(session.generationConfig, message.generationConfig));
    const systemInstruction = interactionSystemInstruction(session.systemInstruction);
    const request = {
      model: session.model,
      input,
      ...(session.interactionHead ? { previous_interaction_id: session.interactionHead } : {}),
      ...(systemInstruction ? { system_instruction: systemInstruction } : {}),
      ...(generationConfig ? { generation_config: generationConfig } : {}),
      ...(options.stream ? { stream: true } : {}),
    };
    const apiVersion = options.apiVersion ?? "v1beta";
    const reply = options.stream ? new StreamReply(out) : new UnaryReply();
    const { record } = await this.#calls.run(
      {
        route: options.stream ? "sessionMessageStream" : "sessionMessage",
        operation: "chat",
        apiVersion,
        model: session.model,
        httpMethod: "POST",
        path: `/${apiVersion}/interactions`,
        stream: options.stream,
        tap: "interaction",
        once: true,
        query: new URLSearchParams(),
        body: Buffer.from(JSON.stringify(request)),
        request,
        tenant: caller.tenant,
        upstreamKey: caller.upstreamKey,
        ...(caller.clientsOwnKey ? { clientsOwnKey: true } : {}),
        conversationId: session.id,
        sessionTurn: turn,
        captureResponseContent: true,
        clientHeaders: options.clientHeaders,
        ...(trace.context ? { parentContext: trace.context } : {}),
        ...(options.receivedAt !== undefined ? { receivedAt: options.receivedAt } : {}),
        signal: options.signal,
      },
      reply.writer,
    );

    const createdId = record.response?.responseId;
    if (createdId && this.#adoptInteraction) {
      try {
        await this.#adoptInteraction(createdId, caller.tenant, { root: session.id, depth: turn });
      } catch {
        // The turn stands without it: the interaction is reached through the session either way.
      }
    }
    let notAppendedReason = rejectReason(record, reply.status, true);
    let appended = false;
    let turns = turn - 1;
    if (!notAppendedReason) {
      const next: SessionData = {
        ...session,
        history: [],
        interactionHead: record.response!.responseId!,
        chainTurns: turn,
        usage: addUsage(session.usage, usageOfTokens(record.response?.tokens)),
        lastUsedAt: this.#now().toISOString(),
        version: session.version + 1,
      };
      try {
        if (await trace.step("commit", () => this.#store.commit(next))) {
          appended = true;
          turns = turn;
        } else {
          notAppendedReason = "the session changed or vanished while the model was answering";
        }
      } catch (err) {
        notAppendedReason = notCommitted(err, options.stream === true);
      }
    }
    const summary: TurnSummary = {
      turn,
      turnsLeft: Math.max(0, this.#config.maxTurns - turns),
      historyLength: turns * 2,
      trimmedTurns: 0,
      appended,
      ...(notAppendedReason ? { notAppendedReason } : {}),
    };
    reply.finish(summary, record, out);
    return summary;
  }

  /** The history Google holds for an interactions-backend session: its chain, read from the head back to the first
   *  interaction (one GET each, with their input; no tokens counted: nothing is generated). */
  async #chainHistory(caller: Caller, session: SessionData, apiVersion: string): Promise<Content[]> {
    const turns: Content[][] = [];
    let id = session.interactionHead;
    // Bounded by the turns the session counted: a chain never walks further than the session's own turns.
    for (let step = 0; id !== undefined && step < (session.chainTurns ?? 0); step++) {
      const reply = new UnaryReply();
      await this.#calls.run(
        {
          route: "interactions.get",
          operation: "interactions.get",
          apiVersion,
          model: session.model,
          httpMethod: "GET",
          path: `/${apiVersion}/interactions/${encodeURIComponent(id)}`,
          stream: false,
          tap: "none",
          query: new URLSearchParams({ include_input: "true" }),
          body: Buffer.alloc(0),
          tenant: caller.tenant,
          upstreamKey: caller.upstreamKey,
          conversationId: session.id,
          clientHeaders: {},
          signal: new AbortController().signal,
        },
        reply.writer,
      );
      const interaction = reply.json();
      if (reply.status !== 200 || !interaction) {
        throw unavailable(`Session ${session.id}: its interaction ${id} could not be read (HTTP ${reply.status}); the history cannot be exported now.`);
      }
      turns.unshift(historyOfInteraction(interaction));
      id = typeof interaction.previous_interaction_id === "string" ? interaction.previous_interaction_id : undefined;
    }
    return turns.flat();
  }

  async #owned(caller: Caller, id: string): Promise<SessionData> {
    const found = await this.#store.lookup(id);
    // Only the session's own tenant learns why it is gone; to anyone else it never existed.
    if (!found.session) throw sessionNotFound(id, found.goneTenant === caller.tenant ? found.gone : undefined);
    if (found.session.tenant !== caller.tenant) throw sessionNotFound(id, undefined);
    return found.session;
  }

  #view(session: SessionData): SessionView {
    return {
      id: session.id,
      model: session.model,
      turns: sessionTurns(session),
      maxTurns: this.#config.maxTurns,
      history: session.history,
      createdAt: session.createdAt,
    };
  }
}

/** Why a commit that failed appended nothing, for the reply's session fields: a refusal (SESSION_MAX_BYTES), or a
 *  store outage once a stream's answer went out. A unary reply is not written yet: the outage is its answer (503,
 *  nothing appended, so sending again is safe; the model's tokens are counted all the same). */
function notCommitted(err: unknown, streamed: boolean): string {
  if (!(err instanceof GeminiError) || (err.code === 503 && !streamed)) throw err;
  return err.message;
}

/** Unary: capture the upstream answer, then write it once with the session fields beside it. */
class UnaryReply {
  status = 0;
  #headers: Record<string, string> = {};
  readonly #chunks: Buffer[] = [];
  readonly writer: ResponseWriter = {
    head: (status, headers) => {
      this.status = status;
      this.#headers = headers;
    },
    chunk: (bytes) => {
      this.#chunks.push(bytes);
    },
    end: () => {},
  };

  /** The captured answer as a JSON object, when it is one. */
  json(): Record<string, unknown> | undefined {
    try {
      const parsed: unknown = JSON.parse(Buffer.concat(this.#chunks).toString("utf8"));
      return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  }

  finish(summary: TurnSummary, record: TurnRecord, out: ResponseWriter): void {
    const body = Buffer.concat(this.#chunks);
    if (this.status !== 200) {
      // Gemini's error envelope as upstream (or the gateway) wrote it; the header says the turn was not kept.
      out.head(this.status || 502, { ...this.#headers, "x-gateway-session-appended": "false" });
      void out.chunk(body);
      out.end();
      return;
    }
    const upstream = JSON.parse(body.toString("utf8")) as GenerateContentResponse;
    const response = record.response;
    const reply = {
      ...upstream,
      text: response?.text ?? "",
      finishReason: response?.finishReasons[0] ?? null,
      // An interaction carries its own `usage`; a generate answer's usageMetadata is repeated (or null).
      ...("usage" in upstream ? {} : { usageMetadata: response?.usage ?? upstream.usageMetadata ?? null }),
      ...summary,
    };
    out.head(200, { "content-type": JSON_CONTENT_TYPE });
    void out.chunk(Buffer.from(`${JSON.stringify(reply, null, 2)}\n`));
    out.end();
  }
}

/** Stream: forward Gemini's SSE chunks as they arrive, then one last event with the session fields. */
class StreamReply {
  status = 0;
  /** The gateway broke the response off (mid-stream error): pass that on rather than end cleanly. */
  #aborted = false;
  readonly writer: ResponseWriter;

  constructor(out: ResponseWriter) {
    this.writer = {
      head: (status, headers) => {
        this.status = status;
        const forwarded = Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== "content-length"));
        out.head(status, status === 200 ? { ...forwarded, "content-type": SSE_CONTENT_TYPE } : forwarded);
      },
      chunk: (bytes) => out.chunk(bytes),
      end: () => {},
      abort: () => {
        this.#aborted = true;
      },
    };
  }

  finish(summary: TurnSummary, record: TurnRecord, out: ResponseWriter): void {
    if (record.clientAborted || this.#aborted) {
      (out.abort ?? out.end)();
      return;
    }
    if (this.status === 200) {
      const event = {
        text: record.response?.text ?? "",
        finishReason: record.response?.finishReasons[0] ?? null,
        usageMetadata: record.response?.usage ?? null,
        ...summary,
      };
      void out.chunk(Buffer.from(`data: ${JSON.stringify(event)}\r\n\r\n`));
    }
    out.end();
  }
}
