// `gemini-chat-gateway serve`: configuration from the environment and flags (secrets from the environment only), then
// the gateway until SIGTERM/SIGINT, which drain it and exit 0.

import { configReference, renderServeHelp } from "../config/reference.js";
import { loadConfig, sections } from "./config.js";
import { startGateway } from "./gateway.js";

/** Made from the sections, like docs/configuration.md: every setting with its flag, default and meaning. */
export const usage = (): string => renderServeHelp(configReference(sections), "gemini-chat-gateway");

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
