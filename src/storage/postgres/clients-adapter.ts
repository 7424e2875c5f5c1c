import type { Db } from './db.ts';
import { findClientById } from './clients.queries.ts';

/**
 * oidc-provider reads clients through its adapter's `Client` model. Ours always comes from the clients
 * table (never Redis), so a Redis flush cannot lose a registration. Writes go through the CLI, not here:
 * dynamic registration is off, so the write methods are unreachable and refuse loudly if that changes.
 */
export function createClientsAdapter(db: Db) {
  const readOnly = async (): Promise<never> => {
    throw new Error('clients are managed with `gatehouse client`, not through oidc-provider');
  };
  return {
    async find(id: string): Promise<Record<string, unknown> | undefined> {
      const row = await findClientById(db, id);
      return row ? { ...row.metadata, client_id: row.id } : undefined;
    },
    upsert: readOnly,
    consume: readOnly,
    destroy: readOnly,
    revokeByGrantId: readOnly,
    findByUid: async () => undefined,
    findByUserCode: async () => undefined,
  };
}
