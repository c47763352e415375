// `gemini-chat-gateway demo`: the gateway with the in-process simulator as its upstream and the traffic generator
// talking to it, so /metrics (and a Prometheus/Grafana pointed at it) come alive without a Gemini key. `npm start` runs
// it.
// `--traffic-only --target URL` runs just the traffic generator against a gateway elsewhere (the compose demo profile).

import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadConfig } from "../server/config.js";
import { startGateway, type RunningGateway } from "../server/gateway.js";
import { startSimulator, type RunningSimulator } from "../simulator/index.js";
import { DEFAULT_TRAFFIC_OPTIONS, startTraffic, type RunningTraffic, type TrafficOptions, type TrafficStats } from "./traffic.js";

/** The demo's tenants file: three tenants, one key each; team-a has budgets, team-b limits its traffic trips. */
export const DEMO_TENANTS_FILE = fileURLToPath(new URL("../../examples/gateway.yaml", import.meta.url));
/** The demo's admin key: the console URL it prints carries it, so the page opens with no extra step. */
export const DEMO_ADMIN_KEY = "demo-admin-key";
/** The keys of the demo's tenants (demo, team-a, team-b): the simulated users take turns with them. */
const DEMO_KEYS = ["demo-key", "team-a-key", "team-b-key"];

/** Settings the demo chooses unless the environment does: small enough to show turn caps and evictions in minutes. */
const DEMO_DEFAULTS: Record<string, string> = {
  SESSION_MAX_TURNS: "12",
  SESSION_MAX: "40",
  // One JSON line per request would drown the banner; LOG_LEVEL=info brings them back.
  LOG_LEVEL: "warn",
};

export interface DemoOptions {
  port: number;
  host: string;
  /** Settings for the gateway over the demo's (e.g. from process.env); the upstream and the keys are always the demo's. */
  env: Readonly<Record<string, string | undefined>>;
  /** Traffic generator options besides its target, keys and simulator. */
  traffic: Partial<Omit<TrafficOptions, "target" | "simulator">>;
  /** Simulator latency: the demo streams visibly by default. */
  simulator: { ttftMs: number; tokensPerSecond: number };
  /** Fault episodes through the simulator's fault API. */
  faults: boolean;
}

export interface RunningDemo {
  gateway: RunningGateway;
  simulator: RunningSimulator;
  traffic: RunningTraffic;
  /** Stops the traffic, then the gateway, then the simulator. */
  close(): Promise<TrafficStats>;
}

/** The gateway's settings in demo mode: the environment, demo defaults where it is silent, the simulator upstream. */
export function demoSettings(env: DemoOptions["env"], simulatorUrl: string, port: number, host: string): Record<string, string | undefined> {
  return {
    ...DEMO_DEFAULTS,
    ...env,
    GEMINI_BASE_URL: simulatorUrl,
    GEMINI_API_KEY: "simulated-upstream-key",
    // The user's own key settings would conflict with (or stand in for) the simulated one.
    GEMINI_API_KEY_FILE: undefined,
    GOOGLE_API_KEY: undefined,
    GATEWAY_AUTH: "keys",
    GATEWAY_KEYS: undefined,
    GATEWAY_CONFIG: DEMO_TENANTS_FILE,
    ADMIN_KEYS: DEMO_ADMIN_KEY,
    PORT: String(port),
    HOST: host,
  };
}

export async function startDemo(options: DemoOptions): Promise<RunningDemo> {
  const simulator = await startSimulator({ ...options.simulator, port: 0, host: "127.0.0.1" });
  let gateway: RunningGateway;
  try {
    gateway = await startGateway(loadConfig(demoSettings(options.env, simulator.url, options.port, options.host), []));
  } catch (err) {
    await simulator.close();
    throw err;
  }
  const traffic = startTraffic({
    keys: DEMO_KEYS,
    sessionMaxTurns: Number(options.env.SESSION_MAX_TURNS ?? DEMO_DEFAULTS.SESSION_MAX_TURNS),
    ...options.traffic,
    target: gateway.url,
    ...(options.faults ? { simulator: simulator.url } : {}),
  });
  return {
    gateway,
    simulator,
    traffic,
    close: async () => {
      const stats = await traffic.stop();
      await gateway.close();
      await simulator.close();
      return stats;
    },
  };
}

/** The console with the demo's admin key in the fragment (the page keeps it for the tab; it never reaches a log). */
export const consoleUrl = (gatewayUrl: string): string => `${gatewayUrl}/ui/#key=${DEMO_ADMIN_KEY}`;

/** What to print so a user can point an app (and a Prometheus) at the gateway. */
export function banner(gatewayUrl: string, key: string): string {
  return [
    `  console:   ${consoleUrl(gatewayUrl)}   (open it in a browser: live traffic, spend, truncations, each turn and session)`,
    `  metrics:   ${gatewayUrl}/metrics   (Prometheus scrape target; exemplars with Accept: application/openmetrics-text)`,
    `  health:    ${gatewayUrl}/healthz`,
    "",
    "Point an app at it (the gateway key is the SDK's apiKey):",
    `  @google/genai:          new GoogleGenAI({ apiKey: "${key}", httpOptions: { baseUrl: "${gatewayUrl}" } })`,
    `  @google/generative-ai:  new GoogleGenerativeAI("${key}").getGenerativeModel({ model: "gemini-2.5-flash" }, { baseUrl: "${gatewayUrl}" })`,
    `  curl:                   curl -s ${gatewayUrl}/v1beta/models/gemini-2.5-flash:generateContent -H 'x-goog-api-key: ${key}' \\`,
    `                            -H 'content-type: application/json' -d '{"contents":[{"role":"user","parts":[{"text":"Hello"}]}]}'`,
    `  sessions:               curl -s -X POST ${gatewayUrl}/v1/sessions -H 'x-goog-api-key: ${key}' -H 'content-type: application/json' \\`,
    `                            -d '{"model":"gemini-2.5-flash"}'`,
  ].join("\n");
}

function usage(): string {
  return `Usage: gemini-chat-gateway demo [options]

Starts the gateway with the built-in Gemini simulator as its upstream and a traffic generator (simulated users holding
multi-turn chats, some past the turn cap, occasional MAX_TOKENS, 429 and 503 episodes). No Gemini key needed: the
gateway key is demo-key. It prints the gateway's URLs, then runs until Ctrl-C (or --duration).

Options:
  --port N                gateway port (default: PORT, else 8080; 0 = ephemeral)
  --host ADDR             gateway address (default 127.0.0.1)
  --duration SECONDS      stop after this long (default: until Ctrl-C)
  --rate N                model calls per second at most, all users together (default ${DEFAULT_TRAFFIC_OPTIONS.rate})
  --users N               simulated users (default ${DEFAULT_TRAFFIC_OPTIONS.users})
  --episode-interval S    seconds between fault episodes (default ${DEFAULT_TRAFFIC_OPTIONS.episodeIntervalMs / 1000})
  --no-faults             no fault episodes
  --traffic-only          only the traffic generator, against --target
  --target URL            the gateway to drive (with --traffic-only)
  --simulator URL         the gateway's simulator, for fault episodes (with --traffic-only)
  --keys K1,K2            gateway keys for the simulated users (with --traffic-only; default demo-key)
  --session-max-turns N   the target's SESSION_MAX_TURNS, so some chats reach it (with --traffic-only; default 12)

Gateway settings (SESSION_*, OTEL_*, LOG_LEVEL, ...) are read from the environment as for 'serve' (see
'gemini-chat-gateway serve --help'); the upstream, its key and the tenants (examples/gateway.yaml: three keys, limits
that team-b's share of the traffic trips) are always the demo's, and so is the console's admin key (demo-admin-key,
in the console URL it prints).
`;
}

const positive = (name: string, raw: string | undefined, fallback: number): number => {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name}: must be a positive number (got "${raw}")`);
  return value;
};

export interface DemoArgs {
  help: boolean;
  trafficOnly: boolean;
  port: number;
  host: string;
  /** The gateway to drive (traffic-only). */
  target?: string;
  /** Fault episodes: through the embedded simulator, or through `--simulator` in traffic-only mode. */
  faults: boolean;
  simulator?: string;
  durationSeconds?: number;
  traffic: Partial<TrafficOptions>;
}

/** The command line of `demo` (the port, when not given, from PORT as for `serve`); throws one clear message per bad
 *  option. */
export function parseDemoArgs(argv: string[], env: Readonly<Record<string, string | undefined>> = {}): DemoArgs {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      duration: { type: "string" },
      rate: { type: "string" },
      users: { type: "string" },
      "episode-interval": { type: "string" },
      "no-faults": { type: "boolean" },
      "traffic-only": { type: "boolean" },
      target: { type: "string" },
      simulator: { type: "string" },
      keys: { type: "string" },
      "session-max-turns": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const givenPort = values.port ?? (env.PORT || undefined);
  const port = givenPort === undefined ? 8080 : Number(givenPort);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${values.port === undefined ? "PORT" : "--port"}: must be 0-65535 (got "${givenPort}")`);
  }
  const trafficOnly = values["traffic-only"] ?? false;
  if (trafficOnly && !values.target && !values.help) throw new Error("--traffic-only needs --target URL (the gateway to drive)");
  const durationSeconds = values.duration === undefined ? undefined : positive("duration", values.duration, 0);
  const traffic: Partial<TrafficOptions> = {
    rate: positive("rate", values.rate, DEFAULT_TRAFFIC_OPTIONS.rate),
    users: Math.round(positive("users", values.users, DEFAULT_TRAFFIC_OPTIONS.users)),
    episodeIntervalMs: positive("episode-interval", values["episode-interval"], DEFAULT_TRAFFIC_OPTIONS.episodeIntervalMs / 1000) * 1000,
    ...(durationSeconds === undefined ? {} : { durationMs: durationSeconds * 1000 }),
    ...(values.keys === undefined ? {} : { keys: values.keys.split(",").map((k) => k.trim()).filter((k) => k !== "") }),
    ...(values["session-max-turns"] === undefined
      ? {}
      : { sessionMaxTurns: Math.round(positive("session-max-turns", values["session-max-turns"], 0)) }),
  };
  return {
    help: values.help ?? false,
    trafficOnly,
    port,
    host: values.host ?? "127.0.0.1",
    ...(values.target === undefined ? {} : { target: values.target }),
    faults: !values["no-faults"],
    ...(values.simulator === undefined ? {} : { simulator: values.simulator }),
    ...(durationSeconds === undefined ? {} : { durationSeconds }),
    traffic,
  };
}

export async function main(argv: string[]): Promise<void> {
  const args = parseDemoArgs(argv, process.env);
  if (args.help) {
    process.stdout.write(usage());
    return;
  }
  const traffic: Partial<TrafficOptions> = { ...args.traffic, log: (line) => process.stdout.write(`${line}\n`) };
  const duration = args.durationSeconds === undefined ? "until Ctrl-C" : `for ${args.durationSeconds}s`;

  let running: { traffic: RunningTraffic; close(): Promise<TrafficStats> };
  if (args.trafficOnly && args.target) {
    const simulator = args.faults ? args.simulator : undefined;
    const generator = startTraffic({ ...traffic, target: args.target, ...(simulator ? { simulator } : {}) });
    running = { traffic: generator, close: () => generator.stop() };
    process.stdout.write(
      `gemini-chat-gateway demo: traffic to ${args.target} (${traffic.users} users, up to ${traffic.rate} calls/s, ${duration})` +
        `${simulator ? `, fault episodes through ${simulator}` : ""}\n`,
    );
  } else {
    const demo = await startDemo({
      port: args.port,
      host: args.host,
      env: process.env,
      traffic,
      simulator: { ttftMs: 150, tokensPerSecond: 400 },
      faults: args.faults,
    });
    running = demo;
    process.stdout.write(
      `gemini-chat-gateway demo: gateway ${demo.gateway.url} -> simulator ${demo.simulator.url} (no Gemini key involved)\n` +
        `${banner(demo.gateway.url, "demo-key")}\n\n` +
        `Traffic: ${traffic.users} users, up to ${traffic.rate} calls/s, ${duration}` +
        `${args.faults ? `, a fault episode every ${traffic.episodeIntervalMs! / 1000}s` : ""}. Ctrl-C stops.\n`,
    );
  }

  let onSignal = (): void => undefined;
  await new Promise<void>((resolve) => {
    onSignal = resolve;
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    void running.traffic.done.then(() => resolve());
  });
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  const stats = await running.close();
  const calls = Object.entries(stats.calls).map(([kind, n]) => `${kind} ${n}`).join(", ");
  const statuses = Object.entries(stats.statuses).map(([code, n]) => `${code}: ${n}`).join(", ");
  process.stdout.write(
    `gemini-chat-gateway demo: stopped. model calls: ${calls || "none"}; responses by status: ${statuses || "none"}; ` +
      `sessions created ${stats.sessionsCreated}, turn cap hits ${stats.turnCapHits}, fault episodes ${stats.episodes}` +
      `${stats.networkErrors ? `, network errors ${stats.networkErrors}` : ""}\n`,
  );
}
