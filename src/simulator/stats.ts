// What the simulator saw and answered, for tests to count upstream attempts exactly (`GET /_sim/stats`).
import type { UsageMetadata } from "../gemini/types.js";
import type { Operation } from "./routes.js";
import { OPERATIONS } from "./routes.js";

/** The stats count requests per operation: the route table's names. */
export type StatsMethod = Operation;

export interface TokenTotals {
  /** promptTokenCount: cached tokens included. */
  prompt: number;
  /** cachedContentTokenCount (explicit and implicit caches). */
  cached: number;
  candidates: number;
  thoughts: number;
  /** toolUsePromptTokenCount. */
  toolUse: number;
  total: number;
}

export interface SimulatorStats {
  requests: number;
  byMethod: Record<StatsMethod, number>;
  byModel: Record<string, number>;
  byStatus: Record<string, number>;
  byFault: Record<string, number>;
  tokens: TokenTotals;
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

export class StatsRecorder {
  private stats = StatsRecorder.empty();

  static empty(): SimulatorStats {
    return {
      requests: 0,
      byMethod: Object.fromEntries(OPERATIONS.map((op) => [op, 0])) as Record<StatsMethod, number>,
      byModel: {},
      byStatus: {},
      byFault: {},
      tokens: { prompt: 0, cached: 0, candidates: 0, thoughts: 0, toolUse: 0, total: 0 },
    };
  }

  request(method: StatsMethod): void {
    this.stats.requests += 1;
    this.stats.byMethod[method] += 1;
  }

  /** The model a model method named (in its path, or in the body for the OpenAI-compatible ones). */
  model(model: string): void {
    bump(this.stats.byModel, model);
  }

  status(code: number): void {
    bump(this.stats.byStatus, String(code));
  }

  fault(label: string): void {
    bump(this.stats.byFault, label);
  }

  /** The usage of a final response (or of the last chunk a stream sent). */
  usage(usage: UsageMetadata | undefined): void {
    if (!usage) return;
    const t = this.stats.tokens;
    t.prompt += usage.promptTokenCount ?? 0;
    t.cached += usage.cachedContentTokenCount ?? 0;
    t.candidates += usage.candidatesTokenCount ?? 0;
    t.thoughts += usage.thoughtsTokenCount ?? 0;
    t.toolUse += usage.toolUsePromptTokenCount ?? 0;
    t.total += usage.totalTokenCount ?? 0;
  }

  snapshot(): SimulatorStats {
    return structuredClone(this.stats);
  }

  reset(): void {
    this.stats = StatsRecorder.empty();
  }
}
