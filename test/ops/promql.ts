// Reading the shipped dashboard and rules as data: every PromQL expression they hold, with Grafana's variables
// substituted, and the metric names and labels each one refers to (a small scanner, enough for our expressions).

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

export const repoPath = (relative: string): string => fileURLToPath(new URL(`../../${relative}`, import.meta.url));

export const DASHBOARD_FILE = "dashboards/grafana/gemini-gateway.json";
export const RULES_FILE = "dashboards/prometheus/alerts.yml";

export interface PanelQuery {
  panel: string;
  refId: string;
  expr: string;
}

interface DashboardPanel {
  type: string;
  title: string;
  targets?: Array<{ refId: string; expr: string }>;
  panels?: DashboardPanel[];
}

export interface Dashboard {
  panels: DashboardPanel[];
  templating: { list: Array<{ name: string; type: string; query?: string | { query: string }; allValue?: string }> };
}

export function loadDashboard(): Dashboard {
  return JSON.parse(readFileSync(repoPath(DASHBOARD_FILE), "utf8")) as Dashboard;
}

/** Every query of every panel (rows' nested panels included). */
export function panelQueries(dashboard: Dashboard = loadDashboard()): PanelQuery[] {
  const flat = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  return flat.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, refId: t.refId, expr: t.expr })));
}

/** The template variables' own queries (label_values(metric, label)). */
export function variableQueries(dashboard: Dashboard = loadDashboard()): string[] {
  return dashboard.templating.list
    .filter((v) => v.type === "query" && v.query !== undefined)
    .map((v) => (typeof v.query === "string" ? v.query : v.query!.query));
}

/**
 * Grafana's variables as Grafana would expand them with "All" selected: `$model` and `$tenant` to their allValue
 * (`.*`), `$__rate_interval` to a window (the caller picks one that spans its data).
 */
export function substituteVariables(expr: string, rateInterval: string): string {
  return expr.replaceAll("$__rate_interval", rateInterval).replace(/\$\{?(model|tenant)\}?/g, ".*");
}

export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function loadRules(file = RULES_FILE): Array<{ name: string; interval?: string; rules: Rule[] }> {
  return (parse(readFileSync(repoPath(file), "utf8")) as { groups: Array<{ name: string; interval?: string; rules: Rule[] }> }).groups;
}

export interface Selector {
  metric: string;
  labels: string[];
}

export interface ExpressionRefs {
  selectors: Selector[];
  /** Labels named in by/without/on/ignoring/group_left/group_right. */
  groupingLabels: string[];
}

const FUNCTION_OR_KEYWORD = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset", "inf", "nan"]);
const IDENTIFIER = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;

/** The metrics an expression selects (with the labels its matchers name) and the labels it groups by. */
export function expressionRefs(expr: string): ExpressionRefs {
  const groupingLabels: string[] = [];
  const selectors: Selector[] = [];
  let rest = expr
    .replace(/label_values\(([^,)]+),\s*([^)]+)\)/g, "$1{$2=\"\"}") // label_values(metric, label): that metric has that label
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_m, _kw: string, labels: string) => {
      groupingLabels.push(...labels.split(",").map((l) => l.trim()).filter((l) => l !== ""));
      return " ";
    });
  rest = rest.replace(/([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}/g, (_m, metric: string | undefined, matchers: string) => {
    const labels = [...matchers.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1]!);
    selectors.push({ metric: metric ?? "", labels });
    return " ";
  });
  for (let i = 0; i < rest.length; ) {
    IDENTIFIER.lastIndex = i;
    const match = IDENTIFIER.exec(rest);
    const before = i > 0 ? rest[i - 1]! : " ";
    if (!match || /[0-9.]/.test(before)) {
      i += 1;
      continue;
    }
    const name = match[0];
    i += name.length;
    const isCall = /^\s*\(/.test(rest.slice(i));
    if (!isCall && !FUNCTION_OR_KEYWORD.has(name)) selectors.push({ metric: name, labels: [] });
  }
  return { selectors, groupingLabels };
}
