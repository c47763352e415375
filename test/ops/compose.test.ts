// Static checks of the container files, for what breaks silently: docker-compose.yml, the Dockerfile, .dockerignore
// and the configs they mount. Docker is not available on these machines, so nothing here runs a container; instead
// every file a service mounts must exist, every host:port one config names must be a service listening on that port,
// the gateway's environment must pass its own config validation, and the commands must parse.

import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
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

/** Compose's ${VAR:-default} / ${VAR:?error} / ${VAR}: defaults as written, required ones from `given`. */
function interpolate(value: string, given: Record<string, string>): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}/g, (_m, name: string, op?: string, arg?: string) => {
    if (given[name] !== undefined) return given[name]!;
    if (op === "-") return arg ?? "";
    if (op === "?") throw new Error(`\${${name}} is required and not given`);
    return "";
  });
}

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

  it("the gateway's environment passes the gateway's own configuration check, in both profiles", () => {
    const given = { GEMINI_API_KEY: "k", GATEWAY_KEYS: "app-key:app" };
    for (const name of ["gateway", "gateway-demo"]) {
      const env = Object.fromEntries(Object.entries(services[name]!.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), given)]));
      expect(() => loadConfig(env, services[name]!.command!.slice(1)), name).not.toThrow();
      expect(services[name]!.command![0]).toBe("serve");
    }
  });

  it("the live gateway refuses to start without a key rather than guessing", () => {
    expect(() => interpolate(String(services.gateway!.environment!.GEMINI_API_KEY), {})).toThrow(/GEMINI_API_KEY/);
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
    // The traffic's keys are gateway keys of the demo gateway, and it knows the gateway's turn cap.
    const keys = services["gateway-demo"]!.environment!.GATEWAY_KEYS!.split(",").map((pair) => pair.split(":")[0]);
    expect(keys).toEqual(expect.arrayContaining(traffic.traffic.keys!));
    expect(String(traffic.traffic.sessionMaxTurns)).toBe(services["gateway-demo"]!.environment!.SESSION_MAX_TURNS);
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
