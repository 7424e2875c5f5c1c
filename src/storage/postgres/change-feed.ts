import pg from 'pg';
import type { Db } from './db.ts';

/**
 * Postgres notifications of a table's changes, for a cache in front of it (clients-adapter.ts). A cache
 * may serve an entry only while `listening`, and only one read under the current `generation`, which
 * moves at every notification, at every (re)connection and at every change this process makes itself:
 * a change is then never served stale once its notification arrived, and nothing is served while no
 * notification could arrive (the listening connection lost, being re-established).
 */
export interface ChangeFeed {
  readonly listening: boolean;
  readonly generation: number;
}

interface Feed extends ChangeFeed {
  /** This process changed the table (through the same database handle): stale entries go at once. */
  bump(): void;
  close(): Promise<void>;
}

/** How long to wait before listening again after the connection was lost or could not be opened. */
const RETRY_MS = 1_000;

/**
 * One dedicated connection (not from the pool: a LISTEN lives as long as its session) that LISTENs on
 * `channel`, opened on first use and re-opened after a loss until closed.
 */
export function createChangeFeed(url: string, channel: string, connectTimeoutMs: number): Feed {
  let current: pg.Client | undefined;
  let listening = false;
  let generation = 0;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  const lost = (client: pg.Client) => {
    if (client !== current) return;
    current = undefined;
    listening = false;
    generation += 1;
    client.end().catch(() => {});
    if (!closed) retry = setTimeout(listen, RETRY_MS).unref();
  };
  function listen(): void {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs, keepAlive: true });
    current = client;
    client.on('notification', () => void (generation += 1));
    client.on('error', () => lost(client));
    client.on('end', () => lost(client));
    client
      .connect()
      .then(() => client.query(`LISTEN ${channel}`))
      .then(() => {
        if (client !== current) return;
        generation += 1;
        listening = true;
      })
      .catch(() => lost(client));
  }
  listen();

  return {
    get listening() {
      return listening;
    },
    get generation() {
      return generation;
    },
    bump: () => void (generation += 1),
    async close() {
      closed = true;
      clearTimeout(retry);
      const client = current;
      current = undefined;
      listening = false;
      await client?.end().catch(() => {});
    },
  };
}

/** Feeds by database handle and channel, started by the first cache that asks (the CLI never does). */
const registry = new WeakMap<Db, { start: (channel: string) => Feed; started: Map<string, Feed> }>();

/** Called by db.ts for a Postgres database: its feeds connect to `url`. */
export function registerChangeFeeds(db: Db, url: string, connectTimeoutMs: number): () => Promise<void> {
  const started = new Map<string, Feed>();
  registry.set(db, { started, start: (channel) => createChangeFeed(url, channel, connectTimeoutMs) });
  return async () => {
    await Promise.all([...started.values()].map((feed) => feed.close()));
    started.clear();
  };
}

/** The feed of `channel` on this database, or undefined where there is none (the embedded store, a transaction). */
export function changeFeed(db: Db, channel: string): ChangeFeed | undefined {
  const entry = registry.get(db);
  if (!entry) return undefined;
  let feed = entry.started.get(channel);
  if (!feed) entry.started.set(channel, (feed = entry.start(channel)));
  return feed;
}

/** This process changed what `channel` watches through `db`: caches of that handle drop their entries now. */
export function noteChanged(db: Db, channel: string): void {
  registry.get(db)?.started.get(channel)?.bump();
}
