// Everything one simulator instance remembers: fault rules, stats, quota windows, and the resources API keys own
// (caches, files, batches, interactions, the implicit cache). Shared by the resource modules through their handlers.
import { BatchStore } from "./batches.js";
import { CacheStore } from "./cached-contents.js";
import { FaultBook } from "./faults.js";
import { FileStore } from "./files.js";
import { ImplicitCache } from "./implicit-cache.js";
import type { SimulatorOptions } from "./index.js";
import { InteractionStore } from "./interactions.js";
import { QuotaLedger } from "./quota.js";
import { StatsRecorder } from "./stats.js";

export class SimulatorState {
  readonly faults = new FaultBook();
  readonly stats = new StatsRecorder();
  readonly quotas: QuotaLedger;
  readonly caches = new CacheStore();
  readonly files = new FileStore();
  readonly batches = new BatchStore();
  readonly interactions = new InteractionStore();
  readonly implicitCache: ImplicitCache;

  constructor(readonly options: SimulatorOptions) {
    this.quotas = new QuotaLedger({ rpm: options.rpm, rpd: options.rpd, tpm: options.tpm });
    this.implicitCache = new ImplicitCache(options.implicitCacheWindowMs);
  }

  /** The simulator clock: expiries, the implicit cache window, quota windows, timestamps. */
  now(): number {
    return (this.options.clock ?? Date.now)();
  }
}
