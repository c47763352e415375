// The tenants the gateway knows now: their keys and policies (allowed models, limits). Built from
// GATEWAY_KEYS (keys only) or the tenants file, whose reload swaps the whole directory at once, so a request sees one
// version of it from authentication to admission.

import type { AuthConfig, GatewayKey } from "../config/gateway.js";
import type { TenantPolicy, TenantsConfig } from "../config/tenants-file.js";

interface Snapshot {
  /** The tenants file's version; undefined without a file. */
  version?: string;
  keys: readonly GatewayKey[];
  tenants: ReadonlyMap<string, TenantPolicy>;
  /** The tenants that have a key (telemetry labels only those; any other tenant label is folded). */
  named: ReadonlySet<string>;
}

const snapshot = (config: Omit<Snapshot, "named">): Snapshot => ({ ...config, named: new Set(config.keys.map((k) => k.tenant)) });

export class TenantDirectory {
  #now: Snapshot;

  constructor(auth: AuthConfig) {
    const file = auth.mode === "keys" ? auth.tenantsFile?.config : undefined;
    this.#now = snapshot(file ?? { keys: auth.mode === "keys" ? auth.keys : [], tenants: new Map() });
  }

  knows(tenant: string): boolean {
    return this.#now.named.has(tenant);
  }

  get version(): string | undefined {
    return this.#now.version;
  }

  get keys(): readonly GatewayKey[] {
    return this.#now.keys;
  }

  /** Swaps in a reloaded tenants file. */
  replace(config: TenantsConfig): void {
    this.#now = snapshot(config);
  }

  /** Every tenant's policy (tenants file only). */
  policies(): ReadonlyMap<string, TenantPolicy> {
    return this.#now.tenants;
  }

  /** The tenant's policy (tenants file only). */
  policy(tenant: string): TenantPolicy | undefined {
    return this.#now.tenants.get(tenant);
  }
}
