// Reading a V8 CPU profile (`node --cpu-prof`): the self time of every sample, summed by the part of the work it
// belongs to (socket writes, Node's HTTP, undici, spans, metrics, the gateway's own code...), so a bench can say where
// a call's CPU goes. Self time, not inclusive: each sample counts once, in the function that was running.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  /** Microseconds between samples (the first is from the profile's start). */
  timeDeltas: number[];
}

/** The parts of the work, in the order the tables list them. */
export const WORK_PARTS = [
  "socket writes (syscalls)",
  "Node HTTP and sockets",
  "Node streams",
  "events, abort signals, timers, promises",
  "garbage collection",
  "undici (the upstream client)",
  "spans (OpenTelemetry)",
  "metrics (prom-client)",
  "request log (pino)",
  "operator console",
  "routing, auth, body reading",
  "call path, taps, pricing, limits",
  "other",
] as const;
export type WorkPart = (typeof WORK_PARTS)[number];

/** What is left out: start-up (module loading, compiling) and the idle loop. */
const IGNORED = /^node:internal\/(modules|bootstrap)|^node:internal\/vm/;

export function partOf(functionName: string, url: string): WorkPart | "ignored" {
  if (functionName === "(idle)" || functionName === "(root)" || IGNORED.test(url)) return "ignored";
  if (functionName === "(garbage collector)") return "garbage collection";
  if (url === "" && /^(writev|writeBuffer|writeUtf8String|writeLatin1String|writeAsciiString|writeString)$/.test(functionName)) return "socket writes (syscalls)";
  if (url.includes("/node_modules/undici/")) return "undici (the upstream client)";
  if (url.includes("/node_modules/@opentelemetry/") || url.includes("/dist/telemetry/tracing.js") || url.includes("/dist/telemetry/session-spans.js")) return "spans (OpenTelemetry)";
  if (url.includes("/node_modules/prom-client/") || url.includes("/dist/telemetry/")) return "metrics (prom-client)";
  if (url.includes("/node_modules/pino") || url.includes("/node_modules/sonic-boom/") || url.includes("/node_modules/fast-redact/")) return "request log (pino)";
  if (url.includes("/dist/console/")) return "operator console";
  if (/\/dist\/(routes|config)\/|\/dist\/gateway\/(route-table|auth)\.js|\/node_modules\/raw-body\//.test(url) || url.startsWith("node:internal/crypto")) return "routing, auth, body reading";
  if (url.includes("/dist/")) return "call path, taps, pricing, limits";
  if (/^node:(_http|net|internal\/(stream_base_commons|http|net|dns))/.test(url) || url.startsWith("wasm://")) return "Node HTTP and sockets";
  if (url.startsWith("node:internal/streams") || url === "node:stream") return "Node streams";
  if (/^node:(events|internal\/(event_target|abort_controller|timers|process\/task_queues))/.test(url) || functionName === "runMicrotasks") return "events, abort signals, timers, promises";
  return "other";
}

/** Milliseconds of self time per part of the work, over the whole profile. */
export function breakdown(profile: CpuProfile): Map<WorkPart, number> {
  const selfMicros = new Map<number, number>();
  profile.samples.forEach((id, i) => selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const parts = new Map<WorkPart, number>(WORK_PARTS.map((part) => [part, 0]));
  for (const node of profile.nodes) {
    const micros = selfMicros.get(node.id);
    if (micros === undefined) continue;
    const part = partOf(node.callFrame.functionName, node.callFrame.url);
    if (part !== "ignored") parts.set(part, parts.get(part)! + micros / 1000);
  }
  return parts;
}

/** The one profile a process wrote into `dir` (started with `--cpu-prof --cpu-prof-dir=<dir>`, then stopped). */
export function readProfile(dir: string): CpuProfile {
  const files = readdirSync(dir).filter((name) => name.endsWith(".cpuprofile"));
  if (files.length !== 1) throw new Error(`expected one .cpuprofile in ${dir}, found ${files.length}`);
  return JSON.parse(readFileSync(join(dir, files[0]!), "utf8")) as CpuProfile;
}
