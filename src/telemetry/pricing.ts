// The price table (USD per 1M tokens) and the cost of one turn. Defaults ship in pricing/gemini.json; PRICING_FILE
// replaces them. Billing: uncached input x input rate (audio at its own rate) + cached x cache rate + tool-use prompt
// x input rate + (candidates + thoughts) x output rate; the tier is chosen by promptTokenCount.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { failedPrecondition } from "../gemini/errors.js";
import { modalityTokens, tokenBreakdown } from "../gemini/usage.js";
import type { UsageMetadata } from "../gemini/types.js";

const rate = z.number().nonnegative();
const rates = {
  input: rate,
  output: rate,
  /** Context-cache reads; absent: cached tokens are billed as plain input. */
  cachedInput: rate.optional(),
  /** Audio input where it is priced apart; absent: audio is plain input. */
  inputAudio: rate.optional(),
};
const tierSchema = z.object({ abovePromptTokens: z.number().int().positive(), ...rates }).strict();
const modelPriceSchema = z.object({ ...rates, tiers: z.array(tierSchema).optional() }).strict();
export const priceTableSchema = z
  .object({
    $comment: z.string().optional(),
    currency: z.literal("USD"),
    models: z.record(z.string().min(1), modelPriceSchema),
  })
  .strict();

export type ModelPrice = z.infer<typeof modelPriceSchema>;
export type PriceTable = z.infer<typeof priceTableSchema>;
type Rates = Pick<ModelPrice, "input" | "output" | "cachedInput" | "inputAudio">;

export const DEFAULT_PRICING_FILE = fileURLToPath(new URL("../../pricing/gemini.json", import.meta.url));

/** Reads and validates a price table; a bad file is a start-up error naming the file and every problem. */
export function loadPriceTable(path: string = DEFAULT_PRICING_FILE): PriceTable {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw failedPrecondition(`PRICING_FILE ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const parsed = priceTableSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw failedPrecondition(`PRICING_FILE ${path}: ${problems.join("; ")}`);
  }
  return parsed.data;
}

// Version suffixes Google appends to a base model name: -001, -latest, -preview-05-20, -exp-0827, -09-2025.
const VERSION_SUFFIX = /^-(\d{3}|latest|preview(-[\w.-]*)?|exp(-[\w.-]*)?|\d{2}-\d{2,4}([\w.-]*)?)$/;

/**
 * The known model a requested name refers to: `models/` prefix dropped, exact match, else the longest known name
 * followed by a version suffix. Undefined when it is none of them.
 */
export function normalizeModel(requested: string, known: Iterable<string>): string | undefined {
  const name = requested.startsWith("models/") ? requested.slice("models/".length) : requested;
  let best: string | undefined;
  for (const candidate of known) {
    if (name === candidate) return candidate;
    if (name.startsWith(candidate) && VERSION_SUFFIX.test(name.slice(candidate.length))) {
      if (!best || candidate.length > best.length) best = candidate;
    }
  }
  return best;
}

function ratesFor(price: ModelPrice, promptTokens: number): Rates {
  const tier = (price.tiers ?? [])
    .filter((t) => promptTokens > t.abovePromptTokens)
    .sort((a, b) => b.abovePromptTokens - a.abovePromptTokens)[0];
  return tier ?? price;
}

/** USD cost of one response's usage at a model's prices. */
export function turnCost(price: ModelPrice, usage: UsageMetadata): number {
  const tokens = tokenBreakdown(usage);
  const r = ratesFor(price, usage.promptTokenCount ?? 0);
  const cachedRate = r.cachedInput ?? r.input;
  let inputCost = tokens.input * r.input;
  if (r.inputAudio !== undefined) {
    const uncachedAudio = Math.max(
      0,
      modalityTokens(usage.promptTokensDetails, "AUDIO") - modalityTokens(usage.cacheTokensDetails, "AUDIO"),
    );
    const audio = Math.min(uncachedAudio, tokens.input);
    inputCost += audio * (r.inputAudio - r.input);
  }
  const dollarsPerMillion =
    inputCost + tokens.cached * cachedRate + tokens.tool_use * r.input + (tokens.output + tokens.thoughts) * r.output;
  return dollarsPerMillion / 1_000_000;
}
