import type { ChainableCommander, Redis } from 'ioredis';
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

/*
 * Layout under the prefix (the memory adapter's, as Redis keys):
 *   ${model}:${id}         hash { payload: JSON, consumed?: epoch seconds }, EX expiresIn
 *   sessionUid:${uid}      -> session id, userCode:${code} -> id; same TTL as their record
 *   grant:${grantId}       set of the record keys issued under the grant; TTL = its longest-lived member
 *   account:${accountId}   set of the record keys (sessions, grants, codes, tokens) of one account; same TTL rule
 * `consumed` is a hash field, not part of the JSON, so `consume` can set it atomically with HSETNX, and it
 * expires and is deleted together with its record. The record also names the index keys that point at it
 * (`ix_uid`, `ix_code`, `ix_grant`, `ix_account`, with `v` = 2), so an overwrite or a destroy can undo
 * them inside one script, in one round trip, without reading the JSON first. A record written before
 * those fields existed (no `v`) takes the older path: read the payload, then a MULTI.
 */

/** Deletes an index key only while it still points at this record (another record may own it now). */
const DEL_IF_EQUALS = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** Lua: the shared start of UPSERT and DESTROY, undoing the index entries the stored record names. */
const UNDO_STORED_INDEXES = `
local key = KEYS[1]
local id = ARGV[1]
local stored = redis.call('HMGET', key, 'payload', 'v', 'ix_uid', 'ix_code', 'ix_grant', 'ix_account')
if stored[1] and not stored[2] then return 0 end
for i = 3, 4 do
  if stored[i] and redis.call('GET', stored[i]) == id then redis.call('DEL', stored[i]) end
end
for i = 5, 6 do
  if stored[i] then redis.call('SREM', stored[i], key) end
end
redis.call('DEL', key)
`;

/**
 * Overwrites a record with its indexes in one step (returns 1), or returns 0 without writing when the
 * stored record predates the index fields. ARGV: id, payload JSON, consumed ('' = none), TTL seconds
 * (0 = never expires), then the uid, userCode, grant-set and account-set keys ('' = none). An index set
 * lives as long as its longest-lived member: a set that already outlives the new one keeps its TTL
 * (EXPIRE GT cannot do this alone: a set SADD has just created has no TTL yet).
 */
const UPSERT = `${UNDO_STORED_INDEXES}
local ttl = tonumber(ARGV[4])
local fields = {'payload', ARGV[2], 'v', '2'}
if ARGV[3] ~= '' then fields[#fields + 1] = 'consumed'; fields[#fields + 1] = ARGV[3] end
local names = {'ix_uid', 'ix_code', 'ix_grant', 'ix_account'}
for i = 1, 4 do
  if ARGV[4 + i] ~= '' then fields[#fields + 1] = names[i]; fields[#fields + 1] = ARGV[4 + i] end
end
redis.call('HSET', key, unpack(fields))
if ttl > 0 then redis.call('EXPIRE', key, ttl) end
for i = 5, 6 do
  if ARGV[i] ~= '' then
    if ttl > 0 then redis.call('SET', ARGV[i], id, 'EX', ttl) else redis.call('SET', ARGV[i], id) end
  end
end
for i = 7, 8 do
  local set = ARGV[i]
  if set ~= '' then
    local existed = redis.call('EXISTS', set)
    redis.call('SADD', set, key)
    if ttl == 0 then
      redis.call('PERSIST', set)
    else
      local current = redis.call('TTL', set)
      if existed == 0 or (current >= 0 and current < ttl) then redis.call('EXPIRE', set, ttl) end
    end
  end
end
return 1`;

/** Deletes a record and the index entries it names (returns 1), or returns 0 for a record that predates them. ARGV: id. */
const DESTROY = `${UNDO_STORED_INDEXES}
return 1`;

/** The scripts, sent once and then run by their digest (ioredis reloads them after a Redis restart or failover). */
interface AdapterScripts {
  gatehouseUpsert(key: string, ...args: (string | number)[]): Promise<number>;
  gatehouseDestroy(key: string, id: string): Promise<number>;
}

function withScripts(redis: Redis): Redis & AdapterScripts {
  const scripted = redis as Redis & Partial<AdapterScripts>;
  if (!scripted.gatehouseUpsert) {
    redis.defineCommand('gatehouseUpsert', { numberOfKeys: 1, lua: UPSERT });
    redis.defineCommand('gatehouseDestroy', { numberOfKeys: 1, lua: DESTROY });
  }
  return scripted as Redis & AdapterScripts;
}

/** 1: this call consumed the record; 0: it was already consumed; -1: no such record. */
const CONSUME = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('HSETNX', KEYS[1], 'consumed', ARGV[1])`;

/** MULTI replies carry per-command errors instead of rejecting; surface the first one. */
async function execAtomically(multi: ChainableCommander): Promise<void> {
  const results = await multi.exec();
  if (results === null) throw new Error('Redis transaction was aborted');
  for (const [error] of results) if (error) throw error;
}

function parsePayload(json: string | null | undefined): AdapterPayload | undefined {
  return json ? (JSON.parse(json) as AdapterPayload) : undefined;
}

function stringField(payload: AdapterPayload, field: string): string | undefined {
  const value = payload[field];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function createKeys(prefix: string) {
  return {
    record: (model: string, id: string) => `${prefix}${model}:${id}`,
    grant: (grantId: string) => `${prefix}grant:${grantId}`,
    account: (accountId: string) => `${prefix}account:${accountId}`,
    sessionUid: (uid: string) => `${prefix}sessionUid:${uid}`,
    userCode: (userCode: string) => `${prefix}userCode:${userCode}`,
    /** The id inside a record key (model names contain no colon). */
    idOf: (recordKey: string) => recordKey.slice(recordKey.indexOf(':', prefix.length) + 1),
  };
}
type Keys = ReturnType<typeof createKeys>;

/** Queues removal of the uid / userCode index entries that point at this record. */
function removeSecondaryIndexes(multi: ChainableCommander, keys: Keys, id: string, payload: AdapterPayload): void {
  const uid = stringField(payload, 'uid');
  const userCode = stringField(payload, 'userCode');
  if (uid) multi.eval(DEL_IF_EQUALS, 1, keys.sessionUid(uid), id);
  if (userCode) multi.eval(DEL_IF_EQUALS, 1, keys.userCode(userCode), id);
}

/**
 * Deletes every record an index set (grant or account) lists, with their uid / userCode index entries.
 * SREM rather than DEL of the set: a record added to it meanwhile stays indexed; an emptied set is
 * removed by Redis itself.
 */
async function deleteSetMembers(redis: Redis, keys: Keys, setKey: string): Promise<void> {
  const members = await redis.smembers(setKey);
  if (members.length === 0) return;
  const payloads = await Promise.all(members.map((member) => redis.hget(member, 'payload')));
  const multi = redis.multi();
  members.forEach((member, index) => {
    multi.del(member);
    const payload = parsePayload(payloads[index]);
    if (payload) removeSecondaryIndexes(multi, keys, keys.idOf(member), payload);
  });
  multi.srem(setKey, ...members);
  await execAtomically(multi);
}

function createRedisAdapter(redis: Redis & AdapterScripts, keys: Keys, model: string, adapterFor: AdapterFactory): OidcAdapter {
  const grantable = GRANTABLE_MODELS.has(model);

  /** Queues removal of every index entry of a stored record (before an overwrite or a destroy). */
  function removeIndexes(multi: ChainableCommander, id: string, payload: AdapterPayload): void {
    removeSecondaryIndexes(multi, keys, id, payload);
    const { grant, account } = indexKeys(payload);
    for (const set of [grant, account]) if (set) multi.srem(set, keys.record(model, id));
  }

  /**
   * For a record stored before the index fields: its indexes are read from the JSON and undone, and the
   * script then writes the current form, in one MULTI.
   */
  async function upsertLegacy(key: string, id: string, args: (string | number)[]): Promise<void> {
    const previous = parsePayload(await redis.hget(key, 'payload'));
    const multi = redis.multi();
    if (previous) removeIndexes(multi, id, previous);
    multi.del(key).eval(UPSERT, 1, key, ...args);
    await execAtomically(multi);
  }

  /** The index keys that lead to a record with this payload in this model ('' where none). */
  function indexKeys(payload: AdapterPayload) {
    const uid = stringField(payload, 'uid');
    const userCode = stringField(payload, 'userCode');
    const grantId = grantIdOf(payload);
    const accountId = accountIdOf(payload);
    return {
      uid: model === 'Session' && uid ? keys.sessionUid(uid) : '',
      userCode: userCode ? keys.userCode(userCode) : '',
      grant: grantable && grantId ? keys.grant(grantId) : '',
      account: ACCOUNT_MODELS.has(model) && accountId ? keys.account(accountId) : '',
    };
  }

  const adapter: OidcAdapter = {
    async upsert(id, payload, expiresIn) {
      const ttl = typeof expiresIn === 'number' ? Math.ceil(expiresIn) : undefined;
      // Already expired (EX rejects 0): the memory adapter stores it unreadable; absent is the same thing.
      if (ttl !== undefined && ttl <= 0) return adapter.destroy(id);
      const index = indexKeys(payload);
      const consumed = typeof payload.consumed === 'number' ? String(payload.consumed) : '';
      const key = keys.record(model, id);
      const args = [id, JSON.stringify(payload), consumed, ttl ?? 0, index.uid, index.userCode, index.grant, index.account];
      if (Number(await redis.gatehouseUpsert(key, ...args)) === 0) await upsertLegacy(key, id, args);
    },

    async find(id) {
      const [json, consumed] = await redis.hmget(keys.record(model, id), 'payload', 'consumed');
      const payload = parsePayload(json);
      if (payload && consumed !== null && consumed !== undefined) payload.consumed = Number(consumed);
      return payload;
    },

    async findByUid(uid) {
      const id = await redis.get(keys.sessionUid(uid));
      return id === null ? undefined : adapter.find(id);
    },

    async findByUserCode(userCode) {
      const id = await redis.get(keys.userCode(userCode));
      return id === null ? undefined : adapter.find(id);
    },

    async consume(id) {
      const now = Math.floor(Date.now() / 1000);
      const outcome = Number(await redis.eval(CONSUME, 1, keys.record(model, id), now));
      if (outcome === 1) return;
      // Lost the race, a replay, or gone: see rejectConsume for why this throws instead of overwriting.
      const payload = outcome === 0 ? await adapter.find(id) : undefined;
      await rejectConsume(adapterFor, grantIdOf(payload));
    },

    async destroy(id) {
      const key = keys.record(model, id);
      if (Number(await redis.gatehouseDestroy(key, id)) === 1) return;
      const previous = parsePayload(await redis.hget(key, 'payload'));
      const multi = redis.multi().del(key);
      if (previous) removeIndexes(multi, id, previous);
      await execAtomically(multi);
    },

    async revokeByGrantId(grantId) {
      await deleteSetMembers(redis, keys, keys.grant(grantId));
    },
  };
  return adapter;
}

/** oidc-provider's models in Redis, every key under `keyPrefix` (e.g. "gatehouse:oidc:"). */
export function createRedisAdapterFactory(redis: Redis, keyPrefix: string): AdapterFactory {
  const keys = createKeys(keyPrefix);
  const scripted = withScripts(redis);
  const adapters = new Map<string, OidcAdapter>();
  const adapterFor: AdapterFactory = (model) => {
    let adapter = adapters.get(model);
    if (!adapter) {
      adapter = createRedisAdapter(scripted, keys, model, adapterFor);
      adapters.set(model, adapter);
    }
    return adapter;
  };
  return adapterFor;
}

/**
 * Revokes every session, grant, code and token of an account, through the account index set. Secondary
 * indexes of the deleted records go too; grant sets that now point at deleted keys expire on their own
 * (a lookup through them finds nothing).
 */
export function createRedisAccountRevoker(redis: Redis, keyPrefix: string): AccountRevoker {
  const keys = createKeys(keyPrefix);
  return {
    revokeAccount: (accountId) => deleteSetMembers(redis, keys, keys.account(accountId)),
  };
}
