// The built CLI as child processes, so load generator, gateway and simulator do not share an event loop.

import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

/** dist/cli.js of the package (bench is compiled to dist/bench/bench/). */
export const CLI = fileURLToPath(new URL("../../cli.js", import.meta.url));

export interface Child {
  url: string;
  /** The process id, to read its CPU time and memory from /proc. */
  pid: number;
  stop(): Promise<void>;
}

/** Children not stopped yet: killed when this process exits, however it ends (an uncaught error skips the finally
 *  blocks that would stop them). */
const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** How much of a child's last output is kept, to show if it exits unasked. */
const TAIL_CHARS = 4000;

/** Starts `gemini-gateway <args>` and waits until its output names the URL it listens on. */
export async function startCli(args: string[], env: Record<string, string>): Promise<Child> {
  return startNode(CLI, args, env);
}

/** Starts `node <nodeFlags> <script> <args>` and waits until its output names the URL it listens on. */
export async function startNode(script: string, args: string[], env: Record<string, string>, nodeFlags: string[] = []): Promise<Child> {
  const child: ChildProcess = spawn(process.execPath, [...nodeFlags, script, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  running.add(child);
  child.once("exit", () => running.delete(child));
  const name = args[0] ?? script;
  let out = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (data: Buffer) => {
      out += data.toString();
      // The port's digits must be followed by something: a chunk may end inside them.
      const match = /(http:\/\/127\.0\.0\.1:\d+)\D/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code}: ${out}`)));
  });
  // Its output is dropped from now on but for the last lines, shown if it exits unasked (a crash logged to stdout).
  let tail = out.slice(-TAIL_CHARS);
  child.stdout!.on("data", (data: Buffer) => {
    tail = (tail + data.toString()).slice(-TAIL_CHARS);
  });
  let stopping = false;
  child.once("exit", (code, signal) => {
    if (!stopping) process.stderr.write(`${name} (pid ${child.pid}) exited unasked with ${signal ?? `code ${code}`}; its last output:\n${tail}\n`);
  });
  return {
    url,
    pid: child.pid!,
    stop: async () => {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}

/** A port free now on 127.0.0.1 (for a child told to listen on it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}

let clockTick: number | undefined;

/** The kernel's clock tick (`getconf CLK_TCK`, asked once): /proc counts CPU time in these. */
export function clockTicks(): number {
  if (clockTick === undefined) {
    try {
      clockTick = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTick = 100;
    }
  }
  return clockTick;
}

/** CPU seconds (user + system, all threads) a process has used so far, from /proc/<pid>/stat. */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // "pid (comm) state ppid … utime stime …": comm may hold spaces, so fields are counted after its ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / clockTicks();
}

/** A process's resident memory now (VmRSS of /proc/<pid>/status), in bytes. */
export function residentBytesOf(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}
