// `npm run bench`: runs every benchmark section and writes BENCHMARKS.md. Add a section with one line below.
// `node dist/bench/bench/run.js <word>...`: runs only the sections whose title contains one of the words (case-insensitive)
// and keeps the other sections of BENCHMARKS.md as they are.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { consoleCost } from "./console-cost.js";
import { hotPathChanges } from "./hot-path-changes.js";
import { limitChecks } from "./limit-checks.js";
import { proxyLatency } from "./proxy-latency.js";
import { sessionsMemory } from "./sessions-memory.js";
import { sessionsThroughput } from "./sessions-throughput.js";
import { trafficShapes } from "./traffic-shapes.js";
import type { BenchSection } from "./section.js";

const sections: BenchSection[] = [proxyLatency, limitChecks, consoleCost, sessionsMemory, sessionsThroughput, trafficShapes, hotPathChanges];

const OUTPUT = fileURLToPath(new URL("../../../BENCHMARKS.md", import.meta.url));

const only = process.argv.slice(2).map((word) => word.toLowerCase());
const chosen = (section: BenchSection): boolean => only.length === 0 || only.some((word) => section.title.toLowerCase().includes(word));
const bodies = new Map<string, string>();
for (const section of sections.filter(chosen)) {
  process.stdout.write(`bench: ${section.title}\n`);
  bodies.set(section.title, await section.run());
}
// The sections not run keep their text from BENCHMARKS.md, read only now (it may have changed during the run).
if (only.length > 0 && existsSync(OUTPUT)) {
  for (const chunk of readFileSync(OUTPUT, "utf8").split(/^## /m).slice(1)) {
    const newline = chunk.indexOf("\n");
    const title = chunk.slice(0, newline);
    if (!bodies.has(title)) bodies.set(title, chunk.slice(newline + 1).trim());
  }
}

const parts = ["# Benchmarks", "", "Produced by `npm run bench` (it builds, runs every section below, and rewrites this file).", ""];
for (const section of sections) {
  const body = bodies.get(section.title);
  if (body !== undefined) parts.push(`## ${section.title}`, "", body, "");
}
writeFileSync(OUTPUT, parts.join("\n"));
process.stdout.write(`bench: wrote ${OUTPUT}\n`);
