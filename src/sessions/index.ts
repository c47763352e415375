// Assembling sessions for the server: the store the configuration names, and the service over it.

import type { SessionConfig } from "../config/sessions.js";
import { MemorySessionStore } from "./memory-store.js";
import type { MemoryStoreOptions } from "./memory-store.js";
import { RedisSessionStore } from "./redis-store.js";
import { SessionService } from "./service.js";
import type { AdoptInteraction, ModelCaller, SessionEvent } from "./service.js";
import type { GoneReason, SessionStore } from "./store.js";
import type { SessionTracing } from "../turn/session-trace.js";
import { openRedisConnection, type RedisConnection } from "../store/redis.js";

type EvictReason = Exclude<GoneReason, "deleted">;

export { SessionService } from "./service.js";
export type { ModelCaller, SessionEvent } from "./service.js";
export type { SessionStore } from "./store.js";
export { turnFromContents } from "./history.js";

export interface SessionDeps {
  modelCalls: ModelCaller;
  /** Telemetry: evictions and turn-cap rejections. */
  onEvent?: (event: SessionEvent) => void;
  /** Telemetry: the spans of each message and its store steps. */
  tracing?: SessionTracing;
  /** TTL clock of the memory store (tests). */
  perf?: MemoryStoreOptions["perf"];
  /** The Interactions concern: the interactions of sessions with backend "interactions". */
  adoptInteraction?: AdoptInteraction;
  /** The gateway's Redis connection, shared with its other state (opened here when absent, and closed with the store). */
  redis?: RedisConnection;
}

export async function openSessionStore(
  config: SessionConfig,
  deps: Pick<SessionDeps, "onEvent" | "perf" | "redis"> = {},
): Promise<SessionStore> {
  const onEvict = (reason: EvictReason): void => deps.onEvent?.({ type: "evicted", reason });
  if (config.store === "memory") {
    return MemorySessionStore.open({
      maxSessions: config.maxSessions,
      maxBytes: config.maxBytes,
      ttlSeconds: config.ttlSeconds,
      tombstones: config.tombstones,
      snapshotFile: config.snapshotFile,
      onEvict,
      ...(deps.perf ? { perf: deps.perf } : {}),
    });
  }
  return RedisSessionStore.open({
    connection: deps.redis ?? (await openRedisConnection(config.store)),
    ownsConnection: deps.redis === undefined,
    prefix: config.redisPrefix,
    ttlSeconds: config.ttlSeconds,
    leaseMs: config.leaseMs,
    waitReplicas: config.waitReplicas,
    waitMs: config.waitMs,
    onUnreplicatedCommit: () => deps.onEvent?.({ type: "unreplicated_commit" }),
  });
}

/** The store and the service; `service.store.close()` on drain (writes the snapshot / disconnects Redis). */
export async function createSessions(config: SessionConfig, deps: SessionDeps): Promise<SessionService> {
  const store = await openSessionStore(config, deps);
  return new SessionService({
    store,
    modelCalls: deps.modelCalls,
    config,
    ...(deps.onEvent ? { onEvent: deps.onEvent } : {}),
    ...(deps.tracing ? { tracing: deps.tracing } : {}),
    ...(deps.adoptInteraction ? { adoptInteraction: deps.adoptInteraction } : {}),
  });
}
