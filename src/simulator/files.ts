// The Files API: Google's resumable upload (a start request that answers the upload URL, then the bytes in chunks at
// that URL, the last one finalizing), then get, list, delete and download. Files belong to the API key that started
// the upload and expire after 48 hours.
import { createHash } from "node:crypto";
import { canonicalError, invalidArgument, permissionDenied } from "../gemini/errors.js";
import type { GeminiError } from "../gemini/errors.js";
import type { Content } from "../gemini/types.js";
import type { Answer, EmptyAnswer, Handlers, RequestContext } from "./context.js";
import { firstHeader, jsonAnswer, orThrow } from "./context.js";
import { randomId } from "./ids.js";
import { listAnswer, pageOf } from "./paging.js";
import type { SimulatorState } from "./state.js";
import { rfc3339 } from "./time.js";
import { isObject, normalizeKeys } from "./validate.js";

/** Upload bodies may be binary and far larger than a JSON request: the simulator keeps files in memory, up to this. */
export const MAX_UPLOAD_BYTES = 64 * 1024 * 1024;
export const FILE_TTL_MS = 48 * 3_600_000;
/** What Google announces as x-goog-upload-chunk-granularity (and @google/genai sends chunks of). */
const CHUNK_GRANULARITY = 8 * 1024 * 1024;
const FILE_PAGE = { defaultSize: 10, maxSize: 100 };
const FILE_FIELDS = new Set(["name", "displayName", "mimeType", "sizeBytes"]);
const FILE_ID = /^[a-z0-9-]{1,40}$/;

export type FileSource = "UPLOADED" | "GENERATED";

export interface FileRecord {
  id: string;
  owner: string;
  displayName?: string;
  mimeType: string;
  bytes: Buffer;
  source: FileSource;
  createTime: number;
}

interface UploadSession {
  id: string;
  owner: string;
  fileId: string;
  displayName?: string;
  mimeType: string;
  declaredSize?: number;
  chunks: Buffer[];
  received: number;
}

export const fileNotFound = (id: string): GeminiError => permissionDenied(`You do not have permission to access the File ${id} or it may not exist.`);

/** The file id a fileUri points at, when it is a Files API URI (`.../{version}/files/{id}`). */
export function fileIdOfUri(uri: string): string | undefined {
  try {
    return /^\/(?:v1|v1beta|v1alpha)\/files\/([a-z0-9-]+)$/.exec(new URL(uri).pathname)?.[1];
  } catch {
    return undefined;
  }
}

/** The Files API URIs among some contents' fileData parts. */
export function fileUrisIn(contents: readonly Content[]): string[] {
  return contents.flatMap((c) => c.parts.flatMap((p) => (p.fileData ? [p.fileData.fileUri] : [])));
}

/** Google's sha256Hash: the hex digest, base64-encoded. */
export const sha256Hash = (bytes: Buffer): string => Buffer.from(createHash("sha256").update(bytes).digest("hex")).toString("base64");

/** A File as Google answers it; `uri` as the client reaches the simulator. */
export function describeFile(file: FileRecord, origin: string, version: string): Record<string, unknown> {
  const out: Record<string, unknown> = { name: `files/${file.id}` };
  if (file.displayName !== undefined) out.displayName = file.displayName;
  Object.assign(out, {
    mimeType: file.mimeType,
    sizeBytes: String(file.bytes.length),
    createTime: rfc3339(file.createTime),
    updateTime: rfc3339(file.createTime),
    expirationTime: rfc3339(file.createTime + FILE_TTL_MS),
    sha256Hash: sha256Hash(file.bytes),
    uri: `${origin}/${version}/files/${file.id}`,
    state: "ACTIVE",
    source: file.source,
  });
  return out;
}

const header = (ctx: RequestContext, name: string): string | undefined => firstHeader(ctx.headers, name);

/** x-goog-upload-command: "start", "upload", "upload, finalize", "finalize", "query", "cancel". */
export function uploadCommands(value: string | undefined): Set<string> {
  return new Set((value ?? "").split(",").map((c) => c.trim().toLowerCase()).filter((c) => c !== ""));
}

/** What the start request asks for: the file's name, display name, type and size (headers win over the body). */
export function parseUploadStart(raw: unknown, headers: { contentType?: string; contentLength?: string }): Omit<UploadSession, "id" | "owner" | "chunks" | "received"> {
  if (!isObject(raw)) throw invalidArgument("Invalid JSON payload received. Expected an object.");
  const body = normalizeKeys(raw, new Set(["file"]));
  const file = body.file === undefined ? {} : isObject(body.file) ? normalizeKeys(body.file, FILE_FIELDS, "file") : undefined;
  if (!file) throw invalidArgument(`Invalid value at 'file' (type.googleapis.com/google.ai.generativelanguage.v1beta.File), ${JSON.stringify(body.file)}`);
  const name = typeof file.name === "string" ? file.name.replace(/^files\//, "") : undefined;
  if (name !== undefined && !FILE_ID.test(name)) throw invalidArgument(`Invalid file name: files/${name}. It must have up to 40 lowercase letters, digits or dashes.`);
  const sizeText = headers.contentLength ?? (typeof file.sizeBytes === "string" || typeof file.sizeBytes === "number" ? String(file.sizeBytes) : undefined);
  const declaredSize = sizeText === undefined ? undefined : Number(sizeText);
  if (declaredSize !== undefined && (!Number.isInteger(declaredSize) || declaredSize < 0)) throw invalidArgument(`Invalid upload size: ${sizeText}`);
  if (declaredSize !== undefined && declaredSize > MAX_UPLOAD_BYTES) throw canonicalError(413);
  const mimeType = headers.contentType ?? (typeof file.mimeType === "string" ? file.mimeType : "application/octet-stream");
  const start: Omit<UploadSession, "id" | "owner" | "chunks" | "received"> = { fileId: name ?? randomId(12), mimeType };
  if (typeof file.displayName === "string" && file.displayName !== "") start.displayName = file.displayName;
  if (declaredSize !== undefined) start.declaredSize = declaredSize;
  return start;
}

export class FileStore {
  private readonly files = new Map<string, FileRecord>();
  private readonly uploads = new Map<string, UploadSession>();

  startUpload(owner: string, start: Omit<UploadSession, "id" | "owner" | "chunks" | "received">, now: number): UploadSession {
    if (this.find(start.fileId, now) !== undefined) throw invalidArgument(`File files/${start.fileId} already exists.`);
    const session: UploadSession = { ...start, id: randomId(32), owner, chunks: [], received: 0 };
    this.uploads.set(session.id, session);
    return session;
  }

  upload(id: string): UploadSession | undefined {
    return this.uploads.get(id);
  }

  endUpload(session: UploadSession): void {
    this.uploads.delete(session.id);
  }

  add(file: FileRecord): FileRecord {
    this.files.set(file.id, file);
    return file;
  }

  /** The owner's live file. */
  get(owner: string, id: string, now: number): FileRecord | undefined {
    const file = this.find(id, now);
    return file?.owner === owner ? file : undefined;
  }

  list(owner: string, now: number): FileRecord[] {
    this.purge(now);
    return [...this.files.values()].filter((f) => f.owner === owner);
  }

  delete(owner: string, id: string, now: number): boolean {
    return this.get(owner, id, now) !== undefined && this.files.delete(id);
  }

  private find(id: string, now: number): FileRecord | undefined {
    this.purge(now);
    return this.files.get(id);
  }

  private purge(now: number): void {
    for (const [id, file] of this.files) if (file.createTime + FILE_TTL_MS <= now) this.files.delete(id);
  }
}

const uploadStatus = (status: "active" | "final" | "cancelled", received?: number): EmptyAnswer => ({
  kind: "empty",
  headers: { "x-goog-upload-status": status, ...(received === undefined ? {} : { "x-goog-upload-size-received": String(received) }) },
});

async function uploadData(ctx: RequestContext, files: FileStore): Promise<Answer> {
  const session = orThrow(files.upload(ctx.url.searchParams.get("upload_id") ?? ""), () => canonicalError(404));
  const commands = uploadCommands(header(ctx, "x-goog-upload-command"));
  if (commands.has("query")) return uploadStatus("active", session.received);
  if (commands.has("cancel")) {
    files.endUpload(session);
    return uploadStatus("cancelled");
  }
  if (!commands.has("upload") && !commands.has("finalize")) throw invalidArgument(`Unknown upload command: ${header(ctx, "x-goog-upload-command") ?? "(none)"}`);
  if (commands.has("upload")) {
    const offset = Number(header(ctx, "x-goog-upload-offset"));
    if (offset !== session.received) throw invalidArgument(`Invalid upload offset ${header(ctx, "x-goog-upload-offset") ?? "(none)"}: ${session.received} bytes were received so far.`);
    const chunk = await ctx.bytes(MAX_UPLOAD_BYTES - session.received);
    session.chunks.push(chunk);
    session.received += chunk.length;
  }
  if (!commands.has("finalize")) return uploadStatus("active", session.received);
  if (session.declaredSize !== undefined && session.received !== session.declaredSize) {
    throw invalidArgument(`The upload has ${session.received} bytes, but ${session.declaredSize} were announced.`);
  }
  files.endUpload(session);
  const file = files.add({
    id: session.fileId,
    owner: session.owner,
    ...(session.displayName === undefined ? {} : { displayName: session.displayName }),
    mimeType: session.mimeType,
    bytes: Buffer.concat(session.chunks),
    source: "UPLOADED",
    createTime: ctx.now,
  });
  return jsonAnswer({ file: describeFile(file, ctx.origin, ctx.route.version) }, { headers: { "x-goog-upload-status": "final" } });
}

export function fileHandlers(state: SimulatorState): Handlers<"createFile" | "uploadFileData" | "getFile" | "listFiles" | "deleteFile" | "downloadFile"> {
  const { files } = state;
  const owned = (ctx: RequestContext): FileRecord => {
    const id = ctx.route.id ?? "";
    return orThrow(files.get(ctx.key, id, ctx.now), () => fileNotFound(id));
  };
  return {
    createFile: async (ctx) => {
      const protocol = header(ctx, "x-goog-upload-protocol")?.toLowerCase();
      if (protocol !== "resumable") throw invalidArgument(`Upload protocol ${protocol ?? "(none)"} is not supported: use x-goog-upload-protocol: resumable.`);
      if (!uploadCommands(header(ctx, "x-goog-upload-command")).has("start")) throw invalidArgument("The first request of a resumable upload must carry x-goog-upload-command: start.");
      const start = parseUploadStart(await ctx.json(), {
        contentType: header(ctx, "x-goog-upload-header-content-type"),
        contentLength: header(ctx, "x-goog-upload-header-content-length"),
      });
      const session = files.startUpload(ctx.key, start, ctx.now);
      const uploadUrl = `${ctx.origin}/upload/${ctx.route.version}/files?upload_id=${session.id}&upload_protocol=resumable`;
      return {
        kind: "empty",
        headers: {
          "x-goog-upload-status": "active",
          "x-goog-upload-url": uploadUrl,
          "x-goog-upload-control-url": uploadUrl,
          "x-goog-upload-chunk-granularity": String(CHUNK_GRANULARITY),
        },
      };
    },
    uploadFileData: (ctx) => uploadData(ctx, files),
    getFile: async (ctx) => jsonAnswer(describeFile(owned(ctx), ctx.origin, ctx.route.version)),
    listFiles: async (ctx) => jsonAnswer(listAnswer("files", pageOf(files.list(ctx.key, ctx.now).map((f) => describeFile(f, ctx.origin, ctx.route.version)), ctx.url.searchParams, FILE_PAGE))),
    deleteFile: async (ctx) => {
      files.delete(ctx.key, owned(ctx).id, ctx.now);
      return jsonAnswer({});
    },
    downloadFile: async (ctx) => {
      const file = owned(ctx);
      return { kind: "bytes", body: file.bytes, contentType: file.mimeType };
    },
  };
}
