// A simulator behind a gateway with its real telemetry (/metrics served), two tenants on the gateway's one upstream
// key, and the official clients pointed at it: for the tests of the whole REST surface. Always close it.

import { Writable } from "node:stream";
import { GoogleGenAI } from "@google/genai";
import type { SpanProcessor } from "@opentelemetry/sdk-trace-base";
import OpenAI from "openai";
import { pino } from "pino";
import { loadGatewayConfig } from "../../src/config/gateway.js";
import { loadInteractionConfig } from "../../src/config/interactions.js";
import { loadResourceConfig } from "../../src/config/resources.js";
import { loadSessionConfig } from "../../src/config/sessions.js";
import { loadTelemetryConfig } from "../../src/config/telemetry.js";
import { startGateway, type RunningGateway } from "../../src/server/gateway.js";
import { createTelemetry } from "../../src/telemetry/telemetry.js";
import type { SimulatorOptions } from "../../src/simulator/index.js";
import { usePerFile } from "../helpers/lifecycle.js";
import { scrapeMetrics } from "../helpers/metrics.js";
import { startTestSimulator, type TestSimulator } from "../helpers/sim.js";

export const UPSTREAM_KEY = "surface-upstream-key";
export const KEY_ALPHA = "surface-key-alpha";
export const KEY_BETA = "surface-key-beta";

export interface SurfaceStack {
  sim: TestSimulator;
  gateway: RunningGateway;
  url: string;
  /** Error-level log lines the gateway wrote. */
  errors: string[];
  metrics(): Promise<string>;
  genai(key?: string): GoogleGenAI;
  openai(key?: string): OpenAI;
  close(): Promise<void>;
}

export interface SurfaceOptions {
  env?: Record<string, string>;
  sim?: Partial<SimulatorOptions>;
  /** Extra span processors of the gateway's telemetry (a throwing one, in-memory exporters). */
  spanProcessors?: SpanProcessor[];
}

export async function startSurfaceStack(options: SurfaceOptions = {}): Promise<SurfaceStack> {
  const sim = await startTestSimulator({ keys: [UPSTREAM_KEY], ...options.sim });
  const env = {
    PORT: "0",
    HOST: "127.0.0.1",
    GEMINI_BASE_URL: sim.url,
    GEMINI_API_KEY: UPSTREAM_KEY,
    GATEWAY_KEYS: `${KEY_ALPHA}:alpha,${KEY_BETA}:beta`,
    RETRY_BASE_MS: "5",
    RETRY_CAP_MS: "50",
    LOG_LEVEL: "error",
    ...options.env,
  };
  const errors: string[] = [];
  const logger = pino(
    { level: "error" },
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        errors.push(...chunk.toString().split("\n").filter((l) => l.trim()));
        callback();
      },
    }),
  );
  const telemetry = createTelemetry(loadTelemetryConfig(env), {
    isKnownTenant: (tenant) => tenant === "alpha" || tenant === "beta",
    log: () => undefined,
    logError: (err, message) => logger.error({ err }, message),
    ...(options.spanProcessors ? { spanProcessors: options.spanProcessors } : {}),
  });
  const gateway = await startGateway(
    {
      gateway: loadGatewayConfig(env),
      sessions: loadSessionConfig(env),
      resources: loadResourceConfig(env),
      interactions: loadInteractionConfig(env),
      telemetry: loadTelemetryConfig(env),
    },
    { telemetry, logger },
  );
  return {
    sim,
    gateway,
    url: gateway.url,
    errors,
    metrics: () => scrapeMetrics(gateway.url),
    genai: (key = KEY_ALPHA) => new GoogleGenAI({ apiKey: key, httpOptions: { baseUrl: gateway.url } }),
    openai: (key = KEY_ALPHA) => new OpenAI({ apiKey: key, baseURL: `${gateway.url}/v1beta/openai/`, maxRetries: 0 }),
    close: async () => {
      await gateway.close();
      await sim.close();
    },
  };
}

/** One stack for a test file; the simulator's faults and stats are cleared before each test. */
export function useSurfaceStack(onStart: (stack: SurfaceStack) => void, options: SurfaceOptions = {}): void {
  usePerFile(() => startSurfaceStack(options), onStart, async (stack) => {
    await stack.sim.clearFaults();
    await stack.sim.resetStats();
  });
}
