// Fault injection: the rules tests and users script against (`PUT /_sim/faults`), matched in order per request.
import { z } from "zod";
import type { GeminiError } from "../gemini/errors.js";
import { canonicalError } from "../gemini/errors.js";
import { BLOCK_REASONS, FINISH_REASONS } from "../gemini/types.js";
import type { PlanOverrides } from "./generation.js";
import { seededRandom } from "./generation.js";
import type { ForcedInteractionStatus } from "./interaction-types.js";
import { FORCED_INTERACTION_STATUSES } from "./interaction-types.js";
import type { Operation } from "./routes.js";
import { OPERATIONS } from "./routes.js";

const nonNegativeInt = z.number().int().nonnegative();
const durationString = z.string().regex(/^\d+(\.\d+)?s$/, 'a protobuf Duration such as "1.5s"');

export const faultSchema = z.union([
  z.strictObject({ status: z.literal(429), retryDelay: durationString.optional(), quotaId: z.string().min(1).optional() }),
  z.strictObject({ status: z.union([z.literal(400), z.literal(403), z.literal(404), z.literal(500), z.literal(503), z.literal(504)]) }),
  z.strictObject({ kind: z.literal("reset") }),
  z.strictObject({ kind: z.literal("hang"), ms: nonNegativeInt.optional(), afterChunks: nonNegativeInt.optional() }),
  z.strictObject({ kind: z.literal("midstream_error"), afterChunks: nonNegativeInt.optional(), status: z.number().int().min(400).max(599).optional() }),
  z.strictObject({ kind: z.literal("finish"), finishReason: z.enum(FINISH_REASONS) }),
  z.strictObject({ kind: z.literal("block"), blockReason: z.enum(BLOCK_REASONS).optional() }),
  z.strictObject({ kind: z.literal("delay"), ms: nonNegativeInt }),
  z.strictObject({ kind: z.literal("interaction_status"), status: z.enum(FORCED_INTERACTION_STATUSES) }),
]);
export type Fault = z.infer<typeof faultSchema>;

export const ruleSchema = z.strictObject({
  when: z.strictObject({ model: z.string().min(1).optional(), method: z.enum(OPERATIONS).optional() }).optional(),
  fault: faultSchema,
  probability: z.number().min(0).max(1).optional(),
  times: z.number().int().positive().optional(),
});
export type FaultRule = z.infer<typeof ruleSchema>;

export const faultConfigSchema = z.strictObject({ seed: z.number().int().optional(), rules: z.array(ruleSchema) });
export type FaultConfig = z.infer<typeof faultConfigSchema>;

/** The stats label of a fault: `status:503`, `reset`, `midstream_error`, ... */
export function faultLabel(fault: Fault): string {
  return "status" in fault && !("kind" in fault) ? `status:${fault.status}` : (fault as { kind: string }).kind;
}

/** What a fault changes in a generated reply: a forced finishReason, or a blocked prompt. */
export function planOverrides(fault: Fault | undefined): PlanOverrides {
  if (fault && "kind" in fault && fault.kind === "finish") return { finishReason: fault.finishReason };
  if (fault && "kind" in fault && fault.kind === "block") return { blockReason: fault.blockReason ?? "SAFETY" };
  return {};
}

/** The status an `interaction_status` fault ends an interaction with (other faults force none). */
export function forcedInteractionStatus(fault: Fault | undefined): ForcedInteractionStatus | undefined {
  return fault && "kind" in fault && fault.kind === "interaction_status" ? fault.status : undefined;
}

/**
 * How many of a stream's `frameCount` frames go out before a stream-cutting fault (midstream_error, hang with
 * afterChunks) strikes: `afterChunks` (default 1), never all of them, so the cut always comes before the end.
 * Undefined when the fault does not cut streams.
 */
export function framesBeforeCut(fault: Fault | undefined, frameCount: number): number | undefined {
  if (!fault || !("kind" in fault) || (fault.kind !== "midstream_error" && fault.kind !== "hang")) return undefined;
  return Math.max(0, Math.min(fault.afterChunks ?? 1, frameCount - 1));
}

const MIDSTREAM_503 = "This model is currently experiencing high demand. Spikes in demand are usually temporary. Please try again later.";

/** The error a midstream_error fault answers (mid-stream, or outright on requests that are not streams). */
export const midstreamError = (status = 503): GeminiError => (status === 503 ? canonicalError(503, MIDSTREAM_503) : canonicalError(status));

/** One line per problem, for the 400 answer to a bad PUT. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(body)"}: ${issue.message}`).join("\n");
}

const DEFAULT_SEED = 1;

export class FaultBook {
  private rules: FaultRule[] = [];
  private seed = DEFAULT_SEED;
  private random = seededRandom(DEFAULT_SEED);

  /** Replaces the rules; `times` counts restart and the random sequence restarts from the seed. */
  set(config: FaultConfig): void {
    this.rules = config.rules.map((rule) => ({ ...rule }));
    this.seed = config.seed ?? DEFAULT_SEED;
    this.random = seededRandom(this.seed);
  }

  clear(): void {
    this.set({ rules: [] });
  }

  /** The rules in force; `times` shows what is left. */
  show(): FaultConfig {
    return { seed: this.seed, rules: this.rules.map((rule) => ({ ...rule })) };
  }

  /**
   * The fault for a request, if any: the first rule whose `when` matches and whose probability draw passes
   * (a draw is taken only for rules with probability < 1). Consumes one of the rule's `times`. `model` is the model
   * the request names, if any: a rule with `when.model` never matches a request that names none.
   */
  pick(method: Operation, model: string | undefined): Fault | undefined {
    for (const [index, rule] of this.rules.entries()) {
      if (rule.when?.method !== undefined && rule.when.method !== method) continue;
      if (rule.when?.model !== undefined && rule.when.model !== model) continue;
      const probability = rule.probability ?? 1;
      if (probability < 1 && this.random() >= probability) continue;
      if (rule.times !== undefined) {
        rule.times -= 1;
        if (rule.times === 0) this.rules.splice(index, 1);
      }
      return rule.fault;
    }
    return undefined;
  }
}
