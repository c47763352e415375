// The demo's traffic generator: simulated users holding multi-turn chats with a gateway over plain HTTP, through the
// session API and through the proxy routes (unary and SSE), with occasional truncations (small maxOutputTokens, tiny
// thinking budgets) and, when it knows the simulator, fault episodes scripted through `PUT /_sim/faults`
// (429 bursts, a per-day quota, an overload, a truncation spike). Bounded by a duration and a call rate.

import { setTimeout as sleep } from "node:timers/promises";
import type { Content, GenerateContentResponse, GenerationConfig } from "../gemini/types.js";
import type { FaultRule } from "../simulator/faults.js";
import { seededRandom } from "../simulator/generation.js";

export interface TrafficOptions {
  /** The gateway's base URL. */
  target: string;
  /** Gateway keys; user i presents keys[i % keys.length] (one tenant per key). */
  keys: string[];
  /** Concurrent simulated users. */
  users: number;
  /** Upper bound on model calls per second, all users together. */
  rate: number;
  /** Stop after this long; undefined = until stop(). */
  durationMs?: number;
  /** The gateway's SESSION_MAX_TURNS: some session chats are made longer, to hit it. */
  sessionMaxTurns: number;
  /** Share of messages sent with a small maxOutputTokens or a tiny thinking budget (0 = never). */
  truncationShare: number;
  /** The simulator's base URL, for fault episodes; none without it. */
  simulator?: string;
  /** Pause between fault episodes; each episode lasts `episodeMs`. */
  episodeIntervalMs: number;
  episodeMs: number;
  seed: number;
  /** One line per notable event (episodes, start, stop). */
  log?: (line: string) => void;
}

export const DEFAULT_TRAFFIC_OPTIONS: Omit<TrafficOptions, "target"> = {
  keys: ["demo-key"],
  users: 6,
  rate: 5,
  sessionMaxTurns: 12,
  truncationShare: 0.06,
  episodeIntervalMs: 30_000,
  episodeMs: 8_000,
  seed: 42,
};

export const MODELS = ["gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.0-flash", "gemini-2.5-pro"] as const;

/** Fault episodes, in the order they run (then again from the start). */
export const EPISODES: ReadonlyArray<{ name: string; rules: FaultRule[] }> = [
  // Per-minute 429s with a short RetryInfo delay: the gateway retries them away.
  {
    name: "429 burst (per-minute quota, retried by the gateway)",
    rules: [{ fault: { status: 429, retryDelay: "0.2s", quotaId: "GenerateRequestsPerMinutePerProjectPerModel" }, probability: 0.5 }],
  },
  // Per-day 429s are not retried: clients receive them.
  {
    name: "per-day quota exhausted (429s handed to clients)",
    rules: [{ fault: { status: 429, quotaId: "GenerateRequestsPerDayPerProjectPerModel" }, probability: 0.3 }],
  },
  // Most attempts fail with 503: retries, then the retry budget runs out.
  { name: "model overloaded (503s, retry budget)", rules: [{ fault: { status: 503 }, probability: 0.9 }] },
  { name: "truncation spike (finishReason MAX_TOKENS)", rules: [{ fault: { kind: "finish", finishReason: "MAX_TOKENS" }, probability: 0.6 }] },
];

export interface TrafficStats {
  /** Model calls by kind: session, session_stream, generate, stream. */
  calls: Record<string, number>;
  /** Responses by HTTP status (model calls and session management alike). */
  statuses: Record<string, number>;
  sessionsCreated: number;
  turnCapHits: number;
  episodes: number;
  /** Requests that failed without an HTTP answer (connection refused, reset). */
  networkErrors: number;
}

export interface RunningTraffic {
  stats: TrafficStats;
  /** Resolves when every user stopped (duration reached or stop()). */
  done: Promise<TrafficStats>;
  stop(): Promise<TrafficStats>;
}

const PROMPTS = [
  "Explain quantum entanglement in one sentence",
  "Now explain it to a five-year-old",
  "What was the first thing I asked you?",
  "Suggest a name for a bakery that only sells bread made with rye",
  "Summarise the plot of Hamlet without naming any character",
  "Write a haiku about a rate limiter",
  "Which is heavier, a kilogram of feathers or a kilogram of lead?",
  "List three uses of a paperclip that are not holding paper",
  "Translate 'the gateway kept the history' into French",
  "Why is the sky blue? Keep it short",
];

/** A truncating generation config: visible output cut short, or a thinking model whose thoughts eat the budget. */
export function truncatingConfig(model: string, pick: number): GenerationConfig {
  const thinks = model.startsWith("gemini-2.5-flash") && !model.endsWith("lite");
  return thinks && pick < 0.5
    ? { maxOutputTokens: 32, thinkingConfig: { thinkingBudget: 64 } }
    : { maxOutputTokens: 8, ...(thinks ? { thinkingConfig: { thinkingBudget: 0 } } : {}) };
}

/** Spaces calls `intervalMs` apart, across all callers. */
class RateLimiter {
  private next = 0;
  constructor(private readonly intervalMs: number) {}
  async take(signal: AbortSignal): Promise<void> {
    const now = Date.now();
    const at = Math.max(now, this.next);
    this.next = at + this.intervalMs;
    if (at > now) await sleep(at - now, undefined, { signal });
  }
}

/** The chunks of an SSE body (`data: <json>` events). */
function sseResponses(body: string): GenerateContentResponse[] {
  return body
    .split(/\r?\n\r?\n/)
    .map((event) => event.trim())
    .filter((event) => event.startsWith("data: "))
    .map((event) => JSON.parse(event.slice("data: ".length)) as GenerateContentResponse);
}

function visibleText(responses: GenerateContentResponse[]): string {
  return responses
    .flatMap((r) => r.candidates?.[0]?.content?.parts ?? [])
    .filter((p) => !p.thought && typeof p.text === "string")
    .map((p) => p.text)
    .join("");
}

export function startTraffic(input: Partial<TrafficOptions> & { target: string }): RunningTraffic {
  const options: TrafficOptions = { ...DEFAULT_TRAFFIC_OPTIONS, ...input };
  const log = options.log ?? (() => undefined);
  const controller = new AbortController();
  const signal = controller.signal;
  const limiter = new RateLimiter(1000 / options.rate);
  const stats: TrafficStats = { calls: {}, statuses: {}, sessionsCreated: 0, turnCapHits: 0, episodes: 0, networkErrors: 0 };
  const base = options.target.replace(/\/+$/, "");

  const request = async (key: string, method: string, path: string, body?: unknown): Promise<{ status: number; text: string } | undefined> => {
    try {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { "x-goog-api-key": key, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
      const text = await res.text();
      stats.statuses[res.status] = (stats.statuses[res.status] ?? 0) + 1;
      return { status: res.status, text };
    } catch {
      // connection refused or reset: counted; the user goes on with its next chat
      if (!signal.aborted) stats.networkErrors += 1;
      return undefined;
    }
  };

  const modelCall = async (kind: string, key: string, path: string, body: unknown) => {
    await limiter.take(signal);
    if (signal.aborted) return undefined;
    stats.calls[kind] = (stats.calls[kind] ?? 0) + 1;
    return request(key, "POST", path, body);
  };

  /** A chat held by the gateway: create, send until done or capped, then delete it (or walk away). */
  const sessionChat = async (key: string, random: () => number): Promise<void> => {
    const model = MODELS[Math.floor(random() * MODELS.length)]!;
    const created = await request(key, "POST", "/v1/sessions", { model });
    if (!created || created.status !== 201) return;
    stats.sessionsCreated += 1;
    const { id } = JSON.parse(created.text) as { id: string };
    // One chat in four runs past the turn cap.
    const turns = random() < 0.25 ? options.sessionMaxTurns + 2 : 2 + Math.floor(random() * Math.min(6, options.sessionMaxTurns - 1));
    for (let turn = 0; turn < turns && !signal.aborted; turn += 1) {
      const stream = random() < 0.4;
      const message = PROMPTS[(turn + Math.floor(random() * PROMPTS.length)) % PROMPTS.length]!;
      const truncate = random() < options.truncationShare;
      const body = { message, ...(truncate ? { generationConfig: truncatingConfig(model, random()) } : {}) };
      const res = await modelCall(stream ? "session_stream" : "session", key, `/v1/sessions/${id}/messages${stream ? "?stream=sse" : ""}`, body);
      if (!res) return;
      if (res.status === 400 && res.text.includes("FAILED_PRECONDITION")) {
        stats.turnCapHits += 1;
        break;
      }
      if (res.status === 404) return; // evicted: the user starts over
    }
    // Most users tidy up; the others leave the session to the TTL (or to the LRU).
    if (random() < 0.7) await request(key, "DELETE", `/v1/sessions/${id}`);
  };

  /** A chat the client holds itself, like an SDK's ChatSession, through the proxy routes. */
  const proxyChat = async (key: string, user: number, random: () => number): Promise<void> => {
    const model = MODELS[Math.floor(random() * MODELS.length)]!;
    const history: Content[] = [];
    const conversation = `demo-${user}-${Math.floor(random() * 1e9).toString(36)}`;
    const turns = 2 + Math.floor(random() * 6);
    for (let turn = 0; turn < turns && !signal.aborted; turn += 1) {
      const stream = random() < 0.5;
      const userTurn: Content = { role: "user", parts: [{ text: PROMPTS[(user + turn) % PROMPTS.length]! }] };
      const truncate = random() < options.truncationShare;
      const body = { contents: [...history, userTurn], ...(truncate ? { generationConfig: truncatingConfig(model, random()) } : {}) };
      const path = `/v1beta/models/${model}:${stream ? "streamGenerateContent?alt=sse" : "generateContent"}`;
      await limiter.take(signal);
      if (signal.aborted) return;
      stats.calls[stream ? "stream" : "generate"] = (stats.calls[stream ? "stream" : "generate"] ?? 0) + 1;
      let res: Response;
      try {
        res = await fetch(`${base}${path}`, {
          method: "POST",
          headers: { "x-goog-api-key": key, "content-type": "application/json", "x-gateway-session": conversation },
          body: JSON.stringify(body),
          signal,
        });
      } catch {
        if (!signal.aborted) stats.networkErrors += 1;
        return;
      }
      stats.statuses[res.status] = (stats.statuses[res.status] ?? 0) + 1;
      let text: string;
      try {
        const raw = await res.text();
        if (!res.ok) return; // an error ends this chat, as it would in most apps
        text = visibleText(stream ? sseResponses(raw) : [JSON.parse(raw) as GenerateContentResponse]);
      } catch {
        return; // a stream cut mid-way: the SDKs raise, the chat ends
      }
      // Like the SDKs: the exchange joins the history only when the reply has visible content.
      if (text) history.push(userTurn, { role: "model", parts: [{ text }] });
    }
  };

  const userLoop = async (user: number): Promise<void> => {
    const random = seededRandom(options.seed * 1000 + user);
    const key = options.keys[user % options.keys.length]!;
    while (!signal.aborted) {
      const errorsBefore = stats.networkErrors;
      if (random() < 0.5) await sessionChat(key, random);
      else await proxyChat(key, user, random);
      // Gateway unreachable (not started yet, restarting): wait a little before the next chat.
      if (stats.networkErrors > errorsBefore) await sleep(500, undefined, { signal }).catch(() => undefined);
    }
  };

  const faults = async (method: "PUT" | "DELETE", rules?: FaultRule[]): Promise<void> => {
    try {
      await fetch(`${options.simulator!.replace(/\/+$/, "")}/_sim/faults`, {
        method,
        headers: rules ? { "content-type": "application/json" } : {},
        body: rules ? JSON.stringify({ rules }) : undefined,
      });
    } catch (err) {
      log(`traffic: fault API at ${options.simulator} unreachable (${err instanceof Error ? err.message : String(err)})`);
    }
  };

  const episodeLoop = async (): Promise<void> => {
    if (!options.simulator) return;
    for (let i = 0; !signal.aborted; i += 1) {
      try {
        await sleep(options.episodeIntervalMs, undefined, { signal });
        const episode = EPISODES[i % EPISODES.length]!;
        log(`traffic: episode: ${episode.name} for ${options.episodeMs / 1000}s`);
        await faults("PUT", episode.rules);
        await sleep(options.episodeMs, undefined, { signal });
      } catch {
        // aborted: fall through to clear the faults
      } finally {
        await faults("DELETE");
      }
      if (!signal.aborted) stats.episodes += 1;
    }
  };

  const timer = options.durationMs === undefined ? undefined : setTimeout(() => controller.abort(), options.durationMs);
  const done = Promise.all([...Array.from({ length: options.users }, (_, u) => userLoop(u).catch(() => undefined)), episodeLoop()]).then(() => {
    clearTimeout(timer);
    return stats;
  });
  return {
    stats,
    done,
    stop: () => {
      controller.abort();
      return done;
    },
  };
}
