// Every metric a dashboard panel, a dashboard variable or a rule names is one the gateway exports, and every label
// they match or group by is one that metric carries: no typos, no stale names. The exported names and labels come
// from the telemetry module's registry (what GET /metrics serves).

import { Histogram } from "prom-client";
import { describe, expect, it } from "vitest";
import { GatewayMetrics } from "../../src/telemetry/metrics.js";
import { expressionRefs, loadRules, panelQueries, variableQueries } from "./promql.js";

/** Series names -> label names, as Prometheus stores them (histograms as _bucket/_sum/_count). */
function exportedSeries(): Map<string, Set<string>> {
  const metrics = new GatewayMetrics({ model: (m) => m, tenant: (t) => t });
  const series = new Map<string, Set<string>>();
  for (const metric of metrics.registry.getMetricsAsArray()) {
    // prom-client keeps each metric's label names on the instance; its typings do not declare the field.
    const labels = new Set([...((metric as unknown as { labelNames?: string[] }).labelNames ?? []), "job", "instance"]);
    if ((metric as unknown) instanceof Histogram) {
      series.set(`${metric.name}_bucket`, new Set([...labels, "le"]));
      series.set(`${metric.name}_sum`, labels);
      series.set(`${metric.name}_count`, labels);
    } else {
      series.set(metric.name, labels);
    }
  }
  series.set("up", new Set(["job", "instance"])); // written by Prometheus for every target
  return series;
}

/** Recorded series -> their labels (what their expression groups by). */
function recordedSeries(): Map<string, Set<string>> {
  const recorded = new Map<string, Set<string>>();
  for (const group of loadRules()) {
    for (const rule of group.rules) {
      if (rule.record) recorded.set(rule.record, new Set(expressionRefs(rule.expr).groupingLabels));
    }
  }
  return recorded;
}

function problemsOf(expr: string, known: Map<string, Set<string>>): string[] {
  const refs = expressionRefs(expr);
  const problems: string[] = [];
  if (refs.selectors.length === 0) problems.push("names no metric (scanner broken?)");
  const available = new Set<string>();
  for (const { metric, labels } of refs.selectors) {
    const metricLabels = known.get(metric);
    if (!metricLabels) {
      problems.push(`unknown metric "${metric}"`);
      continue;
    }
    metricLabels.forEach((l) => available.add(l));
    for (const label of labels) if (!metricLabels.has(label)) problems.push(`${metric} has no label "${label}"`);
  }
  for (const label of refs.groupingLabels) {
    if (!available.has(label)) problems.push(`groups by "${label}", which none of its metrics carries`);
  }
  return problems;
}

describe("metric names and labels in dashboards and rules", () => {
  const exported = exportedSeries();

  it("reads the exported names from the telemetry registry", () => {
    expect(exported.get("gemini_gateway_responses_total")).toEqual(new Set(["model", "finish_reason", "job", "instance"]));
    expect(exported.has("gen_ai_client_operation_duration_seconds_bucket")).toBe(true);
  });

  it("scans PromQL for metrics, matcher labels and grouping labels", () => {
    const refs = expressionRefs(
      'histogram_quantile(0.95, sum by (le, model) (rate(x_bucket{model=~"$model", a!="1"}[$__rate_interval]))) / on (model) y * 3600 > 1e3 or absent(up{job="g"})',
    );
    expect(refs.selectors).toEqual([
      { metric: "x_bucket", labels: ["model", "a"] },
      { metric: "up", labels: ["job"] },
      { metric: "y", labels: [] },
    ]);
    expect(refs.groupingLabels).toEqual(["le", "model", "model"]);
  });

  it("every dashboard panel query names exported metrics and their labels", () => {
    const queries = panelQueries();
    expect(queries.length).toBeGreaterThan(20);
    const problems = queries.flatMap((q) => problemsOf(q.expr, exported).map((p) => `${q.panel} [${q.refId}]: ${p}`));
    expect(problems).toEqual([]);
  });

  it("every dashboard variable query names exported metrics and their labels", () => {
    const problems = variableQueries().flatMap((q) => problemsOf(q, exported).map((p) => `${q}: ${p}`));
    expect(problems).toEqual([]);
  });

  it("every rule names exported or recorded metrics and their labels", () => {
    const known = new Map([...exported, ...recordedSeries()]);
    const rules = loadRules().flatMap((g) => g.rules);
    expect(rules.filter((r) => r.alert).length).toBeGreaterThanOrEqual(10);
    const problems = rules.flatMap((r) => problemsOf(r.expr, known).map((p) => `${r.alert ?? r.record}: ${p}`));
    expect(problems).toEqual([]);
  });
});
