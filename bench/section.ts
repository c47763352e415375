// A section of BENCHMARKS.md: `npm run bench` runs every section in bench/run.ts and writes their markdown.

export interface BenchSection {
  title: string;
  /** Runs the benchmark; returns the section's markdown body (figures, method). */
  run(): Promise<string>;
}

/** A whole number as the tables print it: 12,345. */
export const int = (n: number): string => Math.round(n).toLocaleString("en-US");
