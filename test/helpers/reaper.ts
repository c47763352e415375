// Processes a test starts must not outlive it. Helpers register what to kill here; it runs when the test process ends
// without their own stop() (a crash, process.exit, a hook that timed out, the SIGTERM vitest sends a worker it tears
// down). Only a SIGKILL of the test process itself escapes it.
import type { ChildProcess } from "node:child_process";

const children = new Set<ChildProcess>();
const cleanups = new Set<() => void>();
const EXIT_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

function reapSync(): void {
  for (const child of children) child.kill("SIGKILL");
  for (const cleanup of cleanups) cleanup();
}

function onExitSignal(signal: NodeJS.Signals): void {
  reapSync();
  for (const s of EXIT_SIGNALS) process.off(s, onExitSignal);
  // Listening replaced the signal's default action (terminate): restore it unless someone else handles the signal.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

let installed = false;
function install(): void {
  if (installed) return;
  installed = true;
  process.on("exit", reapSync);
  for (const signal of EXIT_SIGNALS) process.on(signal, onExitSignal);
}

/** SIGKILLs the child if the test process ends while it runs; forgotten once it exits. */
export function reapOnExit(child: ChildProcess): void {
  install();
  children.add(child);
  child.once("exit", () => children.delete(child));
}

/** Runs `cleanup` (synchronous: the process is ending) if the test process ends before `release` is called. */
export function cleanUpOnExit(cleanup: () => void): { release(): void } {
  install();
  cleanups.add(cleanup);
  return { release: () => void cleanups.delete(cleanup) };
}
