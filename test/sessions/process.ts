// `node dist/cli.js serve` as a child process, for the replica and restart tests.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { reapOnExit } from "../helpers/reaper.js";
import { KEY_A, KEY_B } from "./harness.js";

export interface GatewayProcess {
  url: string;
  child: ChildProcess;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  /** SIGTERM, then wait for the exit. */
  stop(): Promise<number | string>;
  kill9(): Promise<number | string>;
  /** Every log line so far, parsed. */
  logs: Array<Record<string, unknown>>;
}

export async function spawnGateway(upstream: string, env: Record<string, string>): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ["dist/cli.js", "serve"], {
    env: {
      PATH: process.env.PATH ?? "",
      HOST: "127.0.0.1",
      PORT: "0",
      GEMINI_BASE_URL: upstream,
      GEMINI_API_KEY: "upstream-key",
      GATEWAY_KEYS: `${KEY_A}:tenant-a,${KEY_B}:tenant-b`,
      LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  reapOnExit(child);
  const exited = once(child, "exit").then(([code, signal]) => (code ?? signal) as number | string);
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout! });
  const logs: Array<Record<string, unknown>> = [];
  const url = await new Promise<string>((resolve, reject) => {
    lines.on("line", (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        logs.push(entry);
        if (entry.msg === "gateway listening" && entry.url) resolve(entry.url);
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => reject(new Error(`gateway exited (${code}) before listening: ${stderr}`)));
  });
  return {
    url,
    child,
    exited,
    logs,
    stop: () => {
      child.kill("SIGTERM");
      return exited;
    },
    kill9: () => {
      child.kill("SIGKILL");
      return exited;
    },
  };
}
