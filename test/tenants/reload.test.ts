// GATEWAY_CONFIG in a gateway process: keys (plain and sha256 digests) and model allow-lists from the tenants file,
// key rotation by editing the file (no restart), a broken file refused with the live version kept; and SIGHUP.
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readTenantsFile } from "../../src/config/gateway.js";
import { TenantDirectory } from "../../src/tenants/directory.js";
import { reloadTenantsFile } from "../../src/server/tenants-reload.js";
import { startTestSimulator, type TestSimulator } from "../helpers/sim.js";
import { call } from "../sessions/harness.js";
import { spawnGateway, type GatewayProcess } from "../sessions/process.js";

const sha = (key: string): string => `sha256:${createHash("sha256").update(key).digest("hex")}`;
const tenantsYaml = (teamAKey: string): string => `
tenants:
  team-a:
    keys: [${teamAKey}]
    models: [gemini-2.0-flash, gemini-2.5-flash*]
  team-b:
    keys: ["${sha("key-b")}"]   # the file holds no secret of team-b
  team-c:
    keys: [key-c]
    limits: { requestsPerMinute: 3 }
`;

let dir: string;
let file: string;
let sim: TestSimulator;
let gw: GatewayProcess;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "ggw-tenants-"));
  file = join(dir, "gateway.yaml");
  writeFileSync(file, tenantsYaml("key-a-1"));
  sim = await startTestSimulator();
  gw = await spawnGateway(sim.url, { GATEWAY_KEYS: "", GATEWAY_CONFIG: file });
});
afterAll(async () => {
  await gw?.stop();
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

const generate = (key: string, model: string) => call(gw.url, "POST", `/v1beta/models/${model}:generateContent`, { contents: [{ role: "user", parts: [{ text: "hi" }] }] }, key);
const configVersion = async (): Promise<string> => (await call(gw.url, "GET", "/readyz")).body.configVersion as string;
async function until(what: string, probe: () => Promise<boolean> | boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await probe()) return;
    await sleep(50);
  }
  throw new Error(`not within 10 s: ${what}`);
}

describe("the tenants file", () => {
  it("admits the tenants' keys, plain or by digest, and refuses a model outside a tenant's list before it goes upstream", async () => {
    expect(await configVersion()).toMatch(/^[0-9a-f]{12}$/);
    expect((await generate("key-a-1", "gemini-2.0-flash")).status).toBe(200);
    expect((await generate("key-a-1", "gemini-2.5-flash-lite")).status).toBe(200);
    expect((await generate("key-b", "gemini-2.5-pro")).status).toBe(200); // no list: every model
    await sim.resetStats();
    const refused = await generate("key-a-1", "gemini-2.5-pro");
    expect([refused.status, refused.body.error?.status, refused.body.error?.message]).toEqual([
      403,
      "PERMISSION_DENIED",
      "Tenant team-a may not use model gemini-2.5-pro; its models are gemini-2.0-flash, gemini-2.5-flash* (GATEWAY_CONFIG).",
    ]);
    // The OpenAI-compatible route answers in OpenAI's shape; a session message is refused the same way.
    const openai = await call(gw.url, "POST", "/v1beta/openai/chat/completions", { model: "gemini-2.5-pro", messages: [{ role: "user", content: "hi" }] }, "key-a-1");
    expect(openai.status).toBe(403);
    expect((openai.body as { error?: { type?: string } }).error).toMatchObject({ message: expect.stringContaining("may not use model gemini-2.5-pro") as string });
    const session = (await call(gw.url, "POST", "/v1/sessions", { model: "gemini-2.5-pro" }, "key-a-1")).body.id as string;
    const message = await call(gw.url, "POST", `/v1/sessions/${session}/messages`, { message: "hi" }, "key-a-1");
    expect([message.status, message.headers.get("x-gateway-session-appended")]).toEqual([403, "false"]);
    const interaction = await call(gw.url, "POST", "/v1beta/interactions", { model: "gemini-2.5-pro", input: "hi" }, "key-a-1");
    expect([interaction.status, interaction.body.error?.status]).toEqual([403, "PERMISSION_DENIED"]);
    expect((await sim.stats()).requests).toBe(0); // nothing reached upstream
  });

  it("rotates a key when the file is edited, without a restart; a broken file is refused and the live one stays", async () => {
    const before = await configVersion();
    writeFileSync(file, tenantsYaml("key-a-2"));
    await until("the edited file to be live", async () => (await configVersion()) !== before);
    expect((await generate("key-a-1", "gemini-2.0-flash")).body.error?.message).toBe("API key not valid. Please pass a valid API key.");
    expect((await generate("key-a-2", "gemini-2.0-flash")).status).toBe(200);
    const version = await configVersion();
    // Log lines are written in batches: wait for it.
    await until("the reload's log line", () => gw.logs.some((l) => l.msg === "tenants file loaded" && l.version === version));
    expect(gw.logs.find((l) => l.msg === "tenants file loaded" && l.version === version)).toMatchObject({ path: file, tenants: 3, keys: 3 });

    const live = await configVersion();
    writeFileSync(file, "tenants:\n  team-a:\n    keys: []\n");
    await until("the broken file to be refused", () => gw.logs.some((l) => l.msg === "tenants file refused: the live version stays"));
    expect(gw.logs.find((l) => l.msg === "tenants file refused: the live version stays")).toMatchObject({ problems: ["tenants.team-a.keys: must list at least one key"], liveVersion: live });
    expect(await configVersion()).toBe(live);
    expect((await generate("key-a-2", "gemini-2.0-flash")).status).toBe(200);
  });
});

describe("limits", () => {
  it("requestsPerMinute: the 4th call of a minute is Gemini's 429 with RetryInfo, a QuotaFailure and Retry-After; counted", async () => {
    // Fixed windows: start early in a minute, so the four calls fall in one.
    if (Date.now() % 60_000 > 50_000) await sleep(60_000 - (Date.now() % 60_000) + 10);
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await generate("key-c", "gemini-2.0-flash")).status);
    expect(statuses).toEqual([200, 200, 200]);
    const refused = await generate("key-c", "gemini-2.0-flash");
    expect([refused.status, refused.body.error?.status]).toEqual([429, "RESOURCE_EXHAUSTED"]);
    expect(refused.body.error?.message).toMatch(/^Tenant team-c reached its limit of 3 requests per minute \(GATEWAY_CONFIG limits\.requestsPerMinute\); retry after \d+\.\d s\.$/);
    const details = (refused.body.error as unknown as { details: Array<Record<string, unknown>> }).details;
    expect(details[0]).toMatchObject({ "@type": "type.googleapis.com/google.rpc.QuotaFailure", violations: [{ quotaId: "requestsPerMinute", quotaValue: "3" }] });
    const delaySeconds = Number(String(details[1]!.retryDelay).slice(0, -1));
    expect(delaySeconds).toBeGreaterThan(0);
    expect(delaySeconds).toBeLessThanOrEqual(60);
    expect(Number(refused.headers.get("retry-after"))).toBe(Math.ceil(delaySeconds));
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toContain('gemini_gateway_limit_rejections_total{tenant="team-c",limit="requestsPerMinute"} 1');
    expect(metrics).toContain('gemini_gateway_limit_rejections_total{tenant="team-a",limit="models"} 4'); // native, OpenAI-compatible, session, interaction
  });
});

describe("SIGHUP", () => {
  it("reloads the file at once", () => {
    const path = join(dir, "hup.yaml");
    writeFileSync(path, tenantsYaml("hup-1"));
    const first = readTenantsFile(path);
    if (!("config" in first)) throw new Error(first.problems.join("\n"));
    const tenants = new TenantDirectory({ mode: "keys", keys: first.config.keys, tenantsFile: { path, config: first.config } });
    const reload = reloadTenantsFile(path, tenants, pino({ level: "silent" }));
    try {
      writeFileSync(path, tenantsYaml("hup-2"));
      process.emit("SIGHUP", "SIGHUP");
      expect(tenants.version).not.toBe(first.config.version);
      expect(tenants.keys.map((k) => k.hash.toString("hex"))).toContain(sha("hup-2").slice(7));
    } finally {
      reload.close();
    }
  });
});
