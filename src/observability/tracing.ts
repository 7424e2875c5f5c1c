import { register } from 'node:module';
import type { Config } from '../config/load.ts';
import { createLogger } from '../logger.ts';

/**
 * The modules import-in-the-middle intercepts: those the instrumentations in trace-pipeline.ts patch.
 * Only these: every other module (ours included) loads untouched.
 */
const INSTRUMENTED_MODULES = ['http', 'pg', 'pg-pool', 'ioredis'];

export interface Tracing {
  /** Where spans go (the collector's origin, for the start-up log line). */
  readonly collector: string;
  /** Sends the spans still queued, within a few seconds, and stops tracing. */
  shutdown(): Promise<void>;
}

/**
 * Turns OpenTelemetry tracing on when OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise does nothing, and no
 * OpenTelemetry module is ever loaded (this file imports none: the SDK is imported below, on demand).
 * Our code is native ESM, and pg, ioredis and node:http reach it through `import`, which require-hooks
 * never see: OpenTelemetry's ESM loader hook (import-in-the-middle) must be registered before those
 * modules are first imported. So main.ts calls this before it imports the app, and the SDK is imported
 * only once the hook is in place (the exporter loads node:http too).
 */
export async function startTracing(config: Config): Promise<Tracing | undefined> {
  const settings = config.tracing;
  if (!settings) return undefined;
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, { data: { include: INSTRUMENTED_MODULES } });
  const { startTracePipeline } = await import('./trace-pipeline.ts');
  const pipeline = startTracePipeline(settings, createLogger(config));
  return { collector: new URL(settings.endpoint).origin, shutdown: () => pipeline.shutdown() };
}
