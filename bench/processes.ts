// The built CLI as child processes, so load generator, gateway and simulator do not share an event loop.

import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

/** dist/cli.js of the package (bench is compiled to dist/bench/bench/). */
export const CLI = fileURLToPath(new URL("../../cli.js", import.meta.url));

export interface Child {
  url: string;
  stop(): Promise<void>;
}

/** Starts `gemini-gateway <args>` and waits until its output names the URL it listens on. */
export async function startCli(args: string[], env: Record<string, string>): Promise<Child> {
  const child: ChildProcess = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (data: Buffer) => {
      out += data.toString();
      const match = /(http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.once("exit", (code) => reject(new Error(`${args[0]} exited with ${code}: ${out}`)));
  });
  child.stdout!.resume();
  return {
    url,
    stop: async () => {
      if (child.exitCode !== null) return;
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
