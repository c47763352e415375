// A new user's first minutes, in CI: clone this repository (HEAD: uncommitted changes are not in a clone, and a
// clone is what a user gets), follow the README's "Quick start" to the letter (its first command starts the demo,
// which must print its URLs and answer on them), and check that its test command is the one .ci/run runs. The
// commands are read from the clone's README, so the test follows what the README says rather than a copy of it.

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import { GoogleGenAI } from "@google/genai";
import { afterAll, describe, expect, it } from "vitest";
import { sections } from "../../src/server/config.js";
import { repoPath } from "./promql.js";

const exec = promisify(execFile);

/** The command lines of the code blocks of the README's "Quick start", in order, without their `# comments`. */
function quickStartCommands(readme: string): string[] {
  const section = /^## Quick start\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(readme)?.[1];
  if (section === undefined) throw new Error('README.md has no "## Quick start" section');
  return [...section.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)]
    .flatMap((block) => block[1]!.split("\n"))
    .map((line) => line.replace(/^\$\s+/, "").replace(/(^|\s)#.*$/, "").trim())
    .filter((line) => line !== "");
}

/**
 * The demo listens on 8080 unless given `--port` (it does not read PORT from the environment), which may be taken on
 * a CI runner or a developer's machine: the test adds `--port 0` (ephemeral) to the README's command, after `--` when
 * it is an npm script (npm appends what follows `--` to the script's command line).
 */
function onFreePort(command: string): string {
  if (/^npm (start|run)\b/.test(command)) return command.includes(" -- ") ? `${command} --port 0` : `${command} -- --port 0`;
  return `${command} --port 0`;
}

/**
 * The environment a new user would have: this one without the gateway's settings (a developer's PORT, SESSION_STORE,
 * OTEL_* ...), without what an enclosing `npm test` exports about this checkout (npm_package_*, its node_modules/.bin
 * on PATH, npm_config_local_prefix), and with npm told to use its cache first.
 */
function newUserEnv(): NodeJS.ProcessEnv {
  const gatewaySettings = new Set(Object.values(sections).flatMap((section) => section.settings));
  const npmConfigKept = /^npm_config_(registry|cache|userconfig|globalconfig|cafile|ca|proxy|https_proxy|noproxy|strict_ssl)$/i;
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined || gatewaySettings.has(name) || name.startsWith("OTEL_") || name.startsWith("VITEST")) continue;
    if (/^npm_/i.test(name) && !npmConfigKept.test(name)) continue;
    if (["INIT_CWD", "NODE_ENV", "NODE_OPTIONS"].includes(name)) continue;
    env[name] = value;
  }
  env.PATH = (process.env.PATH ?? "/usr/bin:/bin")
    .split(delimiter)
    .filter((dir) => !dir.includes("node_modules"))
    .join(delimiter);
  return { ...env, npm_config_prefer_offline: "true", npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" };
}

/** Resolves when `host:port` refuses connections (nothing listens), false if something still answers. */
function refuses(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(2_000);
    socket.once("connect", () => (socket.destroy(), resolve(false)));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
    socket.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "ECONNREFUSED"));
  });
}

/** Whether any process of the group `pgid` is alive (signal 0 checks without signalling). */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    // EPERM: a process exists but is not ours to signal (still alive); ESRCH: none left.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("a fresh clone, following the README", () => {
  const dir = mkdtempSync(join(tmpdir(), "clone-test-"));
  const clone = join(dir, "repo");
  let demo: ChildProcess | undefined;

  afterAll(async () => {
    // On a failure midway: the whole group (npm, sh, node), so no process or port outlives the test.
    if (demo?.pid !== undefined && groupAlive(demo.pid)) {
      process.kill(-demo.pid, "SIGKILL");
      await until("the demo's processes to exit", () => !groupAlive(demo!.pid!), 10_000).catch(() => undefined);
    }
    // The clone's node_modules: tens of thousands of files, slow to remove on a busy machine.
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it(
    "its first command starts the demo, which prints the /metrics URL and the SDK settings and answers on them; " +
      "its test command is the one .ci/run runs",
    async () => {
      const started = Date.now();
      const head = (await exec("git", ["-C", repoPath("."), "rev-parse", "HEAD"])).stdout.trim();
      // Inside the temporary clone only: the commit of this checkout, whichever branch (if any) it is on.
      await exec("git", ["clone", "--quiet", "--no-checkout", repoPath("."), clone]);
      await exec("git", ["-C", clone, "checkout", "--quiet", "--detach", head]);

      const commands = quickStartCommands(readFileSync(join(clone, "README.md"), "utf8"));
      expect(commands.length, `Quick start commands: ${JSON.stringify(commands)}`).toBeGreaterThanOrEqual(2);
      const [runCommand, testCommand] = commands as [string, string];

      // The test command is the one CI runs, as a line of its own in .ci/run (comments aside).
      const ciLines = readFileSync(join(clone, ".ci/run"), "utf8")
        .split("\n")
        .map((line) => line.replace(/(^|\s)#.*$/, "").trim());
      expect(ciLines, `.ci/run runs the README's test command "${testCommand}"`).toContain(testCommand);

      // The first command, step by step: the steps before the last run to completion, the last one is the demo.
      const env = newUserEnv();
      const steps = runCommand.split("&&").map((step) => step.trim());
      for (const step of steps.slice(0, -1)) {
        try {
          await exec("sh", ["-c", step], { cwd: clone, env, timeout: 90_000, maxBuffer: 16 * 1024 * 1024 });
        } catch (err) {
          const e = err as { stdout?: string; stderr?: string; message: string };
          throw new Error(`"${step}" failed in the clone:\n${e.stderr || e.stdout || e.message}`);
        }
      }
      const setupMs = Date.now() - started;

      // Its own process group, so stopping it stops npm, the shell and node together.
      demo = spawn("sh", ["-c", onFreePort(steps.at(-1)!)], { cwd: clone, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      demo.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
      demo.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
      let exitCode: number | null | undefined;
      const exited = new Promise<void>((resolve) => demo!.once("exit", (code) => ((exitCode = code), resolve())));

      const metricsLine = /(https?:\/\/[^\s/]+\/metrics)\b/;
      const sdkLine = /GoogleGenAI\(\{ apiKey: "([^"]+)", httpOptions: \{ baseUrl: "([^"]+)" \} \}\)/;
      await until(
        "the demo to print its /metrics URL and the @google/genai settings",
        () => {
          if (exitCode !== undefined) throw new Error(`the demo exited (${exitCode}) before printing its URLs:\n${output}`);
          return metricsLine.test(output) && sdkLine.test(output);
        },
        60_000,
      );
      const metricsUrl = metricsLine.exec(output)![1]!;
      const sdk = sdkLine.exec(output)!;
      const [apiKey, baseUrl] = [sdk[1]!, sdk[2]!];
      const simulatorUrl = /simulator (https?:\/\/\S+)/.exec(output)?.[1];
      const readyMs = Date.now() - started;

      // The printed settings, as printed: the SDK gets an answer through the gateway; /metrics answers too.
      const ai = new GoogleGenAI({ apiKey, httpOptions: { baseUrl, timeout: 15_000 } });
      const reply = await ai.models.generateContent({ model: "gemini-2.5-flash", contents: "Hello" });
      expect(reply.text, output).toBeTruthy();
      const metrics = await fetch(metricsUrl);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/^# TYPE /m);

      // Ctrl-C's equivalent for the whole group; everything exits and the ports close.
      process.kill(-demo.pid!, "SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      await until("every process of the demo's group to exit", () => !groupAlive(demo!.pid!), 15_000);
      for (const url of [baseUrl, ...(simulatorUrl ? [simulatorUrl] : [])]) {
        const { hostname, port } = new URL(url);
        expect(await refuses(hostname, Number(port)), `${url} still answers after the demo stopped`).toBe(true);
      }
      console.log(`clone test: clone + "${steps.slice(0, -1).join(" && ")}" ${setupMs} ms, demo ready after ${readyMs} ms, total ${Date.now() - started} ms`);
    },
    110_000,
  );
});
