import { createRequire } from 'node:module';

/** The parts of autocannon's API used here (it ships no types). */
interface LoadOptions {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  connections: number;
  duration: number;
}
interface LoadResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
const autocannon = createRequire(import.meta.url)('autocannon') as (options: LoadOptions) => Promise<LoadResult>;

/** One request, fixed: what autocannon repeats against a server. */
export interface EndpointRequest {
  path: string;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** A form body (application/x-www-form-urlencoded). */
  form?: Record<string, string>;
}

export interface EndpointResult {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  /** The server's CPU time over the measured run divided by the requests answered, in ms. */
  cpuMsPerRequest: number;
}

/** Connections kept busy: enough to saturate one Node process on 2 cores without queueing much. */
const CONNECTIONS = 8;

/**
 * Loads one endpoint over loopback: a warm-up run (JIT, connection pools, caches) whose figures are
 * dropped, then `seconds` measured. Any answer but 2xx, or a socket error, fails the benchmark: a fast
 * error page is no result.
 */
export async function loadEndpoint(base: string, request: EndpointRequest, serverCpuMs: () => number, seconds: number, warmupSeconds = 1): Promise<EndpointResult> {
  const options: LoadOptions = {
    url: `${base}${request.path}`,
    method: request.method,
    headers: { ...request.headers, ...(request.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
    ...(request.form ? { body: new URLSearchParams(request.form).toString() } : {}),
    connections: CONNECTIONS,
    duration: seconds,
  };
  const run = async (duration: number) => {
    const result = await autocannon({ ...options, duration });
    if (result.non2xx > 0 || result.errors > 0) {
      const probe = await fetch(options.url, { method: options.method, headers: options.headers, ...(options.body ? { body: options.body } : {}) });
      throw new Error(`${request.method} ${options.url}: ${result.non2xx} non-2xx, ${result.errors} errors; one answer: ${probe.status} ${(await probe.text()).slice(0, 300)}`);
    }
    return result;
  };
  await run(warmupSeconds);
  const cpuBefore = serverCpuMs();
  const result = await run(seconds);
  const cpuMsPerRequest = (serverCpuMs() - cpuBefore) / result.requests.total;
  return { requestsPerSecond: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, cpuMsPerRequest };
}
