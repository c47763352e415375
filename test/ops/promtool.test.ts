// The shipped Prometheus files pass promtool: the config (with its rule file), the rules, and the rule unit tests
// (dashboards/prometheus/alerts.test.yml: a firing and a quiet case for every alert).
// promtool comes with Debian's `prometheus` package (.ci/run installs it).

import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { loadRules, repoPath } from "./promql.js";

const run = promisify(execFile);

async function promtool(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run("promtool", args, { cwd: repoPath(".") });
    return stdout + stderr;
  } catch (err) {
    const e = err as { code?: string; stdout?: string; stderr?: string; message: string };
    if (e.code === "ENOENT") throw new Error("promtool not found: apt-get install prometheus (see .ci/run)");
    throw new Error(`promtool ${args.join(" ")} failed:\n${e.stdout ?? ""}${e.stderr ?? e.message}`);
  }
}

describe("promtool", () => {
  it("check config: prometheus.yml and the rule file it loads", async () => {
    const out = await promtool("check", "config", "dashboards/prometheus/prometheus.yml");
    expect(out).toContain("is valid prometheus config file syntax");
  });

  it("check rules: alerts.yml", async () => {
    const out = await promtool("check", "rules", "dashboards/prometheus/alerts.yml");
    expect(out).toMatch(/SUCCESS: \d+ rules found/);
  });

  it("test rules: alerts.test.yml passes", async () => {
    const out = await promtool("test", "rules", "dashboards/prometheus/alerts.test.yml");
    expect(out).toContain("SUCCESS");
  });

  it("alerts.test.yml has a firing and a quiet case for every alert", () => {
    type AlertTest = { alertname: string; exp_alerts?: unknown[] };
    const tests = (parse(readFileSync(repoPath("dashboards/prometheus/alerts.test.yml"), "utf8")) as {
      tests: Array<{ alert_rule_test?: AlertTest[] }>;
    }).tests.flatMap((t) => t.alert_rule_test ?? []);
    const alerts = loadRules().flatMap((g) => g.rules).flatMap((r) => (r.alert ? [r.alert] : []));
    const missing = alerts.flatMap((name) => {
      const cases = tests.filter((t) => t.alertname === name);
      return [
        ...(cases.some((t) => (t.exp_alerts ?? []).length > 0) ? [] : [`${name}: no firing case`]),
        ...(cases.some((t) => (t.exp_alerts ?? []).length === 0) ? [] : [`${name}: no quiet case`]),
      ];
    });
    expect(missing).toEqual([]);
  });

  it("every alert has a summary, a description, a runbook note and a severity", () => {
    const alerts = loadRules().flatMap((g) => g.rules).filter((r) => r.alert);
    const incomplete = alerts.filter(
      (r) => !r.annotations?.summary || !r.annotations.description || !r.annotations.runbook || !r.labels?.severity,
    );
    expect(incomplete.map((r) => r.alert)).toEqual([]);
  });

  it("every runbook note links to that alert's section of docs/operations.md", () => {
    // GitHub's anchor for "### GeminiGatewayDown" is "#geminigatewaydown".
    const headings = readFileSync(repoPath("docs/operations.md"), "utf8").match(/^#+ .+$/gm) ?? [];
    const anchors = new Set(
      headings.map((h) => h.replace(/^#+ /, "").trim().toLowerCase().replace(/[^a-z0-9 -]/g, "").replace(/ /g, "-")),
    );
    const broken = loadRules()
      .flatMap((g) => g.rules)
      .flatMap((r) => {
        if (!r.alert) return [];
        const link = /docs\/operations\.md#([a-z0-9-]+)/.exec(r.annotations?.runbook ?? "");
        return link && link[1] === r.alert.toLowerCase() && anchors.has(link[1]) ? [] : [r.alert];
      });
    expect(broken).toEqual([]);
  });
});
