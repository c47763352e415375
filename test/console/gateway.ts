// An in-process gateway for the console tests: the simulator upstream, quiet logs, no spans; `env` adds the test's keys
// and console settings.
import { loadConfig } from "../../src/server/config.js";
import { startGateway, type RunningGateway } from "../../src/server/gateway.js";

export function startConsoleGateway(upstream: string, env: Record<string, string>): Promise<RunningGateway> {
  return startGateway(
    loadConfig(
      { PORT: "0", HOST: "127.0.0.1", GEMINI_BASE_URL: upstream, GEMINI_API_KEY: "upstream-key", LOG_LEVEL: "silent", OTEL_SDK_DISABLED: "true", ...env },
      [],
    ),
  );
}
