// `gemini-gateway serve`: configuration from the environment and flags, then the gateway until SIGTERM/SIGINT,
// which drain it and exit 0.

import { flagOf } from "../config/source.js";
import { loadConfig, sections } from "./config.js";
import { startGateway } from "./gateway.js";

function usage(): string {
  const settings = Object.values(sections).flatMap((section) => section.settings);
  const lines = settings.map((setting) => `  ${flagOf(setting).padEnd(28)} ${setting}`);
  return (
    "Usage: gemini-gateway serve [options]\n\n" +
    "Every option is also read from the environment variable beside it (the flag wins).\n" +
    "See README.md (section: The gateway) for defaults and meanings.\n\n" +
    `${lines.join("\n")}\n`
  );
}

export async function main(argv: string[]): Promise<void> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(usage());
    return;
  }
  const config = loadConfig(process.env, argv);
  const gateway = await startGateway(config);
  const shutdown = (): void => {
    void gateway.drain().then(() => process.exit(0));
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
}
