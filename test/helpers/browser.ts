// A real headless Chromium for the console's browser tests: Debian's `chromium` (installed by .ci/run), driven with
// puppeteer-core; never a downloaded browser. CHROMIUM_PATH overrides where it is.
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { cleanUpOnExit } from "./reaper.js";

/** Where the console's screenshots go: test artifacts, not committed (.gitignore). */
export const ARTIFACTS_DIR = join(process.cwd(), "test-artifacts", "console");

export function chromiumPath(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  for (const name of ["chromium", "chromium-browser"]) {
    try {
      return execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();
    } catch {
      // not this name
    }
  }
  throw new Error("no chromium on PATH: apt-get install -y chromium (or set CHROMIUM_PATH)");
}

export async function launchChromium(): Promise<Browser> {
  const browser = await puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run", "--no-default-browser-check"],
  });
  const pid = browser.process()?.pid;
  const guard = cleanUpOnExit(() => {
    if (pid) process.kill(pid, "SIGKILL");
  });
  browser.once("disconnected", () => guard.release());
  return browser;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path: path as `${string}.png`, fullPage: false });
  return path;
}
