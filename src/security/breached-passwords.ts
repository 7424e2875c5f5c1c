import { createHash } from 'node:crypto';

/** How long a sign-up waits for the breach service before giving up on it (PW-04: never block on it). */
export const BREACH_CHECK_TIMEOUT_MS = 3000;

export type BreachStatus = 'breached' | 'clean' | 'unavailable';

export interface BreachCheckOptions {
  /** Range endpoint without the prefix, e.g. https://api.pwnedpasswords.com/range. */
  url: string;
  fetch?: typeof fetch | undefined;
  timeoutMs?: number | undefined;
}

/**
 * Asks a Have I Been Pwned compatible range API whether a password is known from a breach, by
 * k-anonymity: only the first 5 hex digits of its SHA-1 leave this process, and the service answers with
 * every suffix it knows under that prefix (`SUFFIX:COUNT` lines). `Add-Padding` makes the service add
 * fake `:0` lines so even the response size says nothing about the prefix.
 *
 * The password is hashed exactly as received (no normalisation), as the breach corpus holds the strings
 * people typed, and as argon2 stores it.
 *
 * Any failure (network, timeout, non-2xx) is `unavailable`, never an exception: the caller lets the user
 * through and logs it, because an outage of an optional third party must not stop sign-ups.
 */
export async function checkBreached(password: string, options: BreachCheckOptions): Promise<BreachStatus> {
  const hash = createHash('sha1').update(password, 'utf8').digest('hex').toUpperCase();
  const prefix = hash.slice(0, 5);
  const suffix = hash.slice(5);
  const doFetch = options.fetch ?? fetch;
  try {
    const response = await doFetch(`${options.url.replace(/\/+$/, '')}/${prefix}`, {
      headers: { 'Add-Padding': 'true', 'User-Agent': 'Gatehouse' },
      // The same signal bounds reading the body, so a server that trickles bytes cannot hold us either.
      signal: AbortSignal.timeout(options.timeoutMs ?? BREACH_CHECK_TIMEOUT_MS),
    });
    if (!response.ok) return 'unavailable';
    return isListed(await response.text(), suffix) ? 'breached' : 'clean';
  } catch {
    return 'unavailable';
  }
}

/** Padding lines carry count 0: they are decoys, not breaches. */
function isListed(body: string, suffix: string): boolean {
  for (const line of body.split('\n')) {
    const [candidate = '', count = ''] = line.trim().split(':');
    if (candidate.toUpperCase() === suffix) return Number.parseInt(count, 10) > 0;
  }
  return false;
}
