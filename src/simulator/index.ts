// The Gemini API simulator, in-process: `startSimulator()` for tests and the demo; `gemini-chat-gateway simulate` wraps it.
import { createServer } from "node:http";
import type { Socket } from "node:net";
import { SimulatorService } from "./server.js";

export interface SimulatorOptions {
  /** 0 = ephemeral. */
  port: number;
  /** Default 127.0.0.1. */
  host: string;
  /** Accepted keys; undefined = any non-empty key. */
  keys?: string[];
  /** Visible reply length in tokens (default 20-80). */
  replyTokens: { min: number; max: number };
  /** Wait before the first byte of an answer (default 0). */
  ttftMs: number;
  /** Streams trickle at this rate; 0 = no trickle (default). */
  tokensPerSecond: number;
  /** Quotas per key+model; undefined = unlimited. */
  rpm?: number;
  rpd?: number;
  tpm?: number;
  /** How long a prompt prefix stays in the implicit cache of 2.5 models (default 5 minutes; 0 = no implicit caching). */
  implicitCacheWindowMs: number;
  /** A batch is pending until the first GET, running until this many GETs, then done (default 2). */
  batchPollsUntilDone: number;
  /** A background interaction is in_progress until this many GETs, then done (default 2). */
  interactionPollsUntilDone: number;
  /** The clock of expiries, cache windows, quotas and timestamps (ms since the epoch); default Date.now. */
  clock?: () => number;
}

export interface RunningSimulator {
  url: string;
  port: number;
  close(): Promise<void>;
}

export const DEFAULT_SIMULATOR_OPTIONS: SimulatorOptions = {
  port: 0,
  host: "127.0.0.1",
  replyTokens: { min: 20, max: 80 },
  ttftMs: 0,
  tokensPerSecond: 0,
  implicitCacheWindowMs: 5 * 60_000,
  batchPollsUntilDone: 2,
  interactionPollsUntilDone: 2,
};

export async function startSimulator(options: Partial<SimulatorOptions> = {}): Promise<RunningSimulator> {
  const settings: SimulatorOptions = { ...DEFAULT_SIMULATOR_OPTIONS, ...options };
  const service = new SimulatorService(settings);
  const sockets = new Set<Socket>();
  const inFlight = new Set<AbortController>();

  const server = createServer((req, res) => {
    const controller = new AbortController();
    inFlight.add(controller);
    // 'close' fires when the answer is done or the client went away: either way, stop any waiting.
    res.on("close", () => {
      controller.abort();
      inFlight.delete(controller);
    });
    void service.handle(req, res, controller.signal);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(settings.port, settings.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("simulator: no TCP address");
  const host = settings.host.includes(":") ? `[${settings.host}]` : settings.host;

  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const controller of inFlight) controller.abort();
        for (const socket of sockets) socket.destroy();
      }),
  };
}
