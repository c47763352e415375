// A bounded, deterministic fuzz of every kind of route over raw TCP: malformed HTTP (bad method tokens, control bytes
// and %-garbage in the path, headers past Node's 16 KB, conflicting Content-Length / Transfer-Encoding, bad chunks,
// truncated bodies, Expect), hostile bodies (invalid JSON, wrong types at every level, nesting 1,000 to 20,000 deep,
// huge strings, unknown fields), bad keys and bad Content-Encoding. Every request must get an answer; no answer may be
// a 5xx the gateway made; every body is Gemini's error envelope (OpenAI's shape on /v1beta/openai/), a success body,
// or absent where HTTP forbids one; every answer is counted in gemini_gateway_requests_total; the gateway stays alive
// and its heap returns near its baseline. The generator is seeded: the same requests every run.

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from "vitest";
import { delta, sumBy, type Series } from "../helpers/metrics.js";
import { header, rawExchange, rawRequest, type RawExchange, type RawResponse, type RawStep } from "../helpers/raw-http.js";
import type { SimulatorStats } from "../helpers/sim.js";
import { KEY_ALPHA, KEY_BETA, startSurfaceStack, type SurfaceStack } from "./surface-stack.js";

const SEED = 0x5eed_2026;
/** Per exchange: a request that gets no complete answer in this time fails the test (nothing here waits longer than
 *  REQUEST_BODY_TIMEOUT_MS below). */
const ANSWER_TIMEOUT_MS = 5_000;
const BODY_IDLE_MS = 300;
const HEAP_GROWTH_LIMIT = 50 * 1024 * 1024;
const MODEL = "gemini-2.5-flash";
const GENERATE = `/v1beta/models/${MODEL}:generateContent`;
const OPS_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);
/** The messages of the answers Node's parser errors get (src/server/client-errors.ts): not routed, always counted. */
const PARSER_REFUSAL = /^(The request is not valid HTTP|The request ended before its body did|Request headers are too large\.|The request did not arrive in time\.|Expect: .* cannot be met|CONNECT is not served)/;

// ---------------------------------------------------------------------------------------------------------------
// The seeded generator
// ---------------------------------------------------------------------------------------------------------------

/** mulberry32: a small, fast, seedable PRNG (floats in [0, 1)). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rng = prng(SEED);
const int = (min: number, max: number): number => min + Math.floor(rng() * (max - min + 1));
const pick = <T>(items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
const garbage = (length: number): string => Array.from({ length }, () => String.fromCharCode(int(0x21, 0x7e))).join("");

/** JSON text nested `depth` levels (arrays or objects), built as text: never parsed or stringified in the test. */
function deepJson(depth: number, kind: "array" | "object" | "mixed" = "array"): string {
  if (kind === "array") return `${"[".repeat(depth)}1${"]".repeat(depth)}`;
  if (kind === "object") return `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
  const open: string[] = [];
  const close: string[] = [];
  for (let i = 0; i < depth; i++) {
    const array = i % 2 === 0;
    open.push(array ? "[" : '{"k":');
    close.push(array ? "]" : "}");
  }
  return `${open.join("")}"x"${close.reverse().join("")}`;
}
const nestingDepth = (): number => int(1_000, 20_000);
const nestingKind = (): "array" | "object" | "mixed" => pick(["array", "object", "mixed"] as const);

// ---------------------------------------------------------------------------------------------------------------
// The routes
// ---------------------------------------------------------------------------------------------------------------

interface Target {
  name: string;
  method: string;
  /** The request target: path and query. */
  path: string;
  auth: "goog" | "bearer" | "none";
  /** A valid JSON body (as text) for routes that take one; mutations start from it. */
  body?: string;
  /** Where the JSON body's interesting values sit: templates with `$` for the hostile value. */
  slots?: string[];
  /** Wrong types at every level. */
  wrong?: string[];
  headers?: Array<[string, string]>;
}

const CONTENTS = '[{"role":"user","parts":[{"text":"hi"}]}]';
const generateSlots = [
  `{"contents":$}`,
  `{"contents":[{"role":"user","parts":$}]}`,
  `{"contents":[{"role":"user","parts":[{"text":"hi","videoMetadata":$}]}]}`,
  `{"contents":${CONTENTS},"tools":[{"functionDeclarations":[{"name":"f","parameters":$}]}]}`,
  `{"contents":${CONTENTS},"tools":$}`,
  `{"contents":${CONTENTS},"toolConfig":{"functionCallingConfig":$}}`,
  `{"contents":${CONTENTS},"toolConfig":$}`,
  `{"contents":${CONTENTS},"generationConfig":{"stopSequences":$}}`,
  `{"contents":${CONTENTS},"generationConfig":{"responseSchema":$}}`,
  `{"contents":${CONTENTS},"systemInstruction":{"parts":[{"text":"x"}],"x":$}}`,
  `{"contents":${CONTENTS},"safetySettings":$}`,
];
const generateWrong = [
  '{"contents":null}', '{"contents":"hi"}', '{"contents":{}}', '{"contents":[null]}', '{"contents":[1]}', '{"contents":[]}',
  '{"contents":[{"role":null,"parts":[{"text":"hi"}]}]}', '{"contents":[{"role":7,"parts":[{"text":"hi"}]}]}',
  '{"contents":[{"role":"user","parts":null}]}', '{"contents":[{"role":"user","parts":"hi"}]}', '{"contents":[{"role":"user","parts":[null]}]}',
  '{"contents":[{"role":"user","parts":[{"text":null}]}]}', '{"contents":[{"role":"user","parts":[{"text":123}]}]}',
  '{"contents":[{"role":"user","parts":[{"text":["a"]}]}]}', '{"contents":[{"role":"user","parts":[{"text":"a","inlineData":null}]}]}',
  '{"contents":[{"role":"user","parts":[{"inlineData":{"mimeType":null,"data":5}}]}]}',
  `{"contents":${CONTENTS},"generationConfig":null}`, `{"contents":${CONTENTS},"generationConfig":"x"}`,
  `{"contents":${CONTENTS},"generationConfig":{"temperature":"hot"}}`, `{"contents":${CONTENTS},"generationConfig":{"maxOutputTokens":"10"}}`,
  `{"contents":${CONTENTS},"generationConfig":{"candidateCount":"1"}}`, `{"contents":${CONTENTS},"generationConfig":{"stopSequences":"stop"}}`,
  `{"contents":${CONTENTS},"generationConfig":{"stopSequences":[null]}}`, `{"contents":${CONTENTS},"generationConfig":{"topK":-1e308}}`,
  `{"contents":${CONTENTS},"generationConfig":{"thinkingConfig":{"thinkingBudget":"a lot"}}}`, `{"contents":${CONTENTS},"tools":null}`,
  `{"contents":${CONTENTS},"tools":[null]}`, `{"contents":${CONTENTS},"tools":[{"functionDeclarations":[{"name":null}]}]}`,
  `{"contents":${CONTENTS},"toolConfig":"auto"}`, `{"contents":${CONTENTS},"toolConfig":{"functionCallingConfig":{"mode":null}}}`,
  `{"contents":${CONTENTS},"safetySettings":[{"category":null,"threshold":1}]}`, `{"contents":${CONTENTS},"systemInstruction":null}`,
  `{"contents":${CONTENTS},"systemInstruction":{"parts":[{"text":null}]}}`, `{"contents":${CONTENTS},"cachedContent":123}`,
  `{"contents":${CONTENTS},"cachedContent":"cachedContents/not-yours"}`, `{"contents":${CONTENTS},"model":null}`,
  '{"contents":[{"role":"user","parts":[{"fileData":{"fileUri":"files/not-yours"}}]}]}',
];
const generateTarget = (name: string, path: string): Target => ({
  name,
  method: "POST",
  path,
  auth: "goog",
  body: `{"contents":${CONTENTS}}`,
  slots: generateSlots,
  wrong: generateWrong,
});

function targets(session: string, deletable: string, uploadId: string): Target[] {
  return [
    generateTarget("generateContent", GENERATE),
    generateTarget("streamGenerateContent sse", `/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`),
    generateTarget("streamGenerateContent array", `/v1beta/models/${MODEL}:streamGenerateContent`),
    generateTarget("countTokens", `/v1beta/models/${MODEL}:countTokens`),
    { name: "listModels", method: "GET", path: "/v1beta/models", auth: "goog" },
    { name: "getModel", method: "GET", path: `/v1beta/models/${MODEL}`, auth: "goog" },
    {
      name: "cachedContents.create",
      method: "POST",
      path: "/v1beta/cachedContents",
      auth: "goog",
      body: `{"model":"models/${MODEL}","contents":${CONTENTS}}`,
      slots: [`{"model":"models/${MODEL}","contents":$}`, `{"model":"models/${MODEL}","contents":${CONTENTS},"ttl":$}`],
      wrong: [`{"model":null,"contents":${CONTENTS}}`, `{"model":"models/${MODEL}","contents":null}`, `{"model":"models/${MODEL}","contents":${CONTENTS},"ttl":123}`],
    },
    { name: "cachedContents.list", method: "GET", path: "/v1beta/cachedContents?pageSize=abc", auth: "goog" },
    { name: "cachedContents.get", method: "GET", path: "/v1beta/cachedContents/abc123", auth: "goog" },
    { name: "cachedContents.delete", method: "DELETE", path: "/v1beta/cachedContents/abc123", auth: "goog" },
    { name: "files.list", method: "GET", path: "/v1beta/files", auth: "goog" },
    { name: "files.get", method: "GET", path: "/v1beta/files/abc123", auth: "goog" },
    { name: "batches.list", method: "GET", path: "/v1beta/batches", auth: "goog" },
    { name: "batches.cancel", method: "POST", path: "/v1beta/batches/abc123:cancel", auth: "goog", body: "{}" },
    {
      name: "interactions.create",
      method: "POST",
      path: "/v1beta/interactions",
      auth: "goog",
      body: `{"model":"${MODEL}","input":"hi"}`,
      slots: [`{"model":"${MODEL}","input":$}`, `{"model":"${MODEL}","input":"hi","generation_config":$}`, `{"model":"${MODEL}","input":"hi","tools":$}`],
      wrong: [
        `{"model":null,"input":"hi"}`, `{"model":"${MODEL}","input":null}`, `{"model":"${MODEL}","input":123}`, `{"model":"${MODEL}","input":[null]}`,
        `{"model":"${MODEL}","input":[{"type":null}]}`, `{"model":"${MODEL}","input":"hi","stream":"yes"}`, `{"model":"${MODEL}","input":"hi","background":"yes"}`,
        `{"model":"${MODEL}","input":"hi","previous_interaction_id":123}`, `{"model":"${MODEL}","input":"hi","previous_interaction_id":"not-yours"}`,
        `{"model":"${MODEL}","input":"hi","generation_config":"x"}`,
      ],
    },
    { name: "interactions.get", method: "GET", path: "/v1beta/interactions/abc123", auth: "goog" },
    { name: "interactions.cancel", method: "POST", path: "/v1beta/interactions/abc123/cancel", auth: "goog", body: "{}" },
    {
      name: "files.upload start",
      method: "POST",
      path: "/upload/v1beta/files",
      auth: "goog",
      body: '{"file":{"display_name":"fuzz"}}',
      slots: ['{"file":$}'],
      wrong: ['{"file":null}', '{"file":"x"}', '{"file":{"display_name":5}}'],
      headers: [
        ["x-goog-upload-protocol", "resumable"],
        ["x-goog-upload-command", "start"],
        ["x-goog-upload-header-content-length", "5"],
        ["x-goog-upload-header-content-type", "text/plain"],
      ],
    },
    {
      name: "files.uploadData",
      method: "POST",
      path: `/upload/v1beta/files?upload_id=${uploadId}&upload_protocol=resumable`,
      auth: "goog",
      body: "hello",
      headers: [
        ["x-goog-upload-command", "upload, finalize"],
        ["x-goog-upload-offset", "0"],
      ],
    },
    {
      name: "openai.chat.completions",
      method: "POST",
      path: "/v1beta/openai/chat/completions",
      auth: "bearer",
      body: `{"model":"${MODEL}","messages":[{"role":"user","content":"hi"}]}`,
      slots: [`{"model":"${MODEL}","messages":$}`, `{"model":"${MODEL}","messages":[{"role":"user","content":$}]}`, `{"model":"${MODEL}","messages":[{"role":"user","content":"hi"}],"tools":$}`],
      wrong: [
        '{"model":null,"messages":[{"role":"user","content":"hi"}]}', '{"model":123,"messages":[{"role":"user","content":"hi"}]}',
        `{"model":"${MODEL}","messages":null}`, `{"model":"${MODEL}","messages":"hi"}`, `{"model":"${MODEL}","messages":[null]}`,
        `{"model":"${MODEL}","messages":[{"role":null,"content":"hi"}]}`, `{"model":"${MODEL}","messages":[{"role":"user","content":null}]}`,
        `{"model":"${MODEL}","messages":[{"role":"user","content":123}]}`, `{"model":"${MODEL}","messages":[{"role":"user","content":"hi"}],"stream":"yes"}`,
        `{"model":"${MODEL}","messages":[{"role":"user","content":"hi"}],"max_tokens":"10"}`, `{"model":"${MODEL}","messages":[{"role":"user","content":"hi"}],"n":"2"}`,
        `{"model":"${MODEL}","messages":[{"role":"user","content":"hi"}],"temperature":"hot"}`,
      ],
    },
    {
      name: "openai.embeddings",
      method: "POST",
      path: "/v1beta/openai/embeddings",
      auth: "bearer",
      body: '{"model":"gemini-embedding-001","input":"hi"}',
      slots: ['{"model":"gemini-embedding-001","input":$}'],
      wrong: ['{"model":"gemini-embedding-001","input":null}', '{"model":"gemini-embedding-001","input":[null]}', '{"model":null,"input":"hi"}', '{"model":"gemini-embedding-001","input":"hi","dimensions":"x"}'],
    },
    { name: "openai.models.list", method: "GET", path: "/v1beta/openai/models", auth: "bearer" },
    {
      name: "sessionCreate",
      method: "POST",
      path: "/v1/sessions",
      auth: "goog",
      body: `{"model":"${MODEL}"}`,
      slots: [`{"model":"${MODEL}","history":$}`, `{"model":"${MODEL}","tools":$}`, `{"model":"${MODEL}","toolConfig":{"x":$}}`, `{"model":"${MODEL}","generationConfig":{"stopSequences":$}}`],
      wrong: [
        '{"model":null}', '{"model":123}', '{"model":""}', `{"model":"${MODEL}","history":null}`, `{"model":"${MODEL}","history":"x"}`,
        `{"model":"${MODEL}","history":[null]}`, `{"model":"${MODEL}","history":[{"role":"user","parts":[{"text":null}]}]}`,
        `{"model":"${MODEL}","systemInstruction":123}`, `{"model":"${MODEL}","generationConfig":"x"}`, `{"model":"${MODEL}","tools":"x"}`,
        `{"model":"${MODEL}","toolConfig":[]}`, `{"model":"${MODEL}","safetySettings":[null]}`, `{"model":"${MODEL}","backend":"x"}`,
      ],
    },
    {
      name: "sessionMessage",
      method: "POST",
      path: `/v1/sessions/${session}/messages`,
      auth: "goog",
      body: '{"message":"hi"}',
      slots: ['{"message":"hi","generationConfig":{"stopSequences":$}}', '{"message":"hi","generationConfig":$}', '{"message":[{"text":"hi","x":$}]}', '{"message":$}'],
      wrong: [
        '{"message":null}', '{"message":123}', '{"message":{}}', '{"message":[]}', '{"message":""}', '{"message":[null]}',
        '{"message":[{"text":null}]}', '{"message":[{"text":1}]}', '{"message":[{}]}', '{"message":"hi","generationConfig":null}',
        '{"message":"hi","generationConfig":"x"}', '{"message":"hi","generationConfig":[]}', '{"message":"hi","generationConfig":{"temperature":"hot"}}',
        '{"message":[{"functionResponse":{"name":"f","response":{}}}]}',
      ],
    },
    {
      name: "sessionMessageStream",
      method: "POST",
      path: `/v1/sessions/${session}/messages?stream=sse`,
      auth: "goog",
      body: '{"message":"hi"}',
      slots: ['{"message":"hi","generationConfig":{"stopSequences":$}}'],
      wrong: ['{"message":[{"text":null}]}', '{"message":null}'],
    },
    { name: "sessionList", method: "GET", path: "/v1/sessions?limit=abc", auth: "goog" },
    { name: "sessionGet", method: "GET", path: `/v1/sessions/${session}`, auth: "goog" },
    { name: "sessionDelete", method: "DELETE", path: `/v1/sessions/${deletable}`, auth: "goog" },
    { name: "healthz", method: "GET", path: "/healthz", auth: "none" },
    { name: "readyz", method: "GET", path: "/readyz", auth: "none" },
    { name: "metrics", method: "GET", path: "/metrics", auth: "none" },
    { name: "unknown /v2", method: "POST", path: "/v2/models/x:generateContent", auth: "goog", body: "{}" },
    { name: "unknown /", method: "GET", path: "/", auth: "none" },
    { name: "unknown /v1beta/whatever", method: "PUT", path: "/v1beta/whatever/else", auth: "goog", body: "{}" },
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// The hostile requests
// ---------------------------------------------------------------------------------------------------------------

interface Case {
  label: string;
  target: Target;
  steps: RawStep[];
  head: boolean;
  /** The path the gateway routes on (for the ops paths, which are not counted). */
  sentPath: string;
}

interface Build {
  method?: string;
  path?: string;
  /** Replaces the auth header; null: none. */
  auth?: Array<[string, string]> | null;
  /** Added after the defaults. */
  headers?: Array<[string, string]>;
  /** The body; default the target's valid one. */
  body?: string | Buffer;
  /** Content-Length: a value, or null for none; default the body's length. */
  contentLength?: string | null;
  contentType?: string | null;
  host?: string | null;
  version?: string;
  /** Raw text inserted among the headers (odd spellings). */
  rawHeaderLines?: string[];
  /** Steps after the request bytes (pauses, half-close). */
  then?: RawStep[];
}

function authHeaders(target: Target): Array<[string, string]> {
  if (target.auth === "bearer") return [["authorization", `Bearer ${KEY_ALPHA}`]];
  if (target.auth === "goog") return [["x-goog-api-key", KEY_ALPHA]];
  return [];
}

function build(target: Target, label: string, b: Build = {}): Case {
  const method = b.method ?? target.method;
  const path = b.path ?? target.path;
  const body = b.body ?? target.body ?? "";
  const bodyBytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
  const lines: Array<[string, string]> = [];
  if (b.host !== null) lines.push(["host", b.host ?? "gateway.test"]);
  lines.push(...(b.auth === null ? [] : (b.auth ?? authHeaders(target))));
  lines.push(...(target.headers ?? []));
  const contentType = b.contentType === undefined ? (target.body !== undefined ? "application/json" : null) : b.contentType;
  if (contentType !== null) lines.push(["content-type", contentType]);
  const length = b.contentLength === undefined ? (bodyBytes.length > 0 || target.body !== undefined ? String(bodyBytes.length) : null) : b.contentLength;
  if (length !== null) lines.push(["content-length", length]);
  lines.push(...(b.headers ?? []));
  lines.push(["connection", "close"]);
  const head =
    `${method} ${path} ${b.version ?? "HTTP/1.1"}\r\n` +
    lines.map(([name, value]) => `${name}: ${value}\r\n`).join("") +
    (b.rawHeaderLines ?? []).map((line) => `${line}\r\n`).join("") +
    "\r\n";
  const bytes = Buffer.concat([Buffer.from(head, "latin1"), bodyBytes]);
  const queryAt = path.indexOf("?");
  return {
    label: `${target.name} | ${label}`,
    target,
    steps: [bytes, ...(b.then ?? [])],
    head: method === "HEAD",
    sentPath: queryAt < 0 ? path : path.slice(0, queryAt),
  };
}

/** A request whose bytes are written as given (after the request line and Host). */
function raw(target: Target, label: string, requestLine: string, rest: string | Buffer, then: RawStep[] = []): Case {
  const path = requestLine.split(" ")[1] ?? "";
  return {
    label: `${target.name} | ${label}`,
    target,
    steps: [Buffer.concat([Buffer.from(`${requestLine}\r\n`, "latin1"), typeof rest === "string" ? Buffer.from(rest, "latin1") : rest]), ...then],
    head: false,
    sentPath: path.split("?")[0]!,
  };
}

const headerText = (target: Target): string =>
  [["host", "gateway.test"], ...authHeaders(target), ...(target.headers ?? [])].map(([n, v]) => `${n}: ${v}\r\n`).join("");

/** Request-line mutations: method tokens and paths. */
function requestLineCases(t: Target): Case[] {
  const cases: Case[] = [];
  const methods = ["G ET", "GET\u0000", "", "get", "P@ST", "POST\t", "\u0001", "Ġ", "FOOBAR", "PRI", "TRACE", "PROPFIND", "OPTIONS", "PUT", "PATCH", "HEAD", "DELETE", "CONNECT"];
  for (const method of [pick(methods), pick(methods), pick(methods)]) cases.push(build(t, `method ${JSON.stringify(method)}`, { method }));
  if (t.method === "GET") cases.push(build(t, "HEAD", { method: "HEAD" }));
  const [path, query] = t.path.includes("?") ? [t.path.slice(0, t.path.indexOf("?")), t.path.slice(t.path.indexOf("?"))] : [t.path, ""];
  const at = int(1, Math.max(1, path.length - 1));
  const insert = (s: string): string => `${path.slice(0, at)}${s}${path.slice(at)}${query}`;
  const inserts = [" ", "\u0000", "\u0001", "\u007f", "\t", "%", "%zz", "%E0%A4%A", "/..", "/.", "/%2e%2e", "/%2E", "%2F", "%5C", "\\", "//", "\u00e9", "%00", "%0d%0a", "#frag"];
  for (const s of [pick(inserts), pick(inserts), pick(inserts), pick(inserts)]) cases.push(build(t, `path insert ${JSON.stringify(s)}`, { path: insert(s) }));
  const whole = ["*", `http://evil.example${t.path}`, "", `${t.path}${t.path.includes("?") ? "&" : "?"}key=${"%".repeat(10)}`, `/..${t.path}`, `${path}/%2e%2e/%2e%2e/v1beta/corpora${query}`];
  cases.push(build(t, "whole path", { path: pick(whole) }));
  const versions = ["HTTP/2.0", "HTTP/1.1x", "HTTX/1.1", "HTTP/9.9", "", "HTTP/1.0"];
  cases.push(build(t, "version", { version: pick(versions) }));
  return cases;
}

/** Header mutations: sizes past Node's 16 KB, bad lines, Host. */
function headerCases(t: Target): Case[] {
  const big = int(17, 64) * 1024;
  return [
    build(t, `header of ${big} bytes`, { headers: [["x-padding", "a".repeat(big)]] }),
    build(t, "3000 headers", { headers: Array.from({ length: 3000 }, (_, i): [string, string] => [`x-h${i}`, "v"]) }),
    build(t, `URL of ${big} bytes`, { path: `${t.path}${t.path.includes("?") ? "&" : "?"}q=${"b".repeat(big)}` }),
    build(t, pick(["space in header name", "no colon", "NUL in value", "obs-fold", "LF-only line", "CR-only line", "non-ASCII name"]), {
      rawHeaderLines: [pick(["x bad: 1", "no-colon-here", "x-nul: a\u0000b", " folded continuation", "x-a: 1\nx-b: 2", "x-a: 1\rx-b: 2", "x-\u00e9: 1"])],
    }),
    build(t, pick(["no Host", "two Hosts", "empty Host"]), pick<Build>([{ host: null }, { headers: [["host", "second.test"]] }, { host: "" }])),
    build(t, "Upgrade: websocket", { headers: [["upgrade", "websocket"], ["sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="]] }),
  ];
}

/** Body framing: Content-Length and Transfer-Encoding conflicts, bad chunks, truncation, Expect, huge lengths. */
function framingCases(t: Target): Case[] {
  const body = t.body ?? "{}";
  const len = Buffer.byteLength(body);
  const line = `${t.method === "GET" || t.method === "DELETE" ? "POST" : t.method} ${t.path} HTTP/1.1`;
  const h = headerText(t) + (t.body !== undefined ? "content-type: application/json\r\n" : "") + "connection: close\r\n";
  const chunked = `${h}transfer-encoding: chunked\r\n\r\n`;
  const cases: Case[] = [
    raw(t, "two Content-Lengths", line, `${h}content-length: ${len}\r\ncontent-length: ${len + 1}\r\n\r\n${body}`),
    raw(t, pick(["Content-Length list", "negative Content-Length", "hex Content-Length", "Content-Length 1e3", "Content-Length 20 digits"]), line,
      `${h}content-length: ${pick([`${len}, ${len}`, "-1", "0x10", "1e3", "99999999999999999999"])}\r\n\r\n${body}`),
    raw(t, "Content-Length and chunked", line, `${h}content-length: ${len}\r\ntransfer-encoding: chunked\r\n\r\n${len.toString(16)}\r\n${body}\r\n0\r\n\r\n`),
    raw(t, pick(["TE chunked, identity", "TE xchunked", "TE chunked twice", "TE gzip, chunked", "TE identity"]), line,
      `${h}transfer-encoding: ${pick(["chunked, identity", "xchunked", "chunked\r\ntransfer-encoding: chunked", "gzip, chunked", "identity"])}\r\n\r\n${len.toString(16)}\r\n${body}\r\n0\r\n\r\n`),
    raw(t, pick(["chunk size zz", "chunk size -1", "chunk size overflow", "chunk extension NUL", "chunk without CRLF"]), line,
      chunked + pick([`zz\r\n${body}\r\n0\r\n\r\n`, `-1\r\n${body}\r\n0\r\n\r\n`, `ffffffffffffffffffff\r\n${body}\r\n0\r\n\r\n`, `${len.toString(16)};\u0000\r\n${body}\r\n0\r\n\r\n`, `${len.toString(16)}\r\n${body}0\r\n\r\n`])),
    raw(t, "chunk longer than its data, then half-close", line, `${chunked}${(len + 100).toString(16)}\r\n${body}`, [{ halfClose: true }]),
    raw(t, "Content-Length past the body, then half-close", line, `${h}content-length: ${len + int(1, 5000)}\r\n\r\n${body}`, [{ halfClose: true }]),
    build(t, "Expect: 202-accepted", { headers: [["expect", "202-accepted"]] }),
    build(t, "Content-Length 52428800, no body", { contentLength: "52428800", body: "" }),
  ];
  return cases;
}

/** Slow bodies (each waits REQUEST_BODY_TIMEOUT_MS): only on the routes that read a body. */
function stallCases(t: Target): Case[] {
  if (t.body === undefined) return [];
  const body = t.body;
  return [
    build(t, "Content-Length past the body, then silence", { contentLength: String(Buffer.byteLength(body) + 10) }),
    build(t, "Content-Length 52428800, no body, then half-close", { contentLength: "52428800", body: "", then: [{ halfClose: true }] }),
  ];
}

/** Keys: missing, wrong, empty, twice, in odd places. */
function authCases(t: Target): Case[] {
  if (t.auth === "none") return [build(t, "a key where none is needed", { auth: [["x-goog-api-key", "wrong"]] })];
  const sep = t.path.includes("?") ? "&" : "?";
  const variants: Array<[string, Build]> = [
    ["no key", { auth: null }],
    ["wrong key", { auth: t.auth === "bearer" ? [["authorization", "Bearer wrong"]] : [["x-goog-api-key", "wrong"]] }],
    ["empty key", { auth: [["x-goog-api-key", ""]] }],
    ["key twice", { auth: [["x-goog-api-key", KEY_ALPHA], ["x-goog-api-key", KEY_BETA]] }],
    ["key in the query, twice", { auth: null, path: `${t.path}${sep}key=wrong&key=${KEY_ALPHA}` }],
    ["Bearer on a native route / x-goog-api-key on OpenAI's", { auth: t.auth === "bearer" ? [["x-goog-api-key", KEY_ALPHA]] : [["authorization", `Bearer ${KEY_ALPHA}`]] }],
    ["key in the body", { auth: null, body: `{"key":"${KEY_ALPHA}"}` }],
    ["key of 100 KB", { auth: [["x-goog-api-key", "k".repeat(100_000)]] }],
    ["Authorization: Basic", { auth: [["authorization", `Basic ${Buffer.from(`x:${KEY_ALPHA}`).toString("base64")}`]] }],
    ["key with a space", { auth: [["x-goog-api-key", `${KEY_ALPHA} extra`]] }],
  ];
  return [pick(variants), pick(variants), pick(variants)].map(([label, b]) => build(t, label, b));
}

/** Content-Encoding: not what it says, unknown, stacked, a bomb. */
function encodingCases(t: Target): Case[] {
  if (t.body === undefined) return [];
  const bomb = gzipSync(Buffer.alloc(25 * 1024 * 1024, 0x20));
  const variants: Array<[string, Build]> = [
    ["gzip that is not gzip", { headers: [["content-encoding", "gzip"]] }],
    ["deflate that is not deflate", { headers: [["content-encoding", "deflate"]] }],
    ["br that is not br", { headers: [["content-encoding", "br"]] }],
    ["unknown encoding", { headers: [["content-encoding", "zip"]] }],
    ["stacked encodings", { headers: [["content-encoding", "gzip, br"]], body: gzipSync(Buffer.from(t.body)) }],
    ["gzip of invalid JSON", { headers: [["content-encoding", "gzip"]], body: gzipSync(Buffer.from("{not json")) }],
    ["truncated gzip", { headers: [["content-encoding", "gzip"]], body: gzipSync(Buffer.from(t.body)).subarray(0, 12) }],
    ["gzip bomb (25 MiB decoded)", { headers: [["content-encoding", "gzip"]], body: bomb }],
  ];
  return [pick(variants), pick(variants)].map(([label, b]) => build(t, label, b));
}

const INVALID_JSON = ["{", "}", '{"contents":', "nul", '{"a":1,}', "{'a':1}", "\ufeff{}", '{"a":1}{"b":2}', "NaN", '{"a":Infinity}', "1e999999", "[1,2", '"unterminated', "{\"a\":\"\\x\"}", "{\"a\":\"\u0001\"}"];

/** Body content on the routes that read JSON. */
function bodyCases(t: Target): Case[] {
  if (t.body === undefined || !t.body.startsWith("{")) return [];
  const cases: Case[] = [];
  for (const text of [pick(INVALID_JSON), pick(INVALID_JSON), pick(INVALID_JSON)]) cases.push(build(t, `invalid JSON ${JSON.stringify(text).slice(0, 30)}`, { body: text }));
  cases.push(build(t, "bytes that are not UTF-8", { body: Buffer.from([0xff, 0xfe, 0x7b, 0x7d, 0xc3]) }));
  cases.push(build(t, "empty body", { body: "" }));
  for (const top of ["null", "[]", '"string"', "42", "true"]) cases.push(build(t, `top-level ${top}`, { body: top }));
  for (const wrong of t.wrong ?? []) cases.push(build(t, `wrong type ${wrong.slice(0, 60)}`, { body: wrong }));
  const unknown = t.body.replace(/^\{/, '{"bogusField":1,');
  cases.push(build(t, "unknown top-level field", { body: unknown }));
  cases.push(build(t, "__proto__ key", { body: t.body.replace(/^\{/, '{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}},') }));
  for (const slot of t.slots ?? []) {
    const depth = nestingDepth();
    const kind = nestingKind();
    cases.push(build(t, `nesting ${depth} (${kind}) at ${slot.slice(0, 50)}`, { body: slot.replace("$", deepJson(depth, kind)) }));
  }
  // Deep JSON on a JSON route whose Content-Type does not say so, and nesting right at the limit.
  cases.push(build(t, "nesting 5000 without a JSON Content-Type", { body: (t.slots?.[0] ?? "$").replace("$", deepJson(5000)), contentType: "text/plain" }));
  cases.push(build(t, "nesting 101 (one past the limit)", { body: (t.slots?.[0] ?? "$").replace("$", deepJson(101 - ((t.slots?.[0] ?? "").match(/[[{]/g)?.length ?? 0))) }));
  const mb = int(1, 2);
  const huge = "x".repeat(mb * 1024 * 1024);
  cases.push(build(t, `a ${mb} MiB string value`, { body: (t.slots?.[0] ?? "$").replace("$", `"${huge}"`) }));
  cases.push(build(t, "a 1 MiB key", { body: t.body.replace(/^\{/, `{"${"k".repeat(1024 * 1024)}":1,`) }));
  cases.push(build(t, "100,000 array items", { body: (t.slots?.[0] ?? "$").replace("$", `[${Array.from({ length: 100_000 }, () => "1").join(",")}]`) }));
  cases.push(build(t, "random bytes", { body: garbage(int(1, 4096)) }));
  return cases;
}

/** A request body on a route that takes none (GET, DELETE), and the odd headers any route may see. */
function miscCases(t: Target): Case[] {
  const cases = [build(t, "body on a bodyless route", { body: '{"contents":null}', contentType: "application/json" })];
  cases.push(build(t, "x-server-timeout garbage", { headers: [["x-server-timeout", pick(["-1", "NaN", "1e309", "0", "abc"])]] }));
  cases.push(build(t, "traceparent garbage", { headers: [["traceparent", pick(["00-zz-zz-01", "ff".repeat(40), "00-00000000000000000000000000000000-0000000000000000-01"])]] }));
  cases.push(build(t, "x-gateway-session of 8 KB", { headers: [["x-gateway-session", "s".repeat(8192)]] }));
  return cases;
}

function allCases(list: Target[]): Case[] {
  const cases: Case[] = [];
  for (const t of list) {
    cases.push(...requestLineCases(t), ...headerCases(t), ...framingCases(t), ...authCases(t), ...encodingCases(t), ...bodyCases(t), ...miscCases(t));
  }
  // The slow ones, on a few routes: each waits REQUEST_BODY_TIMEOUT_MS.
  for (const name of ["generateContent", "sessionMessage", "files.uploadData", "openai.chat.completions"]) cases.push(...stallCases(list.find((t) => t.name === name)!));
  return cases;
}

// ---------------------------------------------------------------------------------------------------------------
// What every answer must be
// ---------------------------------------------------------------------------------------------------------------

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

function isGeminiEnvelope(value: unknown, status: number): boolean {
  if (!isObject(value) || !isObject(value.error)) return false;
  const { code, message, status: canonical } = value.error;
  return code === status && typeof message === "string" && typeof canonical === "string";
}

function isOpenAiError(value: unknown): boolean {
  return isObject(value) && isObject(value.error) && typeof value.error.message === "string" && typeof value.error.type === "string";
}

function pathnameOf(sent: string): string | undefined {
  try {
    return new URL(sent, "http://gateway").pathname;
  } catch {
    return undefined;
  }
}

/** The problems of one answer (empty when it is fine). `upstream`: statuses the simulator answered meanwhile. */
function judge(c: Case, response: RawResponse, upstream: Map<number, number>): string[] {
  const problems: string[] = [];
  const { status, body } = response;
  const openAiPath = c.sentPath.includes("/openai/");
  const fromUpstream = (upstream.get(status) ?? 0) > 0;
  if (status >= 500 && !fromUpstream) problems.push(`a ${status} made by the gateway`);
  // The one redirect there is: `/` sends a browser to the console.
  const toConsole = status === 302 && header(response, "location") === "/ui/" && pathnameOf(c.sentPath) === "/";
  if (toConsole) return problems;
  if (status >= 300 && status < 400) problems.push(`a redirect (${status})`);
  if (body.length === 0) {
    // A resumable upload's answers carry their news in x-goog-upload-* headers and an empty body, as Google's do.
    const uploadProtocol = status < 300 && header(response, "x-goog-upload-status") !== undefined;
    if (!(c.head || status === 204 || status === 304 || uploadProtocol)) problems.push(`a bodyless ${status}`);
    return problems;
  }
  const contentType = header(response, "content-type") ?? "";
  if (status >= 400) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch {
      problems.push(`a ${status} whose body is not JSON (${JSON.stringify(body.subarray(0, 60).toString("latin1"))})`);
      return problems;
    }
    const envelope = isGeminiEnvelope(parsed, status);
    const openAi = openAiPath && isOpenAiError(parsed);
    // Google wraps the errors of its OpenAI-compatible endpoint, and of a stream in the JSON-array form, in a list; the
    // gateway hands upstream errors on as sent. Only an answer that came through a model call (Server-Timing names
    // its upstream time) may be one: the gateway never makes that form itself.
    const forwarded = fromUpstream || /upstream;dur=/.test(header(response, "server-timing") ?? "");
    const upstreamList = forwarded && Array.isArray(parsed) && parsed.length === 1 && isGeminiEnvelope(parsed[0], status);
    if (!envelope && !openAi && !upstreamList) problems.push(`a ${status} that is not an error envelope`);
    if (!/^application\/json/.test(contentType)) problems.push(`a ${status} with content-type ${JSON.stringify(contentType)}`);
    return problems;
  }
  if (/json/.test(contentType) && !/streamGenerateContent/.test(c.sentPath)) {
    try {
      JSON.parse(body.toString("utf8"));
    } catch {
      problems.push(`a ${status} whose JSON body does not parse`);
    }
  }
  return problems;
}

const statusesBetween = (before: SimulatorStats, after: SimulatorStats): Map<number, number> => {
  const out = new Map<number, number>();
  for (const [code, n] of Object.entries(after.byStatus)) {
    const d = n - (before.byStatus[code] ?? 0);
    if (d > 0) out.set(Number(code), d);
  }
  return out;
};

function forceGc(): void {
  // The worker runs without --expose-gc: expose it now, and call it from a fresh context.
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as (() => void) | undefined;
  gc?.();
  gc?.();
}

const requestsByCode = (metrics: string): Series => sumBy(metrics, "gemini_gateway_requests_total", ["code"]);

// ---------------------------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------------------------

let stack: SurfaceStack;
let port: number;
let session: string;

async function call(method: string, path: string, body?: unknown, key = KEY_ALPHA): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${stack.url}${path}`, {
    method,
    headers: { "x-goog-api-key": key, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: kept as text
  }
  return { status: res.status, json };
}

async function createSession(body: unknown = { model: MODEL }, key = KEY_ALPHA): Promise<string> {
  const created = await call("POST", "/v1/sessions", body, key);
  expect(created.status).toBe(201);
  return (created.json as { id: string }).id;
}

async function startUpload(): Promise<string> {
  const res = await fetch(`${stack.url}/upload/v1beta/files`, {
    method: "POST",
    headers: {
      "x-goog-api-key": KEY_ALPHA,
      "content-type": "application/json",
      "x-goog-upload-protocol": "resumable",
      "x-goog-upload-command": "start",
      "x-goog-upload-header-content-length": "5",
      "x-goog-upload-header-content-type": "text/plain",
    },
    body: '{"file":{"display_name":"fuzz"}}',
  });
  await res.text();
  expect(res.status).toBe(200);
  const url = res.headers.get("x-goog-upload-url");
  expect(url).toBeTruthy();
  return new URL(url!).searchParams.get("upload_id")!;
}

beforeAll(async () => {
  stack = await startSurfaceStack({ env: { REQUEST_BODY_TIMEOUT_MS: String(BODY_IDLE_MS), SESSION_MAX_TURNS: "1000", RETRY_BUDGET_FLOOR: "1000" } });
  port = stack.gateway.port;
  session = await createSession();
});
afterAll(async () => {
  await stack?.close();
});

describe("fuzz", () => {
  test("500+ malformed and hostile requests: each answered, never a gateway 5xx, always an envelope, always counted; the gateway survives", async () => {
    const deletable = await createSession();
    const uploadId = await startUpload();
    const cases = allCases(targets(session, deletable, uploadId));
    expect(cases.length).toBeGreaterThanOrEqual(500);

    // Warm up (first-use allocations are not a leak), then the baseline.
    for (let i = 0; i < 3; i++) expect((await call("POST", GENERATE, { contents: [{ parts: [{ text: "warm-up" }] }] })).status).toBe(200);
    forceGc();
    const heapBefore = process.memoryUsage().heapUsed;
    const countsBefore = requestsByCode(await stack.metrics());

    // An exception thrown out of the gateway (a stream error nobody listens to) would end the real process.
    const uncaught: string[] = [];
    const onUncaught = (err: unknown): void => void uncaught.push(err instanceof Error ? err.message : String(err));
    process.on("uncaughtException", onUncaught);
    onTestFinished(() => void process.off("uncaughtException", onUncaught));
    const problems = new Map<string, string[]>();
    const report = (problem: string, c: Case): void => {
      problems.set(problem, [...(problems.get(problem) ?? []), c.label]);
    };
    const expected: number[] = [];
    let upstreamReached = 0;
    let stats = await stack.sim.stats();
    for (const c of cases) {
      let exchange: RawExchange;
      try {
        exchange = await rawExchange(port, c.steps, { timeoutMs: ANSWER_TIMEOUT_MS, responses: Number.POSITIVE_INFINITY, head: c.head });
      } catch (err) {
        report(`no answer: ${err instanceof Error ? err.message.slice(0, 60) : String(err)}`, c);
        stats = await stack.sim.stats();
        continue;
      }
      const after = await stack.sim.stats();
      const upstream = statusesBetween(stats, after);
      if (after.requests > stats.requests) upstreamReached++;
      stats = after;
      if (exchange.responses.length === 0) {
        report(`no answer: connection closed after ${exchange.raw.length} bytes${exchange.socketError ? ` (${exchange.socketError})` : ""}`, c);
        continue;
      }
      for (const response of exchange.responses) {
        for (const problem of judge(c, response, upstream)) report(problem, c);
        let message = "";
        try {
          message = String((JSON.parse(response.body.toString("utf8")) as { error?: { message?: unknown } }).error?.message ?? "");
        } catch {
          // not JSON
        }
        // Probes and /metrics are not counted, unless Node refused the request before it was routed.
        if (!OPS_PATHS.has(c.sentPath) || PARSER_REFUSAL.test(message)) expected.push(response.status);
      }
    }

    // Timers of the last requests (REQUEST_BODY_TIMEOUT_MS) fire within this test.
    await new Promise((resolve) => setTimeout(resolve, BODY_IDLE_MS + 200));

    // Every answer counted, under its status code (model calls are counted once their record is made: wait for them).
    const want: Series = new Map();
    for (const code of expected) want.set(String(code), (want.get(String(code)) ?? 0) + 1);
    let counted: Series = new Map();
    const deadline = Date.now() + 5_000;
    do {
      counted = delta(countsBefore, requestsByCode(await stack.metrics()));
      if ([...want].every(([code, n]) => counted.get(code) === n)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    } while (Date.now() < deadline);

    // Alive: probes, a normal model call.
    expect((await call("GET", "/healthz")).status).toBe(200);
    expect((await call("GET", "/readyz")).status).toBe(200);
    expect((await call("POST", GENERATE, { contents: [{ parts: [{ text: "still alive?" }] }] })).status).toBe(200);

    // The heap returns near its baseline.
    forceGc();
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;

    const summary = [...problems].map(([problem, labels]) => `${problem} (${labels.length}x), e.g. ${labels.slice(0, 4).join("; ")}`).sort();
    // Soft: one run reports every kind of failure at once.
    expect.soft(summary, `${cases.length} cases, ${upstreamReached} reached the simulator`).toEqual([]);
    expect.soft(Object.fromEntries(counted), "gemini_gateway_requests_total gained one per answer, by code").toEqual(Object.fromEntries(want));
    expect.soft(uncaught, "exceptions thrown out of the gateway (the process would exit)").toEqual([]);
    expect.soft(heapGrowth).toBeLessThan(HEAP_GROWTH_LIMIT);
    expect.soft(stack.errors, "no unexpected error logged").toEqual([]);
  }, 120_000);

  test("a body the gateway stops reading (bad Content-Encoding) never throws out of the process", async () => {
    const uncaught: string[] = [];
    const onUncaught = (err: unknown): void => void uncaught.push(err instanceof Error ? err.message : String(err));
    process.on("uncaughtException", onUncaught);
    const thrown: string[] = [];
    try {
      const json = Buffer.from(`{"contents":${CONTENTS}}`);
      const variants: Array<[string, string, Buffer]> = [
        ["unknown encoding", "zip", json],
        ["stacked encodings", "gzip, br", gzipSync(json)],
        ["gzip that is not gzip", "gzip", json],
        ["truncated gzip", "gzip", gzipSync(json).subarray(0, 12)],
        ["gzip bomb", "gzip", gzipSync(Buffer.alloc(25 * 1024 * 1024, 0x20))],
      ];
      const routes: Array<[string, string]> = [
        ["generateContent", GENERATE],
        ["sessionMessage", `/v1/sessions/${session}/messages`],
      ];
      for (const [route, path] of routes) {
        for (const [label, encoding, body] of variants) {
          const before = uncaught.length;
          const request = rawRequest("POST", path, [["host", "gateway.test"], ["x-goog-api-key", KEY_ALPHA], ["content-type", "application/json"], ["content-encoding", encoding], ["content-length", String(body.length)], ["connection", "close"]], body);
          const exchange = await rawExchange(port, [request], { timeoutMs: ANSWER_TIMEOUT_MS, responses: Number.POSITIVE_INFINITY });
          expect(exchange.responses.map((r) => r.status)).toEqual([label === "gzip bomb" ? 413 : 400]);
          // The body reader's idle timer (REQUEST_BODY_TIMEOUT_MS) is the one that could still fire.
          await new Promise((resolve) => setTimeout(resolve, BODY_IDLE_MS + 150));
          if (uncaught.length > before) thrown.push(`${route} | Content-Encoding: ${encoding} (${label}): ${uncaught.slice(before).join("; ")}`);
        }
      }
    } finally {
      process.off("uncaughtException", onUncaught);
    }
    expect(thrown, "requests after which an exception escaped the gateway (the real process would exit)").toEqual([]);
  });

  test("a session that got a null-text or deeply nested send still works", async () => {
    const id = await createSession();
    const hostile = [
      { message: [{ text: null }] },
      `{"message":"hi","generationConfig":{"stopSequences":${deepJson(20_000)}}}`,
      `{"message":[{"text":"hi","x":${deepJson(10_000, "object")}}]}`,
      `{"message":"hi","generationConfig":${deepJson(5_000, "mixed")}}`,
    ];
    for (const body of hostile) {
      const refused = await call("POST", `/v1/sessions/${id}/messages`, body);
      expect(refused.status).toBe(400);
      expect(isGeminiEnvelope(refused.json, 400)).toBe(true);
    }
    const sent = await call("POST", `/v1/sessions/${id}/messages`, { message: "Are you still there?" });
    expect(sent.status).toBe(200);
    expect(sent.json).toMatchObject({ appended: true, turn: 1, historyLength: 2 });
    const exported = await call("GET", `/v1/sessions/${id}`);
    expect(exported.json).toMatchObject({ turns: 1, history: [{ role: "user", parts: [{ text: "Are you still there?" }] }, { role: "model" }] });
  });

  test("a session created with a poisoned history is refused (400), not stored", async () => {
    const list = async (): Promise<number> => ((await call("GET", "/v1/sessions?limit=1000", undefined, KEY_BETA)).json as { sessions: unknown[] }).sessions.length;
    const before = await list();
    const user = (parts: string): string => `{"role":"user","parts":${parts}}`;
    const poisoned: Record<string, string> = {
      "text null": `[${user('[{"text":null}]')}]`,
      "text a number": `[${user('[{"text":7}]')}]`,
      "inlineData null beside text": `[${user('[{"text":"hi","inlineData":null}]')}]`,
      "an unknown field in a part": `[${user('[{"text":"hi","bogus":1}]')}]`,
      "an unknown field in a turn": `[{"role":"user","parts":[{"text":"hi"}],"bogus":1}]`,
      "a role that is not one": `[{"role":"system","parts":[{"text":"hi"}]}]`,
      "nesting 20,000 deep in functionCall.args": `[${user('[{"text":"hi"}]')},{"role":"model","parts":[{"functionCall":{"name":"f","args":{"a":${deepJson(20_000)}}}}]}]`,
      "nesting 1,000 deep in a part": `[${user(`[{"text":"hi","videoMetadata":${deepJson(1_000, "object")}}]`)}]`,
    };
    const stored: string[] = [];
    for (const [name, history] of Object.entries(poisoned)) {
      const created = await call("POST", "/v1/sessions", `{"model":"${MODEL}","history":${history}}`, KEY_BETA);
      if (created.status !== 400 || !isGeminiEnvelope(created.json, 400)) stored.push(`${name}: ${created.status}`);
    }
    expect(stored, "poisoned histories that were not refused").toEqual([]);
    expect(await list()).toBe(before);
  });
});
