// The whole configuration: one section per concern, loaded together so every problem is reported at once.
// Each concern adds its section with one line in `sections` and one in `Config`.

import { consoleSection, type ConsoleConfig } from "../config/console.js";
import { gatewaySection, type GatewayConfig } from "../config/gateway.js";
import { interactionSection, type InteractionConfig } from "../config/interactions.js";
import { resourceSection, type ResourceConfig } from "../config/resources.js";
import { sessionSection, type SessionConfig } from "../config/sessions.js";
import { loadSections } from "../config/source.js";
import { telemetrySection, type TelemetryConfig } from "../config/telemetry.js";

export const sections = {
  gateway: gatewaySection,
  sessions: sessionSection,
  telemetry: telemetrySection,
  resources: resourceSection,
  interactions: interactionSection,
  console: consoleSection,
};

/** The sections other than `gateway` fall back to their defaults when a caller (a test) builds only the gateway
 *  section. */
export interface Config {
  gateway: GatewayConfig;
  sessions?: SessionConfig;
  telemetry?: TelemetryConfig;
  resources?: ResourceConfig;
  interactions?: InteractionConfig;
  console?: ConsoleConfig;
}

export function loadConfig(env: Readonly<Record<string, string | undefined>>, argv: readonly string[]): Config {
  return loadSections(sections, env, argv);
}
