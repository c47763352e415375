// Admission of a model call by its tenant's policy, before any upstream attempt: the allowed models, then the limits
// (counted in LimitCounters, with the call's estimated usage held against the usage limits). An admitted call is
// settled when it ends: its slot and what it held freed, its exact tokens and cost counted.

import { modelAllowed } from "../config/tenants-file.js";
import { breakdownTotal } from "../gemini/usage.js";
import { randomBytes } from "node:crypto";
import { GeminiError, permissionDenied, unavailable } from "../gemini/errors.js";
import type { TenantDirectory } from "./directory.js";
import type { TurnRecord } from "../turn/record.js";
import type { Pricer } from "../pricing/pricer.js";
import type { BudgetLimit, LimitCounters } from "./counters.js";
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
  /** The request body's size (0 when it streams through unread): the estimate's prompt. */
  requestBytes: number;
  maxOutputTokens?: number;
}

/** A tenant's budget and what is left of it in the current window (gemini_gateway_tenant_budget_*_usd). */
export interface TenantBudget {
  tenant: string;
  window: "day" | "month";
  budgetUsd: number;
  remainingUsd: number;
}

const BUDGET_WINDOWS: ReadonlyArray<[BudgetLimit, TenantBudget["window"]]> = [
  ["usdPerDay", "day"],
  ["usdPerMonth", "month"],
];

const ADMITTED_FREELY: AdmittedCall = { settle: () => Promise.resolve() };

export class TenantGovernor {
  constructor(
    private readonly tenants: TenantDirectory,
    private readonly counters: LimitCounters,
    private readonly pricer: Pricer,
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
    const estimate = this.pricer.estimate(call);
    let refusal;
    try {
      refusal = await this.counters.admit(call.tenant, limits, id, estimate, this.now());
    } catch (err) {
      // The shared store is down (counted with its concern): LIMITS_ON_STORE_DOWN says whether calls pass meanwhile.
      if (this.onStoreDown === "closed") return { refused: err instanceof GeminiError ? err : unavailable(String(err)), rule: "store_down" };
      return ADMITTED_FREELY;
    }
    if (refusal) {
      return { refused: limitExceeded(call.tenant, refusal.limit, refusal.value, refusal.retryAfterMs, refusal.inFlight), rule: refusal.limit };
    }
    return {
      settle: async (record) => {
        // A failure here costs the count of one call, never the call (its answer is already out); what the call held
        // is freed whatever happens.
        let used = { tokens: 0, usd: 0 };
        try {
          used = { tokens: record.response?.tokens ? breakdownTotal(record.response.tokens) : 0, usd: this.pricer.costOf(record) ?? 0 };
          this.pricer.learn(record);
        } catch {
          // a record the pricer cannot read counts as nothing
        }
        await this.counters.settle(call.tenant, limits, id, estimate, used, this.now()).catch(() => undefined);
      },
    };
  }

  /** Every budget of the live tenants file with what is left of it now; a tenant whose counters cannot be read
   *  (the store is down) is left out. */
  async budgets(): Promise<TenantBudget[]> {
    const now = this.now();
    const perTenant = await Promise.all(
      [...this.tenants.policies()].map(async ([tenant, { limits }]) => {
        const spent = await this.counters.spent(tenant, limits, now).catch(() => ({}) as Partial<Record<BudgetLimit, number>>);
        return BUDGET_WINDOWS.flatMap(([limit, window]) => {
          const budgetUsd = limits[limit];
          const used = spent[limit];
          return budgetUsd === undefined || used === undefined ? [] : [{ tenant, window, budgetUsd, remainingUsd: budgetUsd - used }];
        });
      }),
    );
    return perTenant.flat();
  }
}
