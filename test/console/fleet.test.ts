// PROMETHEUS_URL: the console's overview is the fleet's. Two gateway replicas scraped by a real Prometheus; each tenant
// calls one replica only, and either replica's admin overview shows both tenants' spend and calls. A tenant key keeps
// its replica's own view (most metrics carry no tenant label).
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Overview } from "../../src/console/api-types.js";
import type { RunningGateway } from "../../src/server/gateway.js";
import { startConsoleGateway } from "./gateway.js";
import { freePort, gatewayScrapeConfig, startPrometheus, type RunningPrometheus } from "../helpers/prometheus.js";
import { startTestSimulator, type TestSimulator } from "../helpers/sim.js";

let sim: TestSimulator;
let prometheus: RunningPrometheus;
const replicas: RunningGateway[] = [];

const overview = async (gateway: RunningGateway, key: string): Promise<Overview> =>
  (await (await fetch(`${gateway.url}/ui/api/overview`, { headers: { authorization: `Bearer ${key}` } })).json()) as Overview;

async function generate(gateway: RunningGateway, key: string): Promise<void> {
  const res = await fetch(`${gateway.url}/v1beta/models/gemini-2.0-flash:generateContent`, {
    method: "POST",
    headers: { "x-goog-api-key": key, "content-type": "application/json" },
    body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hello fleet" }] }] }),
  });
  expect(res.status).toBe(200);
  await res.text();
}

beforeAll(async () => {
  sim = await startTestSimulator();
  const ports = [await freePort(), await freePort()];
  prometheus = await startPrometheus({ config: gatewayScrapeConfig(ports.map((port) => `127.0.0.1:${port}`)) });
  for (const port of ports) {
    replicas.push(
      await startConsoleGateway(sim.url, { PORT: String(port), GATEWAY_KEYS: "key-a:team-a,key-b:team-b", ADMIN_KEYS: "admin-key", PROMETHEUS_URL: prometheus.url }),
    );
  }
  await prometheus.waitForTargets("gemini-gateway", 2);
}, 60_000);

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.close()));
  await prometheus?.stop();
  await sim?.close();
});

it("either replica's admin overview is the fleet's; a tenant key sees its replica's", async () => {
  // Prometheus's increase() counts from a series' first sample: one call per tenant first, scraped, so that the
  // series exist before the calls the overview must count.
  const scraped = (calls: number): Promise<true> =>
    prometheus.until(`${calls} calls scraped`, async () => {
      const [sample] = await prometheus.query('sum(gemini_gateway_requests_total{route="generateContent"})');
      return sample && Number(sample.value[1]) === calls ? true : undefined;
    });
  await generate(replicas[0]!, "key-a");
  await generate(replicas[1]!, "key-b");
  await scraped(2);
  await prometheus.until("a second scrape of the first calls", async () => {
    const counts = await prometheus.query("count_over_time(gemini_gateway_cost_usd_total[1m])");
    return counts.length === 2 && counts.every((c) => Number(c.value[1]) >= 2) ? true : undefined;
  });
  for (let i = 0; i < 5; i++) await generate(replicas[0]!, "key-a");
  for (let i = 0; i < 3; i++) await generate(replicas[1]!, "key-b");
  await scraped(10);
  const fleet = await prometheus.until("both tenants' spend in the overview", async () => {
    const o = await overview(replicas[0]!, "admin-key");
    return o.spend.byTenant.length === 2 ? o : undefined;
  });
  expect(fleet.source).toBe("prometheus");
  expect(fleet.sourceError).toBeUndefined();
  expect(fleet.t).toHaveLength(360);
  expect(fleet.series.requests.some((v) => v > 0)).toBe(true);
  expect(fleet.recent.requestsPerSecond).toBeGreaterThan(0);
  expect(fleet.spend.byTenant.map((s) => s.tenant).sort()).toEqual(["team-a", "team-b"]); // team-b never called replica 0
  expect(fleet.spend.byModel.map((s) => s.model)).toEqual(["gemini-2.0-flash"]);
  const other = await overview(replicas[1]!, "admin-key");
  expect(other.source).toBe("prometheus");
  expect(other.spend.byTenant.map((s) => s.tenant).sort()).toEqual(["team-a", "team-b"]);

  const own = await overview(replicas[1]!, "key-b");
  expect(own.source).toBe("replica");
  expect(own.series.requests.reduce((a, b) => a + b, 0)).toBe(4);
});

it("a Prometheus that cannot answer leaves the replica's own figures, with the reason", async () => {
  const gateway = await startConsoleGateway(sim.url, { GATEWAY_KEYS: "key-a:team-a", ADMIN_KEYS: "admin-key", PROMETHEUS_URL: "http://127.0.0.1:1" });
  try {
    await generate(gateway, "key-a");
    const o = await overview(gateway, "admin-key");
    expect(o.source).toBe("replica");
    expect(o.sourceError).toBeTruthy();
    expect(o.series.requests.reduce((a, b) => a + b, 0)).toBe(1);
  } finally {
    await gateway.close();
  }
});
