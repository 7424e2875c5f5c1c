import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './free-port.ts';
import { waitForPing } from './redis-server.ts';

/**
 * A Redis Sentinel deployment of the test's own on loopback (REL-F3; the machine's shared Redis is never
 * touched): a primary and one replica, both with a password and AOF as the README asks (appendonly yes,
 * appendfsync everysec, noeviction), watched by three sentinels (quorum 2) that have a password of their
 * own. Sentinels notice a dead primary after `DOWN_AFTER_MS` and promote the replica, so a failover takes
 * a few seconds here instead of the default 30 s or more.
 */
export const SENTINEL_GROUP_NAME = 'gatehouse-test';
export const DATA_PASSWORD = 'data-node-password';
export const SENTINEL_PASSWORD = 'sentinel-password';
const DOWN_AFTER_MS = 500;
const FAILOVER_TIMEOUT_MS = 2_000;

export interface DataNode {
  readonly port: number;
  /** An admin connection (password included) that never reconnects. */
  connect(): Redis;
  /** SIGKILL: the process dies with whatever it had not yet sent to its replica. */
  kill(): Promise<void>;
}

export interface SentinelGroup {
  readonly primary: DataNode;
  readonly replica: DataNode;
  /** REDIS_SENTINELS for Gatehouse: the three sentinels as host:port. */
  readonly sentinels: string;
  /**
   * Resolves once a failover can happen: every sentinel knows the replica (from the primary's INFO) and the
   * other two (from hello messages every 2 s), so two can agree the primary is down and elect a leader.
   * Clients can use the group before that.
   */
  readyForFailover(): Promise<void>;
  /** The primary's port as the sentinels report it now. */
  primaryPort(): Promise<number>;
  /** Stops every process (SIGKILL) and removes their folders; safe to call twice or after a failed start. */
  remove(): Promise<void>;
}

function adminClient(port: number, password: string): Redis {
  const client = new Redis({ host: '127.0.0.1', port, password, maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: false });
  client.on('error', () => {}); // a killed node's connection errors are expected
  return client;
}

async function until(what: string, check: () => Promise<boolean>, limitMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!(await check().catch(() => false))) {
    if (Date.now() - started > limitMs) throw new Error(`sentinel group: ${what} not within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function withClient<T>(client: Redis, work: (client: Redis) => Promise<T>): Promise<T> {
  try {
    return await work(client);
  } finally {
    client.disconnect();
  }
}

export async function startSentinelGroup(): Promise<SentinelGroup> {
  const root = await mkdtemp(join(tmpdir(), 'gatehouse-sentinel-'));
  const children: ChildProcess[] = [];
  const run = (args: string[]) => {
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    children.push(child);
    return child;
  };
  const remove = async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(children.map((child) => (child.exitCode === null && child.signalCode === null ? once(child, 'exit') : undefined)));
    await rm(root, { recursive: true, force: true });
  };

  const dataNode = async (name: string, extra: string[]): Promise<DataNode> => {
    const dir = join(root, name);
    await mkdir(dir);
    const port = await freePort();
    const child = run([
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--logfile', join(dir, 'redis.log'),
      '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction',
      // masterauth on both: whichever is primary, the other must be able to replicate from it.
      '--requirepass', DATA_PASSWORD, '--masterauth', DATA_PASSWORD,
      ...extra,
    ]);
    await waitForPing(`redis://:${DATA_PASSWORD}@127.0.0.1:${port}`);
    return {
      port,
      connect: () => adminClient(port, DATA_PASSWORD),
      async kill() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGKILL');
        await once(child, 'exit');
      },
    };
  };

  try {
    const primary = await dataNode('primary', []);
    const replica = await dataNode('replica', ['--replicaof', '127.0.0.1', String(primary.port)]);
    await until('replica in sync', () =>
      withClient(replica.connect(), async (client) => (await client.info('replication')).includes('master_link_status:up')),
    );

    const sentinelPorts = await Promise.all([0, 1, 2].map(async (n) => {
      const dir = join(root, `sentinel-${n}`);
      await mkdir(dir);
      const port = await freePort();
      // Sentinel rewrites its config file as it learns (replicas, other sentinels, the new primary).
      const conf = join(dir, 'sentinel.conf');
      await writeFile(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `logfile ${join(dir, 'sentinel.log')}`,
          `requirepass ${SENTINEL_PASSWORD}`,
          // Sentinels ask each other whether the primary is down: with requirepass they need this to do so.
          `sentinel sentinel-pass ${SENTINEL_PASSWORD}`,
          `sentinel monitor ${SENTINEL_GROUP_NAME} 127.0.0.1 ${primary.port} 2`,
          `sentinel auth-pass ${SENTINEL_GROUP_NAME} ${DATA_PASSWORD}`,
          `sentinel down-after-milliseconds ${SENTINEL_GROUP_NAME} ${DOWN_AFTER_MS}`,
          `sentinel failover-timeout ${SENTINEL_GROUP_NAME} ${FAILOVER_TIMEOUT_MS}`,
          '',
        ].join('\n'),
      );
      run([conf, '--sentinel']);
      await waitForPing(`redis://:${SENTINEL_PASSWORD}@127.0.0.1:${port}`);
      return port;
    }));

    return {
      primary,
      replica,
      sentinels: sentinelPorts.map((port) => `127.0.0.1:${port}`).join(','),
      async readyForFailover() {
        for (const port of sentinelPorts) {
          await until(`sentinel ${port} sees the replica and the other sentinels`, () =>
            withClient(adminClient(port, SENTINEL_PASSWORD), async (client) => {
              const replicas = (await client.call('SENTINEL', 'REPLICAS', SENTINEL_GROUP_NAME)) as unknown[];
              const others = (await client.call('SENTINEL', 'SENTINELS', SENTINEL_GROUP_NAME)) as unknown[];
              return replicas.length === 1 && others.length === 2;
            }),
          );
        }
      },
      primaryPort: () =>
        withClient(adminClient(sentinelPorts[0]!, SENTINEL_PASSWORD), async (client) =>
          Number(((await client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_GROUP_NAME)) as string[])[1]),
        ),
      remove,
    };
  } catch (error) {
    await remove();
    throw error;
  }
}
