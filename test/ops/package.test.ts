// The npm package as a user gets it: `npm pack` from the repository's files as a clone has them (no dist/: prepack
// must build it), the tarball installed into an empty project with `npm install <tarball>`, then its bins run through
// npx: `gemini-chat-gateway` (the package's name, so `npx gemini-chat-gateway` works from the registry too) and the
// `gemini-gateway` alias. The demo is started from the installed package, must print its URLs and answer, and is
// stopped with its whole process group.

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sections } from "../../src/server/config.js";
import { repoPath } from "./promql.js";

const execFileAsync = promisify(execFile);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; a non-zero exit is a result here, not an exception. */
async function run(command: string, args: string[], cwd: string, timeoutMs = 90_000): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, { cwd, env: userEnv(), timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return { code: typeof failed.code === "number" ? failed.code : -1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? failed.message };
  }
}

async function mustRun(command: string, args: string[], cwd: string): Promise<string> {
  const result = await run(command, args, cwd);
  if (result.code !== 0) throw new Error(`${command} ${args.join(" ")} failed (${result.code}) in ${cwd}:\n${result.stderr || result.stdout}`);
  return result.stdout;
}

/**
 * A user's environment: without the gateway's settings (a developer's PORT, SESSION_STORE, OTEL_* ...), without what
 * an enclosing `npm test` exports about this checkout (npm_package_*, npm_config_local_prefix, its node_modules/.bin on
 * PATH, which would point npm and npx back at the repository), with npm told to use its cache first.
 */
function userEnv(): NodeJS.ProcessEnv {
  const settings = new Set(Object.values(sections).flatMap((section) => section.settings));
  const npmConfigKept = /^npm_config_(registry|cache|userconfig|globalconfig|cafile|ca|proxy|https_proxy|noproxy|strict_ssl)$/i;
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined || settings.has(name) || name.startsWith("OTEL_") || name.startsWith("VITEST")) continue;
    if (/^npm_/i.test(name) && !npmConfigKept.test(name)) continue;
    if (["INIT_CWD", "NODE_ENV", "NODE_OPTIONS"].includes(name)) continue;
    env[name] = value;
  }
  env.PATH = (process.env.PATH ?? "/usr/bin:/bin")
    .split(delimiter)
    .filter((entry) => !entry.includes("node_modules"))
    .join(delimiter);
  return { ...env, npm_config_prefer_offline: "true", npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" };
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
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The repository's files as a clone has them: tracked and new files, not what .gitignore leaves out (dist/). */
async function copyCheckout(target: string): Promise<void> {
  const listed = await mustRun("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], repoPath("."));
  for (const file of listed.split("\0").filter(Boolean)) {
    const from = repoPath(file);
    // A tracked file deleted in the working tree is not part of what gets packed.
    if (!statSync(from, { throwIfNoEntry: false })?.isFile()) continue;
    mkdirSync(dirname(join(target, file)), { recursive: true });
    copyFileSync(from, join(target, file));
  }
  // The dev dependencies a clone gets from `npm ci` (prepack's tsc), shared rather than installed again.
  symlinkSync(repoPath("node_modules"), join(target, "node_modules"), "dir");
}

describe("the npm package", () => {
  const dir = mkdtempSync(join(tmpdir(), "package-test-"));
  const checkout = join(dir, "checkout");
  const packDir = join(dir, "pack");
  const app = join(dir, "app");
  const installed = join(app, "node_modules", "gemini-chat-gateway");
  const timings: string[] = [];
  let packedFiles: string[] = [];
  let demo: ChildProcess | undefined;

  const timed = async <T>(step: string, work: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    const result = await work();
    timings.push(`${step} ${Date.now() - started} ms`);
    return result;
  };

  beforeAll(async () => {
    mkdirSync(packDir);
    mkdirSync(app);
    const manifest = JSON.parse(readFileSync(repoPath("package.json"), "utf8")) as { dependencies: Record<string, string> };
    // Two slow steps at once: packing (prepack's type-checked build) and putting the package's dependencies into the
    // project, so that installing the tarball afterwards only adds the package. The tarball's own manifest still
    // decides: a dependency it declares and this list lacks is fetched by that install, and a runtime import missing
    // from `dependencies` fails the runs below. --ignore-scripts: the package has no install script of its own, and
    // those of its dependencies (protobufjs's version check) are no part of what is tested here.
    const [packOutput] = await Promise.all([
      timed("copy + npm pack (prepack builds)", async () => {
        await copyCheckout(checkout);
        return mustRun("npm", ["pack", "--json", "--pack-destination", packDir], checkout);
      }),
      timed("dependencies into the project", async () => {
        writeFileSync(join(app, "package.json"), JSON.stringify({ name: "package-test-app", private: true, dependencies: manifest.dependencies }));
        await mustRun("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--no-package-lock", "--ignore-scripts"], app);
      }),
    ]);
    // npm prints the prepack script's banner before the JSON on some versions.
    const packed = JSON.parse(packOutput.slice(packOutput.search(/^\[/m))) as [{ filename: string; files: { path: string }[] }];
    packedFiles = packed[0].files.map((file) => file.path);
    await timed("npm install <tarball>", () =>
      mustRun("npm", ["install", join(packDir, packed[0].filename), "--no-audit", "--no-fund", "--prefer-offline", "--no-package-lock", "--ignore-scripts"], app),
    );
  }, 150_000);

  afterAll(async () => {
    // On a failure midway: the whole group (npm, sh, node), so no process or port outlives the test.
    if (demo?.pid !== undefined && groupAlive(demo.pid)) {
      process.kill(-demo.pid, "SIGKILL");
      await until("the demo's processes to exit", () => !groupAlive(demo!.pid!), 10_000).catch(() => undefined);
    }
    rmSync(dir, { recursive: true, force: true });
    console.log(`package test: ${timings.join(", ")}`);
  });

  it("holds dist/, pricing/, dashboards/, examples/, LICENSE and README.md, and no sources, tests or benchmarks", () => {
    for (const file of ["package.json", "LICENSE", "README.md", "dist/cli.js", "dist/server/cli.js", "dist/config/reference.js", "dist/demo/cli.js", "pricing/gemini.json", "examples/gateway.yaml", "web/index.html", "web/style.css", "dist/web/main.js"]) {
      expect(packedFiles, file).toContain(file);
    }
    expect(packedFiles.some((file) => file.startsWith("dashboards/grafana/"))).toBe(true);
    expect(packedFiles.some((file) => file.startsWith("dashboards/prometheus/"))).toBe(true);
    const unwanted = packedFiles.filter((file) => /^(src|test|bench|docs|node_modules)\//.test(file) || /(?<!\.d)\.ts$/.test(file) || file.startsWith("dist/bench/") || file.startsWith("dist/server/reference."));
    expect(unwanted).toEqual([]);

    const license = readFileSync(join(installed, "LICENSE"), "utf8");
    expect(license).toMatch(/^Copyright \d{4} The gemini-chat-gateway authors$/m);
    expect(license).toContain("Apache License\n                           Version 2.0, January 2004");
    const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8")) as { bin: Record<string, string>; license: string };
    expect(manifest.bin).toEqual({ "gemini-chat-gateway": "dist/cli.js", "gemini-gateway": "dist/cli.js" });
    expect(manifest.license).toBe("Apache-2.0");
  });

  // The runs below start node through npx (an npm process first): generous timeouts for a loaded CI machine.

  it("npx gemini-chat-gateway serve --help: every setting with its flag, default and meaning", async () => {
    // --no: the installed bin or a failure, never a download of some registry package of that name.
    const help = await run("npx", ["--no", "--", "gemini-chat-gateway", "serve", "--help"], app);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: gemini-chat-gateway serve \[options\]/);
    for (const setting of Object.values(sections).flatMap((section) => section.settings)) expect(help.stdout).toContain(`  ${setting}  `);
    expect(help.stdout).toContain("  PORT  --port  (default 8080)\n      port of the API listener");
    expect(help.stdout).toContain("  GEMINI_API_KEY  (a secret: environment only)");
    expect(help.stdout).toContain("  GEMINI_API_KEY_FILE  --gemini-api-key-file");
  }, 60_000);

  it("npx gemini-gateway (the alias) runs the same CLI; serve refuses a key given as a flag", async () => {
    const help = await run("npx", ["--no", "--", "gemini-gateway", "--help"], app);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: gemini-chat-gateway <command> \[options\]/);
    expect(help.stdout).toMatch(/^ {2}serve .*\n {2}simulate .*\n {2}demo /m);

    const refused = await run("npx", ["--no", "--", "gemini-gateway", "serve", "--gemini-api-key", "sk-on-the-command-line"], app, 20_000);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("--gemini-api-key: not accepted on the command line");
    expect(refused.stderr).not.toContain("sk-on-the-command-line");
  }, 60_000);

  it("npx gemini-chat-gateway demo --port 0: prints its URLs, answers through the gateway, stops with its process group", async () => {
    // Its own process group, so stopping it stops npx, the shell and node together.
    demo = spawn("npx", ["--no", "--", "gemini-chat-gateway", "demo", "--port", "0", "--duration", "60"], {
      cwd: app,
      env: userEnv(),
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    demo.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    demo.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    let exitCode: number | null | undefined;
    const exited = new Promise<void>((resolve) => demo!.once("exit", (code) => ((exitCode = code), resolve())));

    const urls = /gateway (http:\/\/\S+) -> simulator (http:\/\/\S+)/;
    await until(
      "the demo to print its URLs",
      () => {
        if (exitCode !== undefined) throw new Error(`the demo exited (${exitCode}) before printing its URLs:\n${output}`);
        return urls.test(output) && output.includes("/metrics");
      },
      20_000,
    );
    const gatewayUrl = urls.exec(output)![1]!;
    expect(output).toContain(`metrics:   ${gatewayUrl}/metrics`);

    const reply = await fetch(`${gatewayUrl}/v1beta/models/gemini-2.5-flash:generateContent`, {
      method: "POST",
      headers: { "x-goog-api-key": "demo-key", "content-type": "application/json" },
      body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "Hello" }] }] }),
      signal: AbortSignal.timeout(10_000),
    });
    expect(reply.status, output).toBe(200);
    const body = (await reply.json()) as { candidates?: { content?: { parts?: { text?: string }[] } }[] };
    expect(body.candidates?.[0]?.content?.parts?.[0]?.text).toBeTruthy();

    // The console ships with the package: its page, stylesheet and scripts, and the URL printed first.
    expect(output).toContain(`console:   ${gatewayUrl}/ui/#key=demo-admin-key`);
    for (const [path, type] of [["/ui/", "text/html"], ["/ui/style.css", "text/css"], ["/ui/js/main.js", "text/javascript"]] as const) {
      const asset = await fetch(`${gatewayUrl}${path}`, { signal: AbortSignal.timeout(10_000) });
      expect([asset.status, asset.headers.get("content-type")?.split(";")[0]], path).toEqual([200, type]);
    }

    process.kill(-demo.pid!, "SIGTERM");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    await until("every process of the demo's group to exit", () => !groupAlive(demo!.pid!), 10_000);
    expect(output).toContain("demo: stopped.");
  }, 60_000);
});
