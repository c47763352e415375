// Liveness and readiness. /readyz turns 503 while the gateway drains, so a load balancer stops sending it traffic.

import { Router } from "express";

export interface OpsDeps {
  isDraining(): boolean;
}

export function opsRoutes(deps: OpsDeps): Router {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", (_req, res) => {
    if (deps.isDraining()) res.status(503).json({ status: "draining" });
    else res.json({ status: "ready" });
  });
  return router;
}
