import { IncomingMessage } from 'node:http';
import { context, diag, DiagLogLevel, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
} from '@opentelemetry/sdk-trace';
import type { Logger } from 'pino';
import type { TracingConfig } from '../config/load.ts';
import { routeOf } from './request-routes.ts';
import { scrubbingExporter } from './span-scrubbing.ts';

/** Probes and scrapes every few seconds would drown the traces that matter. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/** The longest shutdown waits for the last spans to reach the collector: a dead collector must not hold the exit. */
const FLUSH_LIMIT_MS = 3_000;

export interface TracePipeline {
  /** Exports the spans still queued (at most FLUSH_LIMIT_MS) and stops. */
  shutdown(): Promise<void>;
}

function sampler(config: TracingConfig): Sampler {
  const ratio = () => new TraceIdRatioBasedSampler(config.samplerRatio);
  switch (config.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio();
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio() });
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/**
 * `<endpoint>/v1/traces` as the OTLP specification builds it, unless OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
 * is in the environment (then the exporter reads that itself). Given explicitly because the endpoint may
 * come from the GATEHOUSE_CONFIG file, which the exporter does not read.
 */
function tracesUrl(endpoint: string, env: NodeJS.ProcessEnv): string | undefined {
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return undefined;
  return `${endpoint.endsWith('/') ? endpoint : `${endpoint}/`}v1/traces`;
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split('?', 1)[0]!;
}

/**
 * OpenTelemetry's own warnings and errors (a collector that refuses or cannot be reached) go to our log.
 * Only the message and its arguments' text: no span ever rides along at these levels.
 */
function reportDiagnostics(logger: Logger): void {
  const at = (level: 'warn' | 'error') => (message: string, ...args: unknown[]) =>
    logger[level]({ detail: args.map((arg) => (arg instanceof Error ? arg.message : String(arg))) }, `opentelemetry: ${message}`);
  diag.setLogger(
    { error: at('error'), warn: at('warn'), info: () => {}, debug: () => {}, verbose: () => {} },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
}

/**
 * The tracing SDK: a provider whose spans are scrubbed (src/observability/span-scrubbing.ts) and batched
 * to the collector over OTLP/HTTP (JSON), the W3C traceparent propagator, and the instrumentations:
 * - http: one server span per request, named by route template once the response is sent;
 * - pg: one span per query, only inside a traced request (the mailer's polling would flood the rest),
 *   statement text only: enhancedDatabaseReporting (the bind values: password hashes, emails) stays off;
 * - ioredis: one span per command inside a request, recorded as the command's name alone (its
 *   arguments are keys holding session and grant ids, and values holding tokens).
 * Loaded by tracing.ts once the loader hooks are in place, before the app.
 */
export function startTracePipeline(config: TracingConfig, logger: Logger): TracePipeline {
  reportDiagnostics(logger);
  const resource = defaultResource()
    .merge(resourceFromAttributes({ 'service.name': 'gatehouse' }))
    // OTEL_RESOURCE_ATTRIBUTES, and OTEL_SERVICE_NAME from the environment.
    .merge(detectResources({ detectors: [envDetector] }))
    .merge(config.serviceName ? resourceFromAttributes({ 'service.name': config.serviceName }) : null);
  const url = tracesUrl(config.endpoint, process.env);
  const exporter = scrubbingExporter(new OTLPTraceExporter(url ? { url } : {}));
  const provider = new TracerProvider({
    resource,
    sampler: sampler(config),
    spanProcessors: [new BatchSpanProcessor({ exporter, exportTimeoutMillis: FLUSH_LIMIT_MS })],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.has(pathOf(req)),
        requireParentforOutgoingSpans: true,
        applyCustomAttributesOnSpan(span, request) {
          if (!(request instanceof IncomingMessage)) return; // a client span: its request is a ClientRequest
          const route = routeOf(request);
          if (!route) return;
          span.setAttribute('http.route', route);
          span.updateName(`${request.method ?? 'GET'} ${route}`);
        },
      }),
      new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false }),
      new IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: (command) => command }),
    ],
  });
  return {
    async shutdown() {
      const flushed = provider.shutdown();
      const limit = new Promise<void>((resolve) => setTimeout(resolve, FLUSH_LIMIT_MS).unref());
      await Promise.race([flushed.catch(() => {}), limit]);
    },
  };
}
