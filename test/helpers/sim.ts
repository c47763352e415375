// Start a simulator in a test and script it: faults, stats. Always `await sim.close()` (e.g. in afterAll).
import { usePerFile } from "./lifecycle.js";
import type { FaultConfig, FaultRule } from "../../src/simulator/faults.js";
import type { RunningSimulator, SimulatorOptions } from "../../src/simulator/index.js";
import { startSimulator } from "../../src/simulator/index.js";
import type { SimulatorStats } from "../../src/simulator/stats.js";

export type { FaultRule, SimulatorStats };

export interface TestSimulator extends RunningSimulator {
  /** `PUT /_sim/faults`: replaces the rules. */
  setFaults(rules: FaultRule[], seed?: number): Promise<void>;
  /** `DELETE /_sim/faults`. */
  clearFaults(): Promise<void>;
  /** `GET /_sim/stats`. */
  stats(): Promise<SimulatorStats>;
  /** `DELETE /_sim/stats`. */
  resetStats(): Promise<void>;
}

async function control(url: string, method: string, body?: unknown): Promise<unknown> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text}`);
  return JSON.parse(text) as unknown;
}

export async function startTestSimulator(options: Partial<SimulatorOptions> = {}): Promise<TestSimulator> {
  const sim = await startSimulator(options);
  return {
    ...sim,
    setFaults: async (rules, seed) => {
      const config: FaultConfig = seed === undefined ? { rules } : { seed, rules };
      await control(`${sim.url}/_sim/faults`, "PUT", config);
    },
    clearFaults: async () => {
      await control(`${sim.url}/_sim/faults`, "DELETE");
    },
    stats: async () => (await control(`${sim.url}/_sim/stats`, "GET")) as SimulatorStats,
    resetStats: async () => {
      await control(`${sim.url}/_sim/stats`, "DELETE");
    },
  };
}

/**
 * One simulator for a whole test file: started before the first test, closed after the last, its faults and
 * stats cleared before each test. `onStart` receives it (files keep a `let sim` of their own).
 */
export function useTestSimulator(onStart: (sim: TestSimulator) => void, options: Partial<SimulatorOptions> = {}): void {
  usePerFile(() => startTestSimulator(options), onStart, async (sim) => {
    await sim.clearFaults();
    await sim.resetStats();
  });
}
