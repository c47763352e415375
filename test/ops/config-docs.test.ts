// The configuration reference is made from the config sections (`npm run docs:config`): docs/configuration.md must be
// what the generator makes now, every setting of every section must say what it means, `serve --help` must show the
// same data, and what the reference promises of secrets (environment only, never echoed) must hold.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadGatewayConfig } from "../../src/config/gateway.js";
import { configReference } from "../../src/config/reference.js";
import { loadSessionConfig } from "../../src/config/sessions.js";
import { ConfigError, flagOf } from "../../src/config/source.js";
import { usage as serveUsage } from "../../src/server/cli.js";
import { loadConfig, sections } from "../../src/server/config.js";
import { configurationMarkdown } from "../../src/server/reference.js";
import { repoPath } from "./promql.js";

/** Sections allowed to have no help map at all yet, and why. Only an absent map is tolerated: a section that has one
 *  must cover every setting. */
const SECTIONS_WITHOUT_HELP_YET: Record<string, string> = {
  telemetry: "src/config/telemetry.ts is being reworked (OpenTelemetry); its help map comes with that work",
};

const reference = configReference(sections);

const problemsOf = (load: () => unknown): string[] => {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe("docs/configuration.md", () => {
  it("is what `npm run docs:config` makes from the config sections", () => {
    const committed = readFileSync(repoPath("docs/configuration.md"), "utf8");
    expect(committed, "docs/configuration.md differs from the config sections: run `npm run docs:config`").toBe(configurationMarkdown());
  });

  it("lists every section, in the order gateway, sessions, resources, interactions, telemetry, console", () => {
    expect(reference.map((section) => section.name)).toEqual(["gateway", "sessions", "resources", "interactions", "telemetry", "console"]);
    expect(reference.map((section) => section.name).sort()).toEqual(Object.keys(sections).sort());
  });
});

describe("help lines", () => {
  it("every setting of every section has one line saying what it means", () => {
    const missing: string[] = [];
    for (const [name, section] of Object.entries(sections)) {
      if (section.help === undefined) {
        if (!(name in SECTIONS_WITHOUT_HELP_YET)) missing.push(`${name}: the section has no help map`);
        continue;
      }
      for (const setting of section.settings) {
        const line = section.help[setting];
        if (line === undefined || line.trim() === "") missing.push(`${name}: ${setting} has no help line`);
        else if (line.includes("\n")) missing.push(`${name}: ${setting}'s help is more than one line`);
      }
      for (const setting of Object.keys(section.help)) {
        if (!section.settings.includes(setting)) missing.push(`${name}: help for ${setting}, which is no setting of the section`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("every section's schema covers exactly its settings (the defaults come from it)", () => {
    for (const [name, section] of Object.entries(sections)) {
      if (section.schema === undefined && name in SECTIONS_WITHOUT_HELP_YET && section.help === undefined) continue;
      expect(section.schema, `${name}: no schema, so no defaults in the reference`).toBeDefined();
      expect(Object.keys(section.schema!.shape).sort(), name).toEqual([...section.settings].sort());
    }
  });

  it("no setting belongs to two sections, and secrets are settings of their section", () => {
    const all = Object.values(sections).flatMap((section) => section.settings);
    expect(all.filter((setting, i) => all.indexOf(setting) !== i)).toEqual([]);
    for (const section of Object.values(sections)) {
      for (const setting of Object.keys(section.secrets ?? {})) expect(section.settings).toContain(setting);
    }
  });

  it("defaults are the schemas' (spot checks against the loaded configs)", () => {
    const rows = new Map(reference.flatMap((section) => section.settings.map((row) => [row.setting, row] as const)));
    expect(rows.get("PORT")?.defaultValue).toBe("8080");
    expect(rows.get("MAX_BODY_BYTES")).toMatchObject({ defaultValue: String(20 * 1024 * 1024), defaultInUnits: "20 MiB" });
    expect(rows.get("SESSION_STORE")?.defaultValue).toBe("memory");
    expect(rows.get("SESSION_PIN_FIRST_TURN")?.defaultValue).toBe("false");
    expect(rows.get("RESOURCE_OWNER_TTL_SECONDS")?.defaultInUnits).toBe("30 days");
    expect(rows.get("INTERACTION_MAX_TURNS")?.defaultValue).toBeUndefined();
    expect(rows.get("GEMINI_API_KEY")).toMatchObject({ flag: undefined, defaultValue: undefined });
    expect(rows.get("GATEWAY_KEYS")).toMatchObject({ flag: "--gateway-keys", secretWhen: expect.stringContaining("key:tenant") });
  });
});

describe("serve --help", () => {
  const help = serveUsage();
  const flat = help.replace(/\s+/g, " ");

  it("shows every setting with its flag (or that it is environment only), its default and its meaning", () => {
    for (const section of reference) {
      expect(help).toContain(`\n${section.title}:\n`);
      for (const row of section.settings) {
        const flag = row.flag ?? "(a secret: environment only)";
        const units = row.defaultInUnits ? ` = ${row.defaultInUnits}` : "";
        const defaultValue = row.defaultValue === undefined ? "" : ` (default ${row.defaultValue}${units})`;
        expect(help, row.setting).toContain(`  ${row.setting}  ${flag}`);
        expect(flat, row.setting).toContain(defaultValue);
        if (row.meaning) expect(flat, row.setting).toContain(row.meaning.replace(/\s+/g, " "));
      }
    }
    expect(help).toContain("PORT  --port  (default 8080)");
    expect(help).toContain("GEMINI_API_KEY  (a secret: environment only)");
    expect(help).not.toContain("--gemini-api-key ");
  });

  it("wraps the meanings within 120 columns", () => {
    const long = help.split("\n").filter((line) => line.startsWith("      ") && line.length > 120);
    expect(long).toEqual([]);
  });
});

describe("secrets are read from the environment (or a file), never from a flag", () => {
  const dir = mkdtempSync(join(tmpdir(), "gw-secrets-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("--gemini-api-key and --google-api-key are refused with one clear line that does not repeat the key", () => {
    for (const argv of [["--gemini-api-key", "sk-flag-secret"], ["--google-api-key=sk-flag-secret"]]) {
      const problems = problemsOf(() => loadGatewayConfig({ GATEWAY_AUTH: "none", GEMINI_API_KEY: "up" }, argv));
      expect(problems).toEqual([expect.stringMatching(/^--g[a-z]+-api-key: not accepted on the command line, which every local user can read \(ps\)/)]);
      expect(problems.join("\n")).not.toContain("sk-flag-secret");
      expect(problems[0]).toMatch(/set G[A-Z_]+_API_KEY in the environment or name a file holding (it|the key) with GEMINI_API_KEY_FILE/);
    }
    // The refused flag's value is not taken for a stray argument either.
    expect(problemsOf(() => loadGatewayConfig({ GATEWAY_AUTH: "none", GEMINI_API_KEY: "up" }, ["--gemini-api-key", "sk", "--port", "1"]))).toHaveLength(1);
  });

  it("--gateway-keys takes the path of a file of pairs, never the pairs themselves", () => {
    const file = join(dir, "keys");
    writeFileSync(file, "file-key:alpha\n");
    expect(loadGatewayConfig({ GEMINI_API_KEY: "up" }, ["--gateway-keys", file]).auth).toMatchObject({ mode: "keys", keys: [{ tenant: "alpha" }] });
    const problems = problemsOf(() => loadGatewayConfig({ GEMINI_API_KEY: "up", GATEWAY_AUTH: "none" }, ["--gateway-keys=app-secret:app"]));
    expect(problems).toEqual([expect.stringMatching(/^--gateway-keys: not accepted .* or give the path of a file of pairs$/)]);
    expect(problems.join("\n")).not.toContain("app-secret");
  });

  it("--session-store with a password in the URL is refused; without one it is a flag like any other", () => {
    expect(loadSessionConfig({}, ["--session-store", "redis://127.0.0.1:6379/2"]).store).toMatchObject({ mode: "single", db: 2 });
    for (const url of ["redis://:hunter2@127.0.0.1:6379/2", "rediss-cluster://app:hunter2@10.0.0.1:7000,10.0.0.2:7000", "redis-sentinel://:hunter2@10.0.0.1:26379/main"]) {
      const problems = problemsOf(() => loadSessionConfig({}, ["--session-store", url]));
      expect(problems).toEqual([expect.stringMatching(/^--session-store: not accepted .*set SESSION_STORE in the environment$/)]);
      expect(problems.join("\n")).not.toContain("hunter2");
    }
    // An invalid value in the environment is named without its password.
    const invalid = problemsOf(() => loadSessionConfig({ SESSION_STORE: "mysql://root:hunter2@db/x" }));
    expect(invalid).toEqual([expect.stringContaining('(got "mysql://root:***@db/x")')]);
  });

  it("GEMINI_API_KEY_FILE: the key from a file, its trailing newline dropped; both it and GEMINI_API_KEY set is a problem", () => {
    const file = join(dir, "gemini-key");
    writeFileSync(file, "sk-from-file\r\n");
    const config = loadGatewayConfig({ GEMINI_API_KEY_FILE: file, GATEWAY_AUTH: "none" });
    expect(config.upstream.apiKey).toBe("sk-from-file");
    expect(loadGatewayConfig({}, ["--gemini-api-key-file", file, "--gateway-auth", "none"]).upstream.apiKey).toBe("sk-from-file");
    // It stands for GEMINI_API_KEY, which wins over GOOGLE_API_KEY.
    expect(loadGatewayConfig({ GEMINI_API_KEY_FILE: file, GOOGLE_API_KEY: "g", GATEWAY_AUTH: "none" }).upstream.apiKey).toBe("sk-from-file");

    expect(problemsOf(() => loadGatewayConfig({ GEMINI_API_KEY_FILE: file, GEMINI_API_KEY: "up", GATEWAY_AUTH: "none" }))).toEqual([
      expect.stringMatching(/^GEMINI_API_KEY_FILE: GEMINI_API_KEY is set too; set one of them/),
    ]);
    const empty = join(dir, "empty");
    writeFileSync(empty, "\n");
    const twoLines = join(dir, "two-lines");
    writeFileSync(twoLines, "sk-one\nsk-two\n");
    expect(problemsOf(() => loadGatewayConfig({ GEMINI_API_KEY_FILE: empty, GATEWAY_AUTH: "none" }))).toEqual([expect.stringMatching(/is empty$/)]);
    const problems = problemsOf(() => loadGatewayConfig({ GEMINI_API_KEY_FILE: twoLines, GATEWAY_AUTH: "none" }));
    expect(problems).toEqual([expect.stringMatching(/must hold the key alone/)]);
    expect(problems.join("\n")).not.toContain("sk-one");
    // A missing file is named; the mode checks do not add "needs the upstream key" beside it.
    expect(problemsOf(() => loadGatewayConfig({ GEMINI_API_KEY_FILE: join(dir, "missing"), GATEWAY_KEYS: "k:alpha" }))).toEqual([
      expect.stringMatching(/^GEMINI_API_KEY_FILE: cannot read the key file .*missing \(ENOENT\)$/),
    ]);
  });

  it("a secret flag is refused whichever section owns it, with every other problem of the run", () => {
    const problems = problemsOf(() => loadConfig({ GATEWAY_AUTH: "none", GEMINI_API_KEY: "up" }, ["--google-api-key", "g", "--session-max", "x"]));
    expect(problems).toEqual([expect.stringMatching(/^--google-api-key: not accepted/), expect.stringMatching(/^SESSION_MAX \(--session-max\): must be a number/)]);
    for (const section of Object.values(sections)) {
      for (const [setting, secret] of Object.entries(section.secrets ?? {})) {
        if (!secret.isSecret) expect(problemsOf(() => loadConfig({}, [flagOf(setting), "x"]))[0]).toMatch(/not accepted on the command line/);
      }
    }
  });
});
