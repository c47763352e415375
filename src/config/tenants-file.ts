// GATEWAY_CONFIG: the tenants file (YAML). Who may call (keys, or their SHA-256 digests so the file holds no secret),
// which models each tenant may use, and its limits. Pure: text in, a policy or every problem (named by its path) out;
// reading the file and reloading it live are the server's.

import { createHash } from "node:crypto";
import { parseDocument } from "yaml";
import { z } from "zod";

/** A key as the gateway compares it: the SHA-256 of the key the client presents. */
export interface TenantKey {
  hash: Buffer;
  tenant: string;
}

export interface TenantLimits {
  requestsPerMinute?: number;
  tokensPerMinute?: number;
  usdPerDay?: number;
  usdPerMonth?: number;
  concurrentRequests?: number;
}

export interface TenantPolicy {
  limits: TenantLimits;
  /** Model ids the tenant may call (a trailing `*` matches a prefix); undefined: every model. */
  models?: readonly string[];
}

export interface TenantsConfig {
  /** The first 12 hex digits of the file's SHA-256: which file is live, in logs and /readyz. */
  version: string;
  keys: readonly TenantKey[];
  tenants: ReadonlyMap<string, TenantPolicy>;
}

const TENANT_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const DIGEST = /^sha256:([0-9a-f]{64})$/;

const positiveInt = z.number({ error: "must be a number" }).int("must be a whole number").positive("must be > 0");
const positiveAmount = z.number({ error: "must be a number" }).positive("must be > 0");

const keySchema = z
  .string({ error: "must be a string: the key, or sha256:<64 hex digits> of it" })
  .min(1, "must not be empty")
  .refine((key) => !key.startsWith("sha256:") || DIGEST.test(key), "a digest must be sha256: and 64 lower-case hex digits");

/** A mapping's error: a field it does not know is named (a typo), anything else is said as `expected`. */
const mappingError =
  (expected: string) =>
  (issue: { code: string; keys?: string[] }): string =>
    issue.code === "unrecognized_keys" ? `unknown field ${(issue.keys ?? []).map((k) => `"${k}"`).join(", ")}` : expected;

const tenantSchema = z.strictObject(
  {
    keys: z.array(keySchema, { error: "must be a list of keys" }).min(1, "must list at least one key"),
    limits: z
      .strictObject(
        {
          requestsPerMinute: positiveInt.optional(),
          tokensPerMinute: positiveInt.optional(),
          usdPerDay: positiveAmount.optional(),
          usdPerMonth: positiveAmount.optional(),
          concurrentRequests: positiveInt.optional(),
        },
        { error: mappingError("must be a mapping of limits") },
      )
      .optional(),
    models: z
      .array(z.string({ error: "must be a model id" }).regex(/^[A-Za-z0-9_.-]+\*?$/, "must be a model id (a trailing * matches a prefix)"), {
        error: "must be a list of model ids",
      })
      .min(1, "must list at least one model (leave it out to allow every model)")
      .optional(),
  },
  { error: mappingError("must be a mapping with keys, and optionally limits and models") },
);

const fileSchema = z.strictObject(
  {
    tenants: z
      .record(z.string().regex(TENANT_NAME), tenantSchema, {
        error: (issue) => (issue.code === "invalid_key" ? "a tenant name is letters, digits, . _ - (up to 64)" : "must be a mapping of tenant names"),
      })
      .refine((tenants) => Object.keys(tenants).length > 0, "must name at least one tenant"),
  },
  { error: mappingError("must be a mapping with tenants") },
);

/** `tenants.team-a.keys[1]`: where a problem is, as the file's reader looks for it. */
function pathOf(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((out, part) => (typeof part === "number" ? `${out}[${part}]` : out ? `${out}.${String(part)}` : String(part)), "");
}

const hashOf = (key: string): Buffer => {
  const digest = DIGEST.exec(key);
  return digest ? Buffer.from(digest[1]!, "hex") : createHash("sha256").update(key).digest();
};

/** The file's text as a policy, or every problem found (one line each, never echoing a key). */
export function parseTenantsFile(text: string): { config: TenantsConfig } | { problems: string[] } {
  const document = parseDocument(text);
  if (document.errors.length > 0) return { problems: document.errors.map((e) => `line ${e.linePos?.[0].line ?? "?"}: ${e.message.split(" at line")[0]}`) };
  const parsed = fileSchema.safeParse(document.toJS());
  if (!parsed.success) {
    return { problems: parsed.error.issues.map((issue) => `${pathOf(issue.path) || "(the file)"}: ${issue.message}`) };
  }
  const keys: TenantKey[] = [];
  const tenants = new Map<string, TenantPolicy>();
  const seen = new Map<string, string>();
  const problems: string[] = [];
  for (const [tenant, spec] of Object.entries(parsed.data.tenants)) {
    spec.keys.forEach((key, i) => {
      const hash = hashOf(key);
      const where = `tenants.${tenant}.keys[${i}]`;
      const first = seen.get(hash.toString("hex"));
      if (first) problems.push(`${where}: the same key as ${first} (a key selects one tenant)`);
      else seen.set(hash.toString("hex"), where);
      keys.push({ hash, tenant });
    });
    tenants.set(tenant, { limits: spec.limits ?? {}, ...(spec.models ? { models: spec.models } : {}) });
  }
  if (problems.length > 0) return { problems };
  const version = createHash("sha256").update(text).digest("hex").slice(0, 12);
  return { config: { version, keys, tenants } };
}

/** Whether the tenant may call `model` (a "models/" prefix ignored). */
export function modelAllowed(policy: TenantPolicy | undefined, model: string): boolean {
  if (!policy?.models) return true;
  const id = model.replace(/^models\//, "");
  return policy.models.some((allowed) => (allowed.endsWith("*") ? id.startsWith(allowed.slice(0, -1)) : id === allowed));
}
