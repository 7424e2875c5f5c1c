import {
  ACCOUNT_MODELS,
  accountIdOf,
  GRANTABLE_MODELS,
  grantIdOf,
  rejectConsume,
  type AccountRevoker,
  type AdapterFactory,
  type AdapterPayload,
  type OidcAdapter,
} from '../oidc-adapter.ts';
import type { OidcPayloadRow } from './database.ts';
import type { Db } from './db.ts';
import {
  deletePayload,
  deletePayloadsByAccountId,
  deletePayloadsByGrantId,
  findLivePayload,
  findLivePayloadByUid,
  findLivePayloadByUserCode,
  markPayloadConsumed,
  upsertPayload,
} from './oidc-payloads.queries.ts';

/**
 * `consumed_at` is the source of truth for consumption (so `consume` can be one atomic UPDATE); readers get
 * it back inside the payload as epoch seconds, the shape the memory adapter stores.
 */
function toPayload(row: OidcPayloadRow | undefined): AdapterPayload | undefined {
  if (!row) return undefined;
  if (row.consumed_at === null) return row.payload;
  return { ...row.payload, consumed: Math.floor(row.consumed_at.getTime() / 1000) };
}

function stringField(payload: AdapterPayload, field: string): string | null {
  const value = payload[field];
  return typeof value === 'string' && value !== '' ? value : null;
}

function createPostgresAdapter(db: Db, model: string, adapterFor: AdapterFactory): OidcAdapter {
  return {
    async upsert(id, payload, expiresIn) {
      // The same indexes as the memory adapter: uid for sessions, userCode for any model, grant for grantables.
      await upsertPayload(db, {
        model,
        id,
        payload,
        grantId: GRANTABLE_MODELS.has(model) ? (grantIdOf(payload) ?? null) : null,
        accountId: ACCOUNT_MODELS.has(model) ? (accountIdOf(payload) ?? null) : null,
        userCode: stringField(payload, 'userCode'),
        uid: model === 'Session' ? stringField(payload, 'uid') : null,
        expiresIn: typeof expiresIn === 'number' ? expiresIn : undefined,
        consumedAt: typeof payload.consumed === 'number' ? new Date(payload.consumed * 1000) : null,
      });
    },

    async find(id) {
      return toPayload(await findLivePayload(db, model, id));
    },

    async findByUid(uid) {
      return toPayload(await findLivePayloadByUid(db, model, uid));
    },

    async findByUserCode(userCode) {
      return toPayload(await findLivePayloadByUserCode(db, model, userCode));
    },

    async consume(id) {
      if (await markPayloadConsumed(db, model, id)) return;
      // Lost the race, a replay, or gone: see rejectConsume for why this throws instead of overwriting.
      const row = await findLivePayload(db, model, id);
      await rejectConsume(adapterFor, row ? grantIdOf(row.payload) : undefined);
    },

    async destroy(id) {
      // The indexes are columns of the row, so they go with it.
      await deletePayload(db, model, id);
    },

    async revokeByGrantId(grantId) {
      await deletePayloadsByGrantId(db, grantId);
    },
  };
}

/** oidc-provider's models in the `oidc_payloads` table (pg or the embedded PGlite store). */
export function createPostgresAdapterFactory(db: Db): AdapterFactory {
  const adapters = new Map<string, OidcAdapter>();
  const adapterFor: AdapterFactory = (model) => {
    let adapter = adapters.get(model);
    if (!adapter) {
      adapter = createPostgresAdapter(db, model, adapterFor);
      adapters.set(model, adapter);
    }
    return adapter;
  };
  return adapterFor;
}

/** Revokes every session, grant, code and token of an account in the `oidc_payloads` table. */
export function createPostgresAccountRevoker(db: Db): AccountRevoker {
  return { revokeAccount: (accountId) => deletePayloadsByAccountId(db, accountId) };
}
