// The gateway's own settings (issue 3): listen address, upstream, client auth, retries, deadlines, limits.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { z } from "zod";
import { describeIssues, loadSections, type ConfigSection, type SettingSource } from "./source.js";

export type AuthMode = "keys" | "passthrough" | "none";

/** A configured gateway key: only its sha256 is kept. */
export interface GatewayKey {
  hash: Buffer;
  tenant: string;
}

export type AuthConfig = { mode: "keys"; keys: GatewayKey[] } | { mode: "passthrough" } | { mode: "none" };

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export interface GatewayConfig {
  port: number;
  host: string;
  upstream: { baseUrl: string; apiKey?: string };
  auth: AuthConfig;
  retry: { baseMs: number; capMs: number; maxAttempts: number };
  retryBudget: { ratio: number; floor: number; windowMs: number };
  /** Whole-request deadline; a client's X-Server-Timeout can only shorten it. */
  requestDeadlineMs: number;
  /** One attempt's wait for the upstream response headers. */
  attemptTimeoutMs: number;
  maxBodyBytes: number;
  /** A request body that sends nothing for this long is answered 408. */
  bodyIdleTimeoutMs: number;
  drainTimeoutMs: number;
  /** How long an idle client connection is kept open: longer than the idle timeout of a load balancer in front. */
  keepAliveTimeoutMs: number;
  /** A listener of its own for /metrics (and the probes): /metrics is then no longer served on the API port. */
  metrics?: { port: number; host: string };
  /** /healthz and /readyz on the API port too (with METRICS_PORT they are always on the metrics listener). */
  healthOnApiPort: boolean;
  /** The URL clients reach the gateway at, for URLs the gateway hands back (a resumable upload's); default: from
   *  each request's Host (and X-Forwarded-Proto / X-Forwarded-Host) headers. */
  publicUrl?: string;
  logLevel: LogLevel;
}

export const hashApiKey = (key: string): Buffer => createHash("sha256").update(key).digest();

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ error: "must be a number" })
    .int({ error: "must be a whole number" })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` });

const schema = z.object({
  PORT: int(0, 65535).default(8080),
  HOST: z.string().default("0.0.0.0"),
  GEMINI_BASE_URL: z
    .url({ protocol: /^https?$/, error: "must be an http(s) URL, e.g. https://generativelanguage.googleapis.com" })
    .default("https://generativelanguage.googleapis.com"),
  GEMINI_API_KEY: z.string().optional(),
  GOOGLE_API_KEY: z.string().optional(),
  GATEWAY_KEYS: z.string().optional(),
  GATEWAY_AUTH: z.enum(["keys", "passthrough", "none"], { error: "must be keys, passthrough or none" }).optional(),
  RETRY_BASE_MS: int(0).default(500),
  RETRY_CAP_MS: int(0).default(60_000),
  RETRY_MAX_ATTEMPTS: int(1, 20).default(4),
  RETRY_BUDGET_RATIO: z.coerce
    .number({ error: "must be a number" })
    .min(0, { error: "must be between 0 and 1" })
    .max(1, { error: "must be between 0 and 1" })
    .default(0.2),
  RETRY_BUDGET_FLOOR: int(0).default(10),
  RETRY_BUDGET_WINDOW_MS: int(100).default(10_000),
  REQUEST_DEADLINE_MS: int(1).default(120_000),
  ATTEMPT_TIMEOUT_MS: int(1).default(60_000),
  MAX_BODY_BYTES: int(1).default(20 * 1024 * 1024),
  REQUEST_BODY_TIMEOUT_MS: int(1).default(30_000),
  DRAIN_TIMEOUT_MS: int(0).default(25_000),
  KEEP_ALIVE_TIMEOUT_MS: int(1).default(65_000),
  METRICS_PORT: int(0, 65535).optional(),
  METRICS_HOST: z.string().optional(),
  HEALTH_ON_API_PORT: z.enum(["true", "false"], { error: "must be true or false" }).default("true"),
  PUBLIC_URL: z.url({ protocol: /^https?$/, error: "must be an http(s) URL, e.g. https://gateway.example.com" }).optional(),
  LOG_LEVEL: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], {
      error: "must be one of fatal, error, warn, info, debug, trace, silent",
    })
    .default("info"),
});

const TENANT = /^[A-Za-z0-9_.-]{1,64}$/;

/** `key:tenant` pairs, comma or newline separated; `#` starts a comment line in a file. */
export function parseKeyPairs(text: string, origin: string): { keys: GatewayKey[]; problems: string[] } {
  const keys: GatewayKey[] = [];
  const problems: string[] = [];
  const entries = text
    .split(/[,\n]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry && !entry.startsWith("#"));
  entries.forEach((entry, i) => {
    const colon = entry.lastIndexOf(":");
    const key = entry.slice(0, Math.max(0, colon));
    const tenant = entry.slice(colon + 1);
    if (colon <= 0 || !TENANT.test(tenant)) {
      problems.push(`GATEWAY_KEYS: entry ${i + 1} of ${origin} must be key:tenant, tenant of letters, digits, . _ - (up to 64)`);
    } else {
      keys.push({ hash: hashApiKey(key), tenant });
    }
  });
  if (entries.length === 0) problems.push(`GATEWAY_KEYS: ${origin} holds no key:tenant pair`);
  return { keys, problems };
}

/** GATEWAY_KEYS is either the pairs themselves or, when it holds no ':', the path of a file of pairs. */
function readGatewayKeys(value: string): { keys: GatewayKey[]; problems: string[] } {
  if (value.includes(":")) return parseKeyPairs(value, "the list");
  let text: string;
  try {
    text = readFileSync(value, "utf8");
  } catch (err) {
    const reason = err instanceof Error && "code" in err ? String(err.code) : String(err);
    return { keys: [], problems: [`GATEWAY_KEYS: cannot read the key file ${value} (${reason}); give key:tenant pairs or a readable file`] };
  }
  return parseKeyPairs(text, `file ${value}`);
}

const authSchema = schema.pick({ GATEWAY_AUTH: true, GATEWAY_KEYS: true, GEMINI_API_KEY: true, GOOGLE_API_KEY: true });
type AuthSettings = z.infer<typeof authSchema>;

function resolveAuth(settings: AuthSettings): { auth?: AuthConfig; problems: string[] } {
  const apiKey = settings.GEMINI_API_KEY ?? settings.GOOGLE_API_KEY;
  const mode: AuthMode | undefined = settings.GATEWAY_AUTH ?? (settings.GATEWAY_KEYS ? "keys" : undefined);
  if (mode === "passthrough" || (mode === undefined && !apiKey)) {
    // Without an upstream key the only workable mode is to forward the client's key.
    return { auth: { mode: "passthrough" }, problems: [] };
  }
  if (mode === undefined) {
    return {
      problems: [
        "GATEWAY_KEYS: an upstream key is set but no client auth: set GATEWAY_KEYS=key:tenant,... (or a file of pairs), " +
          "GATEWAY_AUTH=passthrough to forward the clients' own keys, or GATEWAY_AUTH=none for an open gateway",
      ],
    };
  }
  const problems: string[] = [];
  if (!apiKey) problems.push(`GEMINI_API_KEY: GATEWAY_AUTH=${mode} needs the upstream key (GEMINI_API_KEY or GOOGLE_API_KEY)`);
  if (mode === "none") return { auth: { mode: "none" }, problems };
  if (!settings.GATEWAY_KEYS) return { problems: [...problems, "GATEWAY_KEYS: GATEWAY_AUTH=keys needs GATEWAY_KEYS=key:tenant,... or a file of pairs"] };
  const { keys, problems: keyProblems } = readGatewayKeys(settings.GATEWAY_KEYS);
  return { auth: { mode: "keys", keys }, problems: [...problems, ...keyProblems] };
}

export const gatewaySection: ConfigSection<GatewayConfig> = {
  settings: Object.keys(schema.shape),
  load(source: SettingSource) {
    const parsed = schema.safeParse(source);
    if (!parsed.success) {
      // The auth cross-checks still run when only other settings are invalid, so one run reports every problem.
      const authSettings = authSchema.safeParse(source);
      const authProblems = authSettings.success ? resolveAuth(authSettings.data).problems : [];
      return { problems: [...describeIssues(parsed.error, source), ...authProblems] };
    }
    const s = parsed.data;
    const apiKey = s.GEMINI_API_KEY ?? s.GOOGLE_API_KEY;
    const { auth, problems } = resolveAuth(s);
    if (s.RETRY_CAP_MS < s.RETRY_BASE_MS) problems.push(`RETRY_CAP_MS: must be at least RETRY_BASE_MS (${s.RETRY_BASE_MS})`);
    if (s.METRICS_PORT !== undefined && s.METRICS_PORT !== 0 && s.METRICS_PORT === s.PORT) problems.push("METRICS_PORT: must differ from PORT (or leave it unset to serve /metrics on PORT)");
    if (s.METRICS_PORT === undefined && s.HEALTH_ON_API_PORT === "false") problems.push("HEALTH_ON_API_PORT: false needs METRICS_PORT (the probes must be served somewhere)");
    if (!auth || problems.length > 0) return { problems };
    return {
      config: {
        port: s.PORT,
        host: s.HOST,
        upstream: { baseUrl: s.GEMINI_BASE_URL.replace(/\/+$/, ""), ...(apiKey ? { apiKey } : {}) },
        auth,
        retry: { baseMs: s.RETRY_BASE_MS, capMs: s.RETRY_CAP_MS, maxAttempts: s.RETRY_MAX_ATTEMPTS },
        retryBudget: { ratio: s.RETRY_BUDGET_RATIO, floor: s.RETRY_BUDGET_FLOOR, windowMs: s.RETRY_BUDGET_WINDOW_MS },
        requestDeadlineMs: s.REQUEST_DEADLINE_MS,
        attemptTimeoutMs: s.ATTEMPT_TIMEOUT_MS,
        maxBodyBytes: s.MAX_BODY_BYTES,
        bodyIdleTimeoutMs: s.REQUEST_BODY_TIMEOUT_MS,
        drainTimeoutMs: s.DRAIN_TIMEOUT_MS,
        keepAliveTimeoutMs: s.KEEP_ALIVE_TIMEOUT_MS,
        ...(s.METRICS_PORT !== undefined ? { metrics: { port: s.METRICS_PORT, host: s.METRICS_HOST ?? s.HOST } } : {}),
        healthOnApiPort: s.HEALTH_ON_API_PORT === "true",
        ...(s.PUBLIC_URL ? { publicUrl: s.PUBLIC_URL.replace(/\/+$/, "") } : {}),
        logLevel: s.LOG_LEVEL,
      },
    };
  },
};

/** The gateway's settings alone (tests, tools); the server loads every concern's section together. */
export function loadGatewayConfig(env: Readonly<Record<string, string | undefined>>, argv: readonly string[] = []): GatewayConfig {
  return loadSections({ gateway: gatewaySection }, env, argv).gateway;
}
