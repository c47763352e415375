// Liveness and readiness. /readyz turns 503 while the gateway drains, so a load balancer stops sending it traffic.

import { Router } from "express";

export interface OpsDeps {
  isDraining(): boolean;
  /** The tenants file's version now live (GATEWAY_CONFIG), shown by /readyz. */
  configVersion(): string | undefined;
}

export function opsRoutes(deps: OpsDeps): Router {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", (_req, res) => {
    const version = deps.configVersion();
    const config = version ? { configVersion: version } : {};
    if (deps.isDraining()) res.status(503).json({ status: "draining", ...config });
    else res.json({ status: "ready", ...config });
  });
  return router;
}
