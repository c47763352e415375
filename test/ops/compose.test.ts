// Checks of the container files, for what breaks silently: docker-compose.yml, the Dockerfile, .dockerignore and the
// configs they mount. Nothing here runs a container (CI needs no container engine); instead every file
// a service mounts must exist, every host:port one config names must be a service listening on that port, the
// commands must parse, and a real compose binary (`docker compose`, or Debian's `docker-compose`, which .ci/run
// installs) must parse and validate the file for each profile given only that profile's variables, the environment it
// resolves for the gateway going through the gateway's own config validation. A YAML reader alone would not see how
// compose interpolates (every service, before profiles apply).

import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseDemoArgs } from "../../src/demo/cli.js";
import { loadConfig } from "../../src/server/config.js";
import { parseSimulatorOptions } from "../../src/simulator/cli.js";
import { repoPath } from "./promql.js";

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  profiles?: string[];
  ports?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
  depends_on?: string[] | Record<string, unknown>;
  networks?: { default?: { aliases?: string[] } };
}

const readYaml = <T>(path: string): T => parse(readFileSync(repoPath(path), "utf8"), { merge: true }) as T;
const compose = readYaml<{ services: Record<string, Service> }>("docker-compose.yml");
const services = compose.services;

/** Host names a service answers to on the compose network: its name and its aliases. */
function namesOf(name: string): string[] {
  return [name, ...(services[name]?.networks?.default?.aliases ?? [])];
}

/** The ports a service listens on inside the network (from its published ports, PORT, or its own config). */
const listening: Record<string, number[]> = {
  redis: [6379],
  prometheus: [9090],
  alertmanager: [9093],
  grafana: [3000],
};
for (const [name, service] of Object.entries(services)) {
  for (const mapping of service.ports ?? []) {
    (listening[name] ??= []).push(Number(mapping.split(":").at(-1)));
  }
  if (service.environment?.PORT) (listening[name] ??= []).push(Number(service.environment.PORT));
}

/** Which services can answer `host:port`, in a given profile. */
function resolves(hostPort: string, profile?: string): boolean {
  const [host, port] = hostPort.split(":") as [string, string];
  return Object.keys(services).some(
    (name) => active(name, profile) && namesOf(name).includes(host) && (listening[name] ?? []).includes(Number(port)),
  );
}

function active(name: string, profile?: string): boolean {
  const profiles = services[name]!.profiles;
  return !profiles || (profile !== undefined && profiles.includes(profile));
}

const hostPortOf = (url: string): string => {
  const u = new URL(url);
  return `${u.hostname}:${u.port}`;
};

describe("docker-compose.yml", () => {
  it("has the stack's services, with the simulator and traffic generator in the demo profile", () => {
    for (const name of ["gateway", "gateway-demo", "simulator", "traffic", "redis", "prometheus", "alertmanager", "grafana", "otel-collector", "tempo"]) {
      expect(services, name).toHaveProperty(name);
    }
    expect(services.gateway!.profiles).toEqual(["live"]);
    for (const name of ["gateway-demo", "simulator", "traffic"]) expect(services[name]!.profiles).toEqual(["demo"]);
    // Prometheus scrapes `gateway`: both gateway services must answer to it.
    expect(namesOf("gateway-demo")).toContain("gateway");
  });

  it("mounts only files and directories that exist", () => {
    const missing = Object.entries(services).flatMap(([name, s]) =>
      (s.volumes ?? [])
        .map((v) => v.split(":")[0]!)
        .filter((source) => source.startsWith("."))
        .filter((source) => !existsSync(repoPath(source)))
        .map((source) => `${name}: ${source}`),
    );
    expect(missing).toEqual([]);
  });

  it("depends only on services that exist, in a profile where they run", () => {
    const problems = Object.entries(services).flatMap(([name, s]) => {
      const deps = Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {});
      return deps.flatMap((dep) => {
        if (!services[dep]) return [`${name} -> ${dep}: no such service`];
        const profiles = services[name]!.profiles ?? [undefined];
        return profiles.some((p) => active(dep, p)) ? [] : [`${name} -> ${dep}: never runs alongside`];
      });
    });
    expect(problems).toEqual([]);
  });

  it("publishes each host port once per profile", () => {
    for (const profile of [undefined, "live", "demo"]) {
      const hostPorts = Object.keys(services)
        .filter((name) => active(name, profile))
        .flatMap((name) => (services[name]!.ports ?? []).map((p) => p.split(":")[0]));
      expect(new Set(hostPorts).size, `profile ${profile ?? "(none)"}`).toBe(hostPorts.length);
    }
  });

  it("images are pinned (no :latest) and the project's services build from this Dockerfile", () => {
    for (const [name, s] of Object.entries(services)) {
      expect(s.image, name).toBeDefined();
      expect(s.image!.endsWith(":latest") || !s.image!.includes(":"), name).toBe(false);
    }
    for (const name of ["gateway", "gateway-demo", "simulator", "traffic"]) expect(services[name]!.build).toBe(".");
  });

  it("every URL between services points at a service listening there", () => {
    const demoEnv = services["gateway-demo"]!.environment!;
    expect(resolves(hostPortOf(demoEnv.GEMINI_BASE_URL!), "demo")).toBe(true);
    for (const name of ["gateway", "gateway-demo"]) {
      const env = services[name]!.environment!;
      expect(resolves(hostPortOf(env.OTEL_EXPORTER_OTLP_ENDPOINT!)), name).toBe(true);
      expect(resolves(env.SESSION_STORE!.replace(/^redis:\/\//, "").replace(/\/\d+$/, "")), name).toBe(true);
    }
  });

  it("the simulator and traffic commands parse, and the traffic targets the demo gateway and simulator", () => {
    const simulator = parseSimulatorOptions(services.simulator!.command!.slice(1), {});
    expect(listening.simulator).toContain(simulator.port);
    expect(simulator.host).toBe("0.0.0.0");

    expect(services.traffic!.command![0]).toBe("demo");
    const traffic = parseDemoArgs(services.traffic!.command!.slice(1));
    expect(traffic.trafficOnly).toBe(true);
    expect(resolves(hostPortOf(traffic.target!), "demo")).toBe(true);
    expect(resolves(hostPortOf(traffic.simulator!), "demo")).toBe(true);
    // The traffic's keys are keys of the demo gateway's tenants file, and it knows the gateway's turn cap.
    const tenantsFile = parse(readFileSync(inRepo(services["gateway-demo"]!.environment!.GATEWAY_CONFIG!), "utf8")) as { tenants: Record<string, { keys: string[] }> };
    const keys = Object.values(tenantsFile.tenants).flatMap((tenant) => tenant.keys);
    expect(keys).toEqual(expect.arrayContaining(traffic.traffic.keys!));
    expect(String(traffic.traffic.sessionMaxTurns)).toBe(services["gateway-demo"]!.environment!.SESSION_MAX_TURNS);
  });
});

/** A compose that parses and validates a file without an engine: the Docker CLI's plugin, else Debian's 1.29. */
function findCompose(): string[] | undefined {
  for (const command of [["docker", "compose"], ["docker-compose"]]) {
    const probe = spawnSync(command[0]!, [...command.slice(1), "version"], { stdio: "ignore", timeout: 10_000 });
    if (probe.status === 0) return command;
  }
  return undefined;
}
const composeBinary = findCompose();

interface ResolvedService {
  command?: string[];
  profiles?: string[];
  environment?: Record<string, string | null>;
}

// An empty --env-file: a developer's .env (or exported GEMINI_API_KEY) must not stand in for what a profile lacks.
const scratch = mkdtempSync(join(tmpdir(), "compose-test-"));
const emptyEnvFile = join(scratch, "empty.env");
writeFileSync(emptyEnvFile, "");
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** `compose --profile P config` with exactly `vars` (plus PATH and HOME) in its environment. */
async function composeConfig(
  profile: string,
  vars: Record<string, string>,
): Promise<{ ok: true; services: Record<string, ResolvedService> } | { ok: false; output: string }> {
  if (!composeBinary) throw new Error("no compose binary: apt-get install docker-compose (see .ci/run), or install the Docker CLI's compose plugin");
  const [command, ...prefix] = composeBinary as [string, ...string[]];
  const args = [...prefix, "-f", repoPath("docker-compose.yml"), "--env-file", emptyEnvFile, "--profile", profile, "config"];
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? scratch, ...vars };
  try {
    const { stdout } = await promisify(execFile)(command, args, { env, cwd: scratch, timeout: 30_000 });
    return { ok: true, services: (parse(stdout) as { services: Record<string, ResolvedService> }).services };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { ok: false, output: `${e.stderr ?? ""}${e.stdout ?? ""}` || e.message };
  }
}

/** The resolved environment of one service, as the container would get it (no nulls: none is passed through). */
/** A path in the image (the Dockerfile copies the repository's files under /app, checked above) in this checkout. */
const inRepo = (imagePath: string): string => repoPath(imagePath.replace(/^\/app\//, ""));

/** A service's environment, with GATEWAY_CONFIG's image path read from this checkout. */
function environmentOf(resolved: Record<string, ResolvedService>, name: string): Record<string, string> {
  const environment = resolved[name]?.environment;
  expect(environment, `${name} in the resolved config`).toBeDefined();
  const env = Object.fromEntries(Object.entries(environment!).map(([k, v]) => [k, v ?? ""]));
  if (env.GATEWAY_CONFIG) env.GATEWAY_CONFIG = inRepo(env.GATEWAY_CONFIG);
  return env;
}

/** The image's ENTRYPOINT (exec form) from the Dockerfile, then the service's command: what the container runs. */
function containerArgv(service: ResolvedService): string[] {
  const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync(repoPath("Dockerfile"), "utf8"))![1]!;
  return [...(JSON.parse(entrypoint) as string[]), ...(service.command ?? [])];
}

describe(`docker-compose.yml, parsed by compose itself (${composeBinary?.join(" ") ?? "none found"})`, () => {
  const LIVE_VARS = { GEMINI_API_KEY: "upstream-key", GATEWAY_KEYS: "app-key:app" };

  it("--profile demo: valid with no variables at all, and the demo gateway's environment passes the gateway's config check", async () => {
    const result = await composeConfig("demo", {});
    if (!result.ok) expect.fail(`compose --profile demo config failed:\n${result.output}`);
    for (const name of ["gateway-demo", "simulator", "traffic"]) expect(result.services, name).toHaveProperty(name);
    const demo = result.services["gateway-demo"]!;
    expect(demo.command![0]).toBe("serve");
    expect(() => loadConfig(environmentOf(result.services, "gateway-demo"), demo.command!.slice(1))).not.toThrow();
  });

  it("--profile live: valid with GEMINI_API_KEY and GATEWAY_KEYS, which reach the gateway and pass its config check", async () => {
    const result = await composeConfig("live", LIVE_VARS);
    if (!result.ok) expect.fail(`compose --profile live config failed:\n${result.output}`);
    const live = result.services.gateway!;
    const env = environmentOf(result.services, "gateway");
    expect(env).toMatchObject(LIVE_VARS);
    expect(live.command![0]).toBe("serve");
    const config = loadConfig(env, live.command!.slice(1));
    expect(config.gateway.auth.mode).toBe("keys");
    expect(config.gateway.upstream.apiKey).toBe(LIVE_VARS.GEMINI_API_KEY);
  });

  it("--profile live without its keys: compose still parses the file, and the gateway refuses to start, one line per missing setting", async () => {
    const cases: Array<{ vars: Record<string, string>; missing: string[] }> = [
      { vars: {}, missing: ["GEMINI_API_KEY", "GATEWAY_KEYS"] },
      { vars: { GATEWAY_KEYS: LIVE_VARS.GATEWAY_KEYS }, missing: ["GEMINI_API_KEY"] },
    ];
    const results = await Promise.all(cases.map(({ vars }) => composeConfig("live", vars)));
    for (const [i, { vars, missing }] of cases.entries()) {
      const result = results[i]!;
      if (!result.ok) expect.fail(`compose --profile live config with ${JSON.stringify(vars)} failed at parse time:\n${result.output}`);
      // The container's own start: the image's entrypoint and the service's command, with the resolved environment
      // and nothing else (dist/ is built by the global setup). A timeout in case it did start: it must not.
      const [command, ...args] = containerArgv(result.services.gateway!) as [string, ...string[]];
      const run = spawnSync(command, args, {
        cwd: repoPath("."),
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...environmentOf(result.services, "gateway") },
        encoding: "utf8",
        timeout: 15_000,
        killSignal: "SIGKILL",
      });
      expect(run.status, `exit status with ${JSON.stringify(vars)}; stderr:\n${run.stderr}`).toBe(1);
      const problems = run.stderr.split("\n").filter((line) => /^\s+- /.test(line)).map((line) => line.replace(/^\s+- /, "").split(":")[0]);
      expect(run.stderr).toMatch(/invalid configuration/);
      expect(problems.sort(), run.stderr).toEqual([...missing].sort());
    }
  });

  it("--profile live with GATEWAY_AUTH=passthrough: no keys needed, by choice", async () => {
    const result = await composeConfig("live", { GATEWAY_AUTH: "passthrough" });
    if (!result.ok) expect.fail(`compose --profile live config failed:\n${result.output}`);
    const config = loadConfig(environmentOf(result.services, "gateway"), result.services.gateway!.command!.slice(1));
    expect(config.gateway.auth.mode).toBe("passthrough");
  });
});

describe("configs mounted by the stack", () => {
  const mountTarget = (service: string, source: string): string | undefined =>
    services[service]!.volumes!.map((v) => v.split(":")).find(([s]) => s === source)?.[1];

  it("Prometheus: scrape targets and Alertmanager resolve; its rule files are mounted beside its config", () => {
    const prom = readYaml<{
      rule_files: string[];
      alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> };
      scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
    }>("dashboards/prometheus/prometheus.yml");
    const gatewayJob = prom.scrape_configs.find((s) => s.job_name === "gemini-gateway")!;
    for (const target of gatewayJob.static_configs.flatMap((c) => c.targets)) {
      expect(resolves(target, "live"), target).toBe(true);
      expect(resolves(target, "demo"), target).toBe(true);
    }
    for (const target of prom.alerting.alertmanagers.flatMap((a) => a.static_configs.flatMap((c) => c.targets))) {
      expect(resolves(target), target).toBe(true);
    }
    const configDir = mountTarget("prometheus", "./dashboards/prometheus/prometheus.yml")!.replace(/\/[^/]+$/, "");
    for (const file of prom.rule_files) {
      expect(mountTarget("prometheus", `./dashboards/prometheus/${file}`), file).toBe(`${configDir}/${file}`);
    }
    expect(services.prometheus!.command).toContain("--enable-feature=exemplar-storage");
    expect(services.prometheus!.command).toContain(`--config.file=${configDir}/prometheus.yml`);
  });

  it("Grafana: datasource URLs resolve, exemplars link to the tracing datasource, the dashboard is where the provider looks", () => {
    const ds = readYaml<{ datasources: Array<{ uid: string; type: string; url: string; jsonData?: { exemplarTraceIdDestinations?: Array<{ name: string; datasourceUid: string }> } }> }>(
      "dashboards/grafana/provisioning/datasources/datasources.yaml",
    ).datasources;
    for (const d of ds) expect(resolves(hostPortOf(d.url)), d.url).toBe(true);
    const prometheus = ds.find((d) => d.type === "prometheus")!;
    const destinations = prometheus.jsonData!.exemplarTraceIdDestinations!;
    expect(destinations.map((d) => d.name)).toEqual(["trace_id"]);
    for (const d of destinations) expect(ds.find((x) => x.uid === d.datasourceUid)?.type).toBe("tempo");

    const providers = readYaml<{ providers: Array<{ options: { path: string } }> }>("dashboards/grafana/provisioning/dashboards/dashboards.yaml").providers;
    const dashboardTarget = mountTarget("grafana", "./dashboards/grafana/gemini-gateway.json")!;
    expect(providers.some((p) => dashboardTarget.startsWith(`${p.options.path}/`))).toBe(true);
    expect(services.grafana!.environment!.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe(dashboardTarget);
    expect(mountTarget("grafana", "./dashboards/grafana/provisioning/datasources")).toBe("/etc/grafana/provisioning/datasources");
    expect(mountTarget("grafana", "./dashboards/grafana/provisioning/dashboards")).toBe("/etc/grafana/provisioning/dashboards");

    // The dashboard's datasource variable picks a Prometheus datasource; the default one is provisioned.
    const dashboard = JSON.parse(readFileSync(repoPath("dashboards/grafana/gemini-gateway.json"), "utf8")) as {
      templating: { list: Array<{ name: string; type: string; query: string; current?: { value: string } }> };
    };
    const variable = dashboard.templating.list.find((v) => v.name === "datasource")!;
    expect(variable).toMatchObject({ type: "datasource", query: "prometheus" });
    expect(ds.map((d) => d.uid)).toContain(variable.current!.value);
  });

  it("OTel Collector: receives OTLP where the gateway sends it and exports to Tempo's OTLP port", () => {
    const collector = readYaml<{
      receivers: { otlp: { protocols: Record<string, { endpoint: string }> } };
      exporters: Record<string, { endpoint: string }>;
      service: { pipelines: { traces: { receivers: string[]; exporters: string[] } } };
    }>("dashboards/otel-collector.yaml");
    const receiverPorts = Object.values(collector.receivers.otlp.protocols).map((p) => Number(p.endpoint.split(":")[1]));
    const gatewayOtlpPort = Number(new URL(services.gateway!.environment!.OTEL_EXPORTER_OTLP_ENDPOINT!).port);
    expect(receiverPorts).toContain(gatewayOtlpPort);
    expect(listening["otel-collector"]).toEqual(expect.arrayContaining(receiverPorts));
    expect(mountTarget("otel-collector", "./dashboards/otel-collector.yaml")).toBe(services["otel-collector"]!.command![0]!.replace("--config=", ""));

    const tempo = readYaml<{ server: { http_listen_port: number }; distributor: { receivers: { otlp: { protocols: { grpc: { endpoint: string } } } } } }>(
      "dashboards/tempo/tempo.yaml",
    );
    const tempoOtlp = tempo.distributor.receivers.otlp.protocols.grpc.endpoint.split(":")[1];
    for (const exporter of collector.service.pipelines.traces.exporters) {
      expect(collector.exporters[exporter]!.endpoint).toBe(`tempo:${tempoOtlp}`);
    }
    expect(listening.tempo).toContain(tempo.server.http_listen_port);
    expect(mountTarget("tempo", "./dashboards/tempo/tempo.yaml")).toBe(services.tempo!.command![0]!.replace("-config.file=", ""));
  });

  it("Alertmanager: its config is mounted where its command reads it", () => {
    expect(mountTarget("alertmanager", "./dashboards/alertmanager/alertmanager.yml")).toBe(
      services.alertmanager!.command![0]!.replace("--config.file=", ""),
    );
  });
});

describe("Dockerfile and .dockerignore", () => {
  const dockerfile = readFileSync(repoPath("Dockerfile"), "utf8");
  const lines = dockerfile.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#"));
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const final = stages.at(-1)!;
  const ignored = readFileSync(repoPath(".dockerignore"), "utf8").split("\n").filter((l) => l && !l.startsWith("#"));

  it("is multi-stage on a current LTS Node slim image", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:(22|24)-[a-z]+-slim$/m);
    for (const stage of stages) expect(stage.startsWith("${NODE_IMAGE}")).toBe(true);
  });

  it("puts production dependencies only in the final image, and runs as a non-root user", () => {
    const prodStage = stages.find((s) => s.includes("npm ci --omit=dev"))!;
    const prodName = /^\S+ AS (\S+)/.exec(prodStage)![1];
    expect(final).toContain(`--from=${prodName} /app/node_modules ./node_modules`);
    expect(final).not.toMatch(/npm (ci|install)(?!.*--omit=dev)/);
    expect(final).toMatch(/^USER node$/m);
  });

  it("exposes 8080, checks /healthz, and starts `serve` through the CLI", () => {
    expect(final).toMatch(/^EXPOSE 8080$/m);
    expect(final).toMatch(/^HEALTHCHECK .*/m);
    expect(final).toContain("/healthz");
    expect(final).toContain('ENTRYPOINT ["node", "dist/cli.js"]');
    expect(final).toContain('CMD ["serve"]');
  });

  it("copies only paths that exist and that .dockerignore lets through", () => {
    const sources = lines
      .filter((l) => l.startsWith("COPY ") && !l.includes("--from="))
      .flatMap((l) => l.replace(/--\S+/g, "").trim().split(/\s+/).slice(1, -1));
    expect(sources.length).toBeGreaterThan(3);
    for (const source of sources) {
      expect(existsSync(repoPath(source)), source).toBe(true);
      expect(ignored, source).not.toContain(source);
    }
    for (const heavy of ["node_modules", ".git", "dist"]) expect(ignored).toContain(heavy);
  });
});
