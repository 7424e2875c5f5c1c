import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One attribute as OTLP/JSON writes it. */
interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
}

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpAttribute[];
}

interface OtlpTraces {
  resourceSpans: { resource: { attributes: OtlpAttribute[] }; scopeSpans: { scope: { name: string }; spans: OtlpSpan[] }[] }[];
}

/** OTLP span kinds (the protobuf enum). */
export const SERVER = 2;

/** A span as the collector received it, attributes flattened. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: number;
  scope: string;
  attributes: Record<string, string | number | boolean | undefined>;
  resource: Record<string, string | number | boolean | undefined>;
}

function flatten(attributes: OtlpAttribute[] = []): ReceivedSpan['attributes'] {
  return Object.fromEntries(
    attributes.map(({ key, value }) => [key, value.stringValue ?? (value.intValue === undefined ? undefined : Number(value.intValue)) ?? value.boolValue ?? value.doubleValue]),
  );
}

/**
 * A stand-in OpenTelemetry collector: answers POST /v1/traces (OTLP/HTTP, JSON) with 200 and keeps each
 * body exactly as it arrived, so a test can search the raw payload as well as read the spans. With
 * `answer: false` it accepts requests and never answers (a collector that hangs).
 */
export class OtlpCollector {
  readonly bodies: string[] = [];
  readonly contentTypes: string[] = [];
  private readonly server: Server;

  private constructor(server: Server) {
    this.server = server;
  }

  static async start(options: { answer?: boolean } = {}): Promise<OtlpCollector> {
    const collector: OtlpCollector = new OtlpCollector(
      createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          if (req.method === 'POST' && req.url === '/v1/traces') {
            collector.bodies.push(Buffer.concat(chunks).toString());
            collector.contentTypes.push(req.headers['content-type'] ?? '');
          }
          if (options.answer !== false) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        });
      }),
    );
    await new Promise<void>((resolve) => collector.server.listen(0, '127.0.0.1', resolve));
    return collector;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Every payload received, as one string (for "this value appears nowhere" checks). */
  get raw(): string {
    return this.bodies.join('\n');
  }

  spans(): ReceivedSpan[] {
    return this.bodies.flatMap((body) =>
      (JSON.parse(body) as OtlpTraces).resourceSpans.flatMap(({ resource, scopeSpans }) =>
        scopeSpans.flatMap(({ scope, spans }) =>
          spans.map((span) => ({
            traceId: span.traceId,
            spanId: span.spanId,
            parentSpanId: span.parentSpanId || undefined,
            name: span.name,
            kind: span.kind,
            scope: scope.name,
            attributes: flatten(span.attributes),
            resource: flatten(resource.attributes),
          })),
        ),
      ),
    );
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
