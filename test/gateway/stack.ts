// A simulator behind a gateway, in-process, for the gateway's integration tests. Records every TurnRecord the
// gateway hands to its sink and every log line it writes. Always `await stack.close()`.

import { Writable } from "node:stream";
import { pino } from "pino";
import { loadGatewayConfig } from "../../src/config/gateway.js";
import type { RunningGateway } from "../../src/server/gateway.js";
import { startGateway } from "../../src/server/gateway.js";
import type { SimulatorOptions } from "../../src/simulator/index.js";
import type { TurnRecord } from "../../src/turn/record.js";
import { usePerFile } from "../helpers/lifecycle.js";
import { startTestSimulator, type TestSimulator } from "../helpers/sim.js";

export const GATEWAY_KEY = "gw-test-key-alpha";
export const UPSTREAM_KEY = "upstream-secret-key";

export interface Stack {
  sim: TestSimulator;
  gateway: RunningGateway;
  url: string;
  records: TurnRecord[];
  logLines: Array<Record<string, unknown>>;
  /** The raw log output, to check what it never contains. */
  logText(): string;
  close(): Promise<void>;
}

export async function startStack(
  env: Record<string, string> = {},
  simOptions: Partial<SimulatorOptions> = {},
): Promise<Stack> {
  const sim = await startTestSimulator(simOptions);
  const records: TurnRecord[] = [];
  const logLines: Array<Record<string, unknown>> = [];
  let raw = "";
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      raw += chunk.toString();
      for (const line of chunk.toString().split("\n")) if (line.trim()) logLines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  const config = loadGatewayConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    GEMINI_BASE_URL: sim.url,
    GEMINI_API_KEY: UPSTREAM_KEY,
    GATEWAY_KEYS: `${GATEWAY_KEY}:alpha,gw-test-key-beta:beta`,
    RETRY_BASE_MS: "5",
    RETRY_CAP_MS: "50",
    LOG_LEVEL: "info",
    ...env,
  });
  const gateway = await startGateway(
    { gateway: config },
    {
      logger: pino({ level: config.logLevel }, sink),
      turnSink: {
        record: (turn) => {
          records.push(turn);
          return { traceId: `trace-${records.length}` };
        },
      },
    },
  );
  return {
    sim,
    gateway,
    url: gateway.url,
    records,
    logLines,
    logText: () => raw,
    close: async () => {
      await gateway.close();
      await sim.close();
    },
  };
}

/** One stack for a test file: started before its tests, closed after them; faults, stats and records cleared before
 *  each test. */
export function useStack(onStart: (stack: Stack) => void, env: Record<string, string> = {}, simOptions: Partial<SimulatorOptions> = {}): void {
  usePerFile(() => startStack(env, simOptions), onStart, async (stack) => {
    await stack.sim.clearFaults();
    await stack.sim.resetStats();
    stack.records.length = 0;
  });
}

export const userContent = (text: string) => ({ contents: [{ role: "user", parts: [{ text }] }] });

/** A POST to the gateway with the test key. */
export function post(stack: Stack, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${stack.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-goog-api-key": GATEWAY_KEY, ...headers },
    body: typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
}

/** Waits until `condition` holds (polling), for counts that settle after a response (records, stats). */
export async function eventually(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const start = Date.now();
  while (!(await condition())) {
    if (Date.now() - start > timeoutMs) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
