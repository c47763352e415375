// Where settings come from: the environment, overridden by command-line flags (`--port 8080` or `--port=8080` sets
// PORT). Each concern declares its own section (a zod schema over the setting names it owns); the server assembles
// the sections, so every problem of every section is reported at once, one line each.

import type { z } from "zod";

/** Setting name -> raw value; empty strings are treated as unset. */
export type SettingSource = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** A concern's settings: the names it reads and how it turns them into its config (or problems). */
export interface ConfigSection<T> {
  /** Setting names, as environment variables (flags are the same names, lower case with dashes). */
  readonly settings: readonly string[];
  /** One line per setting saying what it means (`serve --help` and docs/configuration.md are made from it). */
  readonly help?: Readonly<Record<string, string>>;
  load(source: SettingSource): { config: T } | { problems: string[] };
}

export const flagOf = (setting: string): string => `--${setting.toLowerCase().replaceAll("_", "-")}`;

/** Merges flags over the environment; unknown flags and flags without a value are problems. */
export function settingSource(
  env: Readonly<Record<string, string | undefined>>,
  argv: readonly string[],
  known: readonly string[],
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
    if (value === undefined || (inline === undefined && value.startsWith("--"))) {
      problems.push(`${flag}: needs a value`);
      continue;
    }
    if (inline === undefined) i++;
    source[setting] = value;
  }
  return { source, problems };
}

/** One line per zod issue: `SETTING: message (got "value")`. */
export function describeIssues(error: z.ZodError, source: SettingSource): string[] {
  return error.issues.map((issue) => {
    const setting = String(issue.path[0] ?? "");
    const value = source[setting];
    return `${setting} (${flagOf(setting)}): ${issue.message}${value === undefined ? "" : ` (got ${JSON.stringify(value)})`}`;
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
  const { source, problems } = settingSource(env, argv, known);
  const loaded: Record<string, unknown> = {};
  for (const [name, section] of Object.entries(sections)) {
    const result = section.load(source);
    if ("problems" in result) problems.push(...result.problems);
    else loaded[name] = result.config;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return loaded as SectionConfigs<S>;
}
