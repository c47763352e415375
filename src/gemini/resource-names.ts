// Resource names of the Gemini API, for tenant isolation under a shared upstream key. Pure.
// An owned resource is named by its top-level name: `cachedContents/c1`, `files/f1`, `batches/b1`, `tunedModels/t1`
// (which also covers `tunedModels/t1/operations/o1`), `models/veo-2.0/operations/o1` (a long-running prediction).
// Models and other catalogs are public.

/** Collections that are catalogs, the same for every caller. */
const PUBLIC_COLLECTIONS = new Set(["models", "voices"]);

export const isPublicCollection = (collection: string): boolean => PUBLIC_COLLECTIONS.has(collection);

/** Where a request body names the resources it uses: a cache, files (by URI or by name), a previous interaction. */
const REFERENCE_KEYS = new Set(["cachedContent", "cached_content", "fileUri", "file_uri", "fileName", "file_name", "previous_interaction_id", "previousInteractionId"]);
/** The same keys as they appear in the raw body: a body without any of them is not walked at all. */
const REFERENCE_MARKERS = ["cachedContent", "cached_content", "fileUri", "file_uri", "fileName", "file_name", "previous_interaction"].map((k) => Buffer.from(k));

/** Walking a body stops after this many values (a deeper or larger one is not a real request). */
const MAX_WALKED_VALUES = 200_000;

const API_VERSION = /^v1(beta|alpha)?$/;

/** The owned name a resource name (or a resource path or URL) falls under; undefined for a public resource. */
export function ownedName(resource: string): string | undefined {
  let path = resource;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(resource)) {
    try {
      path = new URL(resource).pathname;
    } catch {
      return undefined;
    }
  }
  const segments = path.split("/").filter((s) => s !== "");
  while (segments.length > 0 && (API_VERSION.test(segments[0]!) || segments[0] === "upload" || segments[0] === "download")) segments.shift();
  const last = segments.length - 1;
  if (last >= 0) segments[last] = segments[last]!.split(":")[0]!;
  const [collection, id] = segments;
  if (!collection || !id) return undefined;
  if (collection === "models") return segments[2] === "operations" && segments[3] ? segments.slice(0, 4).join("/") : undefined;
  return PUBLIC_COLLECTIONS.has(collection) ? undefined : `${collection}/${id}`;
}

/** The owned names a request body refers to (a cachedContent, a file's URI or name...), each once. */
export function referencedResources(raw: Buffer, parsed?: unknown): string[] {
  // A body already parsed is walked: its values are far fewer than its bytes (a 50 KB chat history is a few hundred
  // values, and seven byte searches of it took about 27 µs). Otherwise the markers spare a parse.
  if (parsed === undefined && !REFERENCE_MARKERS.some((marker) => raw.includes(marker))) return [];
  let body = parsed;
  if (body === undefined) {
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch {
      return []; // not JSON: upstream answers it
    }
  }
  const names = new Set<string>();
  const stack: unknown[] = [body];
  for (let walked = 0; stack.length > 0 && walked < MAX_WALKED_VALUES; walked++) {
    const value = stack.pop();
    if (Array.isArray(value)) {
      for (const item of value) stack.push(item);
    } else if (value && typeof value === "object") {
      for (const [key, field] of Object.entries(value)) {
        if (REFERENCE_KEYS.has(key) && typeof field === "string") {
          const name = key.startsWith("previous") ? `interactions/${field}` : ownedName(field);
          if (name) names.add(name);
        } else if (field && typeof field === "object") {
          stack.push(field);
        }
      }
    }
  }
  return [...names];
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** The owned names a create answer names: the resource (`name`), an uploaded file (`file.name`), a tuned model
 *  behind its creating operation (`metadata.tunedModel`). */
export function createdResources(answer: unknown): string[] {
  if (!isObject(answer)) return [];
  const candidates = [answer.name, isObject(answer.file) ? answer.file.name : undefined, isObject(answer.metadata) ? answer.metadata.tunedModel : undefined];
  const names = candidates.flatMap((c) => (typeof c === "string" ? [ownedName(c)] : [])).filter((n): n is string => n !== undefined);
  return [...new Set(names)];
}

/** The list in a list answer: the first top-level array of objects (`cachedContents`, `files`, `batches`,
 *  `operations`...); undefined when there is none. */
export function listedField(answer: Record<string, unknown>): string | undefined {
  return Object.keys(answer).find((key) => Array.isArray(answer[key]) && (answer[key] as unknown[]).every(isObject));
}

/** A list answer with only the items `keep` accepts (by the owned name of each item's `name`). */
export function filterListed(answer: Record<string, unknown>, keep: (name: string | undefined) => boolean): Record<string, unknown> {
  const field = listedField(answer);
  if (!field) return answer;
  const items = answer[field] as Array<Record<string, unknown>>;
  const kept = items.filter((item) => keep(typeof item.name === "string" ? ownedName(item.name) : undefined));
  return { ...answer, [field]: kept };
}

/** The owned name of a resumable upload in progress. */
export const uploadName = (uploadId: string): string => `uploads/${uploadId}`;

/** The upload id of an upload URL (`...?upload_id=X`). */
export function uploadIdOf(url: string): string | undefined {
  try {
    return new URL(url, "http://upload.invalid").searchParams.get("upload_id") ?? undefined;
  } catch {
    return undefined;
  }
}
