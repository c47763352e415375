// The whole configuration: one section per concern, loaded together so every problem is reported at once.
// Each concern adds its section with one line in `sections` and one in `Config`.

import { gatewaySection, type GatewayConfig } from "../config/gateway.js";
import { loadSections } from "../config/source.js";

export const sections = {
  gateway: gatewaySection,
};

export interface Config {
  gateway: GatewayConfig;
}

export function loadConfig(env: Readonly<Record<string, string | undefined>>, argv: readonly string[]): Config {
  return loadSections(sections, env, argv);
}
