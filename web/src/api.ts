// The console API client: the key in sessionStorage, `Authorization: Bearer <key>` on every call, Gemini's error
// envelope turned into an ApiError. main.ts sets `hooks` to show errors and to ask for a key on 401/403.

const KEY_ITEM = "gcg.console.key";

export const getKey = (): string | null => sessionStorage.getItem(KEY_ITEM);
export const setKey = (key: string): void => sessionStorage.setItem(KEY_ITEM, key);
export const clearKey = (): void => sessionStorage.removeItem(KEY_ITEM);

export class ApiError extends Error {
  constructor(
    message: string,
    /** HTTP status; 0 when the gateway could not be reached. */
    readonly status: number,
  ) {
    super(message);
  }
  get unauthorized(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

export const hooks = {
  ok: (): void => undefined,
  failed: (_error: ApiError): void => undefined,
};

async function errorMessage(res: Response): Promise<string> {
  const text = await res.text().catch(() => "");
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof message === "string" && message) return message;
  } catch {
    // not Gemini's envelope
  }
  return `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`;
}

/** A GET with the key; throws ApiError on a network failure or an error status (after telling the hooks). */
export async function request(path: string, signal?: AbortSignal, headers: Record<string, string> = {}): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(path, {
      headers: { accept: "application/json", authorization: `Bearer ${getKey() ?? ""}`, ...headers },
      cache: "no-store",
      signal,
    });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw report(new ApiError("Cannot reach the gateway: check that it is running.", 0));
  }
  if (!res.ok) throw report(new ApiError(await errorMessage(res), res.status));
  return res;
}

function report(error: ApiError): ApiError {
  hooks.failed(error);
  return error;
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await request(path, signal);
  let data: T;
  try {
    data = (await res.json()) as T;
  } catch (error) {
    if (signal?.aborted) throw error;
    throw report(new ApiError(`Unexpected answer from ${path} (not JSON)`, res.status));
  }
  hooks.ok();
  return data;
}
