// INTERACTION_* settings: conversation tracking and turn caps of Interactions API chains (previous_interaction_id),
// kept in the session store (SESSION_STORE).

import { z } from "zod";
import { describeIssues, loadSections, type ConfigSection, type SettingSource } from "./source.js";

const positiveInt = () => z.coerce.number({ error: "must be a number" }).int("must be an integer").positive("must be > 0");

export const interactionEnvSchema = z.object({
  INTERACTION_MAX_TURNS: positiveInt().optional(),
  INTERACTION_CHAINS_MAX: positiveInt().default(100_000),
  INTERACTION_CHAINS_MAX_BYTES: positiveInt().default(32 * 1024 * 1024),
  INTERACTION_CHAIN_TTL_SECONDS: positiveInt().default(30 * 24 * 3600),
});

/** One line each, as `serve --help` and docs/configuration.md show them (defaults come from the schema). */
const help: Record<keyof typeof interactionEnvSchema.shape, string> = {
  INTERACTION_MAX_TURNS: "refuse an interaction create whose chain (previous_interaction_id) would pass this many turns (unset: no cap)",
  INTERACTION_CHAINS_MAX: "interactions the memory store remembers the chain place of; the least recently used go first",
  INTERACTION_CHAINS_MAX_BYTES: "bytes of those records the memory store keeps",
  INTERACTION_CHAIN_TTL_SECONDS: "how long an interaction's place in its chain is remembered after its last use",
};

export interface InteractionConfig {
  /** A create whose chain would pass this many turns is refused before it goes upstream; undefined: no cap. */
  maxTurns: number | undefined;
  /** The memory store's bounds on the interactions it remembers (least recently used go first). */
  maxChains: number;
  maxChainBytes: number;
  /** How long an interaction's place in its chain is remembered after its last use. */
  chainTtlSeconds: number;
}

function toConfig(env: z.infer<typeof interactionEnvSchema>): InteractionConfig {
  return {
    maxTurns: env.INTERACTION_MAX_TURNS,
    maxChains: env.INTERACTION_CHAINS_MAX,
    maxChainBytes: env.INTERACTION_CHAINS_MAX_BYTES,
    chainTtlSeconds: env.INTERACTION_CHAIN_TTL_SECONDS,
  };
}

export const defaultInteractionConfig: InteractionConfig = toConfig(interactionEnvSchema.parse({}));

export const interactionSection: ConfigSection<InteractionConfig> = {
  settings: Object.keys(interactionEnvSchema.shape),
  help,
  schema: interactionEnvSchema,
  load(source: SettingSource) {
    const parsed = interactionEnvSchema.safeParse(source);
    return parsed.success ? { config: toConfig(parsed.data) } : { problems: describeIssues(parsed.error, source) };
  },
};

/** The interaction settings alone (tests, tools). */
export function loadInteractionConfig(env: Readonly<Record<string, string | undefined>> = process.env, argv: readonly string[] = []): InteractionConfig {
  return loadSections({ interactions: interactionSection }, env, argv).interactions;
}
