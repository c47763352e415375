// A span processor that throws on every span, as a broken exporter or instrumentation would: the telemetry-fault tests
// prove a turn is never lost to it.
import type { Context } from "@opentelemetry/api";
import type { ReadableSpan, Span, SpanProcessor } from "@opentelemetry/sdk-trace-base";

export class ThrowingSpanProcessor implements SpanProcessor {
  onStart(_span: Span, _context: Context): void {
    throw new Error("span processor exploded");
  }
  onEnd(_span: ReadableSpan): void {}
  forceFlush = async (): Promise<void> => undefined;
  shutdown = async (): Promise<void> => undefined;
}
