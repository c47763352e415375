import { describe, expect, it } from "vitest";
import { loadSessionConfig } from "../../src/config/sessions.js";

describe("session config", () => {
  it("has the issue's defaults", () => {
    const config = loadSessionConfig({});
    expect(config).toMatchObject({
      store: "memory",
      maxSessions: 10_000,
      maxBytes: 256 * 1024 * 1024,
      ttlSeconds: 3600,
      maxTurns: 50,
      turnCapPolicy: "reject",
      strictAlternation: false,
      queueMax: 8,
    });
    expect(config.maxHistoryTokens).toBeUndefined();
  });

  it("reads the environment", () => {
    const config = loadSessionConfig({
      SESSION_STORE: "redis://127.0.0.1:6379/3",
      SESSION_MAX: "5",
      SESSION_STRICT_ALTERNATION: "true",
      SESSION_MAX_HISTORY_TOKENS: "100",
      SESSION_TURN_CAP_POLICY: "slide",
    });
    expect(config).toMatchObject({ store: "redis://127.0.0.1:6379/3", maxSessions: 5, strictAlternation: true, maxHistoryTokens: 100, turnCapPolicy: "slide" });
  });

  it("reports one line per problem", () => {
    expect(() =>
      loadSessionConfig({ SESSION_MAX: "abc", SESSION_TURN_CAP_POLICY: "x", SESSION_STORE: "foo", SESSION_STRICT_ALTERNATION: "yes" }),
    ).toThrowError(
      [
        "invalid configuration:",
        '  - SESSION_STORE (--session-store): must be memory or redis://host:port/db (got "foo")',
        '  - SESSION_MAX (--session-max): must be a number (got "abc")',
        '  - SESSION_TURN_CAP_POLICY (--session-turn-cap-policy): must be reject or slide (got "x")',
        '  - SESSION_STRICT_ALTERNATION (--session-strict-alternation): must be true or false (got "yes")',
      ].join("\n"),
    );
  });
});
