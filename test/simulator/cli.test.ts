// `gemini-gateway simulate` as a process (dist/cli.js, built by the global setup), and its option parsing.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, expect, test } from "vitest";
import { parseSimulatorOptions, usage } from "../../src/simulator/cli.js";

const CLI = new URL("../../dist/cli.js", import.meta.url).pathname;

function run(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [CLI, "simulate", ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, "exit") as Promise<[number | null, string | null]>;
  return { child, exited, out: () => stdout, err: () => stderr };
}

describe("simulate CLI", () => {
  test("prints its URL, serves with env settings, exits 0 on SIGTERM", async () => {
    const proc = run(["--port", "0"], { SIM_REPLY_TOKENS: "4-4", SIM_KEYS: "secret" });
    try {
      while (!proc.out().includes("\n")) await new Promise((r) => setTimeout(r, 20));
      const url = /listening on (http:\/\/\S+)/.exec(proc.out())?.[1];
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${url}/v1beta/models/gemini-2.0-flash:generateContent`, {
        method: "POST",
        headers: { "x-goog-api-key": "secret" },
        body: JSON.stringify({ contents: [{ parts: [{ text: "hi" }] }] }),
      });
      const body = (await res.json()) as { usageMetadata: { candidatesTokenCount: number } };
      expect(body.usageMetadata.candidatesTokenCount).toBe(4);
    } finally {
      proc.child.kill("SIGTERM");
    }
    expect(await proc.exited).toEqual([0, null]);
  });

  test("--help lists every flag with its env variable; bad flags exit 1 with one line each", async () => {
    const help = run(["--help"]);
    expect((await help.exited)[0]).toBe(0);
    for (const flag of ["--port", "--host", "--keys", "--reply-tokens", "--ttft-ms", "--tokens-per-second", "--rpm", "--rpd", "--tpm", "--implicit-cache-window-ms", "--batch-polls", "--interaction-polls", "SIM_PORT", "SIM_TPM", "SIM_BATCH_POLLS", "SIM_INTERACTION_POLLS"]) {
      expect(help.out()).toContain(flag);
    }
    const bad = run(["--port", "abc", "--ttft-ms=-5"]);
    expect((await bad.exited)[0]).toBe(1);
    const lines = bad.err().trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain("--port");
    expect(lines[1]).toContain("--ttft-ms");
  });
});

describe("option parsing", () => {
  test("flags win over env, env over defaults", () => {
    const options = parseSimulatorOptions(["--rpm", "5", "--reply-tokens", "10-20"], { SIM_RPM: "9", SIM_TPM: "1000", SIM_KEYS: "a, b" });
    expect(options).toEqual({
      port: 8090,
      host: "127.0.0.1",
      keys: ["a", "b"],
      replyTokens: { min: 10, max: 20 },
      ttftMs: 0,
      tokensPerSecond: 0,
      rpm: 5,
      rpd: undefined,
      tpm: 1000,
      implicitCacheWindowMs: 300_000,
      batchPollsUntilDone: 2,
      interactionPollsUntilDone: 2,
    });
    expect(() => parseSimulatorOptions(["--reply-tokens", "80-20"], {})).toThrow("--reply-tokens (SIM_REPLY_TOKENS): needs 1 <= MIN <= MAX");
    expect(() => parseSimulatorOptions(["--bogus", "1"], {})).toThrow(/^Unknown option '--bogus'/);
    expect(() => parseSimulatorOptions(["--ttft-ms", "-5"], {})).toThrow(/^Option '--ttft-ms' argument is ambiguous\.$/);
    expect(usage()).toContain("SIM_TOKENS_PER_SECOND");
  });
});
