// The configuration reference, made from the config sections themselves (their settings, schemas, help lines and
// secrets), so that `serve --help` and docs/configuration.md say what the code does and cannot drift from it.
// `npm run docs:config` writes docs/configuration.md (src/server/reference.ts, with the sections of `serve`);
// test/ops/config-docs.test.ts fails when the file and the code differ.

import type { z } from "zod";
import { flagOf, type ConfigSection } from "./source.js";

/** One setting as a user needs to know it. */
export interface SettingReference {
  /** The environment variable. */
  setting: string;
  /** The flag of `serve`; undefined: a secret, read from the environment only. */
  flag: string | undefined;
  /** For a setting that is a secret only for some values: when it is (the flag is refused then). */
  secretWhen: string | undefined;
  /** What an unset setting means, as a user would write the value; undefined: no default (unset is a state). */
  defaultValue: string | undefined;
  /** The default in human units when it is a size or a duration ("20 MiB", "30 days"). */
  defaultInUnits: string | undefined;
  /** The section's one-line meaning; undefined: the section has none for it (the docs test fails on it). */
  meaning: string | undefined;
}

export interface SectionReference {
  /** The key of the section in the server's `sections` (gateway, sessions, ...). */
  name: string;
  title: string;
  summary: string;
  /** Whether the section declares help lines at all, and a schema (where its defaults come from). */
  hasHelp: boolean;
  hasSchema: boolean;
  settings: SettingReference[];
}

/** The reference's order and titles; a section not listed here still appears, after these, under its own name. */
const SECTION_TITLES: Record<string, { title: string; summary: string }> = {
  gateway: { title: "Gateway", summary: "Listeners, the upstream and its key, client auth, retries, deadlines, limits and logs." },
  sessions: {
    title: "Sessions",
    summary: "Chat sessions as a service (`/v1/sessions`), and the store that resources and interactions share with them.",
  },
  resources: { title: "Resources", summary: "Tenant isolation of the cached contents, files, batches... made under the shared upstream key." },
  interactions: { title: "Interactions", summary: "Chain tracking and turn caps of Interactions API chains (`previous_interaction_id`)." },
  telemetry: { title: "Telemetry", summary: "Traces (OpenTelemetry), prices and metric labels." },
  console: { title: "Console", summary: "The operator console at `/ui/`: who may open it, what it keeps, where it links traces." },
};

/** A default as a user would write it: unset, an empty string or an empty list mean "no default". */
function shownDefault(value: unknown): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (Array.isArray(value)) return value.length === 0 ? undefined : value.map(String).join(",");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** What the schema makes of the setting when it is absent: its default (parsed, so typed once, in the schema). */
function defaultOf(schema: z.ZodObject | undefined, setting: string): string | undefined {
  const field: z.ZodType | undefined = schema?.shape[setting];
  const parsed = field?.safeParse(undefined);
  return parsed?.success ? shownDefault(parsed.data) : undefined;
}

const plural = (n: number, unit: string): string => `${n} ${unit}${n === 1 ? "" : "s"}`;

/** A size or a duration, by the setting's suffix, when it is a whole number of a larger unit; the raw number stays
 *  what a user writes. */
function inUnits(setting: string, value: string | undefined): string | undefined {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n <= 0) return undefined;
  const scales: Record<string, [number, (k: number) => string][]> = {
    _BYTES: [
      [1024 ** 3, (k) => `${k} GiB`],
      [1024 ** 2, (k) => `${k} MiB`],
      [1024, (k) => `${k} KiB`],
    ],
    _SECONDS: [
      [86_400, (k) => plural(k, "day")],
      [3600, (k) => plural(k, "hour")],
      [60, (k) => plural(k, "minute")],
    ],
    _MS: [
      [60_000, (k) => plural(k, "minute")],
      [1000, (k) => `${k} s`],
    ],
  };
  const suffix = Object.keys(scales).find((s) => setting.endsWith(s));
  const scale = suffix === undefined ? undefined : scales[suffix]!.find(([size]) => n >= size && n % size === 0);
  return scale ? scale[1](n / scale[0]) : undefined;
}

export function configReference(sections: Readonly<Record<string, ConfigSection<unknown>>>): SectionReference[] {
  const known = Object.keys(SECTION_TITLES);
  const names = [...known.filter((name) => name in sections), ...Object.keys(sections).filter((name) => !known.includes(name))];
  return names.map((name) => {
    const section = sections[name]!;
    const { title, summary } = SECTION_TITLES[name] ?? { title: name, summary: "" };
    return {
      name,
      title,
      summary,
      hasHelp: section.help !== undefined,
      hasSchema: section.schema !== undefined,
      settings: section.settings.map((setting) => {
        const secret = section.secrets?.[setting];
        return {
          setting,
          flag: secret && !secret.isSecret ? undefined : flagOf(setting),
          secretWhen: secret?.isSecret ? (secret.when ?? "for some values") : undefined,
          defaultValue: defaultOf(section.schema, setting),
          defaultInUnits: inUnits(setting, defaultOf(section.schema, setting)),
          meaning: section.help?.[setting],
        };
      }),
    };
  });
}

const INTRO = [
  "Every setting is an environment variable and, unless it is a secret, a flag of `serve` (`PORT=9000`, `--port 9000`",
  "or `--port=9000`; the flag wins). Secrets are read from the environment only, because a command line is readable by",
  "every local user (`ps`); the upstream key can also come from a file (`GEMINI_API_KEY_FILE`), the gateway keys from a",
  "file named by `GATEWAY_KEYS`. An empty value counts as unset. Every problem is reported at start-up, one line each.",
];

const cell = (text: string): string => text.replaceAll("|", "\\|");

function flagCell(row: SettingReference): string {
  if (row.flag === undefined) return "environment only (secret)";
  return row.secretWhen ? `\`${row.flag}\`, except ${cell(row.secretWhen)} (a secret: environment only)` : `\`${row.flag}\``;
}

/** docs/configuration.md. */
export function renderConfigMarkdown(reference: readonly SectionReference[]): string {
  const out = [
    "# Configuration",
    "",
    "<!-- Generated by `npm run docs:config` from the config sections (src/config/*.ts: their schemas and help lines).",
    "     Do not edit: test/ops/config-docs.test.ts fails when this file and the code differ. -->",
    "",
    ...INTRO,
    "`gemini-chat-gateway serve --help` prints the same list.",
    "",
    reference.map((section) => `[${section.title}](#${section.title.toLowerCase()})`).join(" · "),
  ];
  for (const section of reference) {
    out.push("", `## ${section.title}`, "");
    if (section.summary) out.push(section.summary, "");
    if (!section.hasHelp || !section.hasSchema) {
      const missing = [section.hasHelp ? "" : "help lines (meanings)", section.hasSchema ? "" : "its schema (defaults)"].filter(Boolean);
      out.push(`This section does not declare ${missing.join(" or ")} yet: the table lacks them.`, "");
    }
    out.push("| environment variable | flag | default | meaning |", "|---|---|---|---|");
    for (const row of section.settings) {
      const units = row.defaultInUnits === undefined ? "" : ` (${row.defaultInUnits})`;
      const defaultValue = row.defaultValue === undefined ? "—" : `\`${cell(row.defaultValue)}\`${units}`;
      out.push(`| \`${row.setting}\` | ${flagCell(row)} | ${defaultValue} | ${cell(row.meaning ?? "")} |`);
    }
  }
  return `${out.join("\n")}\n`;
}

/** Words of `text` on lines of at most `width` characters after `indent`. */
function wrap(text: string, indent: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(indent + line);
  return lines;
}

/** `serve --help`: per setting, its variable, flag and default on one line, its meaning under it. */
export function renderServeHelp(reference: readonly SectionReference[], program: string): string {
  const out = [
    `Usage: ${program} serve [options]`,
    "",
    "Runs the gateway until SIGTERM or SIGINT, which drain in-flight calls and exit 0.",
    "",
    ...wrap(INTRO.join(" ").replaceAll("`", ""), "", 116),
    "The same list, as a table: docs/configuration.md in the repository.",
  ];
  for (const section of reference) {
    out.push("", `${section.title}:`);
    for (const row of section.settings) {
      const flag = row.flag === undefined ? "(a secret: environment only)" : row.secretWhen ? `${row.flag}, except ${row.secretWhen} (a secret: environment only)` : row.flag;
      const units = row.defaultInUnits === undefined ? "" : ` = ${row.defaultInUnits}`;
      const defaultValue = row.defaultValue === undefined ? "" : `  (default ${row.defaultValue}${units})`;
      out.push(`  ${row.setting}  ${flag}${defaultValue}`, ...wrap(row.meaning ?? "(no description yet)", "      ", 116));
    }
  }
  out.push("", "  -h, --help  show this help");
  return `${out.join("\n")}\n`;
}
