// `gemini-chat-gateway simulate`: the simulator as a process. Flags win over SIM_* environment variables.
import { parseArgs } from "node:util";
import { z } from "zod";
import type { SimulatorOptions } from "./index.js";
import { DEFAULT_SIMULATOR_OPTIONS, startSimulator } from "./index.js";

const FLAGS = {
  port: { env: "SIM_PORT", help: "port to listen on (0 = ephemeral)", default: "8090" },
  host: { env: "SIM_HOST", help: "address to bind", default: DEFAULT_SIMULATOR_OPTIONS.host },
  keys: { env: "SIM_KEYS", help: "comma-separated accepted API keys (default: any non-empty key)" },
  "reply-tokens": { env: "SIM_REPLY_TOKENS", help: "visible reply length range in tokens, MIN-MAX", default: "20-80" },
  "ttft-ms": { env: "SIM_TTFT_MS", help: "wait before the first byte of an answer", default: "0" },
  "tokens-per-second": { env: "SIM_TOKENS_PER_SECOND", help: "stream trickle rate (0 = no trickle)", default: "0" },
  rpm: { env: "SIM_RPM", help: "requests per minute per key+model (default unlimited)" },
  rpd: { env: "SIM_RPD", help: "requests per day per key+model (default unlimited)" },
  tpm: { env: "SIM_TPM", help: "input tokens per minute per key+model (default unlimited)" },
  "implicit-cache-window-ms": { env: "SIM_IMPLICIT_CACHE_WINDOW_MS", help: "how long 2.5 models keep a prompt prefix cached (0 = no implicit caching)", default: String(DEFAULT_SIMULATOR_OPTIONS.implicitCacheWindowMs) },
  "batch-polls": { env: "SIM_BATCH_POLLS", help: "GETs a batch takes to finish: pending, running, then done", default: String(DEFAULT_SIMULATOR_OPTIONS.batchPollsUntilDone) },
  "interaction-polls": { env: "SIM_INTERACTION_POLLS", help: "GETs a background interaction takes to finish", default: String(DEFAULT_SIMULATOR_OPTIONS.interactionPollsUntilDone) },
} as const satisfies Record<string, { env: string; help: string; default?: string }>;
type FlagName = keyof typeof FLAGS;

export function usage(): string {
  const line = (flag: string, env: string, help: string): string => `  ${flag.padEnd(28)} ${env.padEnd(29)} ${help}`;
  const lines = Object.entries(FLAGS).map(([name, flag]) => line(`--${name}`, flag.env, `${flag.help}${"default" in flag ? ` (default ${flag.default})` : ""}`));
  lines.push(line("--help", "", "show this help"));
  return (
    "Usage: gemini-chat-gateway simulate [options]\n\n" +
    "Runs the Gemini API simulator: a local stand-in for generativelanguage.googleapis.com that the official SDKs\n" +
    "run against unchanged, with quotas and fault injection; no key or network needed (see docs/simulator.md).\n" +
    "A flag wins over its environment variable.\n\n" +
    `Options (flag, environment variable, meaning):\n${lines.join("\n")}\n`
  );
}

const intFrom = (min: number) => z.coerce.number({ error: "must be a number" }).int("must be an integer").min(min, `must be >= ${min}`);
const optionalInt = intFrom(1).optional();

const optionsSchema = z
  .object({
    port: intFrom(0).max(65535, "must be <= 65535"),
    host: z.string().min(1, "must not be empty"),
    keys: z
      .string()
      .optional()
      .transform((v) => (v === undefined ? undefined : v.split(",").map((k) => k.trim()).filter((k) => k !== "")))
      .refine((v) => v === undefined || v.length > 0, "must list at least one key"),
    "reply-tokens": z
      .string()
      .regex(/^\d+-\d+$/, "must be MIN-MAX, e.g. 20-80")
      .transform((v) => {
        const [min, max] = v.split("-").map(Number) as [number, number];
        return { min, max };
      })
      .refine((r) => r.min >= 1 && r.min <= r.max, "needs 1 <= MIN <= MAX"),
    "ttft-ms": intFrom(0),
    "tokens-per-second": z.coerce.number({ error: "must be a number" }).min(0, "must be >= 0"),
    rpm: optionalInt,
    rpd: optionalInt,
    tpm: optionalInt,
    "implicit-cache-window-ms": intFrom(0),
    "batch-polls": intFrom(1),
    "interaction-polls": intFrom(1),
  })
  .transform(
    (o): SimulatorOptions => ({
      port: o.port,
      host: o.host,
      keys: o.keys,
      replyTokens: o["reply-tokens"],
      ttftMs: o["ttft-ms"],
      tokensPerSecond: o["tokens-per-second"],
      rpm: o.rpm,
      rpd: o.rpd,
      tpm: o.tpm,
      implicitCacheWindowMs: o["implicit-cache-window-ms"],
      batchPollsUntilDone: o["batch-polls"],
      interactionPollsUntilDone: o["interaction-polls"],
    }),
  );

/** Flags, then environment, then defaults; one line per bad value. */
export function parseSimulatorOptions(argv: string[], env: NodeJS.ProcessEnv): SimulatorOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: Object.fromEntries(Object.keys(FLAGS).map((name) => [name, { type: "string" as const }])),
      strict: true,
    }));
  } catch (err) {
    // node:util explains over several lines; one line per problem is the house style.
    throw new Error((err instanceof Error ? err.message : String(err)).split("\n")[0]);
  }
  const raw: Record<string, string | undefined> = {};
  for (const [name, flag] of Object.entries(FLAGS) as [FlagName, (typeof FLAGS)[FlagName]][]) {
    const value = values[name];
    raw[name] = typeof value === "string" ? value : (env[flag.env] ?? ("default" in flag ? flag.default : undefined));
  }
  const parsed = optionsSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(
      parsed.error.issues
        .map((issue) => {
          const name = String(issue.path[0]) as FlagName;
          return `--${name} (${FLAGS[name]?.env ?? "?"}): ${issue.message} (got ${JSON.stringify(raw[name])})`;
        })
        .join("\n"),
    );
  }
  return parsed.data;
}

export async function main(argv: string[]): Promise<void> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(usage());
    return;
  }
  const options = parseSimulatorOptions(argv, process.env);
  const sim = await startSimulator(options);
  process.stdout.write(`Gemini API simulator listening on ${sim.url}\n`);
  const stop = (): void => {
    void sim.close().then(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}
