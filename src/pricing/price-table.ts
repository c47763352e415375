// The price table (USD per 1M tokens) and the cost of one call. Defaults ship in pricing/gemini.json; PRICING_FILE
// replaces them. Billing: uncached input x input rate (audio at its own rate) + cached x cache rate + tool-use prompt
// x input rate + (candidates + thoughts) x output rate; the tier is chosen by the prompt (input + cached). Batch mode
// multiplies that by the batch multiplier; a context cache's creation adds its storage (tokens x hours x storage rate).

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { failedPrecondition } from "../gemini/errors.js";
import { promptTokens, type TokenUsage } from "../gemini/usage.js";
import type { Billing } from "../turn/record.js";

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
const modelPriceSchema = z
  .object({
    ...rates,
    tiers: z.array(tierSchema).optional(),
    /** Context-cache storage, USD per 1M tokens per hour. */
    cacheStoragePerHour: rate.optional(),
  })
  .strict();
export const priceTableSchema = z
  .object({
    $comment: z.string().optional(),
    currency: z.literal("USD"),
    /** Batch mode's price as a share of the standard one (Google: 0.5); absent: 1. */
    batchMultiplier: z.number().positive().max(1).optional(),
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

/** USD cost of one call's tokens at a model's prices. */
export function turnCost(
  table: Pick<PriceTable, "batchMultiplier">,
  price: ModelPrice,
  tokens: TokenUsage,
  billing: Billing = "standard",
  cacheStorage?: { tokens: number; seconds: number },
): number {
  const r = ratesFor(price, promptTokens(tokens));
  const cachedRate = r.cachedInput ?? r.input;
  let inputCost = tokens.input * r.input;
  if (r.inputAudio !== undefined) inputCost += Math.min(tokens.inputAudio, tokens.input) * (r.inputAudio - r.input);
  let dollarsPerMillion =
    inputCost + tokens.cached * cachedRate + tokens.tool_use * r.input + (tokens.output + tokens.thoughts) * r.output;
  if (billing === "batch") dollarsPerMillion *= table.batchMultiplier ?? 1;
  if (cacheStorage && price.cacheStoragePerHour !== undefined) {
    dollarsPerMillion += cacheStorage.tokens * (cacheStorage.seconds / 3600) * price.cacheStoragePerHour;
  }
  return dollarsPerMillion / 1_000_000;
}
