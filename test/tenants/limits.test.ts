// Tenant limits: the windows, the 429 a refused call gets, and admission by the memory counters (an injected clock
// moves through the windows).
import { describe, expect, it } from "vitest";
import type { TenantsConfig } from "../../src/config/tenants-file.js";
import { TenantDirectory } from "../../src/tenants/directory.js";
import { MemoryLimitCounters } from "../../src/tenants/counters.js";
import { TenantGovernor, type Admission } from "../../src/tenants/governor.js";
import { limitExceeded, windowOf } from "../../src/tenants/windows.js";
import { Pricer, FIRST_OUTPUT_ESTIMATE, OUTPUTS_REMEMBERED } from "../../src/pricing/pricer.js";
import type { TokenUsage } from "../../src/gemini/usage.js";
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
    expect(error.headers).toEqual({ "retry-after": "13", "retry-after-ms": "12345" });
  });
});

/** One dollar a token, in and out: a call's cost is its token count. */
const dollarATokenPricer = (): Pricer => new Pricer({ currency: "USD", models: { "gemini-2.0-flash": { input: 1e6, output: 1e6 } } });

function governorWith(limits: TenantsConfig["tenants"] extends ReadonlyMap<string, infer P> ? P : never, clock: { now: number }, pricer = dollarATokenPricer()): TenantGovernor {
  const config: TenantsConfig = { version: "v", keys: [], tenants: new Map([["team-a", limits]]) };
  return new TenantGovernor(new TenantDirectory({ mode: "keys", keys: [], tenantsFile: { path: "f", config } }), new MemoryLimitCounters(), pricer, "open", () => clock.now);
}
/** A call estimated at 20 tokens (USD 20 at a dollar a token): 40 bytes of request (10 tokens), 10 of output at most. */
const call = { tenant: "team-a", model: "gemini-2.0-flash", operation: "generate_content", requestBytes: 40, maxOutputTokens: 10 };
const refusedBy = (admission: Admission): string | undefined => ("refused" in admission ? admission.rule : undefined);
const tokens = (input: number, output = 0): TokenUsage => ({ input, cached: 0, output, thoughts: 0, tool_use: 0, inputAudio: 0 });
const usage = (input: number, output = 0): TurnRecord =>
  ({ model: "gemini-2.0-flash", response: { tokens: tokens(input, output), finishReasons: [], hasVisibleParts: true } }) as unknown as TurnRecord;
const settle = (admission: Admission, record: TurnRecord): Promise<void> => (admission as { settle(r: TurnRecord): Promise<void> }).settle(record);
const refusal = (admission: Admission) => (admission as { refused: { message: string; details: Array<{ retryDelay?: string; violations?: Array<{ quotaId: string }> }> } }).refused;

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
    await settle(a, usage(0));
    expect(refusedBy(await governor.admit(call))).toBeUndefined();
    expect(refusedBy(b)).toBeUndefined();
  });

  it("tokensPerMinute: counts each call's exact tokens when it settles; refused once reached, free again next minute", async () => {
    const clock = { now: T0 };
    const governor = governorWith({ limits: { tokensPerMinute: 1000 } }, clock);
    await settle(await governor.admit(call), usage(600));
    await settle(await governor.admit(call), usage(500)); // 600 < 1000: admitted
    expect(refusedBy(await governor.admit(call))).toBe("tokensPerMinute");
    clock.now += 30_000;
    expect(refusedBy(await governor.admit(call))).toBeUndefined();
  });

  it("usdPerDay: each call's exact cost counts when it settles; refused once the UTC day's spend reaches it, until the day ends", async () => {
    const clock = { now: T0 };
    const governor = governorWith({ limits: { usdPerDay: 100 } }, clock);
    await settle(await governor.admit(call), usage(50, 10)); // USD 60
    await settle(await governor.admit(call), usage(40, 10)); // 60 < 100: admitted; USD 110
    const refused = await governor.admit(call);
    expect(refusedBy(refused)).toBe("usdPerDay");
    expect(refusal(refused).message).toBe("Tenant team-a reached its limit of 100 USD per day (UTC) (GATEWAY_CONFIG limits.usdPerDay); retry after 30.0 s.");
    expect(refusal(refused).details[0]!.violations![0]!.quotaId).toBe("usdPerDay");
    expect(await governor.budgets()).toEqual([{ tenant: "team-a", window: "day", budgetUsd: 100, remainingUsd: -10 }]);
    clock.now += 30_000; // the next UTC day
    expect(refusedBy(await governor.admit(call))).toBeUndefined();
    expect(await governor.budgets()).toEqual([{ tenant: "team-a", window: "day", budgetUsd: 100, remainingUsd: 100 }]);
  });

  it("usdPerMonth: counted like the day, refused until the UTC month ends", async () => {
    const clock = { now: Date.UTC(2026, 10, 15) };
    const governor = governorWith({ limits: { usdPerDay: 1000, usdPerMonth: 30 } }, clock);
    await settle(await governor.admit(call), usage(30));
    const refused = await governor.admit(call);
    expect(refusedBy(refused)).toBe("usdPerMonth");
    expect(refusal(refused).details[1]!.retryDelay).toBe(`${(Date.UTC(2026, 11, 1) - clock.now) / 1000}s`);
    clock.now = Date.UTC(2026, 11, 1);
    expect(refusedBy(await governor.admit(call))).toBeUndefined();
  });

  it("calls in flight hold their estimate: refused for a second while what they hold would reach the budget", async () => {
    const governor = governorWith({ limits: { usdPerDay: 100 } }, { now: T0 });
    const running = [];
    for (let i = 0; i < 5; i++) running.push(await governor.admit(call)); // 5 x USD 20 held: 0, 20, 40, 60, 80 < 100
    expect(running.map(refusedBy)).toEqual(Array(5).fill(undefined));
    const refused = await governor.admit(call);
    expect(refusedBy(refused)).toBe("usdPerDay");
    expect(refusal(refused).message).toBe(
      "Tenant team-a's calls in flight may reach its limit of 100 USD per day (UTC) (GATEWAY_CONFIG limits.usdPerDay); retry after 1.0 s.",
    );
    await settle(running[0]!, usage(3, 2)); // it cost 5, not 20: 80 held + 5 spent
    expect(refusedBy(await governor.admit(call))).toBeUndefined();
    expect(await governor.budgets()).toEqual([{ tenant: "team-a", window: "day", budgetUsd: 100, remainingUsd: 95 }]);
  });

  it("spend stops within one call's cost of the budget when estimates are not below the costs", async () => {
    const governor = governorWith({ limits: { usdPerDay: 1000 } }, { now: T0 });
    let spent = 0;
    const cost = (i: number): number => 5 + ((i * 7) % 16); // 5..20, never above the estimate of 20
    const inFlight: Array<{ admission: Admission; cost: number }> = [];
    const endOne = async (i: number): Promise<void> => {
      const [ended] = inFlight.splice((i * 5) % inFlight.length, 1); // not in the order they started
      await settle(ended!.admission, usage(ended!.cost));
      spent += ended!.cost;
    };
    let inFlightRefusals = 0;
    for (let i = 0; ; i++) {
      const admission = await governor.admit(call);
      if (!refusedBy(admission)) inFlight.push({ admission, cost: cost(i) });
      else if (refusal(admission).message.includes("in flight")) inFlightRefusals++;
      else break; // the day's spend reached the budget
      if (inFlight.length >= 8 || refusedBy(admission)) await endOne(i); // up to 8 calls in flight
    }
    while (inFlight.length > 0) await endOne(0);
    expect(inFlightRefusals).toBeGreaterThan(0);
    expect(spent).toBeGreaterThanOrEqual(1000);
    expect(spent).toBeLessThan(1000 + 20);
  });

  it("models: a model outside the list is refused; listing and reading models never are", async () => {
    const governor = governorWith({ limits: { requestsPerMinute: 1 }, models: ["gemini-2.5-*"] }, { now: T0 });
    expect(refusedBy(await governor.admit(call))).toBe("models");
    expect(refusedBy(await governor.admit({ ...call, operation: "get_model" }))).toBeUndefined();
    expect(refusedBy(await governor.admit({ ...call, model: "gemini-2.5-flash" }))).toBeUndefined();
    expect(refusedBy(await governor.admit({ ...call, model: "gemini-2.5-flash" }))).toBe("requestsPerMinute");
  });

  it("a tenant without budgets has no budget figures", async () => {
    const governor = governorWith({ limits: { requestsPerMinute: 5 } }, { now: T0 });
    expect(await governor.budgets()).toEqual([]);
  });

  it("a tenant without a policy, or without limits, is admitted freely", async () => {
    const governor = governorWith({ limits: {} }, { now: T0 });
    for (let i = 0; i < 5; i++) expect(refusedBy(await governor.admit(call))).toBeUndefined();
    expect(refusedBy(await governor.admit({ ...call, tenant: "other" }))).toBeUndefined();
  });
});

describe("the estimate of a call", () => {
  const pricer = dollarATokenPricer();
  const record = (output: number, thoughts = 0): TurnRecord =>
    ({ model: "gemini-2.0-flash", response: { tokens: { ...tokens(10, output), thoughts }, finishReasons: [], hasVisibleParts: true } }) as unknown as TurnRecord;

  it("is the request's bytes / 4 as prompt, plus maxOutputTokens", () => {
    expect(pricer.estimate({ model: "gemini-2.0-flash", requestBytes: 41, maxOutputTokens: 100 })).toEqual({ tokens: 11 + 100, usd: 111 });
    expect(pricer.estimate({ model: "models/gemini-2.0-flash-001", requestBytes: 4, maxOutputTokens: 1 })).toEqual({ tokens: 2, usd: 2 });
  });

  it("without maxOutputTokens, the largest output (thoughts included) among the model's latest calls", () => {
    const learning = dollarATokenPricer();
    expect(learning.estimate({ model: "gemini-2.0-flash", requestBytes: 0 }).tokens).toBe(FIRST_OUTPUT_ESTIMATE);
    learning.learn(record(30, 20));
    learning.learn(record(10));
    expect(learning.estimate({ model: "gemini-2.0-flash", requestBytes: 0 }).tokens).toBe(50);
    for (let i = 0; i < OUTPUTS_REMEMBERED; i++) learning.learn(record(7));
    expect(learning.estimate({ model: "gemini-2.0-flash", requestBytes: 0 }).tokens).toBe(7);
    expect(learning.estimate({ model: "gemini-2.0-flash", requestBytes: 0, maxOutputTokens: -3 }).tokens).toBe(7);
  });

  it("costs nothing for a model the price table does not know (its calls are not priced either)", () => {
    expect(pricer.estimate({ model: "my-tuned-model", requestBytes: 400 })).toEqual({ tokens: 100 + FIRST_OUTPUT_ESTIMATE, usd: 0 });
    expect(pricer.costOf({ ...record(5), model: "my-tuned-model" })).toBeUndefined();
  });
});
