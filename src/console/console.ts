// The operator console's service: it sees every finished turn (one O(1) record into fixed rings) and answers the
// console API from them, within what the caller may see (an admin: everything; a tenant key: its own tenant).

import type { Content } from "../gemini/types.js";
import { finishReasonLabel, truncationCause } from "../gemini/finish.js";
import { breakdownTotal } from "../gemini/usage.js";
import type { RecordedTurn, TurnRecord } from "../turn/record.js";
import type {
  ConversationDetail,
  ConversationList,
  AttemptView,
  ConversationTurn,
  Overview,
  TurnDetail,
  TurnList,
  TurnSummary,
} from "./api-types.js";
import { prometheusOverview, type PromQl } from "./prometheus-overview.js";
import { overviewOf, TenantSeries } from "./series.js";
import { TurnLog } from "./turn-log.js";

/** Who is asking: an admin (ADMIN_KEYS) sees every tenant; a tenant key sees its own. */
export type ConsoleScope = { role: "admin" } | { role: "tenant"; tenant: string };

/** A session as the console shows it (read from the session store by the server's wiring). */
export interface ConsoleSession {
  id: string;
  tenant: string;
  model: string;
  history: Content[];
  trimmedTurns: number;
}

export interface ConsoleOptions {
  /** Names this replica in turn ids. */
  replica: string;
  /** Turns kept in memory (CONSOLE_TURNS). */
  turns: number;
  /** Folds a tenant onto the bounded set the metrics use (its series are kept per folded tenant). */
  foldTenant(tenant: string): string;
  /** Message texts may be shown (content capture is on). */
  showContent: boolean;
  /** The session turn cap, shown on a session's page. */
  maxTurns: number;
  /** PROMETHEUS_URL: the admin overview is the fleet's, from Prometheus. */
  prometheus?: PromQl;
  /** Reads a session (undefined when there is none or it is gone). */
  session(id: string): Promise<ConsoleSession | undefined>;
  /** A session's export, as its tenant gets it from GET /v1/sessions/{id}. */
  exportSession(tenant: string, id: string): Promise<unknown>;
  now?: () => number;
}

export interface TurnFilters {
  tenant?: string;
  model?: string;
  route?: string;
  finishReason?: string;
  error?: string;
  conversation?: string;
  limit?: number;
}

const DEFAULT_LIST_LIMIT = 200;
const SESSION_ROUTES: ReadonlySet<string> = new Set(["sessionMessage", "sessionMessageStream"]);

const visible = (scope: ConsoleScope, tenant: string): boolean => scope.role === "admin" || scope.tenant === tenant;

/** The console's view of a finished turn (pure: no clock, no state). Built field by field rather than with
 *  conditional spreads: it runs once per call on the hot path, and each spread allocated an object. */
export function turnView(turn: TurnRecord, recorded: RecordedTurn): Omit<TurnDetail, "id"> {
  const { costUsd } = recorded;
  const response = turn.response;
  const tokens = response?.tokens ?? { input: 0, cached: 0, output: 0, thoughts: 0, tool_use: 0 };
  const finish = response && !response.pending && response.finishReasons.length + (response.blockReason ? 1 : 0) > 0 ? response : undefined;
  const truncation = finish ? truncationCause(finish) : undefined;
  let retries = 0;
  const attemptList = turn.attempts.map((a) => {
    const attempt: AttemptView = { startedAt: a.startedAt, durationMs: Math.max(0, a.endedAt - a.startedAt), outcome: a.outcome };
    if (a.httpStatus !== undefined) attempt.httpStatus = a.httpStatus;
    if (a.quota) attempt.quota = a.quota;
    if (a.retry) {
      attempt.retry = { ...a.retry };
      retries++;
    }
    return attempt;
  });
  const view: Omit<TurnDetail, "id"> = {
    at: turn.startedAt,
    tenant: turn.tenant,
    model: turn.model.startsWith("models/") ? turn.model.slice("models/".length) : turn.model,
    route: turn.route,
    operation: turn.operation,
    stream: turn.stream,
    httpStatus: turn.httpStatus,
    tokens: { input: tokens.input, cached: tokens.cached, output: tokens.output, thoughts: tokens.thoughts, tool_use: tokens.tool_use, total: breakdownTotal(tokens) },
    latencyMs: Math.max(0, turn.endedAt - turn.startedAt),
    attempts: turn.attempts.length,
    retries,
    attemptList,
    apiVersion: turn.apiVersion,
    retryBudgetExhausted: turn.retryBudgetExhausted,
    clientAborted: turn.clientAborted,
  };
  if (turn.errorType) view.errorType = turn.errorType;
  if (finish) view.finishReason = finishReasonLabel(finish);
  if (truncation) view.truncation = truncation;
  if (costUsd !== undefined) view.costUsd = costUsd;
  if (turn.conversationId !== undefined) view.conversationId = turn.conversationId;
  if (turn.sessionTurn !== undefined) view.sessionTurn = turn.sessionTurn;
  if (recorded.traceId) view.traceId = recorded.traceId;
  if (turn.refusedBy) view.refusedBy = turn.refusedBy;
  if (turn.generationConfig) view.generationConfig = { ...turn.generationConfig };
  if (turn.firstChunkAt !== undefined) view.firstChunkMs = Math.max(0, turn.firstChunkAt - turn.startedAt);
  if (turn.gatewayOverheadMs !== undefined) view.gatewayOverheadMs = Math.round(turn.gatewayOverheadMs * 1000) / 1000;
  if (turn.trimmedTurns) view.trimmedTurns = turn.trimmedTurns;
  if (turn.rateLimitedQuota) view.rateLimitedQuota = turn.rateLimitedQuota;
  if (response?.blockReason) view.blockReason = response.blockReason;
  if (response?.responseId) view.responseId = response.responseId;
  if (response?.modelVersion) view.modelVersion = response.modelVersion;
  return view;
}

/** The summary row of a turn (the detail without its detail-only fields). */
function summaryOf(turn: TurnDetail): TurnSummary {
  const {
    attemptList: _attempts,
    apiVersion: _apiVersion,
    generationConfig: _config,
    firstChunkMs: _firstChunk,
    gatewayOverheadMs: _overhead,
    trimmedTurns: _trimmed,
    rateLimitedQuota: _quota,
    blockReason: _block,
    responseId: _responseId,
    modelVersion: _modelVersion,
    retryBudgetExhausted: _budget,
    clientAborted: _aborted,
    ...summary
  } = turn;
  return summary;
}

/** The text of a content's parts (thoughts left out), and its length. */
function textOf(content: Content | undefined, show: boolean): { text?: string; chars: number } | undefined {
  if (!content) return undefined;
  const text = (content.parts ?? [])
    .filter((part) => !(part as { thought?: boolean }).thought)
    .map((part) => (typeof part.text === "string" ? part.text : ""))
    .join("");
  return show ? { text, chars: text.length } : { chars: text.length };
}

export class OperatorConsole {
  readonly #log: TurnLog;
  readonly #series = new Map<string, TenantSeries>();
  readonly #now: () => number;

  constructor(private readonly options: ConsoleOptions) {
    this.#log = new TurnLog({ capacity: options.turns, maxConversations: 1000, maxTurnsPerConversation: 500, replica: options.replica });
    this.#now = options.now ?? Date.now;
  }

  /** A finished turn, as the sink recorded it (its trace id and cost): O(1), bounded memory. */
  record(turn: TurnRecord, recorded: RecordedTurn): void {
    const { costUsd } = recorded;
    const view = turnView(turn, recorded);
    const kind = SESSION_ROUTES.has(turn.route) ? "session" : turn.route.startsWith("interactions.") ? "interaction_chain" : "tagged";
    const stored = this.#log.add(view, kind);
    const tenant = this.options.foldTenant(turn.tenant);
    let series = this.#series.get(tenant);
    if (!series) this.#series.set(tenant, (series = new TenantSeries()));
    const errorType = turn.refusedBy ? `limit:${turn.refusedBy}` : turn.errorType;
    series.add({
      at: turn.endedAt,
      model: stored.model,
      failed: turn.httpStatus >= 400 || errorType !== undefined,
      ...(errorType ? { errorType } : {}),
      rateLimited: turn.httpStatus === 429,
      retries: stored.retries,
      tokens: stored.tokens,
      costUsd: costUsd ?? 0,
      responded: stored.finishReason !== undefined,
      ...(stored.truncation ? { truncation: stored.truncation } : {}),
      latencyMs: stored.latencyMs,
    });
  }

  async overview(scope: ConsoleScope): Promise<Overview> {
    const now = this.#now();
    if (scope.role === "admin" && this.options.prometheus) {
      try {
        return await prometheusOverview(this.options.prometheus, now);
      } catch (err) {
        return { ...overviewOf(this.#series, now), sourceError: err instanceof Error ? err.message : String(err) };
      }
    }
    const series =
      scope.role === "admin" ? this.#series : new Map([...this.#series].filter(([tenant]) => tenant === this.options.foldTenant(scope.tenant)));
    return overviewOf(series, now);
  }

  turns(scope: ConsoleScope, filters: TurnFilters): TurnList {
    const limit = Math.min(Math.max(1, filters.limit ?? DEFAULT_LIST_LIMIT), this.#log.capacity);
    const facets = { tenants: new Set<string>(), models: new Set<string>(), routes: new Set<string>(), finishReasons: new Set<string>(), errors: new Set<string>() };
    const turns: TurnSummary[] = [];
    for (const turn of this.#log.newestFirst()) {
      if (!visible(scope, turn.tenant)) continue;
      const error = errorOf(turn);
      facets.tenants.add(turn.tenant);
      facets.models.add(turn.model);
      facets.routes.add(turn.route);
      if (turn.finishReason) facets.finishReasons.add(turn.finishReason);
      if (error) facets.errors.add(error);
      if (turns.length >= limit) continue;
      if (filters.tenant && turn.tenant !== filters.tenant) continue;
      if (filters.model && turn.model !== filters.model) continue;
      if (filters.route && turn.route !== filters.route) continue;
      if (filters.finishReason && turn.finishReason !== filters.finishReason) continue;
      if (filters.error && error !== filters.error) continue;
      if (filters.conversation && turn.conversationId !== filters.conversation) continue;
      turns.push(summaryOf(turn));
    }
    const sorted = (set: Set<string>): string[] => [...set].sort();
    return {
      turns,
      facets: { tenants: sorted(facets.tenants), models: sorted(facets.models), routes: sorted(facets.routes), finishReasons: sorted(facets.finishReasons), errors: sorted(facets.errors) },
      capacity: this.#log.capacity,
    };
  }

  turn(scope: ConsoleScope, id: string): TurnDetail | undefined {
    const turn = this.#log.get(id);
    return turn && visible(scope, turn.tenant) ? turn : undefined;
  }

  conversations(scope: ConsoleScope, query = ""): ConversationList {
    return {
      conversations: this.#log
        .conversations()
        .filter((c) => visible(scope, c.tenant) && c.id.startsWith(query))
        .map((c) => ({ id: c.id, kind: c.kind, tenant: c.tenant, model: c.model, turns: c.turnCount, lastAt: c.lastAt })),
    };
  }

  /** A conversation's turns in order: a session's from its history (with this replica's records of its turns), or the
   *  turns seen with its `x-gateway-session` tag. Undefined when the caller may not see it or nothing is known. */
  async conversation(scope: ConsoleScope, id: string): Promise<ConversationDetail | undefined> {
    const seen = this.#log.conversation(id);
    const session = await this.options.session(id);
    const tenant = session?.tenant ?? seen?.entry.tenant;
    if (tenant === undefined || !visible(scope, tenant)) return undefined;
    // One entry per turn: the call that answered it (or, when none did, the last that tried), and how many calls it took.
    const records = new Map<number, TurnDetail>();
    const calls = new Map<number, number>();
    let lastAt = seen?.entry.lastAt ?? 0;
    seen?.turns.forEach((turn, i) => {
      const n = turn.sessionTurn ?? i + 1;
      const kept = records.get(n);
      if (!kept || turn.httpStatus < 400 || kept.httpStatus >= 400) records.set(n, turn);
      calls.set(n, (calls.get(n) ?? 0) + 1);
      lastAt = Math.max(lastAt, turn.at);
    });
    const turnList: ConversationTurn[] = [];
    const messages = session ? pairs(session.history) : [];
    const firstHeld = session ? session.trimmedTurns + 1 : 1;
    const numbers = new Set<number>([...records.keys(), ...messages.map((_, i) => firstHeld + i)]);
    for (const n of [...numbers].sort((a, b) => a - b)) {
      const record = records.get(n);
      const message = messages[n - firstHeld];
      turnList.push({
        turn: n,
        ...(record ? { ...turnFigures(record), calls: calls.get(n)! } : {}),
        ...(message?.user ? { user: textOf(message.user, this.options.showContent)! } : {}),
        ...(message?.model ? { model: textOf(message.model, this.options.showContent)! } : {}),
      });
    }
    return {
      id,
      kind: session ? "session" : (seen?.entry.kind ?? "tagged"),
      tenant,
      model: session?.model ?? seen?.entry.model ?? "",
      turns: turnList.length,
      lastAt,
      turnList,
      contentShown: this.options.showContent,
      ...(session ? { exportPath: `/ui/api/conversations/${encodeURIComponent(id)}/export`, trimmedTurns: session.trimmedTurns, maxTurns: this.options.maxTurns } : {}),
    };
  }

  /** A session's export; undefined when the caller may not see it (or it is no session). */
  async exportConversation(scope: ConsoleScope, id: string): Promise<unknown> {
    const session = await this.options.session(id);
    if (!session || !visible(scope, session.tenant)) return undefined;
    return this.options.exportSession(session.tenant, id);
  }
}

function turnFigures(record: TurnDetail): Omit<ConversationTurn, "turn" | "user" | "model"> {
  return {
    turnId: record.id,
    at: record.at,
    promptTokens: record.tokens.input + record.tokens.cached,
    outputTokens: record.tokens.output,
    thoughtsTokens: record.tokens.thoughts,
    ...(record.costUsd !== undefined ? { costUsd: record.costUsd } : {}),
    ...(record.finishReason ? { finishReason: record.finishReason } : {}),
    ...(record.truncation ? { truncation: record.truncation } : {}),
    ...(record.trimmedTurns ? { trimmedTurns: record.trimmedTurns } : {}),
    httpStatus: record.httpStatus,
  };
}

/** What the errors filter calls a turn's failure: its error type, or the tenant limit that refused it. */
function errorOf(turn: TurnSummary): string | undefined {
  if (turn.refusedBy) return `limit:${turn.refusedBy}`;
  return turn.errorType;
}

/** A history as turns: each user content with the model content after it. */
function pairs(history: Content[]): Array<{ user?: Content; model?: Content }> {
  const turns: Array<{ user?: Content; model?: Content }> = [];
  for (const content of history) {
    if (content.role === "model") {
      const last = turns.at(-1);
      if (last && !last.model) last.model = content;
      else turns.push({ model: content });
    } else turns.push({ user: content });
  }
  return turns;
}
