// Real Redis deployments for tests: a Redis Cluster, or a primary and a replica watched by one Sentinel. Every node is
// a redis-server child process on free ports, with its config, nodes.conf and log in `<dir>/<port>/` of one temp dir.
//
//   let cluster: RedisCluster;
//   beforeAll(async () => { cluster = await startRedisCluster({ replicasPerPrimary: 1 }); });
//   afterAll(async () => { await cluster.stop(); });
//
// Nothing is left behind: stop() kills every node and removes the temp dir, and should a test process end without it
// (a crash, process.exit, the SIGTERM vitest sends a worker it tears down), a synchronous hook SIGKILLs the nodes.
// Only a SIGKILL of the test process itself escapes that; the nodes then stay up until killed.

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { cleanUpOnExit, reapOnExit } from "./reaper.js";

export interface RedisNode {
  readonly port: number;
  /** The process now, or last, serving the port (restart() starts a new one). */
  readonly pid: number;
  /** "127.0.0.1:port" */
  readonly address: string;
}

export interface RedisCluster {
  /** "127.0.0.1:p1,127.0.0.1:p2,…": every node. */
  readonly seeds: string;
  /** `redis-cluster://<seeds>`: the gateway's Redis URL for this cluster. */
  readonly url: string;
  /** The temp dir: each node's redis.conf, nodes.conf and redis.log are in `<dir>/<port>/`. */
  readonly dir: string;
  /** Every running node, primaries and replicas. */
  nodes(): RedisNode[];
  /** The nodes serving slots, in slot order, as a running node sees them now (after waitHealthy: as all see them). */
  primaries(): Promise<RedisNode[]>;
  /** The primary serving the key's slot now, as a running node sees it (CLUSTER KEYSLOT + CLUSTER SLOTS). */
  primaryFor(key: string): Promise<RedisNode>;
  /** SIGKILL, resolved once the process has exited. */
  kill(node: RedisNode): Promise<void>;
  /** Starts a killed node again on its port and config: it rejoins the cluster from its nodes.conf, with no data. A
   *  primary whose slots were taken over meanwhile comes back as a replica of the new owner. Resolves once it answers;
   *  waitHealthy() for the cluster to agree. */
  restart(node: RedisNode): Promise<RedisNode>;
  /** Resolves when every running node reports cluster_state:ok, sees every slot served by a running primary and the same
   *  slot map as the others, sees every other running node connected and not failing, and every running replica is
   *  linked to its primary. So a client gets one consistent topology from whichever node it asks. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Kills every node and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface RedisClusterOptions {
  /** At least 3 (what `redis-cli --cluster create` accepts). Default 3. */
  primaries?: number;
  /** Default 0. */
  replicasPerPrimary?: 0 | 1;
  /** cluster-node-timeout: how long a node is unreachable before it is failing (and its replica promoted). Default 1000. */
  nodeTimeoutMs?: number;
}

export interface RedisSentinelSetup {
  /** The name the sentinel monitors the primary under: "gw-primary". */
  readonly masterName: string;
  /** `redis-sentinel://127.0.0.1:<sentinelPort>/<masterName>`: the gateway's Redis URL for this setup. */
  readonly url: string;
  /** The sentinel, for `new Redis({ sentinels: [setup.sentinel], name: setup.masterName })`. */
  readonly sentinel: { readonly host: string; readonly port: number };
  /** The temp dir: each node's redis.conf (sentinel.conf for the sentinel) and redis.log are in `<dir>/<port>/`. */
  readonly dir: string;
  /** The primary the sentinel names now (SENTINEL GET-MASTER-ADDR-BY-NAME), running or not. */
  primary(): Promise<RedisNode>;
  /** The running data nodes (primary and replica; not the sentinel). */
  nodes(): RedisNode[];
  /** SIGKILL, resolved once the process has exited. */
  kill(node: RedisNode): Promise<void>;
  /** Starts a killed data node again on its port and config, with no data. An old primary comes back as a primary and
   *  stays one until the sentinel turns it into a replica, about 8 s later (waitHealthy() waits for that). */
  restart(node: RedisNode): Promise<RedisNode>;
  /** Resolves when the sentinel has finished failing over to a primary other than `old` and that node answers ROLE as a
   *  primary; with the new primary. */
  waitFailover(old: RedisNode, timeoutMs?: number): Promise<RedisNode>;
  /** Resolves when the sentinel's primary answers ROLE as a primary, every other running data node is a replica linked
   *  to it, and the sentinel knows each of them as a healthy replica (so it can fail over to it). */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Kills every node and the sentinel, and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface RedisSentinelOptions {
  /** sentinel down-after-milliseconds: how long the primary is unreachable before a failover starts. Default 1000. */
  downAfterMs?: number;
  /** sentinel failover-timeout. Default 10000 (a failover here takes a few seconds). */
  failoverTimeoutMs?: number;
}

const HOST = "127.0.0.1";
const SLOT_COUNT = 16384;
/** Cluster bus port = port + this (Redis's default, so clients and `redis-cli` need no cluster-port). */
const BUS_PORT_OFFSET = 10000;
/** Ports are picked at random here: below Linux's ephemeral range (32768+) even with the bus offset, so no outgoing
 *  connection holds them, and away from the shared 6379/16379. Random picks keep parallel vitest workers apart; a
 *  collision anyway (both bind-tested free before either listened) is detected and retried on another port. */
const PORT_RANGE = { first: 12000, last: 22000 };
const POLL_MS = 25;
const START_TIMEOUT_MS = 10_000;
const DEFAULT_WAIT_MS = 10_000;

/** Ports (and bus ports) of this process's deployments, killed nodes' included: they are restarted on the same port. */
const heldPorts = new Set<number>();

// ---- ports, admin commands, waiting -------------------------------------------------------------------------------------

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: HOST, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

async function reservePorts(withBusPort: boolean): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = PORT_RANGE.first + Math.floor(Math.random() * (PORT_RANGE.last - PORT_RANGE.first));
    const ports = withBusPort ? [port, port + BUS_PORT_OFFSET] : [port];
    if (ports.some((p) => heldPorts.has(p))) continue;
    for (const p of ports) heldPorts.add(p); // before the bind test, so that parallel starts in this process differ
    if ((await Promise.all(ports.map(canBind))).every(Boolean)) return port;
    for (const p of ports) heldPorts.delete(p);
  }
  throw new Error(`no free port in ${PORT_RANGE.first}-${PORT_RANGE.last} after 100 tries`);
}

type Command = [name: string, ...args: (string | number)[]];

/** Runs commands on one node over a connection of its own: no retries, no offline queue, so a down node fails fast. */
async function ask(port: number, ...commands: Command[]): Promise<unknown[]> {
  const client = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    commandTimeout: 2000,
  });
  client.on("error", () => {}); // the failed connect() or call() reports it
  try {
    await client.connect();
    const replies: unknown[] = [];
    for (const [name, ...args] of commands) replies.push(await client.call(name, ...args));
    return replies;
  } finally {
    client.disconnect();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `problem` until it finds none (undefined); fails with the last problem found if that takes over `timeoutMs`. */
async function waitUntil(what: string, timeoutMs: number, problem: () => Promise<string | undefined>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let found: string | undefined;
    try {
      found = await problem();
    } catch (err) {
      found = err instanceof Error ? err.message : String(err);
    }
    if (found === undefined) return;
    if (Date.now() >= deadline) throw new Error(`${what}: not within ${timeoutMs} ms; last seen: ${found}`);
    await sleep(POLL_MS);
  }
}

/** A field of an INFO-style reply ("name:value" lines). */
function infoField(reply: unknown, name: string): string | undefined {
  const line = String(reply).split("\r\n").find((l) => l.startsWith(`${name}:`));
  return line?.slice(name.length + 1);
}

/** A Sentinel reply of flat [name, value, name, value, …] arrays as records. */
const asRecord = (flat: unknown): Record<string, string> => {
  const fields = flat as string[];
  return Object.fromEntries(fields.flatMap((value, i) => (i % 2 === 0 ? [[value, fields[i + 1] ?? ""]] : [])));
};

// ---- one redis-server process -------------------------------------------------------------------------------------------

class PortTakenError extends Error {}

class ManagedNode {
  readonly address: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private lastPid = 0;

  constructor(
    readonly port: number,
    readonly dir: string,
    private readonly configFile: string,
    private readonly extraArgs: string[],
  ) {
    this.address = `${HOST}:${port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get logFile(): string {
    return join(this.dir, "redis.log");
  }

  snapshot(): RedisNode {
    return { port: this.port, pid: this.lastPid, address: this.address };
  }

  /** Spawns redis-server and resolves once this process answers on the port. */
  async start(): Promise<void> {
    if (this.child) throw new Error(`${this.address} is already running (pid ${this.lastPid})`);
    const log = openSync(this.logFile, "a");
    let child: ChildProcess;
    try {
      child = spawn("redis-server", [this.configFile, ...this.extraArgs], { cwd: this.dir, stdio: ["ignore", log, log] });
    } finally {
      closeSync(log); // the child has its own copy
    }
    let exit: string | undefined;
    this.exited = new Promise<void>((resolve) => {
      const gone = (how: string): void => {
        exit ??= how;
        if (this.child === child) this.child = undefined;
        resolve();
      };
      child.once("exit", (code, signal) => gone(signal ? `killed by ${signal}` : `exited with ${code}`));
      child.once("error", (err) => gone(`failed to spawn: ${err.message}`));
    });
    if (child.pid === undefined) {
      await this.exited;
      throw new Error(`redis-server for ${this.address} ${exit ?? "failed to spawn"}`);
    }
    this.child = child;
    this.lastPid = child.pid;
    reapOnExit(child);

    // Answers, and it is this process answering (not another test's server that won a race for the port).
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (exit !== undefined) {
        const tail = this.logTail();
        if (tail.includes("Address already in use")) throw new PortTakenError(`${this.address} was taken: ${tail}`);
        throw new Error(`redis-server for ${this.address} ${exit}; log tail:\n${tail}`);
      }
      const pid = await ask(this.port, ["INFO", "server"]).then(
        ([info]) => Number(infoField(info, "process_id")),
        () => undefined,
      );
      if (pid === child.pid) return;
      if (pid !== undefined) {
        await this.kill();
        throw new PortTakenError(`${this.address} is served by another process (pid ${pid})`);
      }
      if (Date.now() >= deadline) {
        await this.kill();
        throw new Error(`redis-server for ${this.address} did not answer within ${START_TIMEOUT_MS} ms; log tail:\n${this.logTail()}`);
      }
      await sleep(POLL_MS);
    }
  }

  async kill(): Promise<void> {
    this.child?.kill("SIGKILL");
    await this.exited;
  }

  logTail(lines = 15): string {
    if (!existsSync(this.logFile)) return "(no log)";
    return readFileSync(this.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  }
}

// ---- a set of nodes in one temp dir --------------------------------------------------------------------------------------

class Deployment {
  readonly dir = mkdtempSync(join(tmpdir(), "gw-redis-"));
  private readonly members: ManagedNode[] = [];
  private stopping: Promise<void> | undefined;
  readonly #removeDirOnExit: { release(): void };

  constructor() {
    this.#removeDirOnExit = cleanUpOnExit(() => rmSync(this.dir, { recursive: true, force: true }));
  }

  /** Starts a node on fresh free ports (another pair if a parallel test took them first). `config` is the file's text. */
  async startNode(options: { clusterBus: boolean; configName: string; extraArgs?: string[]; config: (port: number, dir: string) => string }): Promise<ManagedNode> {
    for (let attempt = 1; ; attempt++) {
      if (this.stopping) throw new Error("the deployment was stopped while starting");
      const port = await reservePorts(options.clusterBus);
      const dir = join(this.dir, String(port));
      mkdirSync(dir);
      const configFile = join(dir, options.configName);
      writeFileSync(configFile, options.config(port, dir));
      const node = new ManagedNode(port, dir, configFile, options.extraArgs ?? []);
      this.members.push(node);
      try {
        await node.start();
        return node;
      } catch (err) {
        if (!(err instanceof PortTakenError) || attempt === 5) throw err;
        this.members.splice(this.members.indexOf(node), 1);
        this.releasePorts(node);
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }

  member(node: RedisNode): ManagedNode {
    const member = this.members.find((m) => m.port === node.port);
    if (!member) throw new Error(`${node.address} is not a node of this deployment`);
    return member;
  }

  async restart(node: RedisNode): Promise<RedisNode> {
    const member = this.member(node);
    await member.start();
    return member.snapshot();
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.all(this.members.map((m) => m.kill()));
      for (const member of this.members) this.releasePorts(member);
      rmSync(this.dir, { recursive: true, force: true });
      this.#removeDirOnExit.release();
    })();
    return this.stopping;
  }

  private releasePorts(member: ManagedNode): void {
    heldPorts.delete(member.port);
    heldPorts.delete(member.port + BUS_PORT_OFFSET); // held only for cluster nodes; deleting an absent port is harmless
  }
}

/** Settings of every process, sentinels included: this address only, in the foreground, logs to stdout (redis.log). */
const processConfig = (port: number, dir: string): string[] => [`port ${port}`, `bind ${HOST}`, "protected-mode no", "daemonize no", `dir ${dir}`, 'logfile ""'];

/** Settings of every data node: nothing persisted. */
const baseConfig = (port: number, dir: string): string[] => [
  ...processConfig(port, dir),
  'save ""',
  "appendonly no",
  // A primary waits this long for more replicas before a diskless full sync (default 5 s): link replicas at once.
  "repl-diskless-sync-delay 0",
];

// ---- Redis Cluster ---------------------------------------------------------------------------------------------------

interface SlotRange {
  first: number;
  last: number;
  primaryPort: number;
}

/** CLUSTER SLOTS: [[first, last, [host, port, id, …], …replicas], …], sorted by slot. */
function slotRanges(reply: unknown): SlotRange[] {
  const ranges = reply as [number, number, [string, number, ...unknown[]], ...unknown[]][];
  return ranges.map(([first, last, [, port]]) => ({ first, last, primaryPort: port })).sort((a, b) => a.first - b.first);
}

const describeRanges = (ranges: SlotRange[]): string => ranges.map((r) => `${r.first}-${r.last}@${r.primaryPort}`).join(" ");

/** What keeps the cluster from being healthy (see RedisCluster.waitHealthy), or undefined. */
async function clusterProblem(running: ManagedNode[]): Promise<string | undefined> {
  const runningPorts = new Set(running.map((n) => n.port));
  let agreed: { by: string; ranges: string } | undefined;
  for (const node of running) {
    const [info, slots, role, clusterNodes] = await ask(node.port, ["CLUSTER", "INFO"], ["CLUSTER", "SLOTS"], ["ROLE"], ["CLUSTER", "NODES"]);
    const state = infoField(info, "cluster_state");
    if (state !== "ok") return `${node.address} reports cluster_state:${state}`;
    const ranges = slotRanges(slots);
    const served = ranges.reduce((sum, r) => sum + r.last - r.first + 1, 0);
    if (served !== SLOT_COUNT) return `${node.address} sees ${served} of ${SLOT_COUNT} slots served`;
    const orphan = ranges.find((r) => !runningPorts.has(r.primaryPort));
    if (orphan) return `${node.address} sees slots ${orphan.first}-${orphan.last} served by ${orphan.primaryPort}, which is down`;
    const described = describeRanges(ranges);
    agreed ??= { by: node.address, ranges: described };
    if (described !== agreed.ranges) return `${node.address} sees slots ${described}, ${agreed.by} sees ${agreed.ranges}`;
    const [kind, , , linkState] = role as string[];
    if (kind === "slave" && linkState !== "connected") return `${node.address} is a replica not linked to its primary (${linkState})`;
    // "<id> <ip:port@bus[,hostname]> <flags> <primary> <ping> <pong> <epoch> <link> <slots…>"
    const seen = new Set<number>();
    for (const line of String(clusterNodes).trim().split("\n")) {
      const [, address = "", flags = "", , , , , link] = line.split(" ");
      const port = Number(address.split("@")[0]?.split(":").at(-1));
      if (!runningPorts.has(port)) continue; // a killed node: failing, as it should be
      seen.add(port);
      if (/fail|handshake|noaddr/.test(flags) || link !== "connected") return `${node.address} sees ${HOST}:${port} as ${flags} ${link}`;
    }
    const unknown = [...runningPorts].find((p) => !seen.has(p));
    if (unknown !== undefined) return `${node.address} does not know ${HOST}:${unknown}`;
  }
  return undefined;
}

function runRedisCli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("redis-cli", args, { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-cli ${args.join(" ")}: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const primaryCount = options.primaries ?? 3;
  const replicasPerPrimary = options.replicasPerPrimary ?? 0;
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 1000;
  if (!Number.isInteger(primaryCount) || primaryCount < 3) throw new Error(`a cluster needs at least 3 primaries, not ${primaryCount}`);

  const deployment = new Deployment();
  try {
    const clusterConfig = (port: number, dir: string): string =>
      [...baseConfig(port, dir), "cluster-enabled yes", "cluster-config-file nodes.conf", `cluster-node-timeout ${nodeTimeoutMs}`, ""].join("\n");
    const members = await Promise.all(
      Array.from({ length: primaryCount * (1 + replicasPerPrimary) }, () =>
        deployment.startNode({ clusterBus: true, configName: "redis.conf", config: clusterConfig }),
      ),
    );
    const seeds = members.map((m) => m.address).join(",");
    // Assigns the slots evenly and a distinct config epoch to each node, meets them, makes the last ones replicas.
    await runRedisCli(["--cluster", "create", ...members.map((m) => m.address), "--cluster-replicas", String(replicasPerPrimary), "--cluster-yes"]);

    const running = (): ManagedNode[] => members.filter((m) => m.running);
    const askAnyRunning = async (...commands: Command[]): Promise<unknown[]> => {
      let lastError: unknown = new Error("no node of the cluster is running");
      for (const member of running()) {
        try {
          return await ask(member.port, ...commands);
        } catch (err) {
          lastError = err;
        }
      }
      throw lastError;
    };
    const byPort = (port: number): RedisNode => {
      const member = members.find((m) => m.port === port);
      if (!member) throw new Error(`the cluster names ${HOST}:${port}, which is not one of its nodes`);
      return member.snapshot();
    };
    const waitHealthy = (timeoutMs = DEFAULT_WAIT_MS): Promise<void> =>
      waitUntil(`Redis Cluster ${seeds} healthy`, timeoutMs, () => clusterProblem(running()));

    await waitHealthy(15_000);
    return {
      seeds,
      url: `redis-cluster://${seeds}`,
      dir: deployment.dir,
      nodes: () => running().map((m) => m.snapshot()),
      primaries: async () => {
        const [slots] = await askAnyRunning(["CLUSTER", "SLOTS"]);
        return [...new Set(slotRanges(slots).map((r) => r.primaryPort))].map(byPort);
      },
      primaryFor: async (key) => {
        const [slot, slots] = await askAnyRunning(["CLUSTER", "KEYSLOT", key], ["CLUSTER", "SLOTS"]);
        const range = slotRanges(slots).find((r) => r.first <= Number(slot) && Number(slot) <= r.last);
        if (!range) throw new Error(`no primary serves slot ${String(slot)} (of key ${key})`);
        return byPort(range.primaryPort);
      },
      kill: (node) => deployment.member(node).kill(),
      restart: (node) => deployment.restart(node),
      waitHealthy,
      stop: () => deployment.stop(),
    };
  } catch (err) {
    await deployment.stop();
    throw err;
  }
}

// ---- Redis Sentinel ----------------------------------------------------------------------------------------------------

const MASTER_NAME = "gw-primary";

export async function startRedisSentinel(options: RedisSentinelOptions = {}): Promise<RedisSentinelSetup> {
  const downAfterMs = options.downAfterMs ?? 1000;
  const failoverTimeoutMs = options.failoverTimeoutMs ?? 10_000;

  const deployment = new Deployment();
  try {
    const dataConfig = (port: number, dir: string): string => [...baseConfig(port, dir), ""].join("\n");
    const first = await deployment.startNode({ clusterBus: false, configName: "redis.conf", config: dataConfig });
    const replicaConfig = (port: number, dir: string): string => [...baseConfig(port, dir), `replicaof ${HOST} ${first.port}`, ""].join("\n");
    // The sentinel rewrites its config file (state, discovered replicas): it must be writable, so it is in the temp dir.
    const sentinelConfig = (port: number, dir: string): string =>
      [
        ...processConfig(port, dir),
        "sentinel resolve-hostnames no",
        `sentinel monitor ${MASTER_NAME} ${HOST} ${first.port} 1`,
        `sentinel down-after-milliseconds ${MASTER_NAME} ${downAfterMs}`,
        `sentinel failover-timeout ${MASTER_NAME} ${failoverTimeoutMs}`,
        "",
      ].join("\n");
    const [second, sentinel] = await Promise.all([
      deployment.startNode({ clusterBus: false, configName: "redis.conf", config: replicaConfig }),
      deployment.startNode({ clusterBus: false, configName: "sentinel.conf", extraArgs: ["--sentinel"], config: sentinelConfig }),
    ]);
    const dataNodes = [first, second];

    const dataNodeAt = (port: number): ManagedNode => {
      const member = dataNodes.find((m) => m.port === port);
      if (!member) throw new Error(`the sentinel names ${HOST}:${port}, which is not a node of this setup`);
      return member;
    };
    const namedPrimary = async (): Promise<ManagedNode> => {
      const [address] = await ask(sentinel.port, ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME]);
      const [, port] = address as [string, string];
      return dataNodeAt(Number(port));
    };
    const sentinelProblem = async (): Promise<string | undefined> => {
      const [master, replicas] = await ask(sentinel.port, ["SENTINEL", "MASTER", MASTER_NAME], ["SENTINEL", "REPLICAS", MASTER_NAME]);
      const { flags, port } = asRecord(master);
      if (flags !== "master") return `the sentinel flags its primary ${HOST}:${port} ${flags}`;
      const primary = dataNodeAt(Number(port));
      const [role] = (await ask(primary.port, ["ROLE"])) as [string[]];
      if (role[0] !== "master") return `the sentinel's primary ${primary.address} answers ROLE ${role[0]}`;
      const known = (replicas as unknown[]).map(asRecord);
      for (const node of dataNodes.filter((m) => m.running && m !== primary)) {
        const [replicaRole] = (await ask(node.port, ["ROLE"])) as [(string | number)[]];
        const [kind, , primaryPort, linkState] = replicaRole;
        if (kind !== "slave" || Number(primaryPort) !== primary.port || linkState !== "connected")
          return `${node.address} answers ROLE ${replicaRole.slice(0, 4).join(" ")}, not a replica linked to ${primary.address}`;
        const entry = known.find((r) => Number(r.port) === node.port);
        if (!entry) return `the sentinel does not know the replica ${node.address} yet`;
        if (entry.flags !== "slave" || entry["master-link-status"] !== "ok" || Number(entry["master-port"]) !== primary.port)
          return `the sentinel sees the replica ${node.address} as ${entry.flags}, link ${entry["master-link-status"]}, of ${entry["master-port"]}`;
      }
      return undefined;
    };
    const waitHealthy = (timeoutMs = DEFAULT_WAIT_MS): Promise<void> =>
      waitUntil(`Sentinel setup ${MASTER_NAME} healthy`, timeoutMs, sentinelProblem);

    await waitHealthy(15_000);
    return {
      masterName: MASTER_NAME,
      url: `redis-sentinel://${sentinel.address}/${MASTER_NAME}`,
      sentinel: { host: HOST, port: sentinel.port },
      dir: deployment.dir,
      primary: async () => (await namedPrimary()).snapshot(),
      nodes: () => dataNodes.filter((m) => m.running).map((m) => m.snapshot()),
      kill: (node) => deployment.member(node).kill(),
      restart: (node) => deployment.restart(node),
      waitFailover: async (old, timeoutMs = 15_000) => {
        let promoted: ManagedNode | undefined;
        await waitUntil(`Sentinel failover away from ${old.address}`, timeoutMs, async () => {
          const [master] = await ask(sentinel.port, ["SENTINEL", "MASTER", MASTER_NAME]);
          const { flags, port } = asRecord(master);
          if (Number(port) === old.port) return `the sentinel still names ${old.address} (${flags})`;
          if (flags !== "master") return `the sentinel flags its new primary ${HOST}:${port} ${flags}`;
          const candidate = dataNodeAt(Number(port));
          const [role] = (await ask(candidate.port, ["ROLE"])) as [string[]];
          if (role[0] !== "master") return `the sentinel names ${candidate.address}, which answers ROLE ${role[0]}`;
          promoted = candidate;
          return undefined;
        });
        return promoted!.snapshot();
      },
      waitHealthy,
      stop: () => deployment.stop(),
    };
  } catch (err) {
    await deployment.stop();
    throw err;
  }
}
