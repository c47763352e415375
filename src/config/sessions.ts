// SESSION_* settings: chat sessions as a service (issue 4). Validated once at start-up, one clear line per problem.

import { z } from "zod";
import { parseRedisUrl, type RedisTarget } from "./redis-url.js";
import { describeIssues, loadSections, type ConfigSection, type SettingSource } from "./source.js";

const positiveInt = () => z.coerce.number({ error: "must be a number" }).int("must be an integer").positive("must be > 0");

const bool = () =>
  z.enum(["true", "false", "1", "0"], { error: "must be true or false" }).transform((v) => v === "true" || v === "1");

const storeSpec = z.string().transform((value, ctx): "memory" | RedisTarget => {
  if (value === "memory") return value;
  const target = parseRedisUrl(value);
  if ("problem" in target) {
    ctx.addIssue({ code: "custom", message: target.problem });
    return z.NEVER;
  }
  return target;
});

const nonNegativeInt = () => z.coerce.number({ error: "must be a number" }).int("must be an integer").min(0, "must be >= 0");

export const sessionEnvSchema = z.object({
  SESSION_STORE: storeSpec.default("memory"),
  SESSION_MAX: positiveInt().default(10_000),
  SESSION_MAX_BYTES: positiveInt().default(256 * 1024 * 1024),
  SESSION_TTL_SECONDS: positiveInt().default(3600),
  SESSION_MAX_TURNS: positiveInt().default(50),
  SESSION_TURN_CAP_POLICY: z.enum(["reject", "slide"], { error: "must be reject or slide" }).default("reject"),
  SESSION_PIN_FIRST_TURN: bool().default(false),
  SESSION_MAX_HISTORY_TOKENS: positiveInt().optional(),
  SESSION_STRICT_ALTERNATION: bool().default(false),
  SESSION_QUEUE_MAX: positiveInt().default(8),
  SESSION_SNAPSHOT_FILE: z.string().min(1).optional(),
  // A brace would move the keys' hash tag (Redis Cluster puts keys with the same {tag} in one slot) into the prefix.
  SESSION_REDIS_PREFIX: z.string().min(1).regex(/^[^{}]*$/, "must not contain { or } (Redis Cluster reads them as a hash tag)").default("ggw:"),
  SESSION_LEASE_MS: positiveInt().default(5000),
  SESSION_REDIS_WAIT_REPLICAS: nonNegativeInt().default(0),
  SESSION_REDIS_WAIT_MS: positiveInt().default(1000),
  SESSION_TOMBSTONES: positiveInt().default(10_000),
});

export type SessionEnv = z.infer<typeof sessionEnvSchema>;

/** One line each, as `serve --help` and docs/configuration.md show them (defaults come from the schema). */
const help: Record<keyof typeof sessionEnvSchema.shape, string> = {
  SESSION_STORE:
    "memory, or Redis shared by every replica (sessions, chains, resource owners): redis://host:port/db, " +
    "redis-cluster://host:port,host:port (seed nodes) or redis-sentinel://host:port,host:port/master-name; rediss… for TLS",
  SESSION_MAX: "sessions the memory store keeps; the least recently used is evicted first",
  SESSION_MAX_BYTES: "bytes of sessions the memory store keeps; a larger session is refused",
  SESSION_TTL_SECONDS: "idle time after which a session expires (any use renews it)",
  SESSION_MAX_TURNS: "turns per session; what happens past it is SESSION_TURN_CAP_POLICY",
  SESSION_TURN_CAP_POLICY: "reject (the send past the cap is refused) or slide (the oldest exchanges are dropped)",
  SESSION_PIN_FIRST_TURN: "slide and token trimming keep the first exchange (instructions given as a first turn)",
  SESSION_MAX_HISTORY_TOKENS: "drop the oldest exchanges to keep the prompt under this many tokens (unset: no token budget)",
  SESSION_STRICT_ALTERNATION: "refuse consecutive turns of one role instead of warning",
  SESSION_QUEUE_MAX: "sends waiting or running per session in one process before 429",
  SESSION_SNAPSHOT_FILE: "memory store: written on drain (SIGTERM) and loaded at start-up, so sessions survive a restart",
  SESSION_REDIS_PREFIX: "prefix of every Redis key the gateway writes",
  SESSION_LEASE_MS: "Redis: a turn held by a replica that crashed is taken over after this long",
  SESSION_REDIS_WAIT_REPLICAS:
    "Redis: a turn is acknowledged once this many replicas of its primary hold it (WAIT), so a failover loses no acknowledged turn; 0: the primary alone",
  SESSION_REDIS_WAIT_MS: "Redis: how long a commit waits for SESSION_REDIS_WAIT_REPLICAS before it answers anyway (and counts it)",
  SESSION_TOMBSTONES: "memory store: ids of gone sessions remembered to say why a 404 (evicted, expired, deleted)",
};

/** A Redis URL with a password (redis://:secret@host) is a secret, refused as a flag. */
function holdsPassword(store: string): boolean {
  const target = store === "memory" ? undefined : parseRedisUrl(store);
  return target !== undefined && !("problem" in target) && target.password !== undefined;
}

export interface SessionConfig {
  /** "memory", or the Redis deployment every replica shares. */
  store: "memory" | RedisTarget;
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
  /** Redis: replicas that must hold a commit before the turn is acknowledged (WAIT), and how long to wait for them. */
  waitReplicas: number;
  waitMs: number;
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
    waitReplicas: env.SESSION_REDIS_WAIT_REPLICAS,
    waitMs: env.SESSION_REDIS_WAIT_MS,
    tombstones: env.SESSION_TOMBSTONES,
  };
}

export const sessionSection: ConfigSection<SessionConfig> = {
  settings: Object.keys(sessionEnvSchema.shape),
  help,
  schema: sessionEnvSchema,
  secrets: { SESSION_STORE: { isSecret: holdsPassword, when: "when the URL holds a password" } },
  load(source: SettingSource) {
    const parsed = sessionEnvSchema.safeParse(source);
    return parsed.success ? { config: toConfig(parsed.data) } : { problems: describeIssues(parsed.error, source) };
  },
};

/** The session settings alone (tests, tools); the server loads every concern's section together. */
export function loadSessionConfig(env: Readonly<Record<string, string | undefined>> = process.env, argv: readonly string[] = []): SessionConfig {
  return loadSections({ sessions: sessionSection }, env, argv).sessions;
}
