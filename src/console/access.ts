// Who may open the console: an admin key (ADMIN_KEYS) sees every tenant; a tenant's gateway key sees its own tenant
// (in passthrough mode, the tenant its Google key stands for). An open gateway (GATEWAY_AUTH=none) without admin keys
// has an open console. Anything else is refused with 401 in Gemini's envelope.

import { timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { hashApiKey, type AuthConfig } from "../config/gateway.js";
import { presentedKey, type Authenticator } from "../gateway/auth.js";
import { GeminiError } from "../gemini/errors.js";
import type { ConsoleScope } from "./console.js";

const refused = (message: string): GeminiError => new GeminiError(401, "UNAUTHENTICATED", message);

export class ConsoleAccess {
  constructor(
    private readonly adminKeys: readonly Buffer[],
    private readonly auth: Pick<Authenticator, "authenticate">,
    private readonly mode: AuthConfig["mode"],
  ) {}

  /** The caller's scope from `Authorization: Bearer <key>` (or x-goog-api-key), or the 401 to answer. */
  scopeOf(headers: IncomingHttpHeaders): ConsoleScope | GeminiError {
    const key = presentedKey(headers, new URLSearchParams(), true);
    if (key !== undefined && this.#isAdmin(key)) return { role: "admin" };
    if (this.mode === "none") {
      return this.adminKeys.length === 0 ? { role: "admin" } : refused("The console needs an admin key (ADMIN_KEYS).");
    }
    if (key === undefined) return refused("The console needs a key: an admin key (ADMIN_KEYS) or a gateway key, as Authorization: Bearer <key>.");
    const caller = this.auth.authenticate(headers, new URLSearchParams(), true);
    if (caller instanceof GeminiError) return refused("This key is neither an admin key (ADMIN_KEYS) nor a gateway key.");
    return { role: "tenant", tenant: caller.tenant };
  }

  #isAdmin(key: string): boolean {
    const presented = hashApiKey(key);
    let admin = false;
    // Every admin key is compared, in constant time each, whatever matched before.
    for (const hash of this.adminKeys) if (timingSafeEqual(hash, presented)) admin = true;
    return admin;
  }
}
