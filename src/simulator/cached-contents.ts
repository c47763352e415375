// Explicit context caching: `cachedContents` (create, get, list, update the expiry, delete), owned by the API key
// that made them, gone once expired; and what a generate request naming one is made of.
import { invalidArgument, permissionDenied } from "../gemini/errors.js";
import type { GeminiError } from "../gemini/errors.js";
import type { Content, GenerateContentRequest } from "../gemini/types.js";
import type { Handlers, RequestContext } from "./context.js";
import { jsonAnswer, orThrow } from "./context.js";
import { randomId } from "./ids.js";
import type { SimModel } from "./models.js";
import { findModel, modelNotFound, supports } from "./models.js";
import { listAnswer, pageOf } from "./paging.js";
import type { SimulatorState } from "./state.js";
import { rfc3339, durationField, timestampField } from "./time.js";
import type { PromptTokens } from "./tokenizer.js";
import { countPromptTokens } from "./tokenizer.js";
import type { ApiVersion } from "./validate.js";
import { checkContents, isObject, normalizeContent, normalizeKeys, snakeToCamel } from "./validate.js";

/** Without ttl or expireTime a cache lives an hour, as at Google. */
export const DEFAULT_CACHE_TTL_MS = 3_600_000;
const CACHE_PAGE = { defaultSize: 100, maxSize: 1000 };
const CREATE_FIELDS = new Set(["model", "contents", "systemInstruction", "tools", "toolConfig", "ttl", "expireTime", "displayName", "name"]);
const UPDATABLE_FIELDS = new Set(["ttl", "expireTime"]);
const REQUEST_PATH = "CreateCachedContentRequest.cached_content";

export interface CachedContentRecord {
  id: string;
  owner: string;
  model: SimModel;
  displayName?: string;
  contents: Content[];
  systemInstruction?: Content;
  tools?: unknown[];
  toolConfig?: unknown;
  /** What the cache holds, counted like a prompt: reported as cachedContentTokenCount when used. */
  tokens: PromptTokens;
  createTime: number;
  updateTime: number;
  expireTime: number;
}

export type NewCachedContent = Omit<CachedContentRecord, "id" | "owner" | "createTime" | "updateTime">;

export const cacheNotFound = (): GeminiError => permissionDenied("CachedContent not found (or permission denied)");

/** The expiry a body asks for: `ttl` from now, or `expireTime`; not both, and not in the past. */
function expiryOf(body: Record<string, unknown>, now: number, at: string): number | undefined {
  if (body.ttl !== undefined && body.expireTime !== undefined) throw invalidArgument("Only one of ttl and expire_time can be set.");
  const expireTime = body.ttl !== undefined ? now + durationField(body.ttl, `${at}ttl`) : body.expireTime !== undefined ? timestampField(body.expireTime, `${at}expire_time`) : undefined;
  if (expireTime !== undefined && expireTime <= now) throw invalidArgument("The expiration time must be in the future.");
  return expireTime;
}

/** A create body, validated: the model must cache, the contents be valid and hold at least the model's minimum. */
export function parseCreateCachedContent(raw: unknown, version: ApiVersion, now: number): NewCachedContent {
  if (!isObject(raw)) throw invalidArgument("Invalid JSON payload received. Expected an object.");
  const body = normalizeKeys(raw, CREATE_FIELDS);
  if (typeof body.model !== "string" || body.model === "") throw invalidArgument(`* ${REQUEST_PATH}.model: model is required.\n`);
  const model = findModel(body.model);
  const modelId = body.model.replace(/^models\//, "");
  if (!model || !supports(model, "createCachedContent") || model.cacheMinTokens === undefined) throw modelNotFound(modelId, version, "createCachedContent");
  const contents = (Array.isArray(body.contents) ? body.contents : []).map((c, i) => normalizeContent(c, `contents[${i}]`));
  if (contents.length > 0) checkContents(contents, REQUEST_PATH);
  const systemInstruction = body.systemInstruction === undefined ? undefined : normalizeContent(body.systemInstruction, "system_instruction");
  if (body.tools !== undefined && !Array.isArray(body.tools)) throw invalidArgument("Invalid value at 'cached_content.tools': expected a list.");
  const tools = body.tools as unknown[] | undefined;
  const tokens = countPromptTokens({ contents, systemInstruction, tools });
  if (tokens.total < model.cacheMinTokens) {
    throw invalidArgument(`Cached content is too small. total_token_count=${tokens.total}, min_total_token_count=${model.cacheMinTokens}`);
  }
  const cache: NewCachedContent = { model, contents, tokens, expireTime: expiryOf(body, now, "cached_content.") ?? now + DEFAULT_CACHE_TTL_MS };
  if (typeof body.displayName === "string" && body.displayName !== "") cache.displayName = body.displayName;
  if (systemInstruction) cache.systemInstruction = systemInstruction;
  if (tools) cache.tools = tools;
  if (body.toolConfig !== undefined) cache.toolConfig = body.toolConfig;
  return cache;
}

/** The new expiry of a PATCH: only ttl / expireTime may change (the updateMask, when sent, must name only them). */
export function parseExpiryUpdate(raw: unknown, updateMask: string | null, now: number): number {
  if (!isObject(raw)) throw invalidArgument("Invalid JSON payload received. Expected an object.");
  const body = normalizeKeys(raw, CREATE_FIELDS);
  const masked = updateMask === null ? Object.keys(body) : updateMask.split(",").map((path) => snakeToCamel(path.trim()));
  const frozen = masked.find((field) => !UPDATABLE_FIELDS.has(field));
  if (frozen !== undefined) throw invalidArgument(`Field ${frozen} cannot be updated: only ttl and expire_time can.`);
  const expireTime = expiryOf(body, now, "cached_content.");
  if (expireTime === undefined) throw invalidArgument("Either ttl or expire_time must be set.");
  return expireTime;
}

/** A CachedContent as Google answers it: metadata and usage, never the contents. */
export function describeCachedContent(cache: CachedContentRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {
    name: `cachedContents/${cache.id}`,
    model: `models/${cache.model.id}`,
    createTime: rfc3339(cache.createTime),
    updateTime: rfc3339(cache.updateTime),
    expireTime: rfc3339(cache.expireTime),
  };
  if (cache.displayName !== undefined) out.displayName = cache.displayName;
  out.usageMetadata = { totalTokenCount: cache.tokens.total };
  return out;
}

/**
 * A generate request on a cache: the cache's contents go first, its systemInstruction, tools and toolConfig are the
 * request's. A request that sets those itself, or names another model, is Google's 400.
 */
export function withCachedContent(cache: CachedContentRecord, request: GenerateContentRequest, model: SimModel): GenerateContentRequest {
  if (request.systemInstruction || request.tools || request.toolConfig !== undefined) {
    throw invalidArgument("Tool config, tools and system instruction should not be set in the request when using cached content.");
  }
  if (cache.model.id !== model.id) {
    throw invalidArgument(`Model used by GenerateContent request (models/${model.id}) and CachedContent (models/${cache.model.id}) has to be the same.`);
  }
  const { cachedContent: _name, ...rest } = request;
  const merged: GenerateContentRequest = { ...rest, contents: [...cache.contents, ...request.contents] };
  if (cache.systemInstruction) merged.systemInstruction = cache.systemInstruction;
  if (cache.tools) merged.tools = cache.tools;
  if (cache.toolConfig !== undefined) merged.toolConfig = cache.toolConfig;
  return merged;
}

/** The caches of every key; expired ones are dropped whenever the store is read. */
export class CacheStore {
  private readonly caches = new Map<string, CachedContentRecord>();

  create(owner: string, cache: NewCachedContent, now: number): CachedContentRecord {
    const record: CachedContentRecord = { ...cache, id: randomId(12), owner, createTime: now, updateTime: now };
    this.caches.set(record.id, record);
    return record;
  }

  /** The owner's live cache by id or by `cachedContents/{id}`. */
  find(owner: string, name: string, now: number): CachedContentRecord | undefined {
    this.purge(now);
    const cache = this.caches.get(name.replace(/^cachedContents\//, ""));
    return cache?.owner === owner ? cache : undefined;
  }

  list(owner: string, now: number): CachedContentRecord[] {
    this.purge(now);
    return [...this.caches.values()].filter((c) => c.owner === owner);
  }

  delete(owner: string, id: string, now: number): boolean {
    return this.find(owner, id, now) !== undefined && this.caches.delete(id);
  }

  private purge(now: number): void {
    for (const [id, cache] of this.caches) if (cache.expireTime <= now) this.caches.delete(id);
  }
}

export function cachedContentHandlers(state: SimulatorState): Handlers<"createCachedContent" | "getCachedContent" | "listCachedContents" | "updateCachedContent" | "deleteCachedContent"> {
  const { caches } = state;
  const owned = (ctx: RequestContext): CachedContentRecord => orThrow(caches.find(ctx.key, ctx.route.id ?? "", ctx.now), cacheNotFound);
  return {
    createCachedContent: async (ctx) => jsonAnswer(describeCachedContent(caches.create(ctx.key, parseCreateCachedContent(await ctx.json(), ctx.route.version, ctx.now), ctx.now))),
    getCachedContent: async (ctx) => jsonAnswer(describeCachedContent(owned(ctx))),
    listCachedContents: async (ctx) => jsonAnswer(listAnswer("cachedContents", pageOf(caches.list(ctx.key, ctx.now).map(describeCachedContent), ctx.url.searchParams, CACHE_PAGE))),
    updateCachedContent: async (ctx) => {
      const cache = owned(ctx);
      cache.expireTime = parseExpiryUpdate(await ctx.json(), ctx.url.searchParams.get("updateMask") ?? ctx.url.searchParams.get("update_mask"), ctx.now);
      cache.updateTime = ctx.now;
      return jsonAnswer(describeCachedContent(cache));
    },
    deleteCachedContent: async (ctx) => {
      caches.delete(ctx.key, owned(ctx).id, ctx.now);
      return jsonAnswer({});
    },
  };
}
