// W3C trace context of an incoming request, for TurnRecord.parentContext: the app's trace continues through the
// gateway. Pure: reads only the traceparent/tracestate headers, whatever the global OpenTelemetry setup.

import { ROOT_CONTEXT, defaultTextMapGetter } from "@opentelemetry/api";
import type { Context } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import type { IncomingHttpHeaders } from "node:http";

const propagator = new W3CTraceContextPropagator();

/** The parent context carried by `traceparent` (ROOT_CONTEXT when absent or malformed). */
export function extractParentContext(headers: IncomingHttpHeaders): Context {
  return propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
}
