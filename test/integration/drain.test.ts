import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestDatabase, postgresUrl, redisUrl, uniqueName } from '../support/backends.ts';
import { inputValue, UserAgent } from '../support/browserless.ts';
import { heldRequest, killLeftovers, listenerClosed, startGatehouseProcess, type GatehouseProcess } from '../support/gatehouse-process.ts';

/**
 * REL-F8: SIGTERM drains the real process (`node src/main.ts`): /readyz 503 at once, no new connections,
 * requests in flight finish, then the stores close and the process exits 0, bounded by
 * SHUTDOWN_TIMEOUT_SECONDS; a second signal exits at once. Load comes from autocannon.
 */

/** The parts of autocannon's API used here (it ships no types). */
interface LoadClient {
  on(event: 'request', listener: () => void): void;
  on(event: 'response', listener: (status: number) => void): void;
  on(event: 'connError', listener: (error: NodeJS.ErrnoException) => void): void;
}
interface LoadOptions {
  url: string;
  connections: number;
  duration: number;
  requests: { method: 'GET'; path: string }[];
  setupClient(client: LoadClient): void;
}
interface LoadResult {
  timeouts: number;
}
interface LoadRun extends PromiseLike<LoadResult> {
  stop(): void;
}
afterEach(killLeftovers);

const autocannon = createRequire(import.meta.url)('autocannon') as (options: LoadOptions) => LoadRun;

/** One request autocannon sent: when (performance.now()), and its status, or none if it was never answered. */
interface Sent {
  start: number;
  status: number | undefined;
}

interface Load {
  sent: Sent[];
  connectionErrors: { at: number; code: string | undefined }[];
  stop(): Promise<LoadResult>;
}

/**
 * Steady load on a few endpoints, with every request accounted for. autocannon's own counters miss a
 * request whose connection the server closes (it reconnects quietly), so each client's requests are
 * followed here: with one request at a time per connection, a request sent before the previous one was
 * answered means the previous one was lost.
 */
function startLoad(url: string): Load {
  const sent: Sent[] = [];
  const connectionErrors: Load['connectionErrors'] = [];
  const settlers: (() => void)[] = [];
  const run = autocannon({
    url,
    connections: 8,
    duration: 60, // an upper bound: stopped once the process has exited
    requests: [
      { method: 'GET', path: '/.well-known/openid-configuration' },
      { method: 'GET', path: '/jwks' },
      { method: 'GET', path: '/register' }, // a rendered page: a little slower
    ],
    setupClient(client) {
      let pending: number | undefined;
      const settle = (status?: number) => {
        if (pending !== undefined) sent.push({ start: pending, status });
        pending = undefined;
      };
      client.on('request', () => {
        settle();
        pending = performance.now();
      });
      client.on('response', (status) => settle(status));
      client.on('connError', (error) => connectionErrors.push({ at: performance.now(), code: error.code }));
      settlers.push(() => settle());
    },
  });
  return {
    sent,
    connectionErrors,
    async stop() {
      run.stop();
      const result = await run;
      for (const settle of settlers) settle();
      return result;
    },
  };
}

const messages = (gatehouse: GatehouseProcess) => gatehouse.logs.map((line) => line.msg);

/** A GET through `agent` (a keep-alive pool), with the status and the Connection header of its answer. */
function get(url: string, agent: Agent): Promise<{ status: number; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    request(url, { agent }, (response) => {
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode!, connection: response.headers.connection }));
    })
      .on('error', reject)
      .end();
  });
}

/** A GET over a connection of its own (Connection: close), answered once `finish` sends the last line. */
const freshGet = (gatehouse: GatehouseProcess, path: string) =>
  heldRequest(gatehouse.port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${gatehouse.port}\r\nConnection: close\r\n`).finish('\r\n');

/** A POST whose body never arrives in full: its handler waits on it until the connection is cut. */
const stuckPost = (gatehouse: GatehouseProcess) =>
  heldRequest(
    gatehouse.port,
    `POST /token HTTP/1.1\r\nHost: 127.0.0.1:${gatehouse.port}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=`,
  );

/**
 * SIGTERM in the middle of steady load, with a password sign-up and a /readyz request begun before it
 * and finished only once the listener has closed, and a keep-alive connection idle at the signal whose
 * next request arrives just after it (as one in transit would). Every request sent before the signal
 * is answered 2xx; every answer at all is 2xx (whatever the server accepted, it served); connections
 * fail only after the signal, once the listener has closed.
 */
async function drainUnderLoad(env: Record<string, string>): Promise<void> {
  // argon2 at a real cost, so the sign-up held across the signal does real work after it.
  const gatehouse = await startGatehouseProcess({ ...env, SHUTDOWN_TIMEOUT_SECONDS: '10', ARGON2_MEMORY_KIB: '19456', ARGON2_TIME_COST: '2' });
  const ua = new UserAgent();
  const page = await (await ua.get(`${gatehouse.url}/register`)).text();
  const form = new URLSearchParams({
    csrf: inputValue(page, 'csrf'),
    email: `drain-${randomBytes(4).toString('hex')}@example.com`,
    name: 'Drain',
    password: 'correct horse battery staple',
  }).toString();
  const cookie = [...ua.cookies].map(([name, value]) => `${name}=${value}`).join('; ');

  const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
  expect(await get(`${gatehouse.url}/jwks`, keepAlive)).toEqual({ status: 200, connection: 'keep-alive' });

  const load = startLoad(gatehouse.url);
  await sleep(1500);
  const signUp = heldRequest(
    gatehouse.port,
    [
      'POST /register HTTP/1.1',
      `Host: 127.0.0.1:${gatehouse.port}`,
      `Origin: ${gatehouse.url}`,
      `Cookie: ${cookie}`,
      'Content-Type: application/x-www-form-urlencoded',
      `Content-Length: ${form.length}`,
      '',
      form.slice(0, 20),
    ].join('\r\n'),
  );
  const readiness = heldRequest(gatehouse.port, `GET /readyz HTTP/1.1\r\nHost: 127.0.0.1:${gatehouse.port}\r\n`);
  await sleep(200);
  const sigtermAt = gatehouse.signal('SIGTERM');
  await listenerClosed(gatehouse.port);
  // The idle connection is reused (the pool has one socket; a new one would be refused).
  const [reused, signedUp, ready] = await Promise.all([get(`${gatehouse.url}/jwks`, keepAlive), signUp.finish(form.slice(20)), readiness.finish('\r\n')]);
  expect(reused).toEqual({ status: 200, connection: 'close' });
  keepAlive.destroy();
  const exit = await gatehouse.exited;
  const result = await load.stop();

  // The requests begun before the signal finished after the listener closed, and told their clients
  // not to reuse the connection.
  expect(signedUp.status).toBe(200);
  expect(signedUp.headers.connection).toBe('close');
  expect(ready.status).toBe(503);
  expect(JSON.parse(ready.body)).toEqual({ status: 'draining' });
  expect(ready.headers.connection).toBe('close');

  const before = load.sent.filter((request) => request.start < sigtermAt);
  expect(before.length).toBeGreaterThan(100); // the load really was steady
  expect(before.filter((request) => request.status === undefined || request.status < 200 || request.status >= 300)).toEqual([]);
  expect(load.sent.filter((request) => request.status !== undefined && (request.status < 200 || request.status >= 300))).toEqual([]);
  expect(result.timeouts).toBe(0);
  expect(load.connectionErrors.filter((error) => error.at < sigtermAt)).toEqual([]);
  // Refused: the listener was closed while autocannon still tried to connect (it ignores
  // Connection: close and writes its next request on the closing socket, hence resets too).
  expect(load.connectionErrors.some((error) => error.code === 'ECONNREFUSED')).toBe(true);
  expect(new Set(load.connectionErrors.map((error) => error.code))).toEqual(
    new Set(load.connectionErrors.map((error) => error.code).filter((code) => ['ECONNREFUSED', 'ECONNRESET', 'EPIPE'].includes(code!))),
  );

  expect(exit).toMatchObject({ code: 0, signal: null });
  expect(exit.at - sigtermAt).toBeLessThan(10_000);
  expect(messages(gatehouse)).toEqual(expect.arrayContaining(['shutting down: not ready, draining requests in flight', 'shut down']));
  expect(messages(gatehouse)).not.toContain('drain timed out: closed connections with requests still in flight');
}

describe('graceful shutdown of the real process on the embedded store', () => {
  let dataDir: string;
  beforeAll(() => {
    // One store for the file: migrations run once; each process releases the lock as it exits.
    dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-drain-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('drains under load on SIGTERM: no request sent before it fails, /readyz 503, exit 0', async () => {
    await drainUnderLoad({ DATA_DIR: dataDir });
  });

  it('with SHUTDOWN_DELAY_SECONDS, turns not ready at once but keeps serving new connections until the delay ends', async () => {
    const gatehouse = await startGatehouseProcess({ DATA_DIR: dataDir, SHUTDOWN_DELAY_SECONDS: '1' });
    expect((await freshGet(gatehouse, '/readyz')).status).toBe(200);
    const sigtermAt = gatehouse.signal('SIGTERM');
    let ready = await freshGet(gatehouse, '/readyz');
    while (ready.status === 200 && performance.now() - sigtermAt < 1000) ready = await freshGet(gatehouse, '/readyz');
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toEqual({ status: 'draining' });
    // Alive and still serving new connections: a balancer that has not yet seen /readyz loses nothing.
    expect((await freshGet(gatehouse, '/healthz')).status).toBe(200);
    expect((await freshGet(gatehouse, '/.well-known/openid-configuration')).status).toBe(200);
    expect(performance.now() - sigtermAt).toBeLessThan(1000);
    await listenerClosed(gatehouse.port);
    expect(performance.now() - sigtermAt).toBeGreaterThanOrEqual(990);
    expect((await gatehouse.exited).code).toBe(0);
  });

  it('SHUTDOWN_TIMEOUT_SECONDS bounds the wait for a client that never finishes its request', async () => {
    const gatehouse = await startGatehouseProcess({ DATA_DIR: dataDir, SHUTDOWN_TIMEOUT_SECONDS: '1' });
    const stuck = stuckPost(gatehouse);
    await sleep(200);
    const sigtermAt = gatehouse.signal('SIGTERM');
    const exit = await gatehouse.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - sigtermAt).toBeGreaterThanOrEqual(1000); // it did wait for the request
    // Bounded, not forever (the client never finishes): far below what an unbounded drain would take, yet
    // loose enough for a loaded CI machine (a 5 s bound failed at load 7); the figure is printed.
    expect(exit.at - sigtermAt).toBeLessThan(20_000);
    console.log(`SHUTDOWN_TIMEOUT_SECONDS=1 with a stuck request: exited ${Math.round(exit.at - sigtermAt)} ms after SIGTERM`);
    expect((await stuck.response).status).toBeNaN(); // closed without an answer
    const timedOut = gatehouse.logs.find((line) => line.msg === 'drain timed out: closed connections with requests still in flight');
    expect(timedOut).toMatchObject({ connections: 1, timeoutSeconds: 1 });
    expect(messages(gatehouse)).toContain('shut down');
  });

  // Last: a forced exit skips closing the store.
  it('exits at once, non-zero, on a second signal while requests are still in flight', async () => {
    const gatehouse = await startGatehouseProcess({ DATA_DIR: dataDir, SHUTDOWN_TIMEOUT_SECONDS: '60' });
    const stuck = stuckPost(gatehouse);
    await sleep(200);
    gatehouse.signal('SIGTERM');
    await listenerClosed(gatehouse.port);
    const secondAt = gatehouse.signal('SIGINT');
    const exit = await gatehouse.exited;
    expect(exit.code).toBe(1);
    // Without waiting for SHUTDOWN_TIMEOUT_SECONDS (60 here); the time itself is printed, not asserted tight.
    expect(exit.at - secondAt).toBeLessThan(30_000);
    console.log(`second signal: exited ${Math.round(exit.at - secondAt)} ms after it`);
    expect(messages(gatehouse)).toContain('second signal: exiting without waiting for requests in flight');
    expect(messages(gatehouse)).not.toContain('shut down');
    stuck.socket.destroy();
  });
});

if (postgresUrl) {
  describe(`graceful shutdown of the real process on Postgres${redisUrl ? ' + Redis' : ''}`, () => {
    it('drains under load on SIGTERM: no request sent before it fails, /readyz 503, exit 0', async () => {
      const database = await createTestDatabase();
      try {
        await drainUnderLoad({
          DATABASE_URL: database.url,
          ...(redisUrl ? { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: `${uniqueName('drain')}:` } : {}),
        });
      } finally {
        await database.drop();
      }
    });
  });
}
