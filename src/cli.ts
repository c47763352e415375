#!/usr/bin/env node
// gemini-chat-gateway <command> (also installed as gemini-gateway): each subcommand lives beside the concern it runs
// and exports `main(argv)`.

const PROGRAM = "gemini-chat-gateway";

const commands: Record<string, { summary: string; load: () => Promise<{ main(argv: string[]): Promise<void> }> }> = {
  serve: { summary: "run the gateway (production)", load: () => import("./server/cli.js") },
  simulate: { summary: "run the Gemini API simulator", load: () => import("./simulator/cli.js") },
  demo: { summary: "gateway + embedded simulator + traffic generator, no Gemini key needed", load: () => import("./demo/cli.js") },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return (
    `Usage: ${PROGRAM} <command> [options]      (also installed as gemini-gateway)\n\n` +
    `An observability gateway in front of the Gemini API.\n\nCommands:\n${lines.join("\n")}\n\n` +
    `Run '${PROGRAM} <command> --help' for a command's options, e.g. '${PROGRAM} serve --help' for every setting.\n`
  );
}

const [name, ...rest] = process.argv.slice(2);
if (!name || name === "--help" || name === "-h" || name === "help") {
  process.stdout.write(usage());
  process.exit(name ? 0 : 1);
}
const command = commands[name];
if (!command) {
  process.stderr.write(`${PROGRAM}: unknown command "${name}"\n\n${usage()}`);
  process.exit(2);
}
try {
  await (await command.load()).main(rest);
} catch (err) {
  process.stderr.write(`${PROGRAM} ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
