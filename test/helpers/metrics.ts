// Reading the gateway's /metrics (classic text format) in tests: samples, sums grouped by labels, deltas.

export type Series = Map<string, number>;

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseMetrics(body: string): Sample[] {
  return body
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((line) => {
      const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)!;
      const labels: Record<string, string> = {};
      for (const [, k, v] of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
      return { name: m[1]!, labels, value: Number(m[3]) };
    });
}

/** Sums a metric's samples grouped by some of its labels (key: label values joined by `|`); zero sums are left out. */
export function sumBy(body: string, name: string, by: string[]): Series {
  const out: Series = new Map();
  for (const s of parseMetrics(body)) {
    if (s.name !== name) continue;
    const key = by.map((b) => s.labels[b] ?? "").join("|");
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  for (const [k, v] of out) if (v === 0) out.delete(k);
  return out;
}

/** after - before, per key; keys whose difference is 0 are left out. */
export function delta(before: Series, after: Series): Series {
  const out: Series = new Map();
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (Math.abs(d) > 1e-12) out.set(k, d);
  }
  return out;
}

export function tally(keys: string[]): Series {
  const out: Series = new Map();
  for (const k of keys) out.set(k, (out.get(k) ?? 0) + 1);
  return out;
}

/** GET /metrics in the classic format. */
export async function scrapeMetrics(baseUrl: string): Promise<string> {
  return (await fetch(`${baseUrl}/metrics`)).text();
}
