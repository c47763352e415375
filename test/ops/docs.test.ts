// The documentation as a reader meets it: a README short enough to read in five minutes, each fact in one place (no
// table row written twice), and every relative link, with its #anchor, leading somewhere.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { repoPath } from "./promql.js";

const DOCS = ["README.md", "BENCHMARKS.md", ...readdirSync(repoPath("docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
const text = (file: string): string => readFileSync(repoPath(file), "utf8");

/** The prose of a Markdown file, without its fenced code blocks (a `#` there is a comment, a `|` a pipe). */
const prose = (markdown: string): string => markdown.replace(/^```[\s\S]*?^```/gm, "");

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
function anchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "").replace(/ /g, "-");
}

function anchorsOf(file: string): Set<string> {
  const headings = prose(text(file)).match(/^#{1,6} .+$/gm) ?? [];
  return new Set(headings.map((h) => anchor(h.replace(/^#+ /, ""))));
}

describe("documentation", () => {
  it("the README is under 250 lines", () => {
    expect(text("README.md").split("\n").length).toBeLessThan(250);
  });

  it("no table row appears twice across the README and docs/ (each fact in one place)", () => {
    const seen = new Map<string, string>();
    const repeated: string[] = [];
    for (const file of DOCS) {
      const rows = prose(text(file)).match(/^\|.+\|$/gm) ?? [];
      // Header and separator rows repeat by design (configuration.md has one table per section).
      const bodyRows = rows.filter((row, i) => !/^\|[\s:|-]+\|$/.test(row) && !/^\|[\s:|-]+\|$/.test(rows[i + 1] ?? ""));
      for (const row of bodyRows) {
        const first = seen.get(row);
        if (first !== undefined) repeated.push(`${file} repeats a row of ${first}: ${row.slice(0, 80)}`);
        else seen.set(row, file);
      }
    }
    expect(repeated).toEqual([]);
  });

  it("every relative link leads to a file of the repository, and its #anchor to a heading there", () => {
    const broken: string[] = [];
    for (const file of DOCS) {
      for (const [, target] of prose(text(file)).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target!)) continue; // http(s), mailto
        const [path, hash] = target!.split("#") as [string, string | undefined];
        const resolved = path === "" ? file : relative(repoPath("."), join(dirname(repoPath(file)), path));
        if (!existsSync(repoPath(resolved))) broken.push(`${file}: ${target} (no file ${resolved})`);
        else if (hash !== undefined && resolved.endsWith(".md") && !anchorsOf(resolved).has(hash)) broken.push(`${file}: ${target} (no heading #${hash})`);
      }
    }
    expect(broken).toEqual([]);
  });
});
