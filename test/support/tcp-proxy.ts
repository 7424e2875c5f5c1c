import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on a free loopback port in front of a real Redis or Postgres, for fault tests that must not
 * touch the shared servers. It plays the network between the app and its store:
 * - open: bytes pass both ways;
 * - cut(): every connection is torn down and new ones are reset at once (a server that is down);
 * - blackhole(): nothing passes and nothing fails: open connections go silent (their bytes wait, as TCP
 *   retransmits them), new ones are accepted but never reach the server (a partition: only timeouts help);
 * - delay(ms): every chunk arrives `ms` late, in order (a slow or paused server);
 * - restore(): open again; held bytes and held connections go through.
 */
export interface TcpProxy {
  readonly port: number;
  /** `url` with its host and port replaced by the proxy's. */
  rewrite(url: string): string;
  cut(): void;
  blackhole(): void;
  delay(ms: number): void;
  restore(): void;
  close(): Promise<void>;
}

type Mode = { kind: 'open' } | { kind: 'cut' } | { kind: 'blackhole' } | { kind: 'delay'; ms: number };

interface Link {
  client: Socket;
  /** Undefined while a connection accepted during a blackhole waits for the way to open. */
  upstream: Socket | undefined;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: Mode = { kind: 'open' };
  const links = new Set<Link>();

  /** Forwards `from` to `to` under the current mode; a chunk read in delay mode keeps its delay. */
  const forward = (from: Socket, to: () => Socket | undefined) => {
    from.on('data', (chunk: Buffer) => {
      const write = () => to()?.write(chunk);
      if (mode.kind === 'delay') setTimeout(write, mode.ms);
      else write();
    });
  };

  const drop = (link: Link) => {
    links.delete(link);
    link.client.destroy();
    link.upstream?.destroy();
  };

  const openUpstream = (link: Link) => {
    const upstream = connect(target.port, target.host);
    link.upstream = upstream;
    forward(upstream, () => link.client);
    upstream.on('error', () => drop(link));
    upstream.on('close', () => drop(link));
    link.client.resume();
  };

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    if (mode.kind === 'cut') {
      client.resetAndDestroy();
      return;
    }
    const link: Link = { client, upstream: undefined };
    links.add(link);
    forward(client, () => link.upstream);
    client.on('error', () => drop(link));
    client.on('close', () => drop(link));
    // Held (paused, no upstream) until restore() during a blackhole.
    if (mode.kind !== 'blackhole') openUpstream(link);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    port,
    rewrite(url) {
      const rewritten = new URL(url);
      rewritten.hostname = '127.0.0.1';
      rewritten.port = String(port);
      return rewritten.toString();
    },
    cut() {
      mode = { kind: 'cut' };
      for (const link of [...links]) drop(link);
    },
    blackhole() {
      mode = { kind: 'blackhole' };
      for (const { client, upstream } of links) {
        client.pause();
        upstream?.pause();
      }
    },
    delay(ms) {
      mode = { kind: 'delay', ms };
    },
    restore() {
      mode = { kind: 'open' };
      for (const link of links) {
        if (link.upstream) {
          link.client.resume();
          link.upstream.resume();
        } else {
          openUpstream(link);
        }
      }
    },
    async close() {
      mode = { kind: 'cut' };
      for (const link of [...links]) drop(link);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
