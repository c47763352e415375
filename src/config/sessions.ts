// SESSION_* settings: chat sessions as a service (issue 4). Validated once at start-up, one clear line per problem.

import { z } from "zod";

const positiveInt = (name: string) =>
  z.coerce.number({ error: `${name} must be a number` }).int(`${name} must be an integer`).positive(`${name} must be > 0`);

const bool = (name: string) =>
  z
    .enum(["true", "false", "1", "0", ""], { error: `${name} must be true or false` })
    .transform((v) => v === "true" || v === "1");

const storeSpec = z.string().refine((v) => v === "memory" || /^rediss?:\/\//.test(v), {
  error: "SESSION_STORE must be memory or redis://host:port/db",
});

export const sessionEnvSchema = z.object({
  SESSION_STORE: storeSpec.default("memory"),
  SESSION_MAX: positiveInt("SESSION_MAX").default(10_000),
  SESSION_MAX_BYTES: positiveInt("SESSION_MAX_BYTES").default(256 * 1024 * 1024),
  SESSION_TTL_SECONDS: positiveInt("SESSION_TTL_SECONDS").default(3600),
  SESSION_MAX_TURNS: positiveInt("SESSION_MAX_TURNS").default(50),
  SESSION_TURN_CAP_POLICY: z.enum(["reject", "slide"], { error: "SESSION_TURN_CAP_POLICY must be reject or slide" }).default("reject"),
  SESSION_PIN_FIRST_TURN: bool("SESSION_PIN_FIRST_TURN").default(false),
  SESSION_MAX_HISTORY_TOKENS: positiveInt("SESSION_MAX_HISTORY_TOKENS").optional(),
  SESSION_STRICT_ALTERNATION: bool("SESSION_STRICT_ALTERNATION").default(false),
  SESSION_QUEUE_MAX: positiveInt("SESSION_QUEUE_MAX").default(8),
  SESSION_SNAPSHOT_FILE: z.string().min(1).optional(),
  SESSION_REDIS_PREFIX: z.string().min(1).default("ggw:"),
  SESSION_LEASE_MS: positiveInt("SESSION_LEASE_MS").default(5000),
  SESSION_TOMBSTONES: positiveInt("SESSION_TOMBSTONES").default(10_000),
});

export type SessionEnv = z.infer<typeof sessionEnvSchema>;

export interface SessionConfig {
  /** "memory" or a redis:// URL. */
  store: string;
  maxSessions: number;
  maxBytes: number;
  ttlSeconds: number;
  maxTurns: number;
  turnCapPolicy: "reject" | "slide";
  /** With the slide policy: keep the first user/model pair (e.g. instructions given as a first turn). */
  pinFirstTurn: boolean;
  maxHistoryTokens: number | undefined;
  strictAlternation: boolean;
  /** Sends waiting or running per session in one process before 429. */
  queueMax: number;
  snapshotFile: string | undefined;
  redisPrefix: string;
  /** Redis turn lease: a crashed replica's turn is taken over after this long. */
  leaseMs: number;
  /** How many gone session ids the memory store remembers, to say why a 404. */
  tombstones: number;
}

export const defaultSessionConfig: SessionConfig = toConfig(sessionEnvSchema.parse({}));

function toConfig(env: SessionEnv): SessionConfig {
  return {
    store: env.SESSION_STORE,
    maxSessions: env.SESSION_MAX,
    maxBytes: env.SESSION_MAX_BYTES,
    ttlSeconds: env.SESSION_TTL_SECONDS,
    maxTurns: env.SESSION_MAX_TURNS,
    turnCapPolicy: env.SESSION_TURN_CAP_POLICY,
    pinFirstTurn: env.SESSION_PIN_FIRST_TURN,
    maxHistoryTokens: env.SESSION_MAX_HISTORY_TOKENS,
    strictAlternation: env.SESSION_STRICT_ALTERNATION,
    queueMax: env.SESSION_QUEUE_MAX,
    snapshotFile: env.SESSION_SNAPSHOT_FILE,
    redisPrefix: env.SESSION_REDIS_PREFIX,
    leaseMs: env.SESSION_LEASE_MS,
    tombstones: env.SESSION_TOMBSTONES,
  };
}

/** Parses the SESSION_* variables of `env`; throws an Error listing one line per problem. */
export function loadSessionConfig(env: Record<string, string | undefined> = process.env): SessionConfig {
  const picked = Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith("SESSION_") && v !== undefined && v !== ""));
  const result = sessionEnvSchema.safeParse(picked);
  if (!result.success) {
    throw new Error(result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n"));
  }
  return toConfig(result.data);
}
