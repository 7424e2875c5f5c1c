import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import type { Config } from '../config/load.ts';
import { decryptSecret, encryptSecret } from '../security/encryption.ts';
import type { Db } from '../storage/postgres/db.ts';
import { longestJwtApiTokenTtl } from '../storage/postgres/apis.queries.ts';
import type { SigningKeyRow, SigningKeyStatus } from '../storage/postgres/database.ts';
import {
  activateDueSigningKeys,
  insertSigningKey,
  listPublishedSigningKeys,
  retireSigningKeys,
} from '../storage/postgres/signing-keys.queries.ts';

/** RS256 is what every RP must support (OIDC Core §15.1); ES256 is smaller and faster. */
export const SIGNING_ALGS = ['RS256', 'ES256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

export type PrivateJwk = JsonWebKey & { kid: string; alg: string; use: 'sig'; key_ops?: string[] };

function generateJwkPair(alg: SigningAlg): { publicJwk: JsonWebKey; privateJwk: JsonWebKey } {
  const pair =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { publicJwk: pair.publicKey.export({ format: 'jwk' }), privateJwk: pair.privateKey.export({ format: 'jwk' }) };
}

async function createKey(db: Db, config: Config, alg: SigningAlg, status: SigningKeyStatus, activatesAt: Date): Promise<string> {
  const kid = `${alg.toLowerCase()}-${randomBytes(9).toString('base64url')}`;
  const { publicJwk, privateJwk } = generateJwkPair(alg);
  await insertSigningKey(db, {
    kid,
    alg,
    public_jwk: JSON.stringify({ ...publicJwk, kid, alg, use: 'sig' }),
    private_jwk_encrypted: encryptSecret(config.keyEncryptionKeys, JSON.stringify(privateJwk), kid),
    status,
    activates_at: activatesAt,
  });
  return kid;
}

/** Longest time a token signed by a key may still be verified after the key stops signing (an API's JWT access tokens included). */
async function retirementGraceSeconds(db: Db, config: Config): Promise<number> {
  return Math.max(config.ttl.accessToken, config.ttl.idToken, config.ttl.refreshToken, await longestJwtApiTokenTtl(db));
}

/**
 * Brings the key table up to date at `now`: promotes due `next` keys, retires the keys they replace
 * (kept in JWKS for the longest token lifetime), and creates a first key per algorithm on an empty table.
 */
export async function reconcileSigningKeys(db: Db, config: Config, now: Date): Promise<SigningKeyRow[]> {
  await activateDueSigningKeys(db, now);
  let keys = await listPublishedSigningKeys(db, now);
  for (const alg of SIGNING_ALGS) {
    const current = keys.filter((key) => key.alg === alg && key.status === 'current');
    if (current.length === 0) {
      await createKey(db, config, alg, 'current', now);
    } else if (current.length > 1) {
      // listPublishedSigningKeys orders newest activation first: that one signs, the rest retire.
      const removeAfter = new Date(now.getTime() + (await retirementGraceSeconds(db, config)) * 1000);
      await retireSigningKeys(db, alg, current[0]!.kid, now, removeAfter);
    }
  }
  keys = await listPublishedSigningKeys(db, now);
  return keys;
}

/** `gatehouse keys rotate`: publishes a new key per algorithm now; it signs after KEY_ACTIVATION_DELAY_SECONDS. */
export async function rotateSigningKeys(db: Db, config: Config, now: Date): Promise<string[]> {
  const activatesAt = new Date(now.getTime() + config.keys.activationDelaySeconds * 1000);
  const kids: string[] = [];
  for (const alg of SIGNING_ALGS) kids.push(await createKey(db, config, alg, 'next', activatesAt));
  await reconcileSigningKeys(db, config, now);
  return kids;
}

/**
 * The private JWKS for oidc-provider. Only `current` keys may sign: `next` and `retired` keys carry
 * key_ops ["verify"], which oidc-provider's key selection honours, so they are published but never used.
 */
export function toProviderJwks(keys: SigningKeyRow[], config: Config): { keys: PrivateJwk[] } {
  const rank: Record<SigningKeyStatus, number> = { current: 0, next: 1, retired: 2 };
  const sorted = [...keys].sort((a, b) => rank[a.status] - rank[b.status]);
  return {
    keys: sorted.map((key) => {
      const privateJwk = JSON.parse(decryptSecret(config.keyEncryptionKeys, key.private_jwk_encrypted, key.kid)) as JsonWebKey;
      const jwk: PrivateJwk = { ...privateJwk, kid: key.kid, alg: key.alg, use: 'sig' };
      if (key.status !== 'current') jwk.key_ops = ['verify'];
      return jwk;
    }),
  };
}

/** Changes whenever the set of published keys or their roles change: the server rebuilds its provider then. */
export function keySetFingerprint(keys: SigningKeyRow[]): string {
  return keys
    .map((key) => `${key.kid}:${key.status}`)
    .sort()
    .join(',');
}
