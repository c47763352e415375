// What a call costs: exactly once it ended (telemetry's spend counters, a tenant's budget), and estimated before it
// goes upstream (what a tenant's budget holds back for a call in flight).

import { breakdownTotal, type TokenUsage } from "../gemini/usage.js";
import type { TurnRecord } from "../turn/record.js";
import { normalizeModel, turnCost, type ModelPrice, type PriceTable } from "./price-table.js";

/** What a call is expected to use, before it runs. */
export interface CallEstimate {
  tokens: number;
  usd: number;
}

export interface CallToEstimate {
  model: string;
  /** The request body's size: its prompt in tokens is taken as bytes / 4 (JSON and base64 make that generous). */
  requestBytes: number;
  /** generationConfig.maxOutputTokens (max_tokens, max_output_tokens) when the request sets it. */
  maxOutputTokens?: number;
}

/** Bytes of request per prompt token in the estimate (text runs about 4 characters a token). */
const BYTES_PER_TOKEN = 4;
/** The output expected of a model before any of its calls was seen. */
export const FIRST_OUTPUT_ESTIMATE = 1024;
/** How many of a model's latest outputs the estimate remembers (it takes the largest). */
export const OUTPUTS_REMEMBERED = 64;

const NO_TOKENS: TokenUsage = { input: 0, cached: 0, output: 0, thoughts: 0, tool_use: 0, inputAudio: 0 };

export class Pricer {
  readonly knownModels: readonly string[];
  /** Per priced model: its latest outputs (candidates + thoughts), oldest first. */
  readonly #outputs = new Map<string, number[]>();

  constructor(readonly table: PriceTable) {
    this.knownModels = Object.keys(table.models);
  }

  #price(model: string): { name: string; price: ModelPrice } | undefined {
    const name = normalizeModel(model, this.knownModels);
    const price = name === undefined ? undefined : this.table.models[name];
    return name === undefined || !price ? undefined : { name, price };
  }

  /** USD of a finished call; undefined when its model is not in the price table or it reported no usage. */
  costOf(turn: TurnRecord): number | undefined {
    const tokens = turn.response?.tokens;
    const priced = this.#price(turn.model);
    if (!tokens || !priced) return undefined;
    return turnCost(this.table, priced.price, tokens, turn.response?.billing, turn.response?.cacheStorage);
  }

  /**
   * A call's expected usage: its request's size as prompt, plus maxOutputTokens or else the largest output among the
   * model's latest calls (this replica's). USD 0 for a model the price table does not know (its calls cost nothing
   * here either).
   */
  estimate(call: CallToEstimate): CallEstimate {
    const prompt = Math.ceil(call.requestBytes / BYTES_PER_TOKEN);
    const priced = this.#price(call.model);
    const seen = priced ? this.#outputs.get(priced.name) : undefined;
    const max = call.maxOutputTokens;
    const output =
      typeof max === "number" && Number.isFinite(max) && max > 0 ? Math.ceil(max) : seen && seen.length > 0 ? Math.max(...seen) : FIRST_OUTPUT_ESTIMATE;
    const usd = priced ? turnCost(this.table, priced.price, { ...NO_TOKENS, input: prompt, output }) : 0;
    return { tokens: prompt + output, usd };
  }

  /** Remembers a finished call's output for the next estimates of its model. */
  learn(turn: TurnRecord): void {
    const tokens = turn.response?.tokens;
    const priced = this.#price(turn.model);
    if (!tokens || !priced || breakdownTotal(tokens) === 0) return;
    let outputs = this.#outputs.get(priced.name);
    if (!outputs) this.#outputs.set(priced.name, (outputs = []));
    outputs.push(tokens.output + tokens.thoughts);
    if (outputs.length > OUTPUTS_REMEMBERED) outputs.shift();
  }
}
