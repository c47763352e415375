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
    expect(config).toMatchObject({ store: { mode: "single", node: { host: "127.0.0.1", port: 6379 }, db: 3, tls: false }, maxSessions: 5, strictAlternation: true, maxHistoryTokens: 100, turnCapPolicy: "slide" });
  });

  it("reports one line per problem", () => {
    expect(() =>
      loadSessionConfig({ SESSION_MAX: "abc", SESSION_TURN_CAP_POLICY: "x", SESSION_STORE: "foo", SESSION_STRICT_ALTERNATION: "yes" }),
    ).toThrowError(
      [
        "invalid configuration:",
        '  - SESSION_STORE (--session-store): must be memory or a Redis URL: redis://host:port/db, redis-cluster://host:port,host:port or redis-sentinel://host:port/master-name (rediss… for TLS) (got "foo")',
        '  - SESSION_MAX (--session-max): must be a number (got "abc")',
        '  - SESSION_TURN_CAP_POLICY (--session-turn-cap-policy): must be reject or slide (got "x")',
        '  - SESSION_STRICT_ALTERNATION (--session-strict-alternation): must be true or false (got "yes")',
      ].join("\n"),
    );
  });

  it("refuses a key prefix with a brace, which would move the keys' Cluster hash tag", () => {
    expect(() => loadSessionConfig({ SESSION_REDIS_PREFIX: "app{x}:" })).toThrowError(
      'SESSION_REDIS_PREFIX (--session-redis-prefix): must not contain { or } (Redis Cluster reads them as a hash tag) (got "app{x}:")',
    );
    expect(loadSessionConfig({ SESSION_REDIS_WAIT_REPLICAS: "1" })).toMatchObject({ waitReplicas: 1, waitMs: 1000 });
  });
});
