// Implicit caching (Gemini 2.5): a request whose leading contents repeat those of a recent request of the same key and
// model gets that prefix served from cache, reported as cachedContentTokenCount, once it holds at least the model's
// cache minimum. Deterministic: prefixes match whole units (the system instruction with the tools, then each content).
import { createHash } from "node:crypto";
import type { GenerateContentRequest } from "../gemini/types.js";
import type { SimModel } from "./models.js";
import type { PromptTokens } from "./tokenizer.js";
import { countPromptTokens, sumPromptTokens } from "./tokenizer.js";

interface PrefixUnit {
  /** Digest of the prefix that ends with this unit (owner, model and every unit before it included). */
  digest: string;
  tokens: PromptTokens;
}

/** The request's prompt as a chain of prefix digests, with the tokens of each unit. */
export function prefixUnits(owner: string, model: SimModel, request: GenerateContentRequest): PrefixUnit[] {
  const { systemInstruction, tools } = request;
  const header = systemInstruction || tools ? [{ systemInstruction, tools }] : [];
  const units: PrefixUnit[] = [];
  let digest = createHash("sha256").update(`${owner}\u0000${model.id}`).digest("hex");
  for (const unit of [...header, ...request.contents]) {
    digest = createHash("sha256").update(digest).update(JSON.stringify(unit)).digest("hex");
    const tokens = "parts" in unit ? countPromptTokens({ contents: [unit] }) : countPromptTokens({ contents: [], ...unit });
    units.push({ digest, tokens });
  }
  return units;
}

export class ImplicitCache {
  /** Prefix digest -> when a request last sent it. */
  private readonly seen = new Map<string, number>();
  private lastPurge = 0;

  constructor(private readonly windowMs: number) {}

  /** The longest prefix sent within the window, when it reaches the model's minimum. */
  lookup(model: SimModel, units: readonly PrefixUnit[], now: number): PromptTokens | undefined {
    if (!model.implicitCaching || model.cacheMinTokens === undefined || this.windowMs <= 0) return undefined;
    for (let length = units.length; length > 0; length -= 1) {
      const at = this.seen.get(units[length - 1]!.digest);
      if (at === undefined || at <= now - this.windowMs) continue;
      const cached = sumPromptTokens(units.slice(0, length).map((u) => u.tokens));
      // Shorter prefixes hold fewer tokens: if the longest one is too small, they all are.
      return cached.total >= model.cacheMinTokens ? cached : undefined;
    }
    return undefined;
  }

  /** Remembers a request's prefixes (once it was answered). */
  record(model: SimModel, units: readonly PrefixUnit[], now: number): void {
    if (!model.implicitCaching || this.windowMs <= 0) return;
    for (const unit of units) this.seen.set(unit.digest, now);
    if (now - this.lastPurge >= this.windowMs) {
      for (const [digest, at] of this.seen) if (at <= now - this.windowMs) this.seen.delete(digest);
      this.lastPurge = now;
    }
  }
}
