// CONSOLE_* settings and ADMIN_KEYS: the operator console at /ui/ (src/console). ADMIN_KEYS are secrets: environment
// only, never flags.

import { z } from "zod";
import { hashApiKey } from "./gateway.js";
import { describeIssues, loadSections, type ConfigSection, type SettingSource } from "./source.js";

const positiveInt = () => z.coerce.number({ error: "must be a number" }).int("must be an integer").positive("must be > 0");

export const consoleEnvSchema = z.object({
  ADMIN_KEYS: z.string().optional(),
  CONSOLE: z.enum(["on", "off"], { error: "must be on or off" }).default("on"),
  CONSOLE_TURNS: positiveInt().max(100_000, "must be at most 100000").default(2000),
  PROMETHEUS_URL: z
    .string()
    .refine((url) => /^https?:\/\/[^/]/.test(url), "must be an http(s) URL, e.g. http://prometheus:9090")
    .optional(),
  TRACE_UI_URL: z
    .string()
    .refine((url) => /^https?:\/\//.test(url) && url.includes("{traceId}"), "must be an http(s) URL holding {traceId}, e.g. http://grafana:3000/explore?traceId={traceId}")
    .optional(),
});

/** One line each, as `serve --help` and docs/configuration.md show them (defaults come from the schema). */
const help: Record<keyof typeof consoleEnvSchema.shape, string> = {
  ADMIN_KEYS: "keys (comma-separated) that open the console at /ui/ on every tenant; a tenant's gateway key opens it on its own tenant",
  CONSOLE: "on: the operator console at /ui/ and its API at /ui/api/; off: neither is served",
  CONSOLE_TURNS: "turns each replica keeps in memory for the console's turns table and conversation pages",
  PROMETHEUS_URL: "the Prometheus that scrapes every replica: the console's overview (for admin keys) is then the fleet's, not one replica's",
  TRACE_UI_URL: "where the console links a trace: a URL with {traceId} in it (Grafana Explore, Jaeger, Tempo...)",
};

export interface ConsoleConfig {
  enabled: boolean;
  /** SHA-256 of each admin key (compared in constant time, like gateway keys). */
  adminKeys: readonly Buffer[];
  turns: number;
  prometheusUrl?: string;
  traceUrl?: string;
}

function toConfig(env: z.infer<typeof consoleEnvSchema>): ConsoleConfig {
  const adminKeys = (env.ADMIN_KEYS ?? "")
    .split(",")
    .map((key) => key.trim())
    .filter((key) => key !== "")
    .map(hashApiKey);
  return {
    enabled: env.CONSOLE === "on",
    adminKeys,
    turns: env.CONSOLE_TURNS,
    ...(env.PROMETHEUS_URL ? { prometheusUrl: env.PROMETHEUS_URL } : {}),
    ...(env.TRACE_UI_URL ? { traceUrl: env.TRACE_UI_URL } : {}),
  };
}

export const defaultConsoleConfig: ConsoleConfig = toConfig(consoleEnvSchema.parse({}));

export const consoleSection: ConfigSection<ConsoleConfig> = {
  settings: Object.keys(consoleEnvSchema.shape),
  help,
  schema: consoleEnvSchema,
  secrets: { ADMIN_KEYS: {} },
  load(source: SettingSource) {
    const parsed = consoleEnvSchema.safeParse(source);
    return parsed.success ? { config: toConfig(parsed.data) } : { problems: describeIssues(parsed.error, source) };
  },
};

/** The console settings alone (tests, tools). */
export function loadConsoleConfig(env: Readonly<Record<string, string | undefined>> = process.env, argv: readonly string[] = []): ConsoleConfig {
  return loadSections({ console: consoleSection }, env, argv).console;
}
