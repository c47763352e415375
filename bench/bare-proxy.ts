// The yardstick of the traffic-shape bench: the least a Node proxy can do. A keep-alive pass-through with
// `http.request` + `pipe` and nothing else (no auth, no parsing, no telemetry). Run as its own process:
// `node dist/bench/bench/bare-proxy.js <upstream URL>`; it prints the URL it listens on.

import { Agent, createServer, request } from "node:http";

const upstream = new URL(process.argv[2] ?? "");
// A timeout makes the agent honour the upstream's Keep-Alive hint (the simulator closes a connection idle for 5 s):
// without one, Node keeps idle connections past it, reuses one as the upstream closes it, and cuts the client's answer.
const agent = new Agent({ keepAlive: true, maxSockets: Infinity, timeout: 60_000 });

const server = createServer((req, res) => {
  const forward = request(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  forward.on("error", () => res.destroy());
  req.pipe(forward);
});
server.keepAliveTimeout = 30_000;
server.listen(0, "127.0.0.1", () => {
  const address = server.address() as { port: number };
  process.stdout.write(`bare proxy listening on http://127.0.0.1:${address.port}\n`);
});
process.on("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
  agent.destroy();
});
