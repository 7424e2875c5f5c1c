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
 * expires and is deleted together with its record.
 */

/** Deletes an index key only while it still points at this record (another record may own it now). */
const DEL_IF_EQUALS = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * Adds a record key to an index set (grant or account) and lengthens the set's TTL to cover it (ARGV[2] seconds, 0 = never
 * expires). A set that already outlives the new member keeps its TTL, so the set lives as long as its
 * longest member. EXPIRE GT cannot do this alone: a set SADD has just created has no TTL yet.
 */
const ADD_TO_INDEX_SET = `
local existed = redis.call('EXISTS', KEYS[1])
redis.call('SADD', KEYS[1], ARGV[1])
local ttl = tonumber(ARGV[2])
if ttl == 0 then return redis.call('PERSIST', KEYS[1]) end
local current = redis.call('TTL', KEYS[1])
if existed == 0 or (current >= 0 and current < ttl) then return redis.call('EXPIRE', KEYS[1], ttl) end
return 0`;

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

function createRedisAdapter(redis: Redis, keys: Keys, model: string, adapterFor: AdapterFactory): OidcAdapter {
  const grantable = GRANTABLE_MODELS.has(model);

  /** Queues removal of every index entry of a stored record (before an overwrite or a destroy). */
  function removeIndexes(multi: ChainableCommander, id: string, payload: AdapterPayload): void {
    removeSecondaryIndexes(multi, keys, id, payload);
    const grantId = grantIdOf(payload);
    if (grantable && grantId) multi.srem(keys.grant(grantId), keys.record(model, id));
    const accountId = accountIdOf(payload);
    if (ACCOUNT_MODELS.has(model) && accountId) multi.srem(keys.account(accountId), keys.record(model, id));
  }

  /** Sets a string key, with the record's TTL when it has one. */
  function setIndex(multi: ChainableCommander, key: string, id: string, ttl: number | undefined): void {
    if (ttl === undefined) multi.set(key, id);
    else multi.set(key, id, 'EX', ttl);
  }

  const adapter: OidcAdapter = {
    async upsert(id, payload, expiresIn) {
      const ttl = typeof expiresIn === 'number' ? Math.ceil(expiresIn) : undefined;
      // Already expired (EX rejects 0): the memory adapter stores it unreadable; absent is the same thing.
      if (ttl !== undefined && ttl <= 0) return adapter.destroy(id);

      const key = keys.record(model, id);
      // Reading the old indexes outside the MULTI races only with a concurrent upsert of the same id,
      // which oidc-provider does not do; the memory adapter has the same read-then-write shape.
      const previous = parsePayload(await redis.hget(key, 'payload'));
      const multi = redis.multi();
      if (previous) removeIndexes(multi, id, previous);

      const fields: Record<string, string> = { payload: JSON.stringify(payload) };
      if (typeof payload.consumed === 'number') fields.consumed = String(payload.consumed);
      multi.del(key).hset(key, fields);
      if (ttl !== undefined) multi.expire(key, ttl);

      const uid = stringField(payload, 'uid');
      const userCode = stringField(payload, 'userCode');
      const grantId = grantIdOf(payload);
      if (model === 'Session' && uid) setIndex(multi, keys.sessionUid(uid), id, ttl);
      if (userCode) setIndex(multi, keys.userCode(userCode), id, ttl);
      if (grantable && grantId) multi.eval(ADD_TO_INDEX_SET, 1, keys.grant(grantId), key, ttl ?? 0);
      const accountId = accountIdOf(payload);
      if (ACCOUNT_MODELS.has(model) && accountId) multi.eval(ADD_TO_INDEX_SET, 1, keys.account(accountId), key, ttl ?? 0);
      await execAtomically(multi);
    },

    async find(id) {
      const fields = await redis.hgetall(keys.record(model, id));
      const payload = parsePayload(fields.payload);
      if (payload && fields.consumed !== undefined) payload.consumed = Number(fields.consumed);
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
  const adapters = new Map<string, OidcAdapter>();
  const adapterFor: AdapterFactory = (model) => {
    let adapter = adapters.get(model);
    if (!adapter) {
      adapter = createRedisAdapter(redis, keys, model, adapterFor);
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
