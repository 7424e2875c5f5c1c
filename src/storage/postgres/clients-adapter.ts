import { changeFeed } from './change-feed.ts';
import type { Db } from './db.ts';
import { CLIENTS_CHANGED, findClientById } from './clients.queries.ts';

/**
 * oidc-provider reads clients through its adapter's `Client` model. Ours always comes from the clients
 * table (never Redis), so a Redis flush cannot lose a registration. Writes go through the CLI, not here:
 * dynamic registration is off, so the write methods are unreachable and refuse loudly if that changes.
 *
 * On Postgres, clients are cached: every token, introspection and authorization request reads its client,
 * and that query was about half the server's CPU for a client_credentials token (issue 13's bench). The
 * table's trigger notifies every change when it commits (the CLI's, another replica's), so an entry is
 * served only while this process is listening and only if no change was notified since it was read
 * (change-feed.ts); unknown ids are not cached, so a new client is seen at once. The embedded store has
 * no notifications and is not cached.
 */
export function createClientsAdapter(db: Db) {
  const cache = new Map<string, { metadata: Record<string, unknown>; generation: number }>();
  const readOnly = async (): Promise<never> => {
    throw new Error('clients are managed with `gatehouse client`, not through oidc-provider');
  };
  return {
    async find(id: string): Promise<Record<string, unknown> | undefined> {
      const feed = changeFeed(db, CLIENTS_CHANGED);
      const hit = cache.get(id);
      if (feed?.listening && hit?.generation === feed.generation) return { ...hit.metadata };
      const generation = feed?.generation;
      const row = await findClientById(db, id);
      if (!row) return undefined;
      const metadata = { ...row.metadata, client_id: row.id };
      if (feed?.listening && generation === feed.generation) cache.set(id, { metadata, generation });
      else cache.delete(id);
      return { ...metadata };
    },
    upsert: readOnly,
    consume: readOnly,
    destroy: readOnly,
    revokeByGrantId: readOnly,
    findByUid: async () => undefined,
    findByUserCode: async () => undefined,
  };
}
