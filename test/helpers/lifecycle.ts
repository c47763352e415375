// One running thing (a simulator, a gateway stack) per test file: started before its first test, closed after its
// last, reset before each test.
import { afterAll, beforeAll, beforeEach } from "vitest";

export function usePerFile<T extends { close(): Promise<void> }>(
  start: () => Promise<T>,
  onStart: (started: T) => void,
  reset: (started: T) => Promise<void>,
): void {
  let running: T | undefined;
  beforeAll(async () => {
    running = await start();
    onStart(running);
  });
  afterAll(async () => {
    await running?.close();
  });
  beforeEach(async () => {
    await reset(running!);
  });
}
