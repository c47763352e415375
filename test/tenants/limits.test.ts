// Tenant limits: the windows, the 429 a refused call gets, and admission by the memory counters (an injected clock
// moves through the windows).
import { describe, expect, it } from "vitest";
import type { TenantsConfig } from "../../src/config/tenants-file.js";
import { TenantDirectory } from "../../src/tenants/directory.js";
import { MemoryLimitCounters } from "../../src/tenants/counters.js";
import { TenantGovernor, type Admission } from "../../src/tenants/governor.js";
import { limitExceeded, windowOf } from "../../src/tenants/windows.js";
import type { TurnRecord } from "../../src/turn/record.js";

const T0 = Date.UTC(2026, 11, 31, 23, 59, 30); // 30 s before a minute, a day, a month and a year end

describe("windows", () => {
  it("are aligned minutes, UTC days and UTC months, each with its end", () => {
    expect(windowOf("requestsPerMinute", T0)).toEqual({ id: `m${Math.floor(T0 / 60_000)}`, endsAt: Date.UTC(2027, 0, 1) });
    expect(windowOf("tokensPerMinute", T0 + 30_000).id).not.toBe(windowOf("tokensPerMinute", T0).id);
    expect(windowOf("usdPerDay", T0)).toEqual({ id: "d2026-12-31", endsAt: Date.UTC(2027, 0, 1) });
    expect(windowOf("usdPerMonth", T0)).toEqual({ id: "M2026-12", endsAt: Date.UTC(2027, 0, 1) });
    expect(windowOf("usdPerMonth", Date.UTC(2026, 1, 10))).toEqual({ id: "M2026-02", endsAt: Date.UTC(2026, 2, 1) });
  });

  it("a refusal is Gemini's 429: RetryInfo until the window frees, a QuotaFailure naming the limit, Retry-After", () => {
    const error = limitExceeded("team-a", "requestsPerMinute", 600, 12_345);
    expect([error.code, error.status]).toEqual([429, "RESOURCE_EXHAUSTED"]);
    expect(error.message).toBe("Tenant team-a reached its limit of 600 requests per minute (GATEWAY_CONFIG limits.requestsPerMinute); retry after 12.3 s.");
    expect(error.details).toEqual([
      {
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        violations: [{ subject: "tenant:team-a", description: "limits.requestsPerMinute: 600 requests per minute", quotaId: "requestsPerMinute", quotaValue: "600" }],
      },
      { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "12.345s" },
    ]);
    expect(error.headers).toEqual({ "retry-after": "13" });
  });
});

function governorWith(limits: TenantsConfig["tenants"] extends ReadonlyMap<string, infer P> ? P : never, clock: { now: number }): TenantGovernor {
  const config: TenantsConfig = { version: "v", keys: [], tenants: new Map([["team-a", limits]]) };
  return new TenantGovernor(new TenantDirectory({ mode: "keys", keys: [], tenantsFile: { path: "f", config } }), new MemoryLimitCounters(), "open", () => clock.now);
}
const call = { tenant: "team-a", model: "gemini-2.0-flash", operation: "generate_content" };
const refusedBy = (admission: Admission): string | undefined => ("refused" in admission ? admission.rule : undefined);
const usage = (tokens: number): TurnRecord => ({ response: { tokens: { input: tokens, cached: 0, output: 0, thoughts: 0, tool_use: 0, inputAudio: 0 }, finishReasons: [], hasVisibleParts: true } }) as unknown as TurnRecord;

describe("admission", () => {
  it("requestsPerMinute: the N+1th request of a minute is refused until the minute ends", async () => {
    const clock = { now: T0 };
    const governor = governorWith({ limits: { requestsPerMinute: 3 } }, clock);
    const admissions = [];
    for (let i = 0; i < 4; i++) admissions.push(await governor.admit(call));
    expect(admissions.map(refusedBy)).toEqual([undefined, undefined, undefined, "requestsPerMinute"]);
    const refused = admissions[3] as { refused: { details: Array<{ retryDelay?: string }> } };
    expect(refused.refused.details[1]!.retryDelay).toBe("30s");
    clock.now += 30_000; // the next minute
    expect(refusedBy(await governor.admit(call))).toBeUndefined();
  });

  it("concurrentRequests: a slot frees when its call settles", async () => {
    const governor = governorWith({ limits: { concurrentRequests: 2 } }, { now: T0 });
    const [a, b] = [await governor.admit(call), await governor.admit(call)];
    expect(refusedBy(await governor.admit(call))).toBe("concurrentRequests");
    await (a as { settle(r: TurnRecord): Promise<void> }).settle(usage(0));
    expect(refusedBy(await governor.admit(call))).toBeUndefined();
    expect(refusedBy(b)).toBeUndefined();
  });

  it("tokensPerMinute: counts each call's exact tokens when it settles; refused once reached, free again next minute", async () => {
    const clock = { now: T0 };
    const governor = governorWith({ limits: { tokensPerMinute: 1000 } }, clock);
    const first = await governor.admit(call);
    await (first as { settle(r: TurnRecord): Promise<void> }).settle(usage(600));
    const second = await governor.admit(call); // 600 < 1000: admitted
    await (second as { settle(r: TurnRecord): Promise<void> }).settle(usage(500));
    expect(refusedBy(await governor.admit(call))).toBe("tokensPerMinute");
    clock.now += 30_000;
    expect(refusedBy(await governor.admit(call))).toBeUndefined();
  });

  it("models: a model outside the list is refused; listing and reading models never are", async () => {
    const governor = governorWith({ limits: { requestsPerMinute: 1 }, models: ["gemini-2.5-*"] }, { now: T0 });
    expect(refusedBy(await governor.admit(call))).toBe("models");
    expect(refusedBy(await governor.admit({ ...call, operation: "get_model" }))).toBeUndefined();
    expect(refusedBy(await governor.admit({ ...call, model: "gemini-2.5-flash" }))).toBeUndefined();
    expect(refusedBy(await governor.admit({ ...call, model: "gemini-2.5-flash" }))).toBe("requestsPerMinute");
  });

  it("a tenant without a policy, or without limits, is admitted freely", async () => {
    const governor = governorWith({ limits: {} }, { now: T0 });
    for (let i = 0; i < 5; i++) expect(refusedBy(await governor.admit(call))).toBeUndefined();
    expect(refusedBy(await governor.admit({ ...call, tenant: "other" }))).toBeUndefined();
  });
});
