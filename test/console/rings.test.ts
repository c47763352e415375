// The console's fixed-size memory: the turn ring and conversation index, the hour of buckets, latency quantiles.
import { describe, expect, it } from "vitest";
import type { TurnDetail } from "../../src/console/api-types.js";
import { BUCKETS, BUCKET_SECONDS, latencyBin, latencyQuantile, overviewOf, TenantSeries, type TurnPoint } from "../../src/console/series.js";
import { TurnLog } from "../../src/console/turn-log.js";
import { alignTo } from "../../src/console/prometheus-overview.js";

const turn = (at: number, conversationId?: string): Omit<TurnDetail, "id"> =>
  ({ at, tenant: "t", model: "m", tokens: { input: 1, cached: 0, output: 1, thoughts: 0, tool_use: 0, total: 2 }, ...(conversationId ? { conversationId } : {}) }) as Omit<TurnDetail, "id">;

describe("the turn ring", () => {
  it("keeps the newest `capacity` turns; an overwritten turn is not found by its id", () => {
    const log = new TurnLog({ capacity: 3, maxConversations: 2, maxTurnsPerConversation: 2, replica: "r" });
    const ids = [1, 2, 3, 4, 5].map((at) => log.add(turn(at), "tagged").id);
    expect([...log.newestFirst()].map((t) => t.at)).toEqual([5, 4, 3]);
    expect(log.get(ids[0]!)).toBeUndefined();
    expect(log.get(ids[4]!)?.at).toBe(5);
    expect(log.get("other-4")).toBeUndefined();
  });

  it("indexes conversations, most recent first, each with its latest turns, the oldest conversation dropped", () => {
    const log = new TurnLog({ capacity: 10, maxConversations: 2, maxTurnsPerConversation: 2, replica: "r" });
    log.add(turn(1, "a"), "session");
    log.add(turn(2, "b"), "tagged");
    log.add(turn(3, "a"), "session");
    log.add(turn(4, "a"), "session");
    expect(log.conversations().map((c) => c.id)).toEqual(["a", "b"]);
    expect(log.conversation("a")!.turns.map((t) => t.at)).toEqual([3, 4]);
    log.add(turn(5, "c"), "tagged");
    expect(log.conversations().map((c) => c.id)).toEqual(["c", "a"]);
  });
});

describe("the hour of buckets", () => {
  const point = (at: number, latencyMs = 100): TurnPoint => ({
    at,
    model: "m",
    failed: false,
    rateLimited: false,
    retries: 0,
    tokens: { input: 10, cached: 0, output: 5, thoughts: 0, tool_use: 0 },
    costUsd: 0.5,
    responded: true,
    latencyMs,
  });

  it("sums the buckets of the last hour; an hour later a bucket holds only its new time", () => {
    const now = Date.UTC(2026, 11, 2, 12, 0, 0);
    const series = new TenantSeries();
    series.add(point(now - 5_000));
    series.add(point(now - 3_600_000 + 20_000));
    const overview = overviewOf(new Map([["t", series]]), now);
    expect(overview.series.requests.reduce((a, b) => a + b, 0)).toBe(2);
    expect(overview.t).toHaveLength(BUCKETS);
    expect(overview.t.at(-1)! + BUCKET_SECONDS * 1000).toBeGreaterThan(now);
    // The same ring slot, one hour on: the old count is gone.
    series.add(point(now - 5_000 + 3_600_000));
    const later = overviewOf(new Map([["t", series]]), now + 3_600_000);
    expect(later.series.requests.reduce((a, b) => a + b, 0)).toBe(1);
    expect(later.spend.todayUsd).toBeCloseTo(1.5, 9); // the same UTC day
  });

  it("latency quantiles within a bin (20%) of the truth", () => {
    const histogram = new Uint32Array(80);
    for (let ms = 1; ms <= 1000; ms++) histogram[latencyBin(ms)]!++;
    const p50 = latencyQuantile(histogram, 0.5)!;
    const p95 = latencyQuantile(histogram, 0.95)!;
    expect(p50).toBeGreaterThanOrEqual(500);
    expect(p50).toBeLessThanOrEqual(600);
    expect(p95).toBeGreaterThanOrEqual(950);
    expect(p95).toBeLessThanOrEqual(1140);
    expect(latencyQuantile(new Uint32Array(80), 0.5)).toBeNull();
  });
});

describe("Prometheus series on the console's buckets", () => {
  it("one value per bucket time, null where Prometheus has none or it is not a number", () => {
    expect(alignTo([10_000, 20_000, 30_000, 40_000], [[10, "1.5"], [30, "NaN"], [40, "2"]])).toEqual([1.5, null, null, 2]);
    expect(alignTo([10_000], undefined)).toEqual([null]);
  });
});
