// The demo's command line: the gateway port from --port, else PORT (as `serve` reads it), else 8080.
import { describe, expect, it } from "vitest";
import { parseDemoArgs } from "../../src/demo/cli.js";

describe("demo arguments", () => {
  it("listens on 8080 by default", () => {
    expect(parseDemoArgs([]).port).toBe(8080);
  });

  it("takes PORT from the environment, as serve does; --port wins over it", () => {
    expect(parseDemoArgs([], { PORT: "0" }).port).toBe(0);
    expect(parseDemoArgs(["--port", "9001"], { PORT: "0" }).port).toBe(9001);
    expect(parseDemoArgs([], { PORT: "" }).port).toBe(8080);
  });

  it("names where a bad port came from", () => {
    expect(() => parseDemoArgs([], { PORT: "http" })).toThrow('PORT: must be 0-65535 (got "http")');
    expect(() => parseDemoArgs(["--port", "70000"])).toThrow('--port: must be 0-65535 (got "70000")');
  });
});
