// GET /metrics: OpenMetrics (with exemplars) when the scraper prefers it, as Prometheus does; the classic text
// format otherwise (curl, older scrapers).

import { Router } from "express";
import { negotiateFormat } from "../telemetry/metrics.js";
import type { Telemetry } from "../telemetry/telemetry.js";

export function metricsRouter(telemetry: Pick<Telemetry, "render">): Router {
  const router = Router();
  router.get("/metrics", async (req, res) => {
    const { contentType, body } = await telemetry.render(negotiateFormat(req.headers.accept));
    res.setHeader("Content-Type", contentType);
    res.setHeader("Vary", "Accept");
    res.send(body);
  });
  return router;
}
