// The gateway's lifecycle, usable in-process by tests and by `serve`: listen, then drain (readyz 503, no new
// connections, in-flight requests finish within DRAIN_TIMEOUT_MS, drain hooks run), then close.

import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { destination, pino, type Logger } from "pino";
import { Authenticator } from "../gateway/auth.js";
import { ModelCallService } from "../gateway/model-call.js";
import { defaultInteractionConfig } from "../config/interactions.js";
import { defaultResourceConfig } from "../config/resources.js";
import { InteractionTracker } from "../interactions/tracker.js";
import { defaultSessionConfig } from "../config/sessions.js";
import { loadTelemetryConfig } from "../config/telemetry.js";
import { ResourceGuard } from "../resources/guard.js";
import { ownerStore } from "../resources/owner-store.js";
import { memoryKeyedStore, redisKeyedStore } from "../store/keyed.js";
import { openRedisConnection } from "../store/redis.js";
import { createSessions, type SessionService } from "../sessions/index.js";
import { createTelemetry, tenantLabel, type Telemetry } from "../telemetry/telemetry.js";
import type { TurnSink } from "../turn/record.js";
import { createRequestHandler, opsHandler } from "./app.js";
import { reloadTenantsFile } from "./tenants-reload.js";
import { TenantDirectory } from "../tenants/directory.js";
import { MemoryLimitCounters, RedisLimitCounters } from "../tenants/counters.js";
import { TenantGovernor } from "../tenants/governor.js";
import { loadPriceTable } from "../pricing/price-table.js";
import { Pricer } from "../pricing/pricer.js";
import { defaultConsoleConfig } from "../config/console.js";
import { ConsoleAccess } from "../console/access.js";
import { OperatorConsole } from "../console/console.js";
import { promQl } from "../console/prometheus-overview.js";
import { answerParserErrors, INVALID_REQUEST_ROUTE } from "./client-errors.js";
import type { Config } from "./config.js";

/** Log lines are written in batches of this many bytes... */
const LOG_BATCH_BYTES = 8 * 1024;
/** ...or at least this often, so that a quiet gateway's lines still show up promptly. */
const LOG_FLUSH_MS = 250;

export interface GatewayDeps {
  /** Replaces telemetry's sink (tests that inspect the records); /metrics is then not served. */
  turnSink?: TurnSink;
  /** Telemetry built by the caller (tests with in-memory span exporters); default: from config.telemetry. */
  telemetry?: Telemetry;
  /** Defaults to pino on stdout at config.gateway.logLevel. */
  logger?: Logger;
  /** Run during drain, after in-flight requests finished (or the drain timeout passed), before the process exits:
   *  e.g. the sessions snapshot. */
  onDrain?: Array<() => Promise<void>>;
  /** Backoff jitter source (tests). */
  random?: () => number;
}

export interface RunningGateway {
  url: string;
  port: number;
  /** The METRICS_PORT listener's URL, when there is one. */
  metricsUrl?: string;
  modelCalls: ModelCallService;
  sessions: SessionService;
  /** Graceful stop: readyz 503, in-flight requests finish (bounded by DRAIN_TIMEOUT_MS), drain hooks, close. */
  drain(): Promise<void>;
  /** Immediate stop: in-flight requests are cut; drain hooks still run. */
  close(): Promise<void>;
}

export async function startGateway(config: Config, deps: GatewayDeps = {}): Promise<RunningGateway> {
  // Buffered writes keep the log off the request's path: lines collect in memory and leave in batches of
  // LOG_BATCH_BYTES (or every LOG_FLUSH_MS), so a request costs no write system call, thread-pool hand-off or
  // wake-up of the log reader of its own. Flushed when the gateway stops (and by pino on exit).
  const logDestination = deps.logger ? undefined : destination({ sync: false, minLength: LOG_BATCH_BYTES });
  let unflushed = false;
  const logFlush = logDestination
    ? setInterval(() => {
        if (unflushed) logDestination.flush();
        unflushed = false;
      }, LOG_FLUSH_MS).unref()
    : undefined;
  const logger =
    deps.logger ??
    pino(
      {
        level: config.gateway.logLevel,
        hooks: {
          streamWrite: (line) => {
            unflushed = true;
            return line;
          },
        },
      },
      logDestination,
    );
  const auth = config.gateway.auth;
  const tenants = new TenantDirectory(auth);
  const authenticator = new Authenticator(auth, config.gateway.upstream.apiKey, () => tenants.keys);
  const telemetryConfig = config.telemetry ?? loadTelemetryConfig({});
  // One price table for telemetry's spend and the tenants' budgets: a budget stops spend as the dashboard counts it.
  const pricer = new Pricer(loadPriceTable(telemetryConfig.pricingFile));
  const telemetry =
    deps.turnSink === undefined
      ? (deps.telemetry ??
        createTelemetry(telemetryConfig, {
          pricer,
          isKnownTenant: (tenant) => tenants.knows(tenant),
          log: (message) => logger.info(message),
          logError: (err, message) => logger.error({ err }, message),
        }))
      : undefined;
  const sessionConfig = config.sessions ?? defaultSessionConfig;
  const resourceConfig = config.resources ?? defaultResourceConfig;
  // Resource owners and interaction chains live where sessions do, over one connection: one replica's record is every
  // replica's.
  const redis =
    sessionConfig.store === "memory"
      ? undefined
      : await openRedisConnection(sessionConfig.store, telemetry ? { onFailure: (concern) => telemetry.countRedisFailure(concern) } : {});
  const governor = new TenantGovernor(
    tenants,
    redis ? new RedisLimitCounters(redis, sessionConfig.redisPrefix, config.gateway.requestDeadlineMs) : new MemoryLimitCounters(),
    pricer,
    config.gateway.limitsOnStoreDown,
  );
  telemetry?.registerTenantBudgets(() => governor.budgets());
  // Exactly one of the two exists: the test's sink, or telemetry's.
  const recordingSink: TurnSink = deps.turnSink ?? telemetry!.turnSink;
  const consoleConfig = config.console ?? defaultConsoleConfig;
  const operatorConsole = consoleConfig.enabled
    ? new OperatorConsole({
        replica: randomBytes(3).toString("hex"),
        turns: consoleConfig.turns,
        foldTenant: (tenant) => tenantLabel(tenant, (t) => tenants.knows(t)),
        showContent: telemetryConfig.contentCapture.onSpan || telemetryConfig.contentCapture.onEvent,
        maxTurns: (config.sessions ?? defaultSessionConfig).maxTurns,
        ...(consoleConfig.prometheusUrl ? { prometheus: promQl(consoleConfig.prometheusUrl) } : {}),
        session: async (id) => (await sessions.store.lookup(id)).session,
        exportSession: (tenant, id) => sessions.export(authenticator.callerFor(tenant) ?? { tenant, upstreamKey: "" }, id),
      })
    : undefined;
  const turnSink: TurnSink = operatorConsole
    ? {
        record(turn) {
          const recorded = recordingSink.record(turn);
          try {
            operatorConsole.record(turn, recorded);
          } catch (err) {
            // The console's copy of a turn is the one thing lost: metrics, span and log are recorded already.
            telemetry?.telemetryFault("console", err);
          }
          return recorded;
        },
      }
    : recordingSink;
  const modelCalls = new ModelCallService({
    config: config.gateway,
    turnSink,
    logger,
    ...(deps.random ? { random: deps.random } : {}),
    ...(telemetry ? { onTelemetryFault: (stage, err) => telemetry.telemetryFault(stage, err) } : {}),
    admit: (call) => governor.admit(call),
  });
  const keyedStore = redis ? redisKeyedStore(redis, sessionConfig.redisPrefix) : memoryKeyedStore();
  const guard = new ResourceGuard(
    ownerStore(keyedStore, { maxOwners: resourceConfig.maxOwners, ttlSeconds: resourceConfig.ownerTtlSeconds }),
    {
      isolation: resourceConfig.isolation && config.gateway.auth.mode === "keys",
      upstreamBaseUrl: config.gateway.upstream.baseUrl,
      ...(config.gateway.publicUrl ? { publicUrl: config.gateway.publicUrl } : {}),
    },
  );
  const interactionConfig = config.interactions ?? defaultInteractionConfig;
  const interactions = new InteractionTracker(keyedStore, interactionConfig, {
    firstTime: (mark) => guard.firstTime(mark),
    claim: (name, tenant) => guard.claimCreated(name, tenant),
    onTurnCapRejected: () => telemetry?.sessionEvent({ type: "turn_cap_rejected" }),
  });
  const sessions = await createSessions(sessionConfig, {
    modelCalls,
    ...(redis ? { redis } : {}),
    adoptInteraction: (id, tenant, link) => interactions.adopt(id, tenant, link),
    ...(telemetry ? { onEvent: (event) => telemetry.sessionEvent(event), tracing: telemetry.sessionTracing } : {}),
  });
  telemetry?.registerSessionStats(() => {
    const stats = sessions.store.stats();
    return stats && { store: sessions.store.kind, ...stats };
  });
  let draining = false;
  const handleRequest = createRequestHandler({
    config,
    modelCalls,
    sessions,
    guard,
    interactions,
    telemetry,
    auth: authenticator,
    ...(operatorConsole
      ? { console: { service: operatorConsole, access: new ConsoleAccess(consoleConfig.adminKeys, authenticator, auth.mode), ...(consoleConfig.traceUrl ? { traceUrl: consoleConfig.traceUrl } : {}) } }
      : {}),
    configVersion: () => tenants.version,
    logger,
    isDraining: () => draining,
  });
  const server: Server = createServer(
    {
      // Node's 5 s default is shorter than a load balancer's idle timeout (60 s on AWS ALB, nginx's upstream
      // keepalive...): the balancer would reuse a connection the gateway is just closing, and its client get a 502.
      keepAliveTimeout: config.gateway.keepAliveTimeoutMs,
      // A request without a Host header is answered by the gateway (Gemini's envelope), not refused bodiless by Node.
      requireHostHeader: false,
    },
    handleRequest,
  );
  const refused = (status: number, code: string | undefined): void => {
    logger.info({ route: INVALID_REQUEST_ROUTE, status, code }, "request");
    telemetry?.countRequest(INVALID_REQUEST_ROUTE, status);
  };
  answerParserErrors(server, refused);
  const connections = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    connections.add(socket);
    socket.once("close", () => connections.delete(socket));
  });
  const url = await listen(server, config.gateway.port, config.gateway.host);
  const metricsServer = config.gateway.metrics
    ? createServer(opsHandler({ telemetry, isDraining: () => draining, configVersion: () => tenants.version, logger }))
    : undefined;
  const tenantsReload = auth.mode === "keys" && auth.tenantsFile ? reloadTenantsFile(auth.tenantsFile.path, tenants, logger) : undefined;
  if (tenants.version) logger.info({ path: auth.mode === "keys" ? auth.tenantsFile?.path : undefined, version: tenants.version }, "tenants file loaded");
  if (metricsServer) answerParserErrors(metricsServer, refused);
  const metricsUrl = metricsServer && config.gateway.metrics ? await listen(metricsServer, config.gateway.metrics.port, config.gateway.metrics.host) : undefined;
  const { port } = server.address() as AddressInfo;
  logger.info({ url, ...(metricsUrl ? { metricsUrl } : {}), upstream: config.gateway.upstream.baseUrl, auth: config.gateway.auth.mode }, "gateway listening");
  // Whoever waits for the address (supervisors, the bench) reads it now, not at the next batch.
  logDestination?.flush();

  let stopping: Promise<void> | undefined;
  const stop = (timeoutMs: number): Promise<void> =>
    (stopping ??= (async () => {
      draining = true;
      tenantsReload?.close();
      logger.info({ timeoutMs }, "draining");
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive connections become idle as their last response ends: close them as they do. Node does not count
      // a connection that has not sent a byte yet (one a client opened ahead of use) as idle: closed too, or it would
      // hold the drain until its timeout.
      const idleSweep = setInterval(() => {
        server.closeIdleConnections();
        for (const socket of connections) if (socket.bytesRead === 0) socket.destroy();
      }, 50);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
      await Promise.race([closed, timedOut]);
      clearTimeout(timer);
      clearInterval(idleSweep);
      server.closeAllConnections();
      for (const hook of deps.onDrain ?? []) {
        try {
          await hook();
        } catch (err) {
          logger.error({ err }, "drain hook failed");
        }
      }
      await closed;
      // After the last request: the snapshot holds every acknowledged turn.
      await sessions.store.close();
      await redis?.close();
      await modelCalls.close();
      await telemetry?.shutdown();
      if (metricsServer) {
        const metricsClosed = new Promise<void>((resolve) => metricsServer.close(() => resolve()));
        metricsServer.closeAllConnections(); // a scraper's keep-alive connection would hold the close up
        await metricsClosed;
      }
      logger.info("gateway stopped");
      clearInterval(logFlush);
      logger.flush();
    })());

  return {
    url,
    port,
    ...(metricsUrl ? { metricsUrl } : {}),
    modelCalls,
    sessions,
    drain: () => stop(config.gateway.drainTimeoutMs),
    close: () => stop(0),
  };
}

/** Listens; the URL to reach it at (a wildcard address is reached on loopback). */
async function listen(server: Server, port: number, host: string): Promise<string> {
  server.listen(port, host);
  await once(server, "listening");
  const address = server.address() as AddressInfo;
  const reachable = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  return `http://${reachable.includes(":") ? `[${reachable}]` : reachable}:${address.port}`;
}
