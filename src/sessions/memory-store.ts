// In-process session store: lru-cache bounded by count (SESSION_MAX), bytes (SESSION_MAX_BYTES) and idle time
// (SESSION_TTL_SECONDS), with a small tombstone cache so a 404 can say why a session is gone, and an optional
// snapshot file written atomically on drain and loaded at start-up.
// A session is held as its JSON string (plus a small summary for listing), so the bytes the cache accounts are the
// bytes it occupies: the heap stays within SESSION_MAX_BYTES plus a fixed overhead however the histories look.

import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { LRUCache } from "lru-cache";
import type { Perf } from "lru-cache";
import { invalidArgument } from "../gemini/errors.js";
import { KeyedFifo } from "./fifo.js";
import { sessionTurns, type GoneReason, type Lookup, type SessionData, type SessionPage, type SessionStore, type TurnLease } from "./store.js";

/** One cached session: its JSON, and what listing needs without parsing it. */
interface Entry {
  json: string;
  tenant: string;
  model: string;
  turns: number;
  lastUsedAt: string;
  version: number;
}

/** Heap of an entry beyond its JSON: the entry object, its summary strings, the key and the cache's slots (measured
 *  with bench/sessions-memory.ts, rounded up). */
export const ENTRY_OVERHEAD_BYTES = 256;

/** Bytes an entry occupies: V8 keeps ASCII/Latin-1 strings at one byte per character, others at two. */
const entryBytes = (entry: Entry): number =>
  // eslint-disable-next-line no-control-regex -- the range test is the point: one-byte strings
  (/^[\u0000-\u00ff]*$/.test(entry.json) ? entry.json.length : entry.json.length * 2) + ENTRY_OVERHEAD_BYTES;

export interface MemoryStoreOptions {
  maxSessions: number;
  maxBytes: number;
  ttlSeconds: number;
  tombstones: number;
  snapshotFile?: string | undefined;
  /** Called when a session leaves the cache other than by DELETE. */
  onEvict?: (reason: Exclude<GoneReason, "deleted">) => void;
  /** Clock for TTLs (tests). */
  perf?: Perf;
}

interface SnapshotFile {
  version: 1;
  /** Least recently used first, with the TTL each had left. */
  sessions: Array<{ session: SessionData; ttlMs: number }>;
}

export class MemorySessionStore implements SessionStore {
  readonly kind = "memory";
  readonly #cache: LRUCache<string, Entry>;
  /** Why a session went, and whose it was (the reason is told to its tenant only). */
  readonly #gone: LRUCache<string, { reason: GoneReason; tenant: string }>;
  readonly #turns = new KeyedFifo();
  readonly #options: MemoryStoreOptions;
  /** What an eviction during the next set() is for: lru-cache reports both count and size evictions as "evict". */
  #evictingFor: "capacity" | "bytes" = "capacity";

  private constructor(options: MemoryStoreOptions) {
    this.#options = options;
    this.#gone = new LRUCache({ max: options.tombstones });
    this.#cache = new LRUCache<string, Entry>({
      max: options.maxSessions,
      maxSize: options.maxBytes,
      sizeCalculation: entryBytes,
      ttl: options.ttlSeconds * 1000,
      updateAgeOnGet: true,
      ...(options.perf ? { perf: options.perf, ttlResolution: 0 } : {}),
      dispose: (entry, id, reason) => {
        const gone: GoneReason | undefined =
          reason === "evict" ? this.#evictingFor : reason === "expire" ? "ttl" : reason === "delete" ? "deleted" : undefined;
        if (!gone) return; // "set": replaced by a newer version of itself
        this.#gone.set(id, { reason: gone, tenant: entry.tenant });
        if (gone !== "deleted") this.#options.onEvict?.(gone);
      },
    });
  }

  /** Creates the store, loading the snapshot file when there is one. */
  static async open(options: MemoryStoreOptions): Promise<MemorySessionStore> {
    const store = new MemorySessionStore(options);
    if (options.snapshotFile) await store.#load(options.snapshotFile);
    return store;
  }

  #set(session: SessionData, ttlMs?: number): void {
    const entry: Entry = {
      json: JSON.stringify(session),
      tenant: session.tenant,
      model: session.model,
      turns: sessionTurns(session),
      lastUsedAt: session.lastUsedAt,
      version: session.version,
    };
    const size = entryBytes(entry);
    if (size > this.#options.maxBytes) {
      // lru-cache would drop it silently: say so instead (the turn is not appended, the session stays as it was).
      throw invalidArgument(`The session is larger than SESSION_MAX_BYTES (${this.#options.maxBytes} bytes).`);
    }
    const replaced = this.#cache.peek(session.id);
    const freed = replaced ? entryBytes(replaced) : 0;
    this.#evictingFor = this.#cache.calculatedSize - freed + size > this.#options.maxBytes ? "bytes" : "capacity";
    this.#cache.set(session.id, entry, { size, ...(ttlMs !== undefined ? { ttl: ttlMs } : {}) });
  }

  async create(session: SessionData): Promise<void> {
    this.#gone.delete(session.id);
    this.#set(session);
  }

  async lookup(id: string): Promise<Lookup> {
    const entry = this.#cache.get(id);
    if (entry) return { session: JSON.parse(entry.json) as SessionData };
    const gone = this.#gone.get(id);
    return gone ? { gone: gone.reason, goneTenant: gone.tenant } : { gone: undefined };
  }

  async commit(session: SessionData): Promise<boolean> {
    const stored = this.#cache.peek(session.id);
    if (!stored || stored.version !== session.version - 1) return false;
    this.#set(session);
    return true;
  }

  async delete(id: string): Promise<boolean> {
    return this.#cache.delete(id);
  }

  async list(tenant: string, limit: number, cursor?: string): Promise<SessionPage> {
    const ids: string[] = [];
    for (const [id, entry] of this.#cache.entries()) {
      if (entry.tenant === tenant && (cursor === undefined || id > cursor)) ids.push(id);
    }
    ids.sort();
    const page = ids.slice(0, limit);
    const sessions = page.map((id) => {
      const { model, turns, lastUsedAt } = this.#cache.peek(id)!;
      return { id, model, turns, lastUsedAt };
    });
    return ids.length > limit ? { sessions, nextCursor: page[page.length - 1]! } : { sessions };
  }

  async acquireTurn(id: string): Promise<TurnLease> {
    const release = await this.#turns.acquire(id);
    return { release: async () => release() };
  }

  stats(): { sessions: number; bytes: number } {
    return { sessions: this.#cache.size, bytes: this.#cache.calculatedSize };
  }

  async close(): Promise<void> {
    if (this.#options.snapshotFile) await this.#save(this.#options.snapshotFile);
  }

  async #save(file: string): Promise<void> {
    // Written piecewise from the cached JSON strings: no second copy of every session in memory.
    const lines: string[] = [];
    for (const id of this.#cache.rkeys()) {
      const entry = this.#cache.peek(id);
      if (entry) lines.push(`{"ttlMs":${this.#cache.getRemainingTTL(id)},"session":${entry.json}}`);
    }
    await mkdir(dirname(file), { recursive: true });
    const temp = `${file}.${process.pid}.tmp`;
    await writeFile(temp, `{"version":1,"sessions":[\n${lines.join(",\n")}\n]}\n`, { flush: true });
    await rename(temp, file); // atomic: a reader sees the old snapshot or the new one, never half of one
  }

  async #load(file: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return; // first start
      throw err;
    }
    const snapshot = JSON.parse(text) as SnapshotFile;
    if (snapshot.version !== 1) throw new Error(`SESSION_SNAPSHOT_FILE ${file}: unknown snapshot version ${String(snapshot.version)}`);
    for (const { session, ttlMs } of snapshot.sessions) {
      if (ttlMs > 0) this.#set(session, ttlMs);
    }
  }
}
