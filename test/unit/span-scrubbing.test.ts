import { describe, expect, it } from '@jest/globals';
import { SpanKind, SpanStatusCode, type Attributes } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { scrubbingExporter } from '../../src/observability/span-scrubbing.ts';

/**
 * LOG-02 for traces: whatever an instrumentation records, only allowlisted attributes, route-template
 * server names, status codes and exception types leave the process. Spans are made by the real SDK and
 * pass through the exporter wrapper the trace pipeline uses.
 */
function exported(make: (tracer: ReturnType<TracerProvider['getTracer']>) => void): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: scrubbingExporter(memory) })] });
  make(provider.getTracer('test'));
  return memory.getFinishedSpans();
}

function oneSpan(name: string, kind: SpanKind, attributes: Attributes): ReadableSpan {
  const [span] = exported((tracer) => tracer.startSpan(name, { kind, attributes }).end());
  return span!;
}

describe('span scrubbing', () => {
  it('keeps a server span’s method, route template and status, and drops its raw path, query, addresses and user agent', () => {
    const span = oneSpan('GET /interaction/uid-123', SpanKind.SERVER, {
      'http.request.method': 'GET',
      'http.route': '/interaction/:uid',
      'http.response.status_code': 200,
      'url.path': '/interaction/uid-123',
      'url.query': 'code=secret-code&state=secret-state',
      'url.full': 'http://id.example/interaction/uid-123?code=secret-code',
      'http.target': '/interaction/uid-123?code=secret-code',
      'client.address': '203.0.113.7',
      'network.peer.address': '203.0.113.7',
      'user_agent.original': 'Mozilla/5.0',
    });
    expect(span.name).toBe('GET /interaction/:uid');
    expect(span.attributes).toEqual({ 'http.request.method': 'GET', 'http.route': '/interaction/:uid', 'http.response.status_code': 200 });
  });

  it('names a server span without a route by its method alone, whatever a hook called it', () => {
    expect(oneSpan('GET /reset-password/secret-token', SpanKind.SERVER, { 'http.request.method': 'GET' }).name).toBe('GET');
  });

  it('keeps a Postgres statement (placeholders only) but never a Redis one (keys and values)', () => {
    const postgres = oneSpan('pg.query:SELECT db', SpanKind.CLIENT, {
      'db.system.name': 'postgresql',
      'db.query.text': 'select * from "accounts" where lower(email) = $1',
      'db.postgresql.values': ['alice@example.com'],
      'db.connection_string': 'postgresql://gatehouse:secret@db:5432/gatehouse',
    });
    expect(postgres.attributes).toEqual({ 'db.system.name': 'postgresql', 'db.query.text': 'select * from "accounts" where lower(email) = $1' });
    const redis = oneSpan('get', SpanKind.CLIENT, { 'db.system.name': 'redis', 'db.operation.name': 'get', 'db.query.text': 'get gatehouse:Session:secret-session-id' });
    expect(redis.attributes).toEqual({ 'db.system.name': 'redis', 'db.operation.name': 'get' });
  });

  it('keeps the error status and exception type, never their messages (an error message may quote a value)', () => {
    const [span] = exported((tracer) => {
      const failing = tracer.startSpan('pg.query:SELECT db', { kind: SpanKind.CLIENT });
      failing.recordException(new TypeError('invalid input syntax for type uuid: "secret-value"'));
      failing.addEvent('custom', { secret: 'secret-value' });
      failing.setStatus({ code: SpanStatusCode.ERROR, message: 'invalid input syntax for type uuid: "secret-value"' });
      failing.end();
    });
    expect(span!.status).toEqual({ code: SpanStatusCode.ERROR });
    expect(span!.events.map((event) => [event.name, event.attributes])).toEqual([['exception', { 'exception.type': 'TypeError' }]]);
    expect(JSON.stringify(span!.events)).not.toContain('secret-value');
  });

  it('keeps links without their attributes', () => {
    const [span] = exported((tracer) => {
      const other = tracer.startSpan('other');
      other.end();
      tracer.startSpan('linked', { links: [{ context: other.spanContext(), attributes: { secret: 'secret-value' } }] }).end();
    }).filter((candidate) => candidate.name === 'linked');
    expect(span!.links).toHaveLength(1);
    expect(span!.links[0]!.attributes).toBeUndefined();
  });
});
