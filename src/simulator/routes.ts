// The simulator's route table: every REST path it serves, the operation each names (the fault rules' `method` and the
// stats' `byMethod` key), and how requests on it are authenticated and answer errors. Pure: the shell matches, then
// dispatches to the module of the operation's resource.
import type { GenerationMethod } from "./models.js";
import type { ApiVersion } from "./validate.js";

export const OPERATIONS = [
  "generateContent",
  "streamGenerateContent",
  "countTokens",
  "listModels",
  "getModel",
  "embedContent",
  "batchEmbedContents",
  "batchGenerateContent",
  "createCachedContent",
  "getCachedContent",
  "listCachedContents",
  "updateCachedContent",
  "deleteCachedContent",
  "createFile",
  "uploadFileData",
  "getFile",
  "listFiles",
  "deleteFile",
  "downloadFile",
  "getBatch",
  "listBatches",
  "cancelBatch",
  "deleteBatch",
  "openaiChatCompletions",
  "openaiEmbeddings",
  "openaiListModels",
  "openaiGetModel",
  "createInteraction",
  "getInteraction",
  "deleteInteraction",
  "cancelInteraction",
] as const;
export type Operation = (typeof OPERATIONS)[number];

/**
 * How a route authenticates and answers errors: `native` (x-goog-api-key or ?key=, Gemini's error envelope),
 * `upload` (the upload session's id is the credential), `openai` (Authorization: Bearer, errors in a JSON list).
 */
export type RouteFamily = "native" | "upload" | "openai";

export interface RouteMatch {
  operation: Operation;
  family: RouteFamily;
  version: ApiVersion;
  /** The model named by the path (`models/{model}:...`, `openai/models/{model}`). */
  model?: string;
  /** The resource id named by the path (cachedContents/{id}, files/{id}, batches/{id}, interactions/{id}). */
  id?: string;
}

interface RouteSpec {
  http: "GET" | "POST" | "PATCH" | "DELETE";
  /** `{v}`: any API version; `{v+}`: v1beta or v1alpha (resources v1 does not have); `{model}`, `{id}`: one segment;
   *  `{model*}`: the rest of the path (OpenAI model ids may be `models/x`). */
  path: string;
  operation: Operation;
  family?: RouteFamily;
  /** Further condition on the query (the upload URL shares its path with the upload start). */
  query?: (query: URLSearchParams) => boolean;
}

const hasUploadId = (query: URLSearchParams): boolean => query.has("upload_id");

const ROUTE_SPECS: readonly RouteSpec[] = [
  { http: "GET", path: "/{v}/models", operation: "listModels" },
  { http: "GET", path: "/{v}/models/{model}", operation: "getModel" },
  { http: "POST", path: "/{v}/models/{model}:generateContent", operation: "generateContent" },
  { http: "POST", path: "/{v}/models/{model}:streamGenerateContent", operation: "streamGenerateContent" },
  { http: "POST", path: "/{v}/models/{model}:countTokens", operation: "countTokens" },
  { http: "POST", path: "/{v}/models/{model}:embedContent", operation: "embedContent" },
  { http: "POST", path: "/{v}/models/{model}:batchEmbedContents", operation: "batchEmbedContents" },
  { http: "POST", path: "/{v+}/models/{model}:batchGenerateContent", operation: "batchGenerateContent" },
  { http: "POST", path: "/{v+}/cachedContents", operation: "createCachedContent" },
  { http: "GET", path: "/{v+}/cachedContents", operation: "listCachedContents" },
  { http: "GET", path: "/{v+}/cachedContents/{id}", operation: "getCachedContent" },
  { http: "PATCH", path: "/{v+}/cachedContents/{id}", operation: "updateCachedContent" },
  { http: "DELETE", path: "/{v+}/cachedContents/{id}", operation: "deleteCachedContent" },
  { http: "POST", path: "/upload/{v+}/files", operation: "uploadFileData", family: "upload", query: hasUploadId },
  { http: "POST", path: "/upload/{v+}/files", operation: "createFile" },
  { http: "GET", path: "/{v+}/files", operation: "listFiles" },
  { http: "GET", path: "/{v+}/files/{id}", operation: "getFile" },
  { http: "DELETE", path: "/{v+}/files/{id}", operation: "deleteFile" },
  { http: "GET", path: "/{v+}/files/{id}:download", operation: "downloadFile" },
  { http: "GET", path: "/download/{v+}/files/{id}:download", operation: "downloadFile" },
  { http: "GET", path: "/{v+}/batches", operation: "listBatches" },
  { http: "GET", path: "/{v+}/batches/{id}", operation: "getBatch" },
  { http: "POST", path: "/{v+}/batches/{id}:cancel", operation: "cancelBatch" },
  { http: "DELETE", path: "/{v+}/batches/{id}", operation: "deleteBatch" },
  { http: "POST", path: "/{v+}/openai/chat/completions", operation: "openaiChatCompletions", family: "openai" },
  { http: "POST", path: "/{v+}/openai/embeddings", operation: "openaiEmbeddings", family: "openai" },
  { http: "GET", path: "/{v+}/openai/models", operation: "openaiListModels", family: "openai" },
  { http: "GET", path: "/{v+}/openai/models/{model*}", operation: "openaiGetModel", family: "openai" },
  // The Interactions API: @google/genai 2.x sends `/{api_version}/interactions...` with whatever version it is given.
  { http: "POST", path: "/{v}/interactions", operation: "createInteraction" },
  { http: "GET", path: "/{v}/interactions/{id}", operation: "getInteraction" },
  { http: "DELETE", path: "/{v}/interactions/{id}", operation: "deleteInteraction" },
  { http: "POST", path: "/{v}/interactions/{id}/cancel", operation: "cancelInteraction" },
];

const PLACEHOLDERS: Readonly<Record<string, string>> = {
  "{v}": "(?<version>v1|v1beta|v1alpha)",
  "{v+}": "(?<version>v1beta|v1alpha)",
  "{model}": "(?<model>[^/:]+)",
  "{model*}": "(?<model>.+)",
  "{id}": "(?<id>[^/:]+)",
};

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function compile(path: string): RegExp {
  const source = path
    .split(/(\{[a-z]+[*+]?\})/)
    .map((piece) => PLACEHOLDERS[piece] ?? escapeRegExp(piece))
    .join("");
  return new RegExp(`^${source}$`);
}

const ROUTES = ROUTE_SPECS.map((spec) => ({ ...spec, pattern: compile(spec.path) }));

/** The route of a request, or undefined (a 404). A trailing slash is ignored. */
export function matchRoute(httpMethod: string, pathname: string, query: URLSearchParams): RouteMatch | undefined {
  const path = pathname.length > 1 && pathname.endsWith("/") ? pathname.slice(0, -1) : pathname;
  for (const route of ROUTES) {
    if (route.http !== httpMethod || (route.query && !route.query(query))) continue;
    const groups = route.pattern.exec(path)?.groups;
    if (!groups) continue;
    const match: RouteMatch = { operation: route.operation, family: route.family ?? "native", version: groups.version as ApiVersion };
    if (groups.model !== undefined) match.model = decodeURIComponent(groups.model);
    if (groups.id !== undefined) match.id = decodeURIComponent(groups.id);
    return match;
  }
  return undefined;
}

/** Errors on an unmatched path still take the form of the family its prefix belongs to. */
export function familyOfPath(pathname: string): RouteFamily {
  return /^\/v1[a-z]*\/openai\//.test(pathname) ? "openai" : "native";
}

/**
 * The model methods: the supportedGenerationMethods entry a model needs for each (a model without it answers the
 * 404 "is not supported for <operation>"). They count in the stats' byModel. An interaction generates like generateContent.
 */
export const MODEL_METHODS: Readonly<Partial<Record<Operation, GenerationMethod>>> = {
  generateContent: "generateContent",
  streamGenerateContent: "generateContent",
  countTokens: "countTokens",
  embedContent: "embedContent",
  batchEmbedContents: "batchEmbedContents",
  batchGenerateContent: "batchGenerateContent",
  openaiChatCompletions: "generateContent",
  openaiEmbeddings: "embedContent",
  createInteraction: "generateContent",
};
