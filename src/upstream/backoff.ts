// Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"):
// the delay is uniform in [0, min(cap, base * 2^(retry-1))), which spreads a herd of clients apart.

export interface BackoffSettings {
  baseMs: number;
  capMs: number;
}

/** Delay before retry number `retry` (1 = the first retry). `random` returns [0, 1) and is injectable for tests. */
export function fullJitterDelayMs(retry: number, settings: BackoffSettings, random: () => number = Math.random): number {
  const ceiling = Math.min(settings.capMs, settings.baseMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}
