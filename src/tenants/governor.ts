// Admission of a model call by its tenant's policy, before any upstream attempt: the allowed models, then the limits
// (counted in LimitCounters). An admitted call is settled when it ends: its slot freed, its exact usage counted.

import { modelAllowed } from "../config/tenants-file.js";
import { breakdownTotal } from "../gemini/usage.js";
import { permissionDenied, type GeminiError } from "../gemini/errors.js";
import type { TenantDirectory } from "./directory.js";
import type { TurnRecord } from "../turn/record.js";
import type { LimitCounters } from "./counters.js";
import { limitExceeded, type LimitName } from "./windows.js";

/** Operations that cost nothing: never refused by a tenant's policy. */
const FREE_OPERATIONS: ReadonlySet<string> = new Set(["get_model", "list_models"]);

export interface AdmittedCall {
  /** The call ended (whatever its outcome): frees its slot and counts its usage. Never throws. */
  settle(record: TurnRecord): Promise<void>;
}

export type Admission = { refused: GeminiError; rule: LimitName | "models" } | AdmittedCall;

export interface CallToAdmit {
  tenant: string;
  model: string;
  operation: string;
}

const ADMITTED_FREELY: AdmittedCall = { settle: () => Promise.resolve() };

export class TenantGovernor {
  constructor(
    private readonly tenants: TenantDirectory,
    private readonly counters: LimitCounters,
    private readonly now: () => number = Date.now,
  ) {}

  async admit(call: CallToAdmit): Promise<Admission> {
    if (FREE_OPERATIONS.has(call.operation)) return ADMITTED_FREELY;
    const policy = this.tenants.policy(call.tenant);
    if (!policy) return ADMITTED_FREELY;
    if (call.model && !modelAllowed(policy, call.model)) {
      const model = call.model.replace(/^models\//, "");
      return {
        refused: permissionDenied(`Tenant ${call.tenant} may not use model ${model}; its models are ${policy.models!.join(", ")} (GATEWAY_CONFIG).`),
        rule: "models",
      };
    }
    const { limits } = policy;
    if (Object.keys(limits).length === 0) return ADMITTED_FREELY;
    const refusal = await this.counters.admit(call.tenant, limits, this.now());
    if (refusal) return { refused: limitExceeded(call.tenant, refusal.limit, refusal.value, refusal.retryAfterMs), rule: refusal.limit };
    return {
      settle: async (record) => {
        const tokens = record.response?.tokens ? breakdownTotal(record.response.tokens) : 0;
        await this.counters.settle(call.tenant, limits, { tokens }, this.now()).catch(() => undefined);
      },
    };
  }
}
