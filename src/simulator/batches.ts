// Batch mode: `models/{m}:batchGenerateContent` creates a long-running operation `batches/{id}` that GET answers
// pending, then running, then done (after a configured number of GETs, deterministically), with every response made
// by the same generation as generateContent. Inlined requests answer inlined responses; a JSONL input file answers a
// generated responses file. Batches belong to the API key that made them.
import type { CanonicalStatus } from "../gemini/errors.js";
import { GeminiError, canonicalError, invalidArgument } from "../gemini/errors.js";
import type { GenerateContentResponse } from "../gemini/types.js";
import type { Handlers, RequestContext } from "./context.js";
import { jsonAnswer, modelOf, orThrow } from "./context.js";
import { fileNotFound } from "./files.js";
import { replyTo } from "./generate.js";
import { unaryResponse } from "./generation.js";
import { randomId } from "./ids.js";
import type { SimModel } from "./models.js";
import { listAnswer, pageOf } from "./paging.js";
import type { SimulatorState } from "./state.js";
import { rfc3339 } from "./time.js";
import type { ApiVersion } from "./validate.js";
import { isObject, normalizeKeys, parseGenerateContentRequest } from "./validate.js";

const TYPE_PREFIX = "type.googleapis.com/google.ai.generativelanguage.v1main.";
const BATCH_PAGE = { defaultSize: 50, maxSize: 1000 };
const REQUEST_PATH = "BatchGenerateContentRequest.batch";

/** google.rpc.Code of each canonical status: a failed request's `error` in the output is a google.rpc.Status. */
const RPC_CODES: Readonly<Record<CanonicalStatus, number>> = {
  CANCELLED: 1,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
};

export type BatchState = "BATCH_STATE_PENDING" | "BATCH_STATE_RUNNING" | "BATCH_STATE_SUCCEEDED" | "BATCH_STATE_CANCELLED";

/** One request of a batch: inlined ({request, metadata}) or a line of the input file ({key, request}). */
export interface BatchItem {
  request: unknown;
  metadata?: unknown;
  key?: unknown;
}

export interface BatchResult {
  response?: GenerateContentResponse;
  error?: { code: number; message: string };
  metadata?: unknown;
  key?: unknown;
}

export interface BatchRecord {
  id: string;
  owner: string;
  model: SimModel;
  version: ApiVersion;
  displayName?: string;
  /** The input file's name (`files/x`) when the requests came in a file. */
  inputFile?: string;
  items: BatchItem[];
  state: BatchState;
  /** GETs answered so far: the batch moves on with them. */
  polls: number;
  createTime: number;
  updateTime: number;
  endTime?: number;
  results?: BatchResult[];
  /** The generated file holding the results of a file batch. */
  responsesFile?: string;
}

export interface NewBatch {
  displayName?: string;
  inlined?: BatchItem[];
  inputFile?: string;
}

const batchItem = ({ request, metadata, key }: Record<string, unknown>): BatchItem => ({
  request,
  ...(metadata === undefined ? {} : { metadata }),
  ...(key === undefined ? {} : { key }),
});

/** A create body: `{batch: {displayName?, inputConfig: {requests: {requests: [...]}} | {fileName}}}`. */
export function parseBatchCreate(raw: unknown): NewBatch {
  if (!isObject(raw)) throw invalidArgument("Invalid JSON payload received. Expected an object.");
  const { batch } = normalizeKeys(raw, new Set(["batch"]));
  if (!isObject(batch)) throw invalidArgument(`* ${REQUEST_PATH}: batch is required\n`);
  const body = normalizeKeys(batch, new Set(["displayName", "inputConfig", "model", "name", "priority"]), "batch");
  const input = isObject(body.inputConfig) ? normalizeKeys(body.inputConfig, new Set(["requests", "fileName"]), "batch.input_config") : {};
  if ((input.requests === undefined) === (input.fileName === undefined)) {
    throw invalidArgument(`* ${REQUEST_PATH}.input_config: exactly one of requests and file_name must be set\n`);
  }
  const parsed: NewBatch = typeof body.displayName === "string" && body.displayName !== "" ? { displayName: body.displayName } : {};
  if (typeof input.fileName === "string") return { ...parsed, inputFile: input.fileName.startsWith("files/") ? input.fileName : `files/${input.fileName}` };
  const wrapper = isObject(input.requests) ? normalizeKeys(input.requests, new Set(["requests"]), "batch.input_config.requests") : {};
  const requests = Array.isArray(wrapper.requests) ? wrapper.requests : [];
  if (requests.length === 0) throw invalidArgument(`* ${REQUEST_PATH}.input_config.requests.requests: requests is not specified\n`);
  return {
    ...parsed,
    inlined: requests.map((item, i) => {
      const at = `batch.input_config.requests.requests[${i}]`;
      if (!isObject(item)) throw invalidArgument(`Invalid value at '${at}': expected an object.`);
      return batchItem(normalizeKeys(item, new Set(["request", "metadata"]), at));
    }),
  };
}

/** The lines of a JSONL input file: `{"key": ..., "request": {...}}` each (a line that is not JSON fails alone). */
export function parseInputFile(text: string): BatchItem[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      try {
        const item: unknown = JSON.parse(line);
        return isObject(item) ? batchItem(item) : { request: undefined };
      } catch {
        return { request: undefined };
      }
    });
}

/** The state after one more GET: pending until the first, running until the `pollsUntilDone`-th, then succeeded. */
export function nextState(state: BatchState, polls: number, pollsUntilDone: number): BatchState {
  if (state === "BATCH_STATE_SUCCEEDED" || state === "BATCH_STATE_CANCELLED") return state;
  return polls >= pollsUntilDone ? "BATCH_STATE_SUCCEEDED" : polls >= 1 ? "BATCH_STATE_RUNNING" : "BATCH_STATE_PENDING";
}

const isDone = (state: BatchState): boolean => state === "BATCH_STATE_SUCCEEDED" || state === "BATCH_STATE_CANCELLED";

function batchStats(batch: BatchRecord): Record<string, string> {
  const stats: Record<string, string> = { requestCount: String(batch.items.length) };
  if (!batch.results) {
    if (batch.state !== "BATCH_STATE_CANCELLED") stats.pendingRequestCount = String(batch.items.length);
    return stats;
  }
  const failed = batch.results.filter((r) => r.error).length;
  if (failed < batch.results.length) stats.successfulRequestCount = String(batch.results.length - failed);
  if (failed > 0) stats.failedRequestCount = String(failed);
  return stats;
}

/** The output of a finished batch: inlined responses, or the name of the responses file. */
function outputOf(batch: BatchRecord): Record<string, unknown> | undefined {
  if (batch.responsesFile !== undefined) return { responsesFile: batch.responsesFile };
  if (!batch.results) return undefined;
  const inlinedResponses = batch.results.map(({ response, error, metadata }) => ({
    ...(response ? { response } : {}),
    ...(error ? { error } : {}),
    ...(metadata === undefined ? {} : { metadata }),
  }));
  return { inlinedResponses: { inlinedResponses } };
}

/** A batch as the long-running Operation Google answers (what @google/genai's batchJobFromMldev reads). */
export function describeBatch(batch: BatchRecord): Record<string, unknown> {
  const name = `batches/${batch.id}`;
  const metadata: Record<string, unknown> = { "@type": `${TYPE_PREFIX}GenerateContentBatch`, model: `models/${batch.model.id}` };
  if (batch.displayName !== undefined) metadata.displayName = batch.displayName;
  if (batch.inputFile !== undefined) metadata.inputConfig = { fileName: batch.inputFile };
  const output = outputOf(batch);
  if (output) metadata.output = output;
  metadata.createTime = rfc3339(batch.createTime);
  if (batch.endTime !== undefined) metadata.endTime = rfc3339(batch.endTime);
  Object.assign(metadata, { updateTime: rfc3339(batch.updateTime), batchStats: batchStats(batch), state: batch.state, name });
  const operation: Record<string, unknown> = { name, metadata };
  if (isDone(batch.state)) operation.done = true;
  if (output) operation.response = { "@type": `${TYPE_PREFIX}GenerateContentBatchOutput`, ...output };
  return operation;
}

export class BatchStore {
  private readonly batches = new Map<string, BatchRecord>();

  add(batch: BatchRecord): BatchRecord {
    this.batches.set(batch.id, batch);
    return batch;
  }

  get(owner: string, id: string): BatchRecord | undefined {
    const batch = this.batches.get(id);
    return batch?.owner === owner ? batch : undefined;
  }

  list(owner: string): BatchRecord[] {
    return [...this.batches.values()].filter((b) => b.owner === owner);
  }

  delete(owner: string, id: string): boolean {
    return this.get(owner, id) !== undefined && this.batches.delete(id);
  }
}

/** Every request of a finished batch, answered by the same generation as generateContent (no quota: batches have
 *  their own); a request that fails validation gets its error instead. */
function runBatch(state: SimulatorState, batch: BatchRecord): BatchResult[] {
  return batch.items.map((item) => {
    const echo = { ...(item.metadata === undefined ? {} : { metadata: item.metadata }), ...(item.key === undefined ? {} : { key: item.key }) };
    try {
      const request = parseGenerateContentRequest(item.request, batch.model, batch.version);
      const response = unaryResponse(replyTo(state, batch.owner, batch.model, request, {}, { quota: false }));
      state.stats.usage(response.usageMetadata);
      return { response, ...echo };
    } catch (err) {
      const error = err instanceof GeminiError ? err : canonicalError(500);
      return { error: { code: RPC_CODES[error.status], message: error.message }, ...echo };
    }
  });
}

function finish(state: SimulatorState, batch: BatchRecord, now: number): void {
  batch.results = runBatch(state, batch);
  batch.endTime = now;
  if (batch.inputFile === undefined) return;
  const lines = batch.results.map(({ key, response, error }) => JSON.stringify({ ...(key === undefined ? {} : { key }), ...(response ? { response } : { error }) }));
  const file = state.files.add({ id: `batch-${batch.id}`, owner: batch.owner, mimeType: "application/jsonl", bytes: Buffer.from(`${lines.join("\n")}\n`), source: "GENERATED", createTime: now });
  batch.responsesFile = `files/${file.id}`;
}

export function batchHandlers(state: SimulatorState): Handlers<"batchGenerateContent" | "getBatch" | "listBatches" | "cancelBatch" | "deleteBatch"> {
  const { batches } = state;
  const owned = (ctx: RequestContext): BatchRecord => orThrow(batches.get(ctx.key, ctx.route.id ?? ""), () => canonicalError(404));
  return {
    batchGenerateContent: async (ctx) => {
      const parsed = parseBatchCreate(await ctx.json());
      let items = parsed.inlined ?? [];
      if (parsed.inputFile !== undefined) {
        const fileId = parsed.inputFile.slice("files/".length);
        items = parseInputFile(orThrow(state.files.get(ctx.key, fileId, ctx.now), () => fileNotFound(fileId)).bytes.toString("utf8"));
      }
      const batch = batches.add({
        id: randomId(36),
        owner: ctx.key,
        model: modelOf(ctx),
        version: ctx.route.version,
        ...(parsed.displayName === undefined ? {} : { displayName: parsed.displayName }),
        ...(parsed.inputFile === undefined ? {} : { inputFile: parsed.inputFile }),
        items,
        state: "BATCH_STATE_PENDING",
        polls: 0,
        createTime: ctx.now,
        updateTime: ctx.now,
      });
      return jsonAnswer(describeBatch(batch));
    },
    getBatch: async (ctx) => {
      const batch = owned(ctx);
      batch.polls += 1;
      const next = nextState(batch.state, batch.polls, state.options.batchPollsUntilDone);
      if (next !== batch.state) {
        batch.state = next;
        batch.updateTime = ctx.now;
        if (next === "BATCH_STATE_SUCCEEDED") finish(state, batch, ctx.now);
      }
      return jsonAnswer(describeBatch(batch));
    },
    listBatches: async (ctx) => jsonAnswer(listAnswer("operations", pageOf(batches.list(ctx.key).map(describeBatch), ctx.url.searchParams, BATCH_PAGE))),
    cancelBatch: async (ctx) => {
      const batch = owned(ctx);
      // Cancelling a finished batch changes nothing.
      if (!isDone(batch.state)) Object.assign(batch, { state: "BATCH_STATE_CANCELLED", updateTime: ctx.now, endTime: ctx.now });
      return jsonAnswer({});
    },
    deleteBatch: async (ctx) => {
      batches.delete(ctx.key, owned(ctx).id);
      return jsonAnswer({});
    },
  };
}
