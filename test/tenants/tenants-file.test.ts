// GATEWAY_CONFIG's tenants file: keys (plain or digests), models, limits; every problem named by its path.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { modelAllowed, parseTenantsFile } from "../../src/config/tenants-file.js";

const sha = (key: string): string => `sha256:${createHash("sha256").update(key).digest("hex")}`;

const problemsOf = (text: string): string[] => {
  const result = parseTenantsFile(text);
  if ("config" in result) throw new Error("expected problems");
  return result.problems;
};

describe("parseTenantsFile", () => {
  it("reads tenants, their keys (plain or SHA-256 digests), limits and models; the version is the file's digest", () => {
    const text = `
tenants:
  team-a:
    keys: [sk-team-a-1, "${sha("sk-team-a-2")}"]
    limits: { requestsPerMinute: 600, tokensPerMinute: 2000000, usdPerDay: 50, usdPerMonth: 1000, concurrentRequests: 32 }
    models: [gemini-2.5-flash, gemini-2.5-pro]
  team-b:
    keys: [sk-team-b]
`;
    const result = parseTenantsFile(text);
    if (!("config" in result)) throw new Error(result.problems.join("\n"));
    const { config } = result;
    expect(config.version).toBe(createHash("sha256").update(text).digest("hex").slice(0, 12));
    expect(config.keys.map((k) => [k.hash.toString("hex"), k.tenant])).toEqual([
      [sha("sk-team-a-1").slice(7), "team-a"],
      [sha("sk-team-a-2").slice(7), "team-a"],
      [sha("sk-team-b").slice(7), "team-b"],
    ]);
    expect(config.tenants.get("team-a")).toEqual({
      limits: { requestsPerMinute: 600, tokensPerMinute: 2000000, usdPerDay: 50, usdPerMonth: 1000, concurrentRequests: 32 },
      models: ["gemini-2.5-flash", "gemini-2.5-pro"],
    });
    expect(config.tenants.get("team-b")).toEqual({ limits: {} });
  });

  it("names every problem by its path, without echoing a key", () => {
    const problems = problemsOf(`
tenants:
  team-a:
    keys: [sk-secret-1, "sha256:abc"]
    limits: { requestsPerMinute: 0, usdPerDay: "fifty", perHour: 3 }
    models: []
  "bad name!":
    keys: [x]
  team-c:
    key: [y]
`);
    expect(problems).toEqual([
      'tenants.team-a.keys[1]: a digest must be sha256: and 64 lower-case hex digits',
      "tenants.team-a.limits.requestsPerMinute: must be > 0",
      "tenants.team-a.limits.usdPerDay: must be a number",
      'tenants.team-a.limits: unknown field "perHour"',
      "tenants.team-a.models: must list at least one model (leave it out to allow every model)",
      "tenants.bad name!: a tenant name is letters, digits, . _ - (up to 64)",
      "tenants.team-c.keys: must be a list of keys",
      'tenants.team-c: unknown field "key"',
    ]);
    expect(problems.join("\n")).not.toContain("sk-secret-1");
  });

  it("refuses a key given to two tenants, YAML that does not parse, and a file without tenants", () => {
    expect(problemsOf(`tenants:\n  a: { keys: [k1] }\n  b: { keys: ["${sha("k1")}"] }\n`)).toEqual([
      "tenants.b.keys[0]: the same key as tenants.a.keys[0] (a key selects one tenant)",
    ]);
    expect(problemsOf("tenants:\n  a: { keys: [k1]\n")[0]).toMatch(/^line \d+: /);
    expect(problemsOf("tenants: {}\n")).toEqual(["tenants: must name at least one tenant"]);
    expect(problemsOf("")).toEqual(["(the file): must be a mapping with tenants"]);
  });
});

describe("modelAllowed", () => {
  it("allows every model without a list; with one, the ids listed and the prefixes ending in *", () => {
    expect(modelAllowed(undefined, "gemini-2.5-pro")).toBe(true);
    expect(modelAllowed({ limits: {} }, "gemini-2.5-pro")).toBe(true);
    const policy = { limits: {}, models: ["gemini-2.5-flash", "gemini-2.0-*"] };
    expect(modelAllowed(policy, "models/gemini-2.5-flash")).toBe(true);
    expect(modelAllowed(policy, "gemini-2.0-flash-lite")).toBe(true);
    expect(modelAllowed(policy, "gemini-2.5-pro")).toBe(false);
    expect(modelAllowed(policy, "gemini-2.5-flash-lite")).toBe(false);
  });
});

describe("GATEWAY_CONFIG", () => {
  it("is read at start-up: every problem of the file named with its path; not together with GATEWAY_KEYS", async () => {
    const { mkdtempSync, rmSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { loadGatewayConfig } = await import("../../src/config/gateway.js");
    const dir = mkdtempSync(join(tmpdir(), "ggw-tenants-"));
    try {
      const file = join(dir, "gateway.yaml");
      writeFileSync(file, "tenants:\n  a:\n    keys: [k1]\n    limits: { usdPerDay: -1 }\n");
      const problemsOf = (env: Record<string, string>): string => {
        try {
          loadGatewayConfig({ GEMINI_API_KEY: "up", ...env });
        } catch (err) {
          return (err as Error).message;
        }
        throw new Error("expected problems");
      };
      expect(problemsOf({ GATEWAY_CONFIG: file })).toContain(`GATEWAY_CONFIG: ${file}: tenants.a.limits.usdPerDay: must be > 0`);
      expect(problemsOf({ GATEWAY_CONFIG: join(dir, "none.yaml") })).toContain(`GATEWAY_CONFIG: ${join(dir, "none.yaml")}: cannot read ${join(dir, "none.yaml")} (ENOENT)`);
      writeFileSync(file, "tenants:\n  a:\n    keys: [k1]\n");
      expect(problemsOf({ GATEWAY_CONFIG: file, GATEWAY_KEYS: "k2:b" })).toContain("GATEWAY_CONFIG: the tenants file holds the keys: not together with GATEWAY_KEYS");
      expect(loadGatewayConfig({ GEMINI_API_KEY: "up", GATEWAY_CONFIG: file }).auth).toMatchObject({ mode: "keys", tenantsFile: { path: file } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
