// The one way the gateway connects to Redis, for every concern that keeps shared state there (sessions, resource
// ownership, interaction chains), on the three deployments teams run: one server, a Redis Cluster, or primaries
// managed by Sentinel. Fail fast while Redis is down or failing over (no offline queue), reconnect and follow the
// topology in the background, and turn a Redis failure into the 503 UNAVAILABLE the routes answer.

import { Cluster, Redis } from "ioredis";
import type { ClusterOptions, RedisOptions } from "ioredis";
import { describeRedisTarget, type RedisNodeAddress, type RedisTarget } from "../config/redis-url.js";
import { GeminiError, unavailable } from "../gemini/errors.js";

/** A client of either kind: both speak the same commands; multi-key commands and scripts need their keys in one
 *  slot on a Cluster (every key of one session shares a hash tag). */
export type RedisClient = Redis | Cluster;

/** What a Redis failure stops, as the `concern` label of gemini_gateway_redis_failures_total. */
export type StoreConcern = "sessions" | "resource_owners" | "interaction_chains" | "tenant_limits";

export interface RedisConnection {
  readonly client: RedisClient;
  readonly mode: RedisTarget["mode"];
  /** "Redis Cluster at 127.0.0.1:7000,…": for messages, without credentials. */
  readonly where: string;
  /** The primaries holding the data now (one, or each primary of a Cluster): for SCAN and INFO, which are per node. */
  primaries(): Redis[];
  /** Runs an operation; a Redis failure is counted (onFailure) and becomes the 503 the routes answer, saying what is
   *  unavailable and what still works. */
  run<T>(outage: StoreOutage, op: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface RedisConnectionOptions {
  /** Called once per operation that failed because of Redis (it was answered 503). */
  onFailure?: (concern: StoreConcern) => void;
}

/** A command not answered within this long fails (a 503), rather than holding a request while a node is unreachable. */
const COMMAND_TIMEOUT_MS = 2000;

/** How long closing waits for QUIT's reply before it cuts the connection. */
const QUIT_TIMEOUT_MS = 1000;

const reconnectDelay = (times: number): number => Math.min(100 * times, 2000);

/** A replica promoted by a failover while connected to the old primary: reconnect (and so find the new primary). */
const reconnectOnReadonly = (err: Error): boolean => err.message.startsWith("READONLY");

function nodeOptions(target: RedisTarget): RedisOptions {
  return {
    ...(target.username !== undefined ? { username: target.username } : {}),
    ...(target.password !== undefined ? { password: target.password } : {}),
    ...(target.tls ? { tls: {} } : {}),
    maxRetriesPerRequest: 1,
    commandTimeout: COMMAND_TIMEOUT_MS,
    reconnectOnError: reconnectOnReadonly,
  };
}

const asHostPort = ({ host, port }: RedisNodeAddress): { host: string; port: number } => ({ host, port });

function createClient(target: RedisTarget): RedisClient {
  switch (target.mode) {
    case "single":
      return new Redis({
        ...nodeOptions(target),
        ...asHostPort(target.node),
        db: target.db,
        enableOfflineQueue: false, // fail fast while Redis is down instead of queueing requests
        retryStrategy: reconnectDelay,
        lazyConnect: true,
      });
    case "sentinel":
      return new Redis({
        ...nodeOptions(target),
        sentinels: target.sentinels.map(asHostPort),
        name: target.masterName,
        db: target.db,
        role: "master",
        ...(target.tls ? { enableTLSForSentinelMode: true } : {}),
        enableOfflineQueue: false,
        retryStrategy: reconnectDelay,
        // A primary that dies closes the connection; reconnecting asks the sentinels for the primary again. ioredis's
        // failoverDetector (+switch-master) is not used: a switch announced while the client reconnects leaves it
        // closed for good (every command then fails with "Connection is closed.").
        sentinelRetryStrategy: reconnectDelay,
        lazyConnect: true,
      });
    case "cluster": {
      const options: ClusterOptions = {
        redisOptions: nodeOptions(target),
        enableOfflineQueue: false,
        clusterRetryStrategy: reconnectDelay,
        // Redirections (MOVED, ASK) and a slot's primary failing over are retried inside the client for a short while
        // (maxRedirections × the delays, about a second): a slot that moves costs a little latency, not an error.
        maxRedirections: 8,
        retryDelayOnFailover: 150,
        retryDelayOnClusterDown: 150,
        retryDelayOnTryAgain: 100,
        lazyConnect: true,
      };
      return new Cluster(target.seeds.map(asHostPort), options);
    }
  }
}

/** Connects; a Redis that is down at start-up is not fatal: the routes that need it answer 503 until it is back. A plain
 *  redis:// URL naming a node of a Redis Cluster is refused (its keys would be MOVED elsewhere on every other slot). */
export async function openRedisConnection(target: RedisTarget, options: RedisConnectionOptions = {}): Promise<RedisConnection> {
  const client = createClient(target);
  client.on("error", () => {}); // reported per request as 503s; ioredis keeps reconnecting
  const where = describeRedisTarget(target);
  const connection: RedisConnection = {
    client,
    mode: target.mode,
    where,
    primaries: () => (client instanceof Cluster ? client.nodes("master") : [client]),
    run: async (outage, op) => {
      try {
        return await op();
      } catch (err) {
        if (err instanceof GeminiError) throw err;
        options.onFailure?.(outage.concern);
        const reason = err instanceof Error ? err.message : String(err);
        throw unavailable(`The ${outage.what} is unavailable (${where}: ${reason}). ${outage.consequence}`);
      }
    },
    close: async () => {
      // QUIT lets replies in flight arrive; a client still reconnecting to a node that is gone would wait for it, so
      // the connection is cut after a short while whatever happened.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([client.quit().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, QUIT_TIMEOUT_MS)))]);
      clearTimeout(timer);
      client.disconnect();
    },
  };
  const connected = await client.connect().then(
    () => true,
    () => false,
  );
  if (connected && target.mode === "single") {
    const info = await (client as Redis).info("cluster").catch(() => "");
    if (/^cluster_enabled:1/m.test(info)) {
      await connection.close();
      throw new RedisClusterNodeError(target);
    }
  }
  return connection;
}

/** A redis:// URL that names a node of a Redis Cluster: a configuration problem, reported at start-up. */
export class RedisClusterNodeError extends Error {
  constructor(target: Extract<RedisTarget, { mode: "single" }>) {
    const node = `${target.node.host}:${target.node.port}`;
    super(
      `SESSION_STORE: ${node} is a node of a Redis Cluster, which a redis:// URL cannot use (keys of other slots are MOVED): ` +
        `write redis-cluster://${node} (more seed nodes comma-separated)${target.db !== 0 ? "; a Cluster has database 0 only" : ""}`,
    );
    this.name = "RedisClusterNodeError";
  }
}

/** What a store's outage means to callers, for the 503's message and the failure count. */
export interface StoreOutage {
  concern: StoreConcern;
  /** "session store". */
  what: string;
  /** What does and does not work meanwhile. */
  consequence: string;
}

/** SCAN MATCH treats *, ?, [ and \ as pattern characters: a prefix holding them is matched literally. */
export const literalPattern = (text: string): string => text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
