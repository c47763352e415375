// GET /metrics: OpenMetrics (with exemplars) when the scraper's Accept prefers it, as Prometheus does; the classic
// text format otherwise (curl, older scrapers).

import { Router } from "express";
import type { Telemetry } from "../telemetry/telemetry.js";

const OPENMETRICS = "application/openmetrics-text";
const CLASSIC = "text/plain";

export function metricsRouter(telemetry: Pick<Telemetry, "render">): Router {
  const router = Router();
  router.get("/metrics", async (req, res) => {
    // Listing the classic type first makes it win on `*/*` and on ties.
    const format = req.accepts([CLASSIC, OPENMETRICS]) === OPENMETRICS ? "openmetrics" : "prometheus";
    const { contentType, body } = await telemetry.render(format);
    res.setHeader("Content-Type", contentType);
    res.setHeader("Vary", "Accept");
    res.send(body);
  });
  return router;
}
