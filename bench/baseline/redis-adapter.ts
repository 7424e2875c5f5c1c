import type { Redis } from 'ioredis';

/**
 * The plain Redis adapter of oidc-provider's own example (example/adapters/redis.js), in TypeScript: one
 * JSON string per record (a hash for the consumable ones), a list of keys per grant, a uid index for
 * sessions. No atomic consume, no per-account index, no revocation epoch: the bare minimum the library
 * needs, which is what Gatehouse's adapter is measured against.
 */
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);
const CONSUMABLE = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

type Payload = Record<string, unknown>;

export function plainRedisAdapter(redis: Redis) {
  return class PlainRedisAdapter {
    readonly name: string;

    constructor(name: string) {
      this.name = name;
    }

    key(id: string): string {
      return `${this.name}:${id}`;
    }

    async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
      const key = this.key(id);
      const multi = redis.multi();
      if (CONSUMABLE.has(this.name)) multi.hset(key, { payload: JSON.stringify(payload) });
      else multi.set(key, JSON.stringify(payload));
      if (expiresIn) multi.expire(key, expiresIn);
      const grantId = payload.grantId;
      if (GRANTABLE.has(this.name) && typeof grantId === 'string') {
        const grantKey = `grant:${grantId}`;
        multi.rpush(grantKey, key);
        const ttl = await redis.ttl(grantKey);
        if (expiresIn && expiresIn > ttl) multi.expire(grantKey, expiresIn);
      }
      if (typeof payload.uid === 'string') {
        multi.set(`uid:${payload.uid}`, id);
        if (expiresIn) multi.expire(`uid:${payload.uid}`, expiresIn);
      }
      await multi.exec();
    }

    async find(id: string): Promise<Payload | undefined> {
      if (CONSUMABLE.has(this.name)) {
        const { payload, ...rest } = await redis.hgetall(this.key(id));
        return payload ? { ...rest, ...(JSON.parse(payload) as Payload) } : undefined;
      }
      const json = await redis.get(this.key(id));
      return json ? (JSON.parse(json) as Payload) : undefined;
    }

    async findByUid(uid: string): Promise<Payload | undefined> {
      const id = await redis.get(`uid:${uid}`);
      return id ? this.find(id) : undefined;
    }

    async findByUserCode(): Promise<undefined> {
      return undefined;
    }

    async consume(id: string): Promise<void> {
      await redis.hset(this.key(id), 'consumed', Math.floor(Date.now() / 1000));
    }

    async destroy(id: string): Promise<void> {
      await redis.del(this.key(id));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      const keys = await redis.lrange(`grant:${grantId}`, 0, -1);
      await redis.multi().del(...keys, `grant:${grantId}`).exec();
    }
  };
}
