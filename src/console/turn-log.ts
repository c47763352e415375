// The console's memory of recent turns on this replica: a fixed ring of turn views (the newest `capacity` turns) and
// an index of conversations (the newest `maxConversations`, each with its latest turns). Recording is O(1) and the
// memory is bounded whatever the traffic, so the console costs the hot path the same whether anyone looks or not.

import type { ConversationSummary, TurnDetail } from "./api-types.js";

export interface ConversationEntry {
  id: string;
  kind: ConversationSummary["kind"];
  tenant: string;
  model: string;
  /** Sequence numbers of its calls in the ring, oldest first (those overwritten since are skipped on read). */
  turns: number[];
  /** Its turns so far: the highest turn number seen (a call refused or failed and sent again is the same turn). */
  turnCount: number;
  lastAt: number;
}

export interface TurnLogOptions {
  /** Turns kept (CONSOLE_TURNS). */
  capacity: number;
  maxConversations: number;
  /** Turns remembered per conversation. */
  maxTurnsPerConversation: number;
  /** Names this replica in turn ids. */
  replica: string;
}

export class TurnLog {
  readonly #ring: Array<TurnDetail | undefined>;
  /** Sequence number of the next turn. */
  #next = 0;
  readonly #conversations = new Map<string, ConversationEntry>();

  constructor(private readonly options: TurnLogOptions) {
    this.#ring = new Array<TurnDetail | undefined>(options.capacity);
  }

  get capacity(): number {
    return this.options.capacity;
  }

  /** Adds a turn and returns it: the log takes the object and sets its id on it (no copy on the hot path). */
  add(turn: Omit<TurnDetail, "id">, conversationKind: ConversationEntry["kind"]): TurnDetail {
    const seq = this.#next++;
    const stored: TurnDetail = Object.assign(turn, { id: `${this.options.replica}-${seq}` });
    this.#ring[seq % this.options.capacity] = stored;
    if (turn.conversationId !== undefined) this.#index(turn.conversationId, conversationKind, stored, seq);
    return stored;
  }

  #index(id: string, kind: ConversationEntry["kind"], turn: TurnDetail, seq: number): void {
    let entry = this.#conversations.get(id);
    if (entry) this.#conversations.delete(id); // re-inserted last: the map's order is the recency order
    else entry = { id, kind, tenant: turn.tenant, model: turn.model, turns: [], turnCount: 0, lastAt: 0 };
    entry.turns.push(seq);
    entry.turnCount = turn.sessionTurn !== undefined ? Math.max(entry.turnCount, turn.sessionTurn) : entry.turnCount + 1;
    if (entry.turns.length > this.options.maxTurnsPerConversation) entry.turns.shift();
    entry.lastAt = turn.at;
    this.#conversations.set(id, entry);
    if (this.#conversations.size > this.options.maxConversations) {
      const oldest = this.#conversations.keys().next().value as string;
      this.#conversations.delete(oldest);
    }
  }

  #at(seq: number): TurnDetail | undefined {
    if (seq < 0 || seq >= this.#next || seq < this.#next - this.options.capacity) return undefined;
    return this.#ring[seq % this.options.capacity];
  }

  /** The turns held, newest first. */
  *newestFirst(): Generator<TurnDetail> {
    const oldest = Math.max(0, this.#next - this.options.capacity);
    for (let seq = this.#next - 1; seq >= oldest; seq--) yield this.#ring[seq % this.options.capacity]!;
  }

  get(id: string): TurnDetail | undefined {
    const match = /^(.*)-(\d+)$/.exec(id);
    if (!match || match[1] !== this.options.replica) return undefined;
    return this.#at(Number(match[2]));
  }

  /** Conversations, most recent first. */
  conversations(): ConversationEntry[] {
    return [...this.#conversations.values()].reverse();
  }

  conversation(id: string): { entry: ConversationEntry; turns: TurnDetail[] } | undefined {
    const entry = this.#conversations.get(id);
    if (!entry) return undefined;
    return { entry, turns: entry.turns.flatMap((seq) => this.#at(seq) ?? []) };
  }
}
