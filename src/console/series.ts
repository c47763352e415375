// The console's time series on this replica: the last hour in fixed buckets, one ring per tenant (a tenant key sees
// only its own), and the spend of the current UTC day. Fixed-size: a bucket is reused when its time comes round.

import { TOKEN_KINDS, type Overview, type TokenKinds } from "./api-types.js";

export const BUCKET_SECONDS = 10;
export const BUCKETS = 360; // one hour
const BUCKET_MS = BUCKET_SECONDS * 1000;
const RECENT_BUCKETS = 30; // 5 minutes

/** Latency histogram: bucket k holds latencies up to LATENCY_BASE_MS x LATENCY_FACTOR^k; the last one the rest. */
const LATENCY_BASE_MS = 1;
const LATENCY_FACTOR = 1.2;
const LATENCY_BINS = 80; // up to about 30 minutes

export interface TurnPoint {
  at: number;
  model: string;
  failed: boolean;
  errorType?: string;
  rateLimited: boolean;
  retries: number;
  tokens: TokenKinds;
  costUsd: number;
  responded: boolean;
  truncation?: string;
  latencyMs: number;
}

interface Bucket {
  /** Which 10 s of time it holds now (index since the epoch); -1 unused. */
  slot: number;
  requests: number;
  errors: number;
  rateLimited: number;
  retries: number;
  tokens: TokenKinds;
  costUsd: number;
  responses: number;
  outputLimit: number;
  thinking: number;
  latency: Uint32Array;
  costByModel: Map<string, number>;
  errorsByType: Map<string, number>;
}

const zeroTokens = (): TokenKinds => ({ input: 0, cached: 0, output: 0, thoughts: 0, tool_use: 0 });

function emptyBucket(slot: number): Bucket {
  return {
    slot,
    requests: 0,
    errors: 0,
    rateLimited: 0,
    retries: 0,
    tokens: zeroTokens(),
    costUsd: 0,
    responses: 0,
    outputLimit: 0,
    thinking: 0,
    latency: new Uint32Array(LATENCY_BINS),
    costByModel: new Map(),
    errorsByType: new Map(),
  };
}

export function latencyBin(ms: number): number {
  if (ms <= LATENCY_BASE_MS) return 0;
  return Math.min(LATENCY_BINS - 1, Math.ceil(Math.log(ms / LATENCY_BASE_MS) / Math.log(LATENCY_FACTOR)));
}

/** The q-quantile of a latency histogram: the upper bound of the bin it falls in (within 20%); null when empty. */
export function latencyQuantile(histogram: ArrayLike<number>, q: number): number | null {
  let total = 0;
  for (let i = 0; i < histogram.length; i++) total += histogram[i]!;
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i]!;
    if (seen >= rank) return Math.round(LATENCY_BASE_MS * LATENCY_FACTOR ** i * 10) / 10;
  }
  return null;
}

const DAY_MS = 86_400_000;

/** One tenant's last hour and today's spend. */
export class TenantSeries {
  readonly #buckets: Bucket[] = Array.from({ length: BUCKETS }, () => emptyBucket(-1));
  /** The UTC day of today's spend, as a day number since the epoch (a number compared per turn, not a date string). */
  #day = -1;
  readonly #todayByModel = new Map<string, number>();

  add(point: TurnPoint): void {
    const slot = Math.floor(point.at / BUCKET_MS);
    let bucket = this.#buckets[slot % BUCKETS]!;
    if (bucket.slot !== slot) {
      bucket = emptyBucket(slot);
      this.#buckets[slot % BUCKETS] = bucket;
    }
    bucket.requests++;
    if (point.failed) {
      bucket.errors++;
      const type = point.errorType ?? "other";
      bucket.errorsByType.set(type, (bucket.errorsByType.get(type) ?? 0) + 1);
    }
    if (point.rateLimited) bucket.rateLimited++;
    bucket.retries += point.retries;
    for (const kind of TOKEN_KINDS) bucket.tokens[kind] += point.tokens[kind];
    bucket.costUsd += point.costUsd;
    if (point.costUsd > 0) bucket.costByModel.set(point.model, (bucket.costByModel.get(point.model) ?? 0) + point.costUsd);
    if (point.responded) bucket.responses++;
    if (point.truncation === "output_limit") bucket.outputLimit++;
    if (point.truncation === "thinking") bucket.thinking++;
    bucket.latency[latencyBin(point.latencyMs)]!++;
    const day = Math.floor(point.at / DAY_MS);
    if (day !== this.#day) {
      this.#day = day;
      this.#todayByModel.clear();
    }
    if (point.costUsd > 0) this.#todayByModel.set(point.model, (this.#todayByModel.get(point.model) ?? 0) + point.costUsd);
  }

  /** The bucket of each slot of the hour ending at `now` (undefined where nothing happened). */
  window(now: number): Array<Bucket | undefined> {
    const last = Math.floor(now / BUCKET_MS);
    return Array.from({ length: BUCKETS }, (_, i) => {
      const slot = last - BUCKETS + 1 + i;
      const bucket = this.#buckets[slot % BUCKETS]!;
      return bucket.slot === slot ? bucket : undefined;
    });
  }

  todayByModel(now: number): ReadonlyMap<string, number> {
    return this.#day === Math.floor(now / DAY_MS) ? this.#todayByModel : new Map();
  }
}

/** The overview of some tenants' series (all of them for an admin, one for a tenant key). */
export function overviewOf(tenants: ReadonlyMap<string, TenantSeries>, now: number): Overview {
  const windows = [...tenants].map(([tenant, s]) => ({ tenant, buckets: s.window(now), today: s.todayByModel(now) }));
  const last = Math.floor(now / BUCKET_MS);
  const t = Array.from({ length: BUCKETS }, (_, i) => (last - BUCKETS + 1 + i) * BUCKET_MS);
  const sum = (i: number, value: (b: Bucket) => number): number => windows.reduce((total, w) => total + (w.buckets[i] ? value(w.buckets[i]) : 0), 0);
  const column = (value: (b: Bucket) => number): number[] => t.map((_, i) => sum(i, value));
  const mergedLatency = (from: number, to: number): Uint32Array => {
    const merged = new Uint32Array(LATENCY_BINS);
    for (const w of windows) for (let i = from; i < to; i++) w.buckets[i]?.latency.forEach((n, bin) => (merged[bin]! += n));
    return merged;
  };
  const latencies = t.map((_, i) => mergedLatency(i, i + 1));
  const tokens = Object.fromEntries(TOKEN_KINDS.map((kind) => [kind, column((b) => b.tokens[kind])])) as Record<keyof TokenKinds, number[]>;
  const series: Overview["series"] = {
    requests: column((b) => b.requests),
    errors: column((b) => b.errors),
    rateLimited: column((b) => b.rateLimited),
    retries: column((b) => b.retries),
    tokens,
    costUsd: column((b) => b.costUsd),
    responses: column((b) => b.responses),
    truncations: { output_limit: column((b) => b.outputLimit), thinking: column((b) => b.thinking) },
    latencyP50Ms: latencies.map((h) => latencyQuantile(h, 0.5)),
    latencyP95Ms: latencies.map((h) => latencyQuantile(h, 0.95)),
  };

  const recentFrom = BUCKETS - RECENT_BUCKETS;
  const recentSum = (values: number[]): number => values.slice(recentFrom).reduce((a, b) => a + b, 0);
  const recentSeconds = RECENT_BUCKETS * BUCKET_SECONDS;
  const responses = recentSum(series.responses);
  const truncated = recentSum(series.truncations.output_limit) + recentSum(series.truncations.thinking);
  const recentLatency = mergedLatency(recentFrom, BUCKETS);

  const byModel = new Map<string, { todayUsd: number; lastHourUsd: number }>();
  const byTenant: Overview["spend"]["byTenant"] = [];
  for (const w of windows) {
    let tenantToday = 0;
    let tenantHour = 0;
    for (const [model, usd] of w.today) {
      tenantToday += usd;
      const entry = byModel.get(model) ?? { todayUsd: 0, lastHourUsd: 0 };
      entry.todayUsd += usd;
      byModel.set(model, entry);
    }
    for (const bucket of w.buckets) {
      for (const [model, usd] of bucket?.costByModel ?? []) {
        tenantHour += usd;
        const entry = byModel.get(model) ?? { todayUsd: 0, lastHourUsd: 0 };
        entry.lastHourUsd += usd;
        byModel.set(model, entry);
      }
    }
    if (tenantToday > 0 || tenantHour > 0) byTenant.push({ tenant: w.tenant, todayUsd: tenantToday, lastHourUsd: tenantHour });
  }
  const errorsByType = new Map<string, number>();
  for (const w of windows) for (const bucket of w.buckets) for (const [type, n] of bucket?.errorsByType ?? []) errorsByType.set(type, (errorsByType.get(type) ?? 0) + n);

  return {
    now,
    bucketSeconds: BUCKET_SECONDS,
    source: "replica",
    t,
    series,
    recent: {
      requestsPerSecond: recentSum(series.requests) / recentSeconds,
      tokensPerSecond: Object.fromEntries(TOKEN_KINDS.map((kind) => [kind, recentSum(tokens[kind]) / recentSeconds])) as unknown as TokenKinds,
      truncationRate: responses === 0 ? 0 : truncated / responses,
      rateLimited: recentSum(series.rateLimited),
      retries: recentSum(series.retries),
      errors: recentSum(series.errors),
      latencyP50Ms: latencyQuantile(recentLatency, 0.5),
      latencyP95Ms: latencyQuantile(recentLatency, 0.95),
    },
    spend: {
      todayUsd: byTenant.reduce((total, s) => total + s.todayUsd, 0),
      byModel: [...byModel].map(([model, s]) => ({ model, ...s })).sort((a, b) => b.todayUsd - a.todayUsd),
      byTenant: byTenant.sort((a, b) => b.todayUsd - a.todayUsd),
    },
    errorsByType: [...errorsByType].map(([type, count]) => ({ type, count })).sort((a, b) => b.count - a.count),
  };
}
