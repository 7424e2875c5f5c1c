import { AppError, NotFoundError } from '../errors.ts';
import { clientSecretDigest } from '../security/client-secret-digest.ts';
import type { Db } from '../storage/postgres/db.ts';
import {
  deletePreviousClientSecret,
  lockClientById,
  savePreviousClientSecret,
  updateClientMetadata,
} from '../storage/postgres/client-previous-secrets.queries.ts';
import { generateClientSecret } from './clients.ts';

/** A day: long enough to roll a relying party's configuration out, short enough that a leaked secret dies. */
export const DEFAULT_SECRET_OVERLAP_SECONDS = 86_400;
export const MAX_SECRET_OVERLAP_SECONDS = 30 * 86_400;

/** Auth methods whose secret is compared (oidc-provider's compareClientSecret), so an old one can be accepted too. */
const COMPARED_METHODS = new Set(['client_secret_basic', 'client_secret_post']);

export interface RotatedClientSecret {
  clientId: string;
  /** The new secret: shown once, never stored anywhere but the client's metadata. */
  secret: string;
  /** Until when the previous secret is still accepted; null: it stopped at once (overlap 0). */
  previousValidUntil: Date | null;
}

/**
 * `gatehouse client rotate-secret` (REL-F7): a new generated secret becomes the client's secret at once,
 * and the one it replaces is still accepted for `overlapSeconds` (src/oidc/previous-client-secret.ts),
 * so the relying party can switch without a failed token request. A rotation during an overlap ends
 * the older overlap: only the last two secrets are ever valid. Run it in a transaction (the CLI's audited
 * action is one): the client's row is locked until it ends, and the secret and its predecessor change together.
 * @throws NotFoundError for an unknown client; AppError 400 for a client whose secret is not compared.
 */
export async function rotateClientSecret(trx: Db, clientId: string, overlapSeconds: number, now: Date = new Date()): Promise<RotatedClientSecret> {
  const row = await lockClientById(trx, clientId);
  if (!row) throw new NotFoundError(`no client with id "${clientId}"`);
  const metadata = row.metadata as Record<string, unknown>;
  const previous = metadata['client_secret'];
  const method = String(metadata['token_endpoint_auth_method'] ?? 'client_secret_basic');
  if (typeof previous !== 'string' || previous.length === 0 || !COMPARED_METHODS.has(method)) {
    throw new AppError(400, 'no_client_secret', `client "${clientId}" authenticates with ${method}: it has no secret to rotate`);
  }
  const secret = generateClientSecret();
  await updateClientMetadata(trx, clientId, { ...metadata, client_secret: secret });
  if (overlapSeconds === 0) {
    await deletePreviousClientSecret(trx, clientId);
    return { clientId, secret, previousValidUntil: null };
  }
  const previousValidUntil = new Date(now.getTime() + overlapSeconds * 1000);
  await savePreviousClientSecret(trx, clientId, clientSecretDigest(previous), previousValidUntil);
  return { clientId, secret, previousValidUntil };
}
