// `npm run bench`: runs every benchmark section and writes BENCHMARKS.md. Add a section with one line below.

import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { proxyLatency } from "./proxy-latency.js";
import { sessionsMemory } from "./sessions-memory.js";
import type { BenchSection } from "./section.js";

const sections: BenchSection[] = [proxyLatency, sessionsMemory];

const OUTPUT = fileURLToPath(new URL("../../../BENCHMARKS.md", import.meta.url));

const parts = ["# Benchmarks", "", "Produced by `npm run bench` (it builds, runs every section below, and rewrites this file).", ""];
for (const section of sections) {
  process.stdout.write(`bench: ${section.title}\n`);
  parts.push(`## ${section.title}`, "", await section.run(), "");
}
writeFileSync(OUTPUT, parts.join("\n"));
process.stdout.write(`bench: wrote ${OUTPUT}\n`);
