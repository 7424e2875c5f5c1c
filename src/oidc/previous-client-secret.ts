import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import { matchesClientSecretDigest, sameSecret } from '../security/client-secret-digest.ts';
import type { Db } from '../storage/postgres/db.ts';
import { findPreviousClientSecret } from '../storage/postgres/client-previous-secrets.queries.ts';
import { findClientById } from '../storage/postgres/clients.queries.ts';

type CompareClientSecret = (this: { clientId: string }, actual: string) => boolean | Promise<boolean>;

/**
 * The overlap of a client secret rotation (REL-F7, src/admin/client-secret-rotation.ts). oidc-provider
 * checks client_secret_basic and client_secret_post with one method, `Client#compareClientSecret`
 * (lib/shared/client_auth.js), after its own checks (auth method, expiry of the current secret); this
 * widens that one comparison: the current secret as before, else the previous one, only while its
 * overlap lasts (by `clock`, never after), compared in constant time as SHA-256 digests. Nothing else
 * about client authentication changes, and the presented secret is never logged. Each provider instance
 * has its own Client class, so this is installed on every instance built.
 */
export function acceptPreviousClientSecrets(provider: Provider, db: Db, clock: () => number, logger: Logger): void {
  const prototype = (provider.Client as unknown as { prototype: { compareClientSecret: CompareClientSecret } }).prototype;
  const compareCurrent = prototype.compareClientSecret;
  prototype.compareClientSecret = async function compareClientSecret(actual: string): Promise<boolean> {
    if (await compareCurrent.call(this, actual)) return true;
    if (typeof actual !== 'string' || actual.length === 0) return false;
    // The client may come from the cache (clients-adapter.ts) while a rotation's notification is still on
    // its way: the secret as stored now counts too, so a new secret works the moment the CLI printed it.
    const stored = (await findClientById(db, this.clientId))?.metadata.client_secret;
    if (typeof stored === 'string' && sameSecret(stored, actual)) return true;
    const previous = await findPreviousClientSecret(db, this.clientId);
    if (!previous || new Date(previous.expires_at).getTime() <= clock()) return false;
    if (!matchesClientSecretDigest(previous.secret_sha256, actual)) return false;
    // Operators watch this to know when a relying party still has to switch to its new secret.
    logger.info({ client_id: this.clientId, previous_valid_until: new Date(previous.expires_at).toISOString() }, 'client authenticated with its previous secret');
    return true;
  };
}
