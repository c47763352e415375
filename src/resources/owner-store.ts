// Who owns each resource made through the gateway, and the "first time" marks that let a batch's (or a background
// interaction's) results be metered once, whichever replica reads them first: two key spaces of the shared keyed
// store (memory, bounded; or Redis, shared by every replica).

import type { KeyedState, KeyedStore } from "../store/keyed.js";

export interface OwnerStore {
  /** The owner of an owned name (its record's life is renewed); undefined when unknown. */
  owner(name: string): Promise<string | undefined>;
  /** The owners of several names, in order. */
  owners(names: readonly string[]): Promise<Array<string | undefined>>;
  claim(name: string, tenant: string): Promise<void>;
  release(name: string): Promise<void>;
  /** True the first time it is asked for `mark`, false after (on every replica sharing the store). */
  firstTime(mark: string): Promise<boolean>;
}

export interface OwnerLimits {
  maxOwners: number;
  ttlSeconds: number;
}

const CONSEQUENCE = "Calls on cached contents, files, batches, interactions and other owned resources cannot be checked until it is back.";

export function ownerStore(store: KeyedStore, limits: OwnerLimits): OwnerStore {
  const common = { maxEntries: limits.maxOwners, ttlSeconds: limits.ttlSeconds, concern: "resource_owners", consequence: CONSEQUENCE } as const;
  const owners: KeyedState = store.space({ name: "o", what: "resource ownership store", ...common });
  const marks: KeyedState = store.space({ name: "m", what: "resource ownership store", ...common });
  return {
    owner: (name) => owners.get(name),
    owners: (names) => owners.getMany(names),
    claim: (name, tenant) => owners.set(name, tenant),
    release: (name) => owners.delete(name),
    firstTime: (mark) => marks.setIfAbsent(mark, "1"),
  };
}
