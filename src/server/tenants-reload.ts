// The tenants file reloaded without a restart: on SIGHUP, and when the file changes (watched through its directory,
// so an editor's or Kubernetes' replace-by-rename is seen too). A file that fails to read or validate is refused with
// every problem logged, and the live version stays.

import { watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import type { Logger } from "pino";
import { readTenantsFile } from "../config/gateway.js";
import type { TenantDirectory } from "../tenants/directory.js";

/** Changes come in bursts (truncate, write, rename): read the file once they settle. */
const SETTLE_MS = 100;

export interface TenantsReload {
  /** Reads the file now (what SIGHUP does): when it returns, the file is live or refused. */
  reload(): void;
  close(): void;
}

export function reloadTenantsFile(path: string, tenants: TenantDirectory, logger: Logger): TenantsReload {
  const reload = (): void => {
    const file = readTenantsFile(path);
    if ("problems" in file) {
      logger.error({ path, problems: file.problems, liveVersion: tenants.version }, "tenants file refused: the live version stays");
      return;
    }
    if (file.config.version === tenants.version) return;
    tenants.replace(file.config);
    logger.info({ path, version: file.config.version, tenants: file.config.tenants.size, keys: file.config.keys.length }, "tenants file loaded");
  };
  let timer: NodeJS.Timeout | undefined;
  const settle = (): void => {
    clearTimeout(timer);
    timer = setTimeout(reload, SETTLE_MS);
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(path), (_event, name) => {
      if (name === null || name === basename(path)) settle();
    });
    watcher.on("error", (err) => logger.warn({ err, path }, "tenants file: watching stopped; SIGHUP still reloads it"));
  } catch (err) {
    logger.warn({ err, path }, "tenants file: cannot watch it; SIGHUP reloads it");
  }
  process.on("SIGHUP", reload);
  return {
    reload,
    close: () => {
      clearTimeout(timer);
      watcher?.close();
      process.off("SIGHUP", reload);
    },
  };
}
