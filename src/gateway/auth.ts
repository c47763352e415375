// Client authentication. Clients present their gateway key where the SDKs put an API key (x-goog-api-key or
// ?key=), so an unmodified SDK works. Keys mode: the key selects a tenant and the gateway's own upstream key is used;
// passthrough: the client's key goes upstream and the tenant is a short hash of it; none: an open gateway.

import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { hashApiKey, type AuthConfig, type GatewayKey } from "../config/gateway.js";
import type { GeminiError} from "../gemini/errors.js";
import { invalidArgument, permissionDenied, RPC_TYPE_PREFIX } from "../gemini/errors.js";

export interface Caller {
  tenant: string;
  upstreamKey: string;
  /** Passthrough mode: the upstream key is the client's own (so may be its choice of billing project). */
  clientsOwnKey?: true;
}

export const ANONYMOUS_TENANT = "anonymous";

/** The key as the SDKs send it: the x-goog-api-key header, else ?key=; on the OpenAI-compatible routes
 *  (`bearer`), first `Authorization: Bearer <key>` as the openai SDK sends it. */
export function presentedKey(headers: IncomingHttpHeaders, query: URLSearchParams, bearer = false): string | undefined {
  if (bearer) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? "");
    if (match) return match[1];
  }
  const header = headers["x-goog-api-key"];
  const key = typeof header === "string" && header !== "" ? header : query.get("key");
  return key || undefined;
}

/** Google's answer to an unknown key, so SDKs and users see the error they know. */
export function invalidKeyError(): GeminiError {
  return invalidArgument("API key not valid. Please pass a valid API key.", [
    {
      "@type": `${RPC_TYPE_PREFIX}ErrorInfo`,
      reason: "API_KEY_INVALID",
      domain: "googleapis.com",
      metadata: { service: "generativelanguage.googleapis.com" },
    },
  ]);
}

const missingKeyError = (): GeminiError =>
  permissionDenied(
    "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
  );

/** The tenant of a passthrough key: stable, short, and not reversible to the key. */
export const passthroughTenant = (key: string): string => `key-${createHash("sha256").update(key).digest("hex").slice(0, 12)}`;

export class Authenticator {
  constructor(
    private readonly auth: AuthConfig,
    private readonly upstreamKey: string | undefined,
    /** The keys now (the tenants file is reloaded live); default: the configured ones. */
    private readonly keys: () => readonly GatewayKey[] = () => (auth.mode === "keys" ? auth.keys : []),
  ) {}

  authenticate(headers: IncomingHttpHeaders, query: URLSearchParams, bearer = false): Caller | GeminiError {
    const key = presentedKey(headers, query, bearer);
    switch (this.auth.mode) {
      case "none":
        return { tenant: ANONYMOUS_TENANT, upstreamKey: this.upstreamKey ?? key ?? "" };
      case "passthrough":
        return key ? { tenant: passthroughTenant(key), upstreamKey: key, clientsOwnKey: true } : missingKeyError();
      case "keys": {
        if (!key) return missingKeyError();
        const presented = hashApiKey(key);
        let tenant: string | undefined;
        // Compare against every configured key, without stopping early, in constant time per comparison.
        for (const entry of this.keys()) if (timingSafeEqual(entry.hash, presented) && tenant === undefined) tenant = entry.tenant;
        return tenant !== undefined && this.upstreamKey ? { tenant, upstreamKey: this.upstreamKey } : invalidKeyError();
      }
    }
  }

  /** A caller known otherwise than by a key (the tenant that started an upload); undefined in passthrough mode,
   *  where the upstream key is the client's own. */
  callerFor(tenant: string): Caller | undefined {
    return this.auth.mode !== "passthrough" && this.upstreamKey ? { tenant, upstreamKey: this.upstreamKey } : undefined;
  }
}
