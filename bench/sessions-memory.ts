// Session memory: heap bytes per session at 10 turns, and the heap while 1,000,000 sessions are created with a
// bounded SESSION_MAX_BYTES. Both run in-process through SessionService (the layer POST /v1/sessions and
// POST /v1/sessions/{id}/messages call after parsing JSON) with a cheap fake upstream, because a million HTTP round
// trips through the simulator would measure the network stack for minutes rather than the store.

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { defaultSessionConfig } from "../src/config/sessions.js";
import type { SessionConfig } from "../src/config/sessions.js";
import type { ModelCallInput, ModelCallResult } from "../src/gateway/model-call.js";
import type { ResponseWriter } from "../src/gateway/response-writer.js";
import type { Content, GenerateContentRequest } from "../src/gemini/types.js";
import { openSessionStore, SessionService } from "../src/sessions/index.js";
import type { BenchSection } from "./section.js";

const TURNS = 10;
const PER_SESSION_SAMPLE = 5_000;
const CREATES = Number(process.env["BENCH_SESSIONS"] ?? 1_000_000);
const MAX_BYTES = 64 * 1024 * 1024;
const caller = { tenant: "bench", upstreamKey: "k" };

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** A reply the size of the simulator's (a context line plus ~60 tokens of filler). */
function replyText(contents: readonly Content[]): string {
  return `[context: ${contents.length} contents] ${"lorem ipsum dolor sit amet ".repeat(10)}`.trim();
}

/** The upstream, reduced to what the session service reads: a 200 with a body, and the tapped record. */
const fakeModelCalls = {
  async run(input: ModelCallInput, out: ResponseWriter): Promise<ModelCallResult> {
    const request = input.request as GenerateContentRequest;
    const text = replyText(request.contents);
    const usage = { promptTokenCount: 10 * request.contents.length, candidatesTokenCount: 60, totalTokenCount: 10 * request.contents.length + 60 };
    const body = { candidates: [{ content: { role: "model", parts: [{ text }] }, finishReason: "STOP", index: 0 }], usageMetadata: usage };
    out.head(200, { "content-type": "application/json" });
    void out.chunk(Buffer.from(JSON.stringify(body)));
    out.end();
    const now = Date.now();
    return {
      record: {
        route: input.route,
        operation: "generate_content",
        model: input.model,
        tenant: input.tenant,
        stream: false,
        apiVersion: input.apiVersion,
        attempts: [],
        retryBudgetExhausted: false,
        httpStatus: 200,
        startedAt: now,
        endedAt: now,
        clientAborted: false,
        response: { usage, finishReasons: ["STOP"], hasVisibleParts: true, text, modelContent: { role: "model", parts: [{ text }] } },
      },
      recorded: {},
    };
  },
};

const discard: ResponseWriter = { head: () => {}, chunk: () => {}, end: () => {} };

async function service(config: Partial<SessionConfig>): Promise<SessionService> {
  const full = { ...defaultSessionConfig, ...config };
  return new SessionService({ store: await openSessionStore(full), modelCalls: fakeModelCalls, config: full });
}

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

async function perSession(): Promise<{ heapPerSession: number; accountedPerSession: number; history: Content[] }> {
  const sessions = await service({ maxSessions: PER_SESSION_SAMPLE * 2, maxBytes: 2 ** 40 });
  const before = heapUsed();
  let history: Content[] = [];
  for (let i = 0; i < PER_SESSION_SAMPLE; i++) {
    const { view } = await sessions.create(caller, { model: "gemini-2.5-flash" });
    for (let t = 1; t <= TURNS; t++) {
      await sessions.send(caller, view.id, { message: `session ${i} asks question number ${t}: what happens next?` }, { stream: false, clientHeaders: {}, signal: new AbortController().signal }, discard);
    }
    if (i === 0) history = (await sessions.export(caller, view.id)).history;
  }
  const heapPerSession = (heapUsed() - before) / PER_SESSION_SAMPLE;
  const accountedPerSession = sessions.store.stats().bytes / PER_SESSION_SAMPLE;
  await sessions.store.close();
  return { heapPerSession, accountedPerSession, history };
}

async function million(history: Content[]): Promise<{ baseline: number; peak: number; samples: string[]; live: number; seconds: number }> {
  const sessions = await service({ maxSessions: CREATES * 2, maxBytes: MAX_BYTES });
  const baseline = heapUsed();
  let peak = 0;
  const samples: string[] = [];
  const started = Date.now();
  const every = Math.max(1, Math.floor(CREATES / 10));
  for (let i = 1; i <= CREATES; i++) {
    await sessions.create(caller, { model: "gemini-2.5-flash", history });
    if (i % every === 0) {
      const used = heapUsed() - baseline;
      peak = Math.max(peak, used);
      samples.push(`| ${i.toLocaleString("en-US")} | ${sessions.store.stats().sessions.toLocaleString("en-US")} | ${mib(sessions.store.stats().bytes)} | ${mib(used)} |`);
    }
  }
  const seconds = (Date.now() - started) / 1000;
  const live = sessions.store.stats().sessions;
  await sessions.store.close();
  return { baseline, peak, samples, live, seconds };
}

export const sessionsMemory: BenchSection = {
  title: "Session memory",
  async run() {
    const { heapPerSession, accountedPerSession, history } = await perSession();
    const m = await million(history);
    const bound = MAX_BYTES + 16 * 1024 * 1024;
    return [
      `Method: in-process through \`SessionService\` (what the session routes call after parsing JSON), memory store, a fake`,
      `upstream that answers like the simulator (~270-character replies); not through HTTP: a million round trips would`,
      `measure sockets, not the store. Heap figures are \`heapUsed\` after two full GCs (\`--expose-gc\` set at run time).`,
      "",
      `- Heap per session at ${TURNS} turns (${PER_SESSION_SAMPLE.toLocaleString("en-US")} sessions, each ${TURNS} sends): **${Math.round(heapPerSession).toLocaleString("en-US")} bytes**;`,
      `  the store accounts ${Math.round(accountedPerSession).toLocaleString("en-US")} bytes per session against SESSION_MAX_BYTES (JSON held as one string + ${"256"} bytes overhead).`,
      `- ${CREATES.toLocaleString("en-US")} sessions created (each importing that ${TURNS}-turn history) with SESSION_MAX_BYTES=${mib(MAX_BYTES)}:`,
      `  ${m.live.toLocaleString("en-US")} live at the end, peak heap above the empty baseline ${mib(m.peak)}`,
      `  (bound checked: SESSION_MAX_BYTES + 16 MiB fixed overhead = ${mib(bound)}: **${m.peak <= bound ? "held" : "EXCEEDED"}**), ${m.seconds.toFixed(1)} s.`,
      "",
      "| sessions created | live | accounted | heap above baseline |",
      "|---:|---:|---:|---:|",
      ...m.samples,
    ].join("\n");
  },
};
