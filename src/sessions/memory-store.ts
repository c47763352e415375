// In-process session store: lru-cache bounded by count (SESSION_MAX), bytes (SESSION_MAX_BYTES) and idle time
// (SESSION_TTL_SECONDS), with a small tombstone cache so a 404 can say why a session is gone, and an optional
// snapshot file written atomically on drain and loaded at start-up.

import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { LRUCache } from "lru-cache";
import type { Perf } from "lru-cache";
import { KeyedFifo } from "./fifo.js";
import { sessionBytes } from "./store.js";
import type { GoneReason, Lookup, SessionData, SessionPage, SessionStore, TurnLease } from "./store.js";

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
  readonly #cache: LRUCache<string, SessionData>;
  readonly #gone: LRUCache<string, GoneReason>;
  readonly #turns = new KeyedFifo();
  readonly #options: MemoryStoreOptions;
  /** What an eviction during the next set() is for: lru-cache reports both count and size evictions as "evict". */
  #evictingFor: "capacity" | "bytes" = "capacity";

  private constructor(options: MemoryStoreOptions) {
    this.#options = options;
    this.#gone = new LRUCache({ max: options.tombstones });
    this.#cache = new LRUCache<string, SessionData>({
      max: options.maxSessions,
      maxSize: options.maxBytes,
      sizeCalculation: sessionBytes,
      ttl: options.ttlSeconds * 1000,
      updateAgeOnGet: true,
      ...(options.perf ? { perf: options.perf, ttlResolution: 0 } : {}),
      dispose: (_session, id, reason) => {
        const gone: GoneReason | undefined =
          reason === "evict" ? this.#evictingFor : reason === "expire" ? "ttl" : reason === "delete" ? "deleted" : undefined;
        if (!gone) return; // "set": replaced by a newer version of itself
        this.#gone.set(id, gone);
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
    const size = sessionBytes(session);
    const replaced = this.#cache.peek(session.id);
    const freed = replaced ? sessionBytes(replaced) : 0;
    this.#evictingFor = this.#cache.calculatedSize - freed + size > this.#options.maxBytes ? "bytes" : "capacity";
    this.#cache.set(session.id, session, { size, ...(ttlMs !== undefined ? { ttl: ttlMs } : {}) });
  }

  async create(session: SessionData): Promise<void> {
    this.#gone.delete(session.id);
    this.#set(session);
  }

  async lookup(id: string): Promise<Lookup> {
    const session = this.#cache.get(id);
    return session ? { session } : { gone: this.#gone.get(id) };
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
    for (const [id, session] of this.#cache.entries()) {
      if (session.tenant === tenant && (cursor === undefined || id > cursor)) ids.push(id);
    }
    ids.sort();
    const page = ids.slice(0, limit);
    const sessions = page.map((id) => {
      const s = this.#cache.peek(id)!;
      return { id, model: s.model, turns: s.history.filter((c) => c.role === "user").length, lastUsedAt: s.lastUsedAt };
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
    const sessions: SnapshotFile["sessions"] = [];
    for (const id of this.#cache.rkeys()) {
      const session = this.#cache.peek(id);
      if (session) sessions.push({ session, ttlMs: this.#cache.getRemainingTTL(id) });
    }
    const snapshot: SnapshotFile = { version: 1, sessions };
    await mkdir(dirname(file), { recursive: true });
    const temp = `${file}.${process.pid}.tmp`;
    await writeFile(temp, JSON.stringify(snapshot), { flush: true });
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
