// Embeddings: `models/{m}:embedContent` and `:batchEmbedContents` (what @google/genai's models.embedContent calls), as
// the Developer API answers them: vectors only, no usage block. A vector is deterministic: the sum of one pseudo-random
// direction per word of the text (so texts sharing words are close), scaled to unit length at the model's full size;
// a smaller outputDimensionality is its prefix, as Google's truncated (Matryoshka) vectors are, and is not renormalized.
import { createHash } from "node:crypto";
import { TASK_TYPE_NUMBERS } from "../gemini/enums.js";
import { invalidArgument } from "../gemini/errors.js";
import type { Content } from "../gemini/types.js";
import type { Handlers } from "./context.js";
import { jsonAnswer, modelOf } from "./context.js";
import { seededRandom } from "./generation.js";
import type { SimModel } from "./models.js";
import { findModel } from "./models.js";
import { enumValue, isObject, normalizeContent, normalizeKeys } from "./validate.js";

/** Google takes at most this many requests in one batchEmbedContents. */
export const MAX_BATCH_EMBED_REQUESTS = 100;
const EMBED_FIELDS = new Set(["model", "content", "taskType", "title", "outputDimensionality"]);

export interface EmbedRequest {
  content: Content;
  taskType?: string;
  title?: string;
  outputDimensionality?: number;
}

/** One EmbedContentRequest; `path` is how Google names it in messages. A `model` in the body must be the path's. */
export function parseEmbedRequest(raw: unknown, model: SimModel, path: string): EmbedRequest {
  if (!isObject(raw)) throw invalidArgument(`Invalid value at '${path}': expected an object.`);
  const body = normalizeKeys(raw, EMBED_FIELDS);
  if (body.model !== undefined && findModel(String(body.model))?.id !== model.id) {
    throw invalidArgument(`* ${path}.model: the model of a request must be the one in the URL (models/${model.id}).\n`);
  }
  if (body.content === undefined) throw invalidArgument(`* ${path}.content: content is not specified\n`);
  const content = normalizeContent(body.content, "content");
  if (content.parts.length === 0) throw invalidArgument(`* ${path}.content.parts: contents.parts must not be empty.\n`);
  const request: EmbedRequest = { content };
  if (body.taskType !== undefined) request.taskType = enumValue(TASK_TYPE_NUMBERS, "TaskType", body.taskType, "task_type");
  if (typeof body.title === "string") request.title = body.title;
  if (body.outputDimensionality !== undefined) {
    const dimensions = body.outputDimensionality;
    const max = model.embeddingDimensions ?? 0;
    if (typeof dimensions !== "number" || !Number.isInteger(dimensions) || dimensions < 1 || dimensions > max) {
      throw invalidArgument(`* ${path}.output_dimensionality: must be between 1 and ${max}, got ${JSON.stringify(dimensions)}\n`);
    }
    request.outputDimensionality = dimensions;
  }
  return request;
}

/** The text an embedding is of: the text parts, joined. */
export const embeddingText = (content: Content): string =>
  content.parts.flatMap((p) => (typeof p.text === "string" ? [p.text] : [])).join(" ");

/** The unit vector of a text at the model's full size, then cut to `dimensions`; values are float32. */
export function embedText(model: SimModel, text: string, dimensions = model.embeddingDimensions ?? 0): number[] {
  const size = model.embeddingDimensions ?? 0;
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [""];
  const sum = new Float64Array(size);
  for (const word of words) {
    const random = seededRandom(createHash("sha256").update(`${model.id}\u0000${word}`).digest().readUInt32BE(0));
    for (let i = 0; i < size; i += 1) sum[i] = (sum[i] ?? 0) + random() * 2 - 1;
  }
  const norm = Math.sqrt(sum.reduce((total, v) => total + v * v, 0)) || 1;
  return Array.from(sum.subarray(0, dimensions), (v) => Math.fround(v / norm));
}

const embedding = (model: SimModel, request: EmbedRequest): { values: number[] } => ({
  values: embedText(model, embeddingText(request.content), request.outputDimensionality),
});

export function embeddingHandlers(): Handlers<"embedContent" | "batchEmbedContents"> {
  return {
    embedContent: async (ctx) => jsonAnswer({ embedding: embedding(modelOf(ctx), parseEmbedRequest(await ctx.json(), modelOf(ctx), "EmbedContentRequest")) }),
    batchEmbedContents: async (ctx) => {
      const raw = await ctx.json();
      const body = isObject(raw) ? normalizeKeys(raw, new Set(["requests"])) : {};
      const requests = Array.isArray(body.requests) ? body.requests : [];
      if (requests.length === 0) throw invalidArgument("* BatchEmbedContentsRequest.requests: requests is not specified\n");
      if (requests.length > MAX_BATCH_EMBED_REQUESTS) {
        throw invalidArgument(`* BatchEmbedContentsRequest.requests: at most ${MAX_BATCH_EMBED_REQUESTS} requests can be in one batch\n`);
      }
      const parsed = requests.map((r, i) => parseEmbedRequest(r, modelOf(ctx), `BatchEmbedContentsRequest.requests[${i}]`));
      return jsonAnswer({ embeddings: parsed.map((r) => embedding(modelOf(ctx), r)) });
    },
  };
}
