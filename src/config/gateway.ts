// The gateway's own settings (issue 3): listen address, upstream, client auth, retries, deadlines, limits.
// The keys are secrets: environment (or a file) only, never flags (see `secrets` below).

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { z } from "zod";
import { describeIssues, loadSections, type ConfigSection, type SettingSource } from "./source.js";
import { parseTenantsFile, type TenantsConfig } from "./tenants-file.js";

export type AuthMode = "keys" | "passthrough" | "none";

/** A configured gateway key: only its sha256 is kept. */
export interface GatewayKey {
  hash: Buffer;
  tenant: string;
}

/** Keys mode: the keys of GATEWAY_KEYS, or of the tenants file (GATEWAY_CONFIG, reloaded live: `tenantsFile`). */
export type AuthConfig =
  | { mode: "keys"; keys: readonly GatewayKey[]; tenantsFile?: { path: string; config: TenantsConfig } }
  | { mode: "passthrough" }
  | { mode: "none" };

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
  /** Tenant limits while their shared store (Redis) is unreachable: admit calls uncounted, or refuse them (503). */
  limitsOnStoreDown: "open" | "closed";
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
  GEMINI_API_KEY_FILE: z.string().optional(),
  GOOGLE_API_KEY: z.string().optional(),
  GATEWAY_KEYS: z.string().optional(),
  GATEWAY_CONFIG: z.string().min(1, "must be the path of the tenants file").optional(),
  LIMITS_ON_STORE_DOWN: z.enum(["open", "closed"], { error: "must be open or closed" }).default("open"),
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

/** The tenants file: read and checked now (every problem reported at start-up); the server reloads it live. */
export function readTenantsFile(path: string): { config: TenantsConfig } | { problems: string[] } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const reason = err instanceof Error && "code" in err ? String(err.code) : String(err);
    return { problems: [`cannot read ${path} (${reason})`] };
  }
  return parseTenantsFile(text);
}

/** GATEWAY_KEYS is either the pairs themselves or, when it holds no ':', the path of a file of pairs. */
const listsKeyPairs = (value: string): boolean => value.includes(":");

function readGatewayKeys(value: string): { keys: GatewayKey[]; problems: string[] } {
  if (listsKeyPairs(value)) return parseKeyPairs(value, "the list");
  let text: string;
  try {
    text = readFileSync(value, "utf8");
  } catch (err) {
    const reason = err instanceof Error && "code" in err ? String(err.code) : String(err);
    return { keys: [], problems: [`GATEWAY_KEYS: cannot read the key file ${value} (${reason}); give key:tenant pairs or a readable file`] };
  }
  return parseKeyPairs(text, `file ${value}`);
}

const authSchema = schema.pick({ GATEWAY_AUTH: true, GATEWAY_KEYS: true, GATEWAY_CONFIG: true, GEMINI_API_KEY: true, GEMINI_API_KEY_FILE: true, GOOGLE_API_KEY: true });
type AuthSettings = z.infer<typeof authSchema>;

/** The upstream key: GEMINI_API_KEY, or the file GEMINI_API_KEY_FILE names (a mounted secret), else GOOGLE_API_KEY.
 *  Problems never quote the key or the file's content. */
function readUpstreamKey(settings: AuthSettings): { apiKey?: string; problems: string[] } {
  const file = settings.GEMINI_API_KEY_FILE;
  if (file === undefined) {
    const apiKey = settings.GEMINI_API_KEY ?? settings.GOOGLE_API_KEY;
    return { ...(apiKey ? { apiKey } : {}), problems: [] };
  }
  if (settings.GEMINI_API_KEY !== undefined) {
    return { problems: ["GEMINI_API_KEY_FILE: GEMINI_API_KEY is set too; set one of them (the file is for a mounted secret)"] };
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const reason = err instanceof Error && "code" in err ? String(err.code) : String(err);
    return { problems: [`GEMINI_API_KEY_FILE: cannot read the key file ${file} (${reason})`] };
  }
  // `echo key > file` and editors end the file with a newline that is no part of the key.
  const apiKey = text.replace(/[\r\n]+$/, "");
  if (apiKey === "") return { problems: [`GEMINI_API_KEY_FILE: the key file ${file} is empty`] };
  if (/\s/.test(apiKey)) return { problems: [`GEMINI_API_KEY_FILE: the key file ${file} must hold the key alone, on one line without spaces`] };
  return { apiKey, problems: [] };
}

function resolveAuth(settings: AuthSettings): { auth?: AuthConfig; apiKey?: string; problems: string[] } {
  const upstream = readUpstreamKey(settings);
  const { apiKey } = upstream;
  // A key file that was given but could not be read counts as a key for the mode checks: its own line says what is
  // wrong, and "needs the upstream key" beside it would mislead.
  const hasKey = apiKey !== undefined || upstream.problems.length > 0;
  const withKey = { ...(apiKey ? { apiKey } : {}) };
  const mode: AuthMode | undefined = settings.GATEWAY_AUTH ?? (settings.GATEWAY_KEYS || settings.GATEWAY_CONFIG ? "keys" : undefined);
  if (settings.GATEWAY_CONFIG !== undefined) {
    const problems = [...upstream.problems];
    if (mode !== "keys") problems.push(`GATEWAY_CONFIG: the tenants file holds client keys: GATEWAY_AUTH must be keys (or unset), not ${mode}`);
    if (settings.GATEWAY_KEYS) problems.push("GATEWAY_CONFIG: the tenants file holds the keys: not together with GATEWAY_KEYS");
    if (!hasKey) problems.push("GEMINI_API_KEY: GATEWAY_AUTH=keys needs the upstream key (GEMINI_API_KEY, GEMINI_API_KEY_FILE or GOOGLE_API_KEY)");
    const file = readTenantsFile(settings.GATEWAY_CONFIG);
    if ("problems" in file) return { problems: [...problems, ...file.problems.map((p) => `GATEWAY_CONFIG: ${settings.GATEWAY_CONFIG}: ${p}`)] };
    const auth: AuthConfig = { mode: "keys", keys: file.config.keys, tenantsFile: { path: settings.GATEWAY_CONFIG, config: file.config } };
    return { auth, ...withKey, problems };
  }
  if (mode === "passthrough" || (mode === undefined && !hasKey)) {
    // Without an upstream key the only workable mode is to forward the client's key.
    return { auth: { mode: "passthrough" }, ...withKey, problems: upstream.problems };
  }
  if (mode === undefined) {
    return {
      problems: [
        ...upstream.problems,
        "GATEWAY_KEYS: an upstream key is set but no client auth: set GATEWAY_KEYS=key:tenant,... (or a file of pairs), " +
          "GATEWAY_AUTH=passthrough to forward the clients' own keys, or GATEWAY_AUTH=none for an open gateway",
      ],
    };
  }
  const problems = [...upstream.problems];
  if (!hasKey) problems.push(`GEMINI_API_KEY: GATEWAY_AUTH=${mode} needs the upstream key (GEMINI_API_KEY, GEMINI_API_KEY_FILE or GOOGLE_API_KEY)`);
  if (mode === "none") return { auth: { mode: "none" }, ...withKey, problems };
  if (!settings.GATEWAY_KEYS) return { problems: [...problems, "GATEWAY_KEYS: GATEWAY_AUTH=keys needs GATEWAY_KEYS=key:tenant,... or a file of pairs"] };
  const { keys, problems: keyProblems } = readGatewayKeys(settings.GATEWAY_KEYS);
  return { auth: { mode: "keys", keys }, ...withKey, problems: [...problems, ...keyProblems] };
}

/** One line each, as `serve --help` and docs/configuration.md show them (defaults come from the schema). */
const help: Record<keyof typeof schema.shape, string> = {
  PORT: "port of the API listener (0 = any free port)",
  HOST: "address of the API listener (127.0.0.1: this machine only)",
  GEMINI_BASE_URL: "the upstream Gemini API (the simulator's URL in tests and the demo)",
  GEMINI_API_KEY: "the gateway's own Google API key, sent upstream in the keys and none modes",
  GEMINI_API_KEY_FILE:
    "a file holding the upstream key instead (a mounted secret); a trailing newline is ignored; not together with GEMINI_API_KEY",
  GOOGLE_API_KEY: "the upstream key when neither GEMINI_API_KEY nor GEMINI_API_KEY_FILE is set",
  GATEWAY_KEYS:
    "client keys as key:tenant,key2:tenant2, or the path of a file of key:tenant lines (# comments); tenants: letters, digits, . _ - (up to 64); only their sha256 is kept",
  GATEWAY_CONFIG:
    "the tenants file (YAML): each tenant's keys (or their sha256: digests), allowed models and limits; reloaded on SIGHUP " +
    "and when it changes (a bad file is refused and the live one kept); instead of GATEWAY_KEYS",
  LIMITS_ON_STORE_DOWN:
    "tenant limits while Redis (SESSION_STORE) is unreachable: open (calls pass uncounted) or closed (refused with 503); failures are counted in gemini_gateway_redis_failures_total",
  GATEWAY_AUTH:
    "keys (clients present a GATEWAY_KEYS key), passthrough (the client's own Google key is forwarded) or none (open gateway); " +
    "unset: keys with GATEWAY_KEYS, passthrough without an upstream key, else start-up refuses",
  RETRY_BASE_MS: "backoff base: a retry waits a random time below min(RETRY_CAP_MS, base × 2^(attempt−1)) unless upstream says how long",
  RETRY_CAP_MS: "longest backoff between two attempts",
  RETRY_MAX_ATTEMPTS: "upstream attempts per call, the first included (1-20)",
  RETRY_BUDGET_RATIO: "retries may add at most this share of the calls over the window, gateway-wide and per tenant (0-1)",
  RETRY_BUDGET_FLOOR: "retries always allowed per window on top of the ratio",
  RETRY_BUDGET_WINDOW_MS: "the retry budget's sliding window",
  REQUEST_DEADLINE_MS: "whole-call deadline (attempts, waits and the body); a client's X-Server-Timeout (seconds) can only shorten it",
  ATTEMPT_TIMEOUT_MS: "one attempt's wait for the upstream response headers",
  MAX_BODY_BYTES: "largest request body accepted",
  REQUEST_BODY_TIMEOUT_MS: "a request body that sends nothing for this long is answered 408 and its connection closed",
  DRAIN_TIMEOUT_MS: "on SIGTERM, how long in-flight calls may take to finish before the process exits",
  KEEP_ALIVE_TIMEOUT_MS:
    "how long an idle client connection stays open; keep it above the idle timeout of a load balancer in front (AWS ALB 60 s; Google Cloud 600 s: set 620000)",
  METRICS_PORT: "serve /metrics, /healthz and /readyz on a listener of their own; /metrics is then no longer on PORT",
  METRICS_HOST: "address of the metrics listener (unset: HOST)",
  HEALTH_ON_API_PORT: "with METRICS_PORT, false keeps /healthz and /readyz off PORT too",
  PUBLIC_URL:
    "the URL clients reach the gateway at, for URLs it hands back (a resumable upload's); unset: from each request's X-Forwarded-Proto/-Host or Host",
  LOG_LEVEL: "log level: fatal, error, warn, info, debug, trace or silent",
};

export const gatewaySection: ConfigSection<GatewayConfig> = {
  settings: Object.keys(schema.shape),
  help,
  schema,
  secrets: {
    GEMINI_API_KEY: { instead: "or name a file holding it with GEMINI_API_KEY_FILE" },
    GOOGLE_API_KEY: { instead: "or name a file holding the key with GEMINI_API_KEY_FILE" },
    GATEWAY_KEYS: {
      isSecret: listsKeyPairs,
      when: "when it lists key:tenant pairs",
      instead: "or give the path of a file of pairs",
    },
  },
  load(source: SettingSource) {
    const parsed = schema.safeParse(source);
    if (!parsed.success) {
      // The auth cross-checks still run when only other settings are invalid, so one run reports every problem.
      const authSettings = authSchema.safeParse(source);
      const authProblems = authSettings.success ? resolveAuth(authSettings.data).problems : [];
      return { problems: [...describeIssues(parsed.error, source), ...authProblems] };
    }
    const s = parsed.data;
    const { auth, apiKey, problems } = resolveAuth(s);
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
        limitsOnStoreDown: s.LIMITS_ON_STORE_DOWN,
      },
    };
  },
};

/** The gateway's settings alone (tests, tools); the server loads every concern's section together. */
export function loadGatewayConfig(env: Readonly<Record<string, string | undefined>>, argv: readonly string[] = []): GatewayConfig {
  return loadSections({ gateway: gatewaySection }, env, argv).gateway;
}
