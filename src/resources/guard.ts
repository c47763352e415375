// Tenant isolation of the resources made through the gateway under its shared upstream key. With gateway keys, every
// resource a tenant creates (cached contents, files, batches, operations, tuned models...) is recorded as the
// tenant's; another tenant's call on it, or use of it in a request, answers 404 as if it did not exist, and lists
// show only the caller's own. Also, whatever the auth mode: a resumable upload's URL is pointed back at the gateway,
// and a batch's results are metered once.
// The rules per route come from the route table (RouteMatch.ownership); the owners live in an OwnerStore.

import type { IncomingHttpHeaders } from "node:http";
import { notFound, permissionDenied, type GeminiError } from "../gemini/errors.js";
import { createdResources, filterListed, listedField, ownedName, referencedResources, uploadIdOf, uploadName } from "../gemini/resource-names.js";
import type { FetchPage, ResponseHook } from "../gateway/model-call.js";
import type { Ownership } from "../gateway/route-table.js";
import type { TapKind } from "../taps/index.js";
import type { TurnRecord } from "../turn/record.js";
import type { OwnerStore } from "./owner-store.js";

export interface ResourceGuardOptions {
  /** Isolate tenants (gateway keys and RESOURCE_ISOLATION=on). */
  isolation: boolean;
  /** GEMINI_BASE_URL: upload URLs under it are pointed back at the gateway. */
  upstreamBaseUrl: string;
  /** PUBLIC_URL, else each request's Host. */
  publicUrl?: string;
}

/** What of a call the guard judges. */
export interface GuardedCall {
  ownership: Ownership;
  tap: TapKind;
  tenant: string;
  clientHeaders: IncomingHttpHeaders;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
}

const json = (value: unknown): Buffer => Buffer.from(`${JSON.stringify(value, null, 2)}\n`);

/** The gateway's own base URL as the client reached it: PUBLIC_URL, else X-Forwarded-Proto/-Host, else Host. */
export function publicBase(headers: IncomingHttpHeaders, publicUrl?: string): string {
  if (publicUrl) return publicUrl;
  const first = (value: string | string[] | undefined): string | undefined => (typeof value === "string" ? value.split(",")[0]!.trim() : undefined);
  const proto = first(headers["x-forwarded-proto"]) ?? "http";
  const host = first(headers["x-forwarded-host"]) ?? headers.host ?? "localhost";
  return `${proto}://${host}`;
}

/** An upload URL of the upstream, pointed at the gateway: the same path (below the upstream's base path) and query. */
export function gatewayUploadUrl(uploadUrl: string, upstreamBaseUrl: string, base: string): string {
  let url: URL;
  try {
    url = new URL(uploadUrl);
  } catch {
    return uploadUrl;
  }
  const upstreamPath = new URL(upstreamBaseUrl).pathname.replace(/\/+$/, "");
  const path = upstreamPath && url.pathname.startsWith(`${upstreamPath}/`) ? url.pathname.slice(upstreamPath.length) : url.pathname;
  return `${base}${path}${url.search}`;
}

const notYours = (name: string): GeminiError => notFound(`Requested entity was not found: ${name}.`);

/** Pages of a list read in one call, at most, when the caller owns nothing on them. */
const MAX_EMPTY_PAGES = 20;

/** The results file of a finished batch with file input (`metadata.output.responsesFile`). */
function batchResultsFile(answer: unknown): string | undefined {
  const metadata = isObject(answer) ? answer.metadata : undefined;
  const output = isObject(metadata) ? metadata.output : undefined;
  const file = isObject(output) ? output.responsesFile : undefined;
  return typeof file === "string" ? ownedName(file) : undefined;
}

export class ResourceGuard {
  constructor(
    readonly store: OwnerStore,
    private readonly options: ResourceGuardOptions,
  ) {}

  get isolating(): boolean {
    return this.options.isolation;
  }

  /** Records a resource the caller created whose name a route found itself (an interaction's id): the caller's. */
  async claimCreated(name: string, tenant: string): Promise<void> {
    if (this.options.isolation) await this.store.claim(name, tenant);
  }

  /** True the first time it is asked for `mark`, on every replica (outcomes counted once). */
  firstTime(mark: string): Promise<boolean> {
    return this.store.firstTime(mark);
  }

  /** The tenant of an upload-data request that carries no key: the one that started the upload. */
  async uploadOwner(uploadId: string): Promise<string | undefined> {
    return this.store.owner(uploadName(uploadId));
  }

  /** Refuses (404) a call on another tenant's resource, or one whose body uses another tenant's resource. */
  async admit(call: GuardedCall, body?: Buffer, parsed?: unknown): Promise<void> {
    if (!this.options.isolation) return;
    const { ownership, tenant } = call;
    if (ownership.kind === "owned" && (await this.store.owner(ownership.name)) !== tenant) throw notYours(ownership.name);
    if (ownership.kind === "upload_data" && (await this.store.owner(uploadName(ownership.uploadId))) !== tenant) {
      throw permissionDenied("The upload was not started by this caller, or it has expired.");
    }
    if (!body || body.length === 0) return;
    const used = referencedResources(body, parsed);
    if (used.length === 0) return;
    const owners = await this.store.owners(used);
    const foreign = used.find((_, i) => owners[i] !== tenant);
    if (foreign) throw notYours(foreign);
  }

  /** What the call's 2xx answer needs besides passing through; undefined when nothing. */
  hook(call: GuardedCall): ResponseHook | undefined {
    const hook: ResponseHook = {};
    const { ownership, tenant } = call;
    const isolation = this.options.isolation;
    if (ownership.kind === "upload_start") hook.headers = (headers) => this.#pointUploadAtGateway(headers, call);
    if (isolation && (ownership.kind === "create" || ownership.kind === "upload_start" || ownership.kind === "upload_data")) {
      hook.body = async (body) => {
        for (const name of createdResources(parseJson(body))) await this.store.claim(name, tenant);
        return body;
      };
    }
    if (isolation && ownership.kind === "list") hook.body = (body, fetchPage) => this.#keepOwn(body, tenant, fetchPage);
    // Released before the deletion is acknowledged: a read the client makes next, on any replica, is the gateway's 404.
    if (isolation && ownership.kind === "owned" && ownership.deletes) hook.headers = () => this.store.release(ownership.name);
    if (call.tap === "batch" && ownership.kind === "owned") {
      hook.settle = (record) => this.#meterOnce(record, ownership.name);
      // A finished batch with file input wrote its results to a file Google made: it is the batch owner's to read.
      if (isolation) {
        hook.body = async (body) => {
          const resultsFile = batchResultsFile(parseJson(body));
          if (resultsFile) await this.store.claim(resultsFile, tenant);
          return body;
        };
      }
    }
    return Object.keys(hook).length > 0 ? hook : undefined;
  }

  /** Every upload URL of the start's answer (`x-goog-upload-url`, `x-goog-upload-control-url`) points back at the
   *  gateway: the client never learns the upstream's address, and every later command comes through. */
  async #pointUploadAtGateway(headers: Record<string, string>, call: GuardedCall): Promise<void> {
    const base = publicBase(call.clientHeaders, this.options.publicUrl);
    for (const [name, value] of Object.entries(headers)) {
      if (/^x-goog-upload-.*url$/.test(name)) headers[name] = gatewayUploadUrl(value, this.options.upstreamBaseUrl, base);
    }
    // Recorded whatever the isolation: upload data may come without a key, and is then the starter's.
    const uploadId = headers["x-goog-upload-url"] ? uploadIdOf(headers["x-goog-upload-url"]) : undefined;
    if (uploadId) await this.store.claim(uploadName(uploadId), call.tenant);
  }

  /** The caller's items of a list answer. A page that keeps none but has a next page is replaced by the next pages
   *  (up to MAX_EMPTY_PAGES): the SDKs' pagers do not expect an empty page before the end. */
  async #keepOwn(body: Buffer, tenant: string, fetchPage: FetchPage): Promise<Buffer> {
    let answer = parseJson(body);
    for (let page = 0; ; page++) {
      if (!isObject(answer) || !listedField(answer)) return page === 0 ? body : json(answer);
      const kept = await this.#ownItems(answer, tenant);
      const token = kept.nextPageToken;
      const field = listedField(kept)!;
      if ((kept[field] as unknown[]).length > 0 || typeof token !== "string" || page >= MAX_EMPTY_PAGES) return json(kept);
      const next = await fetchPage(token);
      if (!next) return json(kept);
      answer = parseJson(next);
    }
  }

  async #ownItems(answer: Record<string, unknown>, tenant: string): Promise<Record<string, unknown>> {
    const field = listedField(answer)!;
    const names = (answer[field] as Array<Record<string, unknown>>).map((item) => (typeof item.name === "string" ? ownedName(item.name) : undefined));
    const known = names.filter((n): n is string => n !== undefined);
    const index = new Map(known.map((name, i) => [name, i]));
    const owners = await this.store.owners(known);
    return filterListed(answer, (name) => name !== undefined && owners[index.get(name)!] === tenant);
  }

  /** A batch's results are billed once: only the first read of the finished batch carries its tokens. */
  async #meterOnce(record: TurnRecord, name: string): Promise<void> {
    if (!record.response?.tokens) return;
    if (!(await this.store.firstTime(`metered/${name}`))) delete record.response.tokens;
  }
}
