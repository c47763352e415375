// A retry budget (as in Finagle and gRPC's retry throttling): over a sliding window, retries may add at most
// `ratio` of the requests, plus a floor so a quiet gateway can still retry. During an outage every request fails
// once, and the budget keeps the gateway from multiplying the load on an upstream that is already down.

export interface RetryBudgetSettings {
  /** Share of the window's requests that retries may add (0.2 = 20%). */
  ratio: number;
  /** Retries always allowed per window, whatever the traffic. */
  floor: number;
  windowMs: number;
}

/** The window is kept as BUCKETS counters, so memory and time per call are constant whatever the traffic. */
const BUCKETS = 10;

export class RetryBudget {
  private readonly bucketMs: number;
  private readonly requests = new Array<number>(BUCKETS).fill(0);
  private readonly retries = new Array<number>(BUCKETS).fill(0);
  /** The bucket index (time / bucketMs) that the slots were last advanced to. */
  private current = -1;

  constructor(
    private readonly settings: RetryBudgetSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.bucketMs = Math.max(1, settings.windowMs / BUCKETS);
  }

  /** Counts a request (not its retries). */
  recordRequest(): void {
    this.requests[this.advance()]! += 1;
  }

  /** Whether one more retry fits the budget (nothing is spent). */
  allows(): boolean {
    this.advance();
    return sum(this.retries) + 1 <= this.settings.floor + this.settings.ratio * sum(this.requests);
  }

  /** Counts a retry. */
  spend(): void {
    this.retries[this.advance()]! += 1;
  }

  /** Spends one retry if the budget allows it; false means: do not retry. */
  tryRetry(): boolean {
    if (!this.allows()) return false;
    this.spend();
    return true;
  }

  /** Clears the buckets that fell out of the window; returns the slot of the current bucket. */
  private advance(): number {
    const bucket = Math.floor(this.now() / this.bucketMs);
    if (bucket !== this.current) {
      const stale = this.current < 0 ? BUCKETS : Math.min(BUCKETS, bucket - this.current);
      for (let i = 1; i <= stale; i++) {
        const slot = mod(this.current + i, BUCKETS);
        this.requests[slot] = 0;
        this.retries[slot] = 0;
      }
      this.current = bucket;
    }
    return mod(bucket, BUCKETS);
  }
}

const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);
const mod = (n: number, m: number): number => ((n % m) + m) % m;

/** Tenants whose budgets are kept at once (least recently used first): passthrough tenants are unbounded in number. */
const MAX_TENANT_BUDGETS = 10_000;

/**
 * The retry budget of the gateway and of each tenant: a retry needs room in both. The gateway's keeps an outage from
 * multiplying the load upstream; a tenant's keeps one tenant's failing requests (a body that fails the same way every
 * time, a burst against a broken model) from spending the retries every other tenant needs.
 */
export class RetryBudgets {
  private readonly overall: RetryBudget;
  private readonly tenants = new Map<string, RetryBudget>();

  constructor(
    private readonly settings: RetryBudgetSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.overall = new RetryBudget(settings, now);
  }

  private of(tenant: string): RetryBudget {
    let budget = this.tenants.get(tenant);
    if (budget) {
      this.tenants.delete(tenant); // re-inserted below: the Map's order is the least recently used first
    } else {
      budget = new RetryBudget(this.settings, this.now);
      if (this.tenants.size >= MAX_TENANT_BUDGETS) this.tenants.delete(this.tenants.keys().next().value!);
    }
    this.tenants.set(tenant, budget);
    return budget;
  }

  recordRequest(tenant: string): void {
    this.overall.recordRequest();
    this.of(tenant).recordRequest();
  }

  tryRetry(tenant: string): boolean {
    const own = this.of(tenant);
    if (!own.allows() || !this.overall.allows()) return false;
    own.spend();
    this.overall.spend();
    return true;
  }
}
