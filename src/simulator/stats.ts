// What the simulator saw and answered, for tests to count upstream attempts exactly (`GET /_sim/stats`).
import type { UsageMetadata } from "../gemini/types.js";

export type StatsMethod = "generateContent" | "streamGenerateContent" | "countTokens" | "listModels" | "getModel";

export interface SimulatorStats {
  requests: number;
  byMethod: Record<StatsMethod, number>;
  byModel: Record<string, number>;
  byStatus: Record<string, number>;
  byFault: Record<string, number>;
  tokens: { prompt: number; candidates: number; thoughts: number; total: number };
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

export class StatsRecorder {
  private stats = StatsRecorder.empty();

  static empty(): SimulatorStats {
    return {
      requests: 0,
      byMethod: { generateContent: 0, streamGenerateContent: 0, countTokens: 0, listModels: 0, getModel: 0 },
      byModel: {},
      byStatus: {},
      byFault: {},
      tokens: { prompt: 0, candidates: 0, thoughts: 0, total: 0 },
    };
  }

  request(method: StatsMethod, model?: string): void {
    this.stats.requests += 1;
    this.stats.byMethod[method] += 1;
    if (model !== undefined) bump(this.stats.byModel, model);
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
    t.candidates += usage.candidatesTokenCount ?? 0;
    t.thoughts += usage.thoughtsTokenCount ?? 0;
    t.total += usage.totalTokenCount ?? 0;
  }

  snapshot(): SimulatorStats {
    return structuredClone(this.stats);
  }

  reset(): void {
    this.stats = StatsRecorder.empty();
  }
}
