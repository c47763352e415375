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

  /** Spends one retry if the budget allows it; false means: do not retry. */
  tryRetry(): boolean {
    const slot = this.advance();
    const requests = sum(this.requests);
    const retries = sum(this.retries);
    if (retries + 1 > this.settings.floor + this.settings.ratio * requests) return false;
    this.retries[slot]! += 1;
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
