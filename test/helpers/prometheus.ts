// A real Prometheus (the `prometheus` binary) for a test: its own temp dir and port, a config written there, an API
// client, and a stop that leaves neither the process nor the dir behind. Always `await prom.stop()` (e.g. in afterAll).

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parse, stringify } from "yaml";
import { repoPath } from "../ops/promql.js";
import { reapOnExit } from "./reaper.js";

/** The name `rules` is written under, beside the config: name it in `rule_files` (Prometheus resolves relative paths
 *  against the config's directory). */
export const RULES_FILE_NAME = "rules.yml";

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PrometheusOptions {
  /** prometheus.yml: an object (written as YAML) or YAML text. */
  config: object | string;
  /** A rule file's YAML, written as RULES_FILE_NAME. */
  rules?: string;
  /** Extra command-line flags, e.g. --enable-feature=exemplar-storage. */
  flags?: string[];
}

export interface RunningPrometheus {
  url: string;
  /** GET an API path; resolves with `data`, throws on an error status (e.g. a PromQL error). */
  api<T>(path: string): Promise<T>;
  /** An instant query. */
  query(expr: string): Promise<Sample[]>;
  /** `until`, but failing at once (with Prometheus's log) if Prometheus exits meanwhile. */
  until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs?: number): Promise<T>;
  /** Until every one of `targets` targets of `job` is up. */
  waitForTargets(job: string, targets: number, timeoutMs?: number): Promise<void>;
  /** SIGTERM, wait for the exit, remove the dir. Idempotent. */
  stop(): Promise<void>;
}

/** Polls `probe` every 250 ms until it returns a value (errors count as "not yet"); throws after `timeoutMs`, with
 *  the last error, so a timeout says what was still wrong. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
      last = undefined;
    } catch (err) {
      last = err;
    }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface PrometheusConfig {
  global: Record<string, unknown>;
  scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
  rule_files?: string[];
  alerting?: unknown;
}

/**
 * The shipped dashboards/prometheus/prometheus.yml, turned to a test's: scraping and evaluating every second, only its
 * gemini-gateway job (same name and path, so the shipped queries and rules apply), with the given targets.
 */
export function gatewayScrapeConfig(targets: string[], ruleFiles: string[] = []): PrometheusConfig {
  const shipped = parse(readFileSync(repoPath("dashboards/prometheus/prometheus.yml"), "utf8")) as PrometheusConfig;
  const gatewayJob = shipped.scrape_configs.find((s) => s.job_name === "gemini-gateway")!;
  const config: PrometheusConfig = {
    ...shipped,
    global: { ...shipped.global, scrape_interval: "1s", evaluation_interval: "1s" },
    rule_files: ruleFiles,
    scrape_configs: [{ ...gatewayJob, static_configs: [{ targets }] }],
  };
  delete config.alerting; // no Alertmanager here: tests read alert states from Prometheus's API
  return config;
}

export async function startPrometheus(options: PrometheusOptions): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), "ggw-prom-"));
  const configFile = join(dir, "prometheus.yml");
  writeFileSync(configFile, typeof options.config === "string" ? options.config : stringify(options.config));
  if (options.rules !== undefined) writeFileSync(join(dir, RULES_FILE_NAME), options.rules);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    "prometheus",
    [`--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, ...(options.flags ?? [])],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  reapOnExit(child);
  let log = "";
  child.stdout.on("data", (chunk: Buffer) => (log += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<string>((resolve) => {
    child.once("exit", (code, signal) => resolve(String(code ?? signal)));
    child.once("error", (err) => resolve(err.message)); // not started (e.g. no binary): no "exit" follows
  });
  // Rejects only if Prometheus exits before stop(): raced against every wait, so a bad config fails fast, with why.
  let stopping = false;
  const died = exited.then((how) => {
    if (!stopping) throw new Error(`prometheus exited (${how}):\n${log.slice(-2000)}`);
  });
  died.catch(() => undefined);

  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== "success") throw new Error(`${path}: ${body.error ?? res.status}`);
    return body.data;
  };
  const query = async (expr: string): Promise<Sample[]> =>
    (await api<{ result: Sample[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result;
  const untilAlive = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs?: number): Promise<T> =>
    Promise.race([died.then(() => never<T>()), until(what, probe, timeoutMs)]);
  const stop = async (): Promise<void> => {
    stopping = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await untilAlive("Prometheus to be ready", async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined));
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    api,
    query,
    until: untilAlive,
    waitForTargets: async (job, targets, timeoutMs) => {
      await untilAlive(`Prometheus to scrape ${targets} target(s) of ${job}`, async () => {
        const up = await query(`up{job="${job}"}`);
        return up.length === targets && up.every((s) => s.value[1] === "1") ? true : undefined;
      }, timeoutMs);
    },
    stop,
  };
}

/** A promise that never settles: `died` resolves only after stop(), when nothing waits any more. */
function never<T>(): Promise<T> {
  return new Promise<T>(() => undefined);
}
