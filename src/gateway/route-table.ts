// THE route table: what the gateway does with each path of the Gemini API (native, OpenAI-compatible, uploads).
// Pure: method + path in, a RouteMatch out, saying the metrics name of the call, its operation, which tap reads the
// answer, how the request body is handled, where the client's key is, the model, and the resource-ownership rule.
// Every path under /{version}/ that the gateway does not handle specially passes through as `other`.

import { GeminiError, invalidArgument } from "../gemini/errors.js";
import { isPublicCollection, ownedName } from "../gemini/resource-names.js";
import { MODEL_ID, modelIdProblem } from "../gemini/types.js";
import type { TapKind } from "../taps/index.js";
import type { ErrorShape } from "./response-writer.js";
import type { Operation, RouteName } from "../turn/record.js";

export const API_VERSIONS = ["v1beta", "v1", "v1alpha"] as const;
export type ApiVersion = (typeof API_VERSIONS)[number];

/**
 * How the request body is handled: `none` (not read), `json` (read whole within MAX_BODY_BYTES and refused with
 * Google's 400 when it is not JSON: the gateway reads fields of it), `bytes` (read whole within MAX_BODY_BYTES and
 * forwarded as is: Google judges it), `stream` (piped upstream as it arrives, unbounded by MAX_BODY_BYTES: file
 * data; such a call cannot be retried).
 */
export type BodyHandling = "none" | "json" | "bytes" | "stream";

/** Where the model of a call is named: the path, the JSON body's `model` field, or nowhere. */
export type ModelSource = "path" | "body" | "none";


/**
 * The tenant-isolation rule of a route under a shared upstream key:
 * - `public`: no owned resource (models);
 * - `owned`: the path names one resource (`name`), which must be the caller's;
 * - `create`: the answer names a new resource, which becomes the caller's;
 * - `list`: the answer lists resources: only the caller's are kept;
 * - `upload_start` / `upload_data`: the resumable upload protocol (the upload id is owned between the two).
 * Besides, every JSON body is checked for the resources it uses (cachedContent, file URIs).
 */
export type Ownership =
  | { kind: "public" }
  | { kind: "owned"; name: string; deletes: boolean }
  | { kind: "create" }
  /** An interaction: its id (not a `name`) comes in the answer, or in a stream's first event. */
  | { kind: "create_interaction" }
  | { kind: "list" }
  | { kind: "upload_start" }
  | { kind: "upload_data"; uploadId: string };

export interface RouteMatch {
  route: RouteName;
  operation: Operation;
  apiVersion: ApiVersion;
  /** The path to call upstream (normalised; the query is added by the caller). */
  path: string;
  tap: TapKind;
  body: BodyHandling;
  /** Known from the path (streamGenerateContent) or the query (an interaction read with ?stream=true); `body`: the
   *  JSON body's `stream` (chat completions, interaction creates). */
  stream: boolean | "body";
  modelSource: ModelSource;
  /** The model id from the path (empty when the path names none). */
  model: string;
  /** The wire format of the gateway's own errors (upstream errors pass through as sent). */
  errors: ErrorShape;
  /** OpenAI's form: `Authorization: Bearer <key>` (upstream too); else x-goog-api-key / ?key=. */
  bearerAuth: boolean;
  ownership: Ownership;
  /** The call keeps state upstream and must not run twice: retried only after an answer saying nothing was done. */
  once: boolean;
}

/** The collections the route label names; any other keeps the call counted as `other`. */
const NAMED_COLLECTIONS = new Set([
  "cachedContents", "files", "batches", "operations", "tunedModels", "generatedFiles", "corpora", "fileSearchStores",
  "interactions", "agents", "environments", "webhooks", "triggers", "voices",
]);
/** Custom methods (`name:verb`) the route label names; any other is `call`. */
const NAMED_VERBS = new Set(["cancel", "download", "generateContent", "streamGenerateContent", "countTokens", "pause", "resume", "uploadToFileSearchStore", "importFile", "query"]);

interface ModelMethodSpec {
  operation: Operation;
  tap: TapKind;
  stream?: boolean;
  creates?: boolean;
}
/** The methods of `models/{model}:{method}` (and `tunedModels/{id}:{method}`). */
const MODEL_METHODS: Readonly<Record<string, ModelMethodSpec>> = {
  generateContent: { operation: "generate_content", tap: "generate" },
  streamGenerateContent: { operation: "generate_content", tap: "generate", stream: true },
  countTokens: { operation: "count_tokens", tap: "none" },
  embedContent: { operation: "embeddings", tap: "embeddings" },
  batchEmbedContents: { operation: "embeddings", tap: "embeddings" },
  batchGenerateContent: { operation: "batch_generate_content", tap: "none", creates: true },
  asyncBatchEmbedContent: { operation: "batch_embed_contents", tap: "none", creates: true },
  predict: { operation: "predict", tap: "none" },
  predictLongRunning: { operation: "predict_long_running", tap: "none", creates: true },
};

/** Refuses what could steer a forwarded path: dot segments and encoded separators. `//` collapses to `/`. */
export function normalizeApiPath(path: string): string | GeminiError {
  const collapsed = path.replace(/\/{2,}/g, "/");
  for (const segment of collapsed.split("/")) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return invalidArgument(`The path segment "${segment}" is not valid percent-encoding.`);
    }
    if (decoded === "." || decoded === ".." || /[/\\]/.test(decoded)) {
      return invalidArgument(`The path segment "${segment}" is not allowed: dot segments and encoded slashes could steer the upstream path.`);
    }
  }
  return collapsed;
}

const base = (
  apiVersion: ApiVersion,
  path: string,
): Pick<RouteMatch, "apiVersion" | "path" | "stream" | "modelSource" | "model" | "errors" | "bearerAuth" | "ownership" | "once"> => ({
  apiVersion,
  path,
  stream: false,
  modelSource: "none",
  model: "",
  errors: "gemini",
  bearerAuth: false,
  ownership: { kind: "public" },
  once: false,
});

/** `name:verb` split; the verb is absent when there is no colon. */
function splitVerb(segment: string): [string, string | undefined] {
  const colon = segment.indexOf(":");
  return colon < 0 ? [segment, undefined] : [segment.slice(0, colon), segment.slice(colon + 1)];
}

/** What of a request, besides its path, decides its route. */
export interface RouteRequest {
  method: string;
  /** The path without its query. */
  path: string;
  query: URLSearchParams;
  /** x-goog-upload-command: a resumable upload's `start` carries a small JSON body, its data commands the file. */
  uploadCommand?: string;
}

/**
 * The route of a request: undefined when the path is not a Gemini API path (the app answers 404 or serves it: the
 * session API under /v1/sessions), a GeminiError for a path that must be refused (400, or 405 for a model route
 * called with the wrong HTTP method), else the match.
 */
export function matchRoute(request: RouteRequest): RouteMatch | GeminiError | undefined {
  const { method: httpMethod, path: rawPath, query } = request;
  const top = /^\/+(upload\/+|download\/+)?(v1beta|v1alpha|v1)(\/|$)/.exec(rawPath);
  if (!top) return undefined;
  if (/^\/+v1\/+sessions(\/|$)/.test(rawPath)) return undefined;
  const path = normalizeApiPath(rawPath);
  if (path instanceof GeminiError) return path;
  const apiVersion = top[2] as ApiVersion;
  const prefix = top[1] ? top[1].replace(/\/+$/, "") : undefined;
  const rest = path.split("/").filter((s) => s !== "").slice(prefix ? 2 : 1);
  if (prefix === "upload") return uploadRoute(apiVersion, path, rest, query, request.uploadCommand);
  if (prefix === "download") return resourceRoute(apiVersion, path, rest, httpMethod, "download");
  if (rest[0] === "openai") return openAiRoute(apiVersion, path, rest.slice(1), httpMethod);
  if (rest[0] === "interactions" && rest.length <= 3) return interactionRoute(apiVersion, path, rest, httpMethod, query);
  if ((rest[0] === "models" || rest[0] === "tunedModels") && rest.length === 2) {
    const [id, verb] = splitVerb(rest[1]!);
    if (verb !== undefined) return requireMethod(httpMethod, "POST", modelMethodRoute(apiVersion, path, rest[0], id, verb));
  }
  if (rest[0] === "models" && rest.length <= 2) {
    const model = rest[1] ?? "";
    if (model && !MODEL_ID.test(model)) return invalidArgument(modelIdProblem(model));
    const route = model ? "getModel" : "listModels";
    return requireMethod(httpMethod, "GET", {
      ...base(apiVersion, path),
      route,
      operation: model ? "get_model" : "list_models",
      tap: "none",
      body: "none",
      model,
      modelSource: model ? "path" : "none",
    });
  }
  return resourceRoute(apiVersion, path, rest, httpMethod);
}

/** The model routes answer one HTTP method; another is a 405 naming it (Google says 404, which tells a developer
 *  less; the SDKs never send it). */
function requireMethod(httpMethod: string, allowed: "GET" | "POST", route: RouteMatch | GeminiError): RouteMatch | GeminiError {
  if (route instanceof GeminiError || httpMethod === allowed || (httpMethod === "HEAD" && allowed === "GET")) return route;
  return new GeminiError(405, "UNIMPLEMENTED", `Method ${httpMethod} is not allowed on ${route.path}; use ${allowed}.`, undefined, { allow: allowed });
}

function modelMethodRoute(apiVersion: ApiVersion, path: string, collection: string, id: string, verb: string): RouteMatch | GeminiError {
  if (collection === "models" && !MODEL_ID.test(id)) return invalidArgument(modelIdProblem(id));
  const spec = MODEL_METHODS[verb];
  const owned: Ownership = collection === "tunedModels" ? { kind: "owned", name: `tunedModels/${id}`, deletes: false } : PUBLIC;
  const model = collection === "tunedModels" ? `tunedModels/${id}` : id;
  if (!spec) {
    return { ...base(apiVersion, path), route: "modelMethod", operation: "model_method", tap: "none", body: "bytes", model, modelSource: "path", ownership: owned };
  }
  // Every SDK call takes this route: one literal, not base()'s object spread into another.
  return {
    apiVersion,
    path,
    route: verb,
    operation: spec.operation,
    tap: spec.tap,
    body: "json",
    stream: spec.stream === true,
    model,
    modelSource: "path",
    errors: "gemini",
    bearerAuth: false,
    ownership: spec.creates ? CREATE : owned,
    once: false,
  };
}

const CREATE: Ownership = { kind: "create" };
const PUBLIC: Ownership = { kind: "public" };

/** `/{v}/{collection}[/{id}[/...]][:verb]`: CRUD of the API's resources, and anything else under a version. */
function resourceRoute(apiVersion: ApiVersion, path: string, rest: string[], httpMethod: string, prefix?: "download"): RouteMatch {
  const last = rest.length > 0 ? splitVerb(rest[rest.length - 1]!) : (["", undefined] as const);
  const segments = [...rest.slice(0, -1), last[0]].filter((s) => s !== "");
  const verb = last[1];
  const collection = segments[0] ?? "";
  const named = NAMED_COLLECTIONS.has(collection) || collection === "models";
  // models/{m}/operations/{op}: the long-running operations of predictLongRunning, owned like any other.
  const isModelOperation = collection === "models" && segments[2] === "operations";
  const nameLength = isModelOperation ? 4 : 2;
  const action = verb !== undefined
    ? (NAMED_VERBS.has(verb) ? verb : "call")
    : segments.length < nameLength
      ? ({ GET: "list", POST: "create" } as Record<string, string>)[httpMethod] ?? "call"
      : ({ GET: "get", HEAD: "get", PATCH: "update", DELETE: "delete" } as Record<string, string>)[httpMethod] ?? "call";
  const label = isModelOperation ? "models.operations" : collection;
  const route = prefix === "download" ? `${label}.download` : named ? `${label}.${action}` : "other";
  // Catalogs (models, voices) are public; everything else made under the shared key is owned (src/gemini/resource-names.ts).
  const name = segments.length >= nameLength ? ownedName(segments.slice(0, nameLength).join("/")) : undefined;
  const catalog = collection === "" || (isPublicCollection(collection) && !isModelOperation);
  let ownership: Ownership = { kind: "public" };
  if (name) {
    ownership = { kind: "owned", name, deletes: httpMethod === "DELETE" && segments.length === nameLength && verb === undefined };
  } else if (!catalog && segments.length < nameLength) {
    if (httpMethod === "GET" && verb === undefined) ownership = { kind: "list" };
    else if (httpMethod === "POST") ownership = { kind: "create" };
  }
  const tap: TapKind = collection === "cachedContents" && action === "create" ? "cached_content" : collection === "batches" && action === "get" ? "batch" : "none";
  const body: BodyHandling = httpMethod === "GET" || httpMethod === "HEAD" || httpMethod === "DELETE" ? "none" : "bytes";
  return { ...base(apiVersion, path), route, operation: route, tap, body, ownership };
}

/**
 * `/{v}/interactions[/{id}[/cancel]]`: the Interactions API. A create is a model turn (tap, conversation tracking,
 * the chain's turn cap); a read or a cancel may carry the turn's outcome (a background interaction that finished).
 */
function interactionRoute(apiVersion: ApiVersion, path: string, rest: string[], httpMethod: string, query: URLSearchParams): RouteMatch {
  const [, id, sub] = rest;
  const readable = { ...base(apiVersion, path), tap: "interaction" as const };
  if (id === undefined) {
    return httpMethod === "POST"
      ? { ...readable, route: "interactions.create", operation: "chat", body: "json", stream: "body", modelSource: "body", ownership: { kind: "create_interaction" }, once: true }
      : { ...readable, route: "interactions.list", operation: "interactions.list", tap: "none", body: "none", ownership: { kind: "list" } };
  }
  const name = `interactions/${id}`;
  const action = sub === undefined ? ({ GET: "get", DELETE: "delete" } as Record<string, string>)[httpMethod] ?? "call" : sub === "cancel" ? "cancel" : "call";
  const route = `interactions.${action}`;
  const ownership: Ownership = { kind: "owned", name, deletes: action === "delete" };
  if (action === "get") return { ...readable, route, operation: route, body: "none", stream: query.get("stream") === "true", ownership };
  if (action === "cancel") return { ...readable, route, operation: route, body: "bytes", ownership };
  return { ...base(apiVersion, path), route, operation: route, tap: "none", body: httpMethod === "DELETE" || httpMethod === "GET" ? "none" : "bytes", ownership };
}

/** `/upload/{v}/files`: Google's resumable (or multipart) upload. The start names the file; the data follows at
 *  the upload URL the start's answer gives, `?upload_id=...`, whose body is the file's bytes. */
function uploadRoute(apiVersion: ApiVersion, path: string, rest: string[], query: URLSearchParams, command: string | undefined): RouteMatch {
  const uploadId = query.get("upload_id");
  const [collection = "", id] = rest;
  const label = NAMED_COLLECTIONS.has(collection) ? collection : "other";
  if (uploadId) {
    return { ...base(apiVersion, path), route: `${label}.uploadData`, operation: `${label}.uploadData`, tap: "none", body: "stream", ownership: { kind: "upload_data", uploadId } };
  }
  const ownership: Ownership = id !== undefined ? { kind: "owned", name: `${collection}/${splitVerb(id)[0]}`, deletes: false } : { kind: "upload_start" };
  // A resumable start is a small JSON body (read, so it can be retried); a multipart upload carries the file.
  const body: BodyHandling = command?.trim().toLowerCase() === "start" ? "bytes" : "stream";
  return { ...base(apiVersion, path), route: `${label}.upload`, operation: `${label}.upload`, tap: "none", body, ownership };
}

/** `/{v}/openai/...`: Gemini's OpenAI-compatible endpoint, with OpenAI's auth header and error shape. */
function openAiRoute(apiVersion: ApiVersion, path: string, rest: string[], httpMethod: string): RouteMatch {
  const openAi = { ...base(apiVersion, path), errors: "openai" as const, bearerAuth: true };
  const joined = rest.join("/");
  if (joined === "chat/completions" && httpMethod === "POST") {
    return { ...openAi, route: "openai.chat.completions", operation: "chat", tap: "chat", body: "json", stream: "body", modelSource: "body" };
  }
  if (joined === "embeddings" && httpMethod === "POST") {
    return { ...openAi, route: "openai.embeddings", operation: "embeddings", tap: "embeddings", body: "json", modelSource: "body" };
  }
  if (rest[0] === "models" && httpMethod === "GET") {
    const model = rest.slice(1).join("/");
    return model
      ? { ...openAi, route: "openai.models.get", operation: "get_model", tap: "none", body: "none", model, modelSource: "path" }
      : { ...openAi, route: "openai.models.list", operation: "list_models", tap: "none", body: "none" };
  }
  const body: BodyHandling = httpMethod === "GET" || httpMethod === "HEAD" || httpMethod === "DELETE" ? "none" : "bytes";
  return { ...openAi, route: "openai.other", operation: "openai.other", tap: "none", body };
}
