// Where settings come from: the environment, overridden by command-line flags (`--port 8080` or `--port=8080` sets
// PORT), except secrets, which come from the environment (or a file it names) only. Each concern declares its own
// section (a zod schema over the setting names it owns); the server assembles the sections, so every problem of every
// section is reported at once, one line each.

import type { z } from "zod";

/** Setting name -> raw value; empty strings are treated as unset. */
export type SettingSource = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** A setting whose value is, or can hold, a secret. It is never taken from a flag: a command line is readable by every
 *  local user (`ps`, /proc/PID/cmdline) and lands in shell histories and process listings of supervisors. */
export interface SecretSetting {
  /** Which values are secrets (e.g. a Redis URL with a password); absent: every value. */
  readonly isSecret?: (value: string) => boolean;
  /** When a value is a secret, for `serve --help` and docs/configuration.md ("when the URL holds a password"); with
   *  isSecret only. */
  readonly when?: string;
  /** Where the value can come from instead of the flag, ending the refusal line (e.g. "or name a file holding it
   *  with GEMINI_API_KEY_FILE"). */
  readonly instead?: string;
}

/** A concern's settings: the names it reads and how it turns them into its config (or problems). */
export interface ConfigSection<T> {
  /** Setting names, as environment variables (flags are the same names, lower case with dashes). */
  readonly settings: readonly string[];
  /** One line per setting saying what it means (`serve --help` and docs/configuration.md are made from it). */
  readonly help?: Readonly<Record<string, string>>;
  /** The settings that are secrets, refused as flags (see SecretSetting). */
  readonly secrets?: Readonly<Record<string, SecretSetting>>;
  /** The zod object over `settings`: `serve --help` and docs/configuration.md take each setting's default from it
   *  (what it parses an absent value to), so defaults are written once, in the schema. */
  readonly schema?: z.ZodObject;
  load(source: SettingSource): { config: T } | { problems: string[] };
}

export const flagOf = (setting: string): string => `--${setting.toLowerCase().replaceAll("_", "-")}`;

/** The line refusing a secret given as a flag; it never repeats the value. */
function refusal(flag: string, setting: string, secret: SecretSetting): string {
  const what = secret.isSecret ? `this value of ${setting} holds a secret` : `${setting} is a secret`;
  return (
    `${flag}: not accepted on the command line, which every local user can read (ps): ${what}; ` +
    `set ${setting} in the environment${secret.instead ? ` ${secret.instead}` : ""}`
  );
}

/** Merges flags over the environment; unknown flags, flags without a value and secrets given as flags are problems. */
export function settingSource(
  env: Readonly<Record<string, string | undefined>>,
  argv: readonly string[],
  known: readonly string[],
  secrets: Readonly<Record<string, SecretSetting>> = {},
): { source: SettingSource; problems: string[] } {
  const byFlag = new Map(known.map((setting) => [flagOf(setting), setting]));
  const source: Record<string, string | undefined> = {};
  for (const setting of known) if (env[setting] !== undefined && env[setting] !== "") source[setting] = env[setting];
  const problems: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    const setting = byFlag.get(flag);
    if (!setting) {
      problems.push(flag.startsWith("--") ? `${flag}: unknown option (see --help)` : `${arg}: unexpected argument (see --help)`);
      // Skip the unknown option's value, so it is reported once.
      if (flag.startsWith("--") && inline === undefined && argv[i + 1] !== undefined && !argv[i + 1]!.startsWith("--")) i++;
      continue;
    }
    const value = inline ?? argv[i + 1];
    const secret = secrets[setting];
    if (secret && !secret.isSecret) {
      problems.push(refusal(flag, setting, secret));
      // The value (the secret itself) is skipped, so it is neither reported as an argument nor echoed.
      if (inline === undefined && value !== undefined && !value.startsWith("--")) i++;
      continue;
    }
    if (value === undefined || (inline === undefined && value.startsWith("--"))) {
      problems.push(`${flag}: needs a value`);
      continue;
    }
    if (inline === undefined) i++;
    if (secret?.isSecret?.(value)) {
      problems.push(refusal(flag, setting, secret));
      continue;
    }
    source[setting] = value;
  }
  return { source, problems };
}

/** A value as a problem line may show it: a URL's password (a Redis URL's) masked, since problems go to logs. */
const shown = (value: string): string => JSON.stringify(value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*):[^/@]*@/i, "$1:***@"));

/** One line per zod issue: `SETTING: message (got "value")`. */
export function describeIssues(error: z.ZodError, source: SettingSource): string[] {
  return error.issues.map((issue) => {
    const setting = String(issue.path[0] ?? "");
    const value = source[setting];
    return `${setting} (${flagOf(setting)}): ${issue.message}${value === undefined ? "" : ` (got ${shown(value)})`}`;
  });
}

export type SectionConfigs<S> = { [K in keyof S]: S[K] extends ConfigSection<infer T> ? T : never };

/** Loads every section from one environment + argv; throws one ConfigError listing every problem. */
export function loadSections<S extends Record<string, ConfigSection<unknown>>>(
  sections: S,
  env: Readonly<Record<string, string | undefined>>,
  argv: readonly string[],
): SectionConfigs<S> {
  const known = Object.values(sections).flatMap((section) => section.settings);
  const secrets = Object.assign({}, ...Object.values(sections).map((section) => section.secrets ?? {})) as Record<string, SecretSetting>;
  const { source, problems } = settingSource(env, argv, known, secrets);
  const loaded: Record<string, unknown> = {};
  for (const [name, section] of Object.entries(sections)) {
    const result = section.load(source);
    if ("problems" in result) problems.push(...result.problems);
    else loaded[name] = result.config;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return loaded as SectionConfigs<S>;
}
