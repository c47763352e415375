// `npm run screenshots`: the README's pictures of the console (docs/images/console-*.png), taken in Debian's Chromium
// from the demo after a minute of its traffic. Run it again when the page changes.
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { startCli } from "../bench/processes.js";
import { launchChromium } from "../test/helpers/browser.js";

const IMAGES = fileURLToPath(new URL("../../../docs/images/", import.meta.url));
const TRAFFIC_SECONDS = Number(process.env.SCREENSHOT_TRAFFIC_SECONDS ?? 60);

// The demo as users start it (its simulator streams visibly), with a fault episode every 20 s.
const demo = await startCli(["demo", "--port", "0", "--rate", "12", "--users", "8", "--episode-interval", "20"], {
  LOG_LEVEL: "silent",
  OTEL_SDK_DISABLED: "true",
  SESSION_MAX_TURNS: "8",
});
/** The URL the demo prints first: its admin key in the fragment. */
const consoleUrl = `${demo.url}/ui/#key=demo-admin-key`;
const browser = await launchChromium();
try {
  process.stdout.write(`screenshots: ${TRAFFIC_SECONDS} s of demo traffic first\n`);
  await sleep(TRAFFIC_SECONDS * 1000);
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 800 });
  await page.goto(consoleUrl);
  await page.waitForSelector('[data-testid="chart-requests"] path[data-series]');
  await sleep(1500);
  await page.screenshot({ path: `${IMAGES}console-overview.png` });

  const res = await fetch(`${demo.url}/ui/api/conversations`, { headers: { authorization: "Bearer demo-admin-key" } });
  const { conversations } = (await res.json()) as { conversations: Array<{ id: string; kind: string; turns: number }> };
  const session = conversations.filter((c) => c.kind === "session").sort((a, b) => b.turns - a.turns)[0];
  if (!session) throw new Error("no session in the demo's traffic");
  await page.evaluate((hash) => {
    (globalThis as unknown as { location: { hash: string } }).location.hash = hash;
  }, `#/conversations/${session.id}`);
  await page.waitForSelector('[data-testid="conversation-turn"]');
  await sleep(500);
  await page.screenshot({ path: `${IMAGES}console-conversation.png` });
  process.stdout.write(`screenshots: wrote ${IMAGES}console-overview.png and console-conversation.png\n`);
} finally {
  await browser.close();
  await demo.stop();
}
