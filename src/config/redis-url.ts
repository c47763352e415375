// SESSION_STORE's Redis URLs, for the three ways teams run Redis: one server (redis://), a Redis Cluster given by seed
// nodes (redis-cluster://), or primaries managed by Sentinel (redis-sentinel://). Pure parsing: one problem string per
// mistake, naming what to write instead.
//
//   redis[s]://[user:password@]host:port[/db]
//   redis[s]-cluster://[user:password@]host:port[,host:port...]              (Cluster has database 0 only)
//   redis[s]-sentinel://[user:password@]host:port[,host:port...]/master-name[/db]
//
// `rediss` means TLS to every node. The credentials are the data nodes' (ACL user and password); sentinels are asked
// without them.

export interface RedisNodeAddress {
  host: string;
  port: number;
}

interface RedisCredentials {
  username?: string;
  password?: string;
  tls: boolean;
}

export type RedisTarget =
  | (RedisCredentials & { mode: "single"; node: RedisNodeAddress; db: number })
  | (RedisCredentials & { mode: "cluster"; seeds: RedisNodeAddress[] })
  | (RedisCredentials & { mode: "sentinel"; sentinels: RedisNodeAddress[]; masterName: string; db: number });

const DEFAULT_PORT = { single: 6379, cluster: 6379, sentinel: 26379 } as const;
const FORMS = "redis://host:port/db, redis-cluster://host:port,host:port or redis-sentinel://host:port/master-name (rediss… for TLS)";

const URL_SHAPE = /^(rediss?)(-cluster|-sentinel)?:\/\/(?:([^@/]*)@)?([^/?#]*)((?:\/[^/?#]*)*)$/;

function decoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

function parseNode(text: string, defaultPort: number): RedisNodeAddress | string {
  // [::1]:6379, host:6379, host
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d+))?$/.exec(text.trim());
  if (!match) return `"${text}" is not host:port`;
  const port = match[2] === undefined ? defaultPort : Number(match[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `"${text}": the port must be 1-65535`;
  return { host: match[1]!.replace(/^\[|\]$/g, ""), port };
}

function parseDb(text: string | undefined): number | string {
  if (text === undefined || text === "") return 0;
  if (!/^\d+$/.test(text)) return `the database must be a number (got "${text}")`;
  return Number(text);
}

/** The Redis deployment a SESSION_STORE URL names, or one line saying what is wrong with it. */
export function parseRedisUrl(url: string): RedisTarget | { problem: string } {
  const match = URL_SHAPE.exec(url);
  if (!match) return { problem: `must be memory or a Redis URL: ${FORMS}` };
  const [, scheme, variant, userinfo, hostList, pathText] = match;
  const mode = variant === "-cluster" ? "cluster" : variant === "-sentinel" ? "sentinel" : "single";
  const credentials: RedisCredentials = { tls: scheme === "rediss" };
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(":");
    const username = decoded(colon === -1 ? userinfo : userinfo.slice(0, colon));
    const password = colon === -1 ? undefined : decoded(userinfo.slice(colon + 1));
    // redis://secret@host is how some clients spell a password alone; ioredis reads it as one too.
    if (password === undefined) {
      if (username) credentials.password = username;
    } else {
      if (username) credentials.username = username;
      if (password) credentials.password = password;
    }
  }
  const path = (pathText ?? "").split("/").slice(1);
  if (hostList === "") return { problem: `names no host: ${FORMS}` };
  const nodes: RedisNodeAddress[] = [];
  for (const text of hostList!.split(",")) {
    const node = parseNode(text, DEFAULT_PORT[mode]);
    if (typeof node === "string") return { problem: node };
    nodes.push(node);
  }

  if (mode === "single") {
    if (nodes.length > 1) {
      return { problem: `lists several nodes: for a Redis Cluster write redis-cluster://${hostList}, for Sentinel redis-sentinel://${hostList}/<master-name>` };
    }
    if (path.length > 1) return { problem: `has more than a database after the host (got "${pathText}")` };
    const db = parseDb(path[0]);
    if (typeof db === "string") return { problem: db };
    return { ...credentials, mode, node: nodes[0]!, db };
  }
  if (mode === "cluster") {
    if (path.some((segment) => segment !== "" && segment !== "0")) {
      return { problem: `a Redis Cluster has database 0 only: write redis-cluster://${hostList} (got "${pathText}")` };
    }
    return { ...credentials, mode, seeds: nodes };
  }
  const masterName = decoded(path[0] ?? "");
  if (masterName === "") return { problem: `names no primary: write redis-sentinel://${hostList}/<master-name> (the name in the sentinels' "sentinel monitor")` };
  if (path.length > 2) return { problem: `has more than a master name and a database after the hosts (got "${pathText}")` };
  const db = parseDb(path[1]);
  if (typeof db === "string") return { problem: db };
  return { ...credentials, mode, sentinels: nodes, masterName, db };
}

/** A target without its credentials, for logs and error messages: "Redis Cluster at 127.0.0.1:7000,127.0.0.1:7001". */
export function describeRedisTarget(target: RedisTarget): string {
  const list = (nodes: RedisNodeAddress[]): string => nodes.map(({ host, port }) => `${host.includes(":") ? `[${host}]` : host}:${port}`).join(",");
  switch (target.mode) {
    case "single":
      return `Redis at ${list([target.node])}`;
    case "cluster":
      return `Redis Cluster at ${list(target.seeds)}`;
    case "sentinel":
      return `Redis primary "${target.masterName}" of the sentinels at ${list(target.sentinels)}`;
  }
}
