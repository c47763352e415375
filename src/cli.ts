#!/usr/bin/env node
// gemini-gateway <command>: each subcommand lives beside the concern it runs and exports `main(argv)`.

const commands: Record<string, { summary: string; load: () => Promise<{ main(argv: string[]): Promise<void> }> }> = {
  serve: { summary: "run the gateway (production)", load: () => import("./server/cli.js") },
  simulate: { summary: "run the Gemini API simulator", load: () => import("./simulator/cli.js") },
  demo: { summary: "gateway + embedded simulator + traffic generator", load: () => import("./demo/cli.js") },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `Usage: gemini-gateway <command> [options]\n\nCommands:\n${lines.join("\n")}\n\nRun 'gemini-gateway <command> --help' for a command's options.\n`;
}

const [name, ...rest] = process.argv.slice(2);
if (!name || name === "--help" || name === "-h" || name === "help") {
  process.stdout.write(usage());
  process.exit(name ? 0 : 1);
}
const command = commands[name];
if (!command) {
  process.stderr.write(`gemini-gateway: unknown command "${name}"\n\n${usage()}`);
  process.exit(2);
}
try {
  await (await command.load()).main(rest);
} catch (err) {
  process.stderr.write(`gemini-gateway ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
