import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './free-port.ts';

/**
 * A redis-server of the test's own (the machine's shared Redis must never be stopped), on a free loopback
 * port with AOF as the README asks for (`appendonly yes`, `appendfsync everysec`) in a temporary folder,
 * so it can be shut down, killed and started again on the same data (REL-F1, REL-F2).
 */
export interface OwnRedis {
  readonly url: string;
  /** `SHUTDOWN`: Redis fsyncs the AOF and exits (a clean restart). */
  shutdown(): Promise<void>;
  /** SIGKILL: no chance to write anything more (a crash). */
  kill(): Promise<void>;
  /** Starts again on the same port and folder; resolves once it answers PING (after loading the AOF). */
  start(): Promise<void>;
  /** Stops it if running and removes its folder. */
  remove(): Promise<void>;
}

/** Resolves once the Redis (or Sentinel) at `url` answers PING. */
export async function waitForPing(url: string, limitMs = 10_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    probe.on('error', () => {});
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') return;
    } catch {
      // not up yet (or still loading its AOF)
    } finally {
      probe.disconnect();
    }
    if (Date.now() - started > limitMs) throw new Error(`redis-server at ${url} did not answer within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-redis-'));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;

  const start = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--maxmemory-policy', 'noeviction'],
      { stdio: 'ignore' },
    );
    await waitForPing(url);
  };
  const exited = async () => {
    const running = child;
    child = undefined;
    if (running && running.exitCode === null && running.signalCode === null) await once(running, 'exit');
  };

  await start();
  return {
    url,
    async shutdown() {
      const admin = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
      admin.on('error', () => {});
      // The reply never comes: the server closes the connection as it exits.
      await admin.shutdown().catch(() => undefined);
      admin.disconnect();
      await exited();
    },
    async kill() {
      child?.kill('SIGKILL');
      await exited();
    },
    start,
    async remove() {
      child?.kill('SIGKILL');
      await exited();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
