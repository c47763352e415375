// A session gateway for tests: the simulator upstream, the real ModelCallService, the session routes on loopback.
import express from "express";
import { Redis } from "ioredis";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { loadGatewayConfig } from "../../src/config/gateway.js";
import { loadSessionConfig } from "../../src/config/sessions.js";
import type { SessionConfig } from "../../src/config/sessions.js";
import { Authenticator } from "../../src/gateway/auth.js";
import { ModelCallService } from "../../src/gateway/model-call.js";
import { sessionRoutes } from "../../src/routes/sessions.js";
import { openSessionStore, SessionService } from "../../src/sessions/index.js";
import type { SessionEvent } from "../../src/sessions/index.js";
import type { MemoryStoreOptions } from "../../src/sessions/memory-store.js";
import type { SessionStore } from "../../src/sessions/store.js";
import { noopTurnSink } from "../../src/turn/record.js";
import { startTestSimulator } from "../helpers/sim.js";
import type { TestSimulator } from "../helpers/sim.js";

/** Gateway keys of the test tenants. */
export const KEY_A = "key-tenant-a";
export const KEY_B = "key-tenant-b";

export interface SessionGateway {
  url: string;
  sim: TestSimulator;
  store: SessionStore;
  config: SessionConfig;
  events: SessionEvent[];
  close(): Promise<void>;
}

export async function startSessionGateway(
  env: Record<string, string> = {},
  options: { perf?: MemoryStoreOptions["perf"]; sim?: TestSimulator; wrapStore?: (store: SessionStore) => SessionStore } = {},
): Promise<SessionGateway> {
  const sim = options.sim ?? (await startTestSimulator());
  const gatewayConfig = loadGatewayConfig({
    GEMINI_BASE_URL: sim.url,
    GEMINI_API_KEY: "upstream-key",
    GATEWAY_KEYS: `${KEY_A}:tenant-a,${KEY_B}:tenant-b`,
    RETRY_BASE_MS: "1",
    RETRY_CAP_MS: "5",
  });
  const config = loadSessionConfig(env);
  const events: SessionEvent[] = [];
  const onEvent = (event: SessionEvent): void => void events.push(event);
  const modelCalls = new ModelCallService({ config: gatewayConfig, turnSink: noopTurnSink, logger: pino({ level: "silent" }) });
  const store = await openSessionStore(config, { onEvent, ...(options.perf ? { perf: options.perf } : {}) }).catch(async (err: unknown) => {
    await modelCalls.close();
    if (!options.sim) await sim.close();
    throw err;
  });
  const service = new SessionService({ store: options.wrapStore?.(store) ?? store, modelCalls, config, onEvent });
  const app = express();
  app.use(sessionRoutes(service, new Authenticator(gatewayConfig.auth, gatewayConfig.upstream.apiKey)));
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    sim,
    store,
    config,
    events,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
      await modelCalls.close();
      if (!options.sim) await sim.close();
    },
  };
}

export interface Reply {
  status: number;
  body: Record<string, unknown> & { error?: { code: number; message: string; status: string } };
  headers: Headers;
}

/** A JSON call to the session API as tenant A (or with the given key). */
export async function call(base: string, method: string, path: string, body?: unknown, key = KEY_A): Promise<Reply> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { "x-goog-api-key": key, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Reply["body"]) : {}, headers: res.headers };
}

/** Removes the Redis keys of one test run. */
export async function dropKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
}
