// RESOURCE_* settings: tenant isolation of the resources made through the gateway under its shared upstream key
// (cached contents, files, batches, operations, tuned models...). Kept in the session store (SESSION_STORE).

import { z } from "zod";
import { describeIssues, loadSections, type ConfigSection, type SettingSource } from "./source.js";

const positiveInt = () => z.coerce.number({ error: "must be a number" }).int("must be an integer").positive("must be > 0");

export const resourceEnvSchema = z.object({
  RESOURCE_ISOLATION: z.enum(["on", "off"], { error: "must be on or off" }).default("on"),
  RESOURCE_OWNERS_MAX: positiveInt().default(100_000),
  RESOURCE_OWNER_TTL_SECONDS: positiveInt().default(30 * 24 * 3600),
});

/** One line each, as `serve --help` and docs/configuration.md show them (defaults come from the schema). */
const help: Record<keyof typeof resourceEnvSchema.shape, string> = {
  RESOURCE_ISOLATION: "on: with gateway keys, each tenant sees only the cached contents, files, batches... it made under the shared key; off: all shared",
  RESOURCE_OWNERS_MAX: "ownership records the memory store keeps; the least recently used go first",
  RESOURCE_OWNER_TTL_SECONDS: "how long an ownership record is kept after its last use",
};

export interface ResourceConfig {
  /** With gateway keys: each tenant sees only the resources it made (see docs/resources.md). */
  isolation: boolean;
  /** The memory store's bound on ownership records (least recently used go first). */
  maxOwners: number;
  /** How long an ownership record is kept after its last use. */
  ownerTtlSeconds: number;
}

function toConfig(env: z.infer<typeof resourceEnvSchema>): ResourceConfig {
  return { isolation: env.RESOURCE_ISOLATION === "on", maxOwners: env.RESOURCE_OWNERS_MAX, ownerTtlSeconds: env.RESOURCE_OWNER_TTL_SECONDS };
}

export const defaultResourceConfig: ResourceConfig = toConfig(resourceEnvSchema.parse({}));

export const resourceSection: ConfigSection<ResourceConfig> = {
  settings: Object.keys(resourceEnvSchema.shape),
  help,
  schema: resourceEnvSchema,
  load(source: SettingSource) {
    const parsed = resourceEnvSchema.safeParse(source);
    return parsed.success ? { config: toConfig(parsed.data) } : { problems: describeIssues(parsed.error, source) };
  },
};

/** The resource settings alone (tests, tools). */
export function loadResourceConfig(env: Readonly<Record<string, string | undefined>> = process.env, argv: readonly string[] = []): ResourceConfig {
  return loadSections({ resources: resourceSection }, env, argv).resources;
}
