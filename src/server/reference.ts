// `npm run docs:config`: writes the configuration reference of `serve` (docs/configuration.md) from its config
// sections. It lives beside `sections` because src/config/ imports nothing of the server.

import { realpathSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { configReference, renderConfigMarkdown } from "../config/reference.js";
import { sections } from "./config.js";

/** docs/configuration.md as the code says it should be. */
export const configurationMarkdown = (): string => renderConfigMarkdown(configReference(sections));

// Run as a script (`node dist/server/reference.js docs/configuration.md`), not when a test imports it.
const script = process.argv[1];
if (script !== undefined && import.meta.url === pathToFileURL(realpathSync(script)).href) {
  const target = process.argv[2];
  if (target) {
    writeFileSync(target, configurationMarkdown());
    process.stdout.write(`wrote ${target}\n`);
  } else {
    process.stdout.write(configurationMarkdown());
  }
}
