// The session store interface, shared by the memory store (lru-cache, optional snapshot file) and the Redis store
// (several replicas). The service owns the protocol; a store only keeps records, orders turns and says why one is gone.

import { randomBytes } from "node:crypto";
import type { Content, GenerateContentRequest } from "../gemini/types.js";
import { turnFromContents } from "./history.js";

/** Token totals of a session so far (sum over its turns). */
export interface UsageTotals {
  promptTokenCount: number;
  candidatesTokenCount: number;
  thoughtsTokenCount: number;
  totalTokenCount: number;
}

/** What a session sends with every turn besides the history: the request fields it was created with. */
export type SessionSettings = Pick<GenerateContentRequest, "systemInstruction" | "generationConfig" | "safetySettings" | "tools" | "toolConfig">;

/** Where a session's conversation lives: the gateway's own history, sent whole with every message (generateContent,
 *  the default), or Google's (interactions: each message continues the chain from its head). */
export type SessionBackend = "generateContent" | "interactions";

export interface SessionData extends SessionSettings {
  id: string;
  tenant: string;
  model: string;
  /** Absent: generateContent. */
  backend?: SessionBackend;
  /** The history the gateway holds: the whole conversation (generateContent), or for the interactions backend an
   *  imported history not sent yet (it goes with the first message). */
  history: Content[];
  /** Interactions backend: the chain's last interaction, continued by the next message. */
  interactionHead?: string;
  /** Interactions backend: the turns Google holds in the chain. */
  chainTurns?: number;
  usage: UsageTotals;
  /** Turns dropped from the history so far (slide policy, token budget): turn numbers keep counting from the start. */
  trimmedTurns: number;
  /** The history's size in tokens as the model last counted it (prompt + reply of the last turn). */
  lastHistoryTokens?: number;
  /** ISO timestamps. */
  createdAt: string;
  lastUsedAt: string;
  /** Bumped by every commit; a commit only lands on the version it was computed from. */
  version: number;
}

export interface SessionSummary {
  id: string;
  model: string;
  turns: number;
  lastUsedAt: string;
}

/** Why a session is gone: evicted for count capacity or for bytes, idle past its TTL, or deleted. */
export type GoneReason = "capacity" | "bytes" | "ttl" | "deleted";

/** A session, or why it is gone and whose it was (the reason is told to its own tenant only: to anyone else a gone
 *  session is one that never existed). */
export type Lookup = { session: SessionData; gone?: undefined } | { session?: undefined; gone: GoneReason | undefined; goneTenant?: string };

/** The marker a store keeps for a session that went: `reason|tenant`. */
export const goneMarker = (reason: GoneReason, tenant: string): string => `${reason}|${tenant}`;

/** A marker read back; markers without a tenant (older ones) tell nobody the reason. */
export function readGoneMarker(marker: string | null | undefined): { gone: GoneReason | undefined; goneTenant?: string } {
  const [reason, tenant] = (marker ?? "").split("|");
  const gone = reason === "ttl" || reason === "deleted" || reason === "capacity" || reason === "bytes" ? reason : undefined;
  return gone && tenant ? { gone, goneTenant: tenant } : { gone: undefined };
}

/** The right to run the next turn of one session; held from before the upstream call until the commit. */
export interface TurnLease {
  release(): Promise<void>;
}

export interface SessionPage {
  sessions: SessionSummary[];
  nextCursor?: string;
}

export interface SessionStore {
  readonly kind: "memory" | "redis";
  /** Stores a new session (version 0). */
  create(session: SessionData): Promise<void>;
  lookup(id: string): Promise<Lookup>;
  /** Stores `session` if the stored one is still at `session.version - 1`; false when it changed or vanished. */
  commit(session: SessionData): Promise<boolean>;
  /** Deletes; false when there was nothing to delete. */
  delete(id: string): Promise<boolean>;
  /** The tenant's sessions, ordered by id; `cursor` is the last id of the previous page. */
  list(tenant: string, limit: number, cursor?: string): Promise<SessionPage>;
  /** Waits for this send's turn on the session: one at a time, in arrival order, across every replica of the store. */
  acquireTurn(id: string, signal?: AbortSignal): Promise<TurnLease>;
  /** For the session gauges; undefined when this replica does not report them (a shared store is reported by one
   *  replica at a time). */
  stats(): { sessions: number; bytes: number } | undefined;
  /** Drain: the memory store writes its snapshot; the Redis store disconnects. */
  close(): Promise<void>;
}

/** The turns of a session: those in the history it holds, and those held upstream (interactions backend). */
export const sessionTurns = (session: Pick<SessionData, "history" | "chainTurns">): number => turnFromContents(session.history) + (session.chainTurns ?? 0);

/** 128 random bits, base64url (22 characters). */
export const newSessionId = (): string => randomBytes(16).toString("base64url");

