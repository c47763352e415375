// Admission of a model call by its tenant's policy, before any upstream attempt: the allowed models, then the limits
// (counted in LimitCounters). An admitted call is settled when it ends: its slot freed, its exact usage counted.

import { modelAllowed } from "../config/tenants-file.js";
import { breakdownTotal } from "../gemini/usage.js";
import { randomBytes } from "node:crypto";
import { GeminiError, permissionDenied, unavailable } from "../gemini/errors.js";
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

export type Admission = { refused: GeminiError; rule: LimitName | "models" | "store_down" } | AdmittedCall;

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
    /** When the shared counters cannot be reached: admit calls uncounted (open) or refuse them with a 503 (closed). */
    private readonly onStoreDown: "open" | "closed" = "open",
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
    const id = randomBytes(9).toString("base64url");
    let refusal;
    try {
      refusal = await this.counters.admit(call.tenant, limits, id, this.now());
    } catch (err) {
      // The shared store is down (counted with its concern): LIMITS_ON_STORE_DOWN says whether calls pass meanwhile.
      if (this.onStoreDown === "closed") return { refused: err instanceof GeminiError ? err : unavailable(String(err)), rule: "store_down" };
      return ADMITTED_FREELY;
    }
    if (refusal) return { refused: limitExceeded(call.tenant, refusal.limit, refusal.value, refusal.retryAfterMs), rule: refusal.limit };
    return {
      settle: async (record) => {
        const tokens = record.response?.tokens ? breakdownTotal(record.response.tokens) : 0;
        // A failure here costs the count of one call, never the call (its answer is already out).
        await this.counters.settle(call.tenant, limits, id, { tokens }, this.now()).catch(() => undefined);
      },
    };
  }
}
