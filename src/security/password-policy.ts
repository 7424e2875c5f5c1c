import { createRequire } from 'node:module';
import type { dictionary as Dictionary } from '@zxcvbn-ts/language-common';
import type { MessageKey } from '../i18n/messages/en.ts';
import { checkBreached } from './breached-passwords.ts';

/**
 * New-password rules of NIST SP 800-63B-4 §3.1.1.2 (PW-01..PW-04): a length window, a blocklist of
 * common passwords, context words and, optionally, known breaches. Nothing else: no composition rules,
 * no trimming, every character allowed, and the password is never truncated (what is checked here is
 * exactly what gets hashed). Checked on set, change and reset only; sign-in just verifies.
 */

/** PW-02: at least 64 must be accepted; 256 bounds the argon2 input (a DoS limit, not a truncation). */
export const MAX_PASSWORD_LENGTH = 256;

export type PasswordRejection = 'too_short' | 'too_long' | 'blocklisted' | 'context' | 'breached';

export type PasswordVerdict =
  /** `warning`: the breach service did not answer; the password is accepted and the caller logs it. */
  | { ok: true; warning?: 'breach_check_unavailable' }
  | { ok: false; reason: PasswordRejection; messageKey: MessageKey; params?: Record<string, string | number> };

export interface PasswordPolicy {
  /** Never throws for a bad password: a refusal is a verdict with a message to show. */
  check(password: string, context: { email?: string; name?: string }): Promise<PasswordVerdict>;
}

export interface PasswordPolicyConfig {
  minLength: number;
  /** HIBP-compatible range API; unset turns the breach check off (no network by default, nor in CI). */
  breachedApiUrl?: string | undefined;
  issuer: string;
}

const MESSAGE_KEYS: Record<PasswordRejection, MessageKey> = {
  too_short: 'password.too_short',
  too_long: 'password.too_long',
  blocklisted: 'password.blocklisted',
  context: 'password.context',
  breached: 'password.breached',
};

/** Our own name is the first word anyone tries against us. */
const SERVICE_NAME = 'gatehouse';
/** Shorter context words ("id", "com", "bo") would match inside unrelated words. */
const MIN_CONTEXT_WORD = 3;
/** What must be left of a password once context words and decoration are taken out. */
const MIN_CONTEXT_REMAINDER = 8;

/** Code points, so "é" (composed or not, once NFC) and "😀" each count 1, as a user would count them. */
const lengthOf = (text: string) => [...text].length;
/** NFC, then lower case: "PassWord" and "password" are the same guess. */
const fold = (text: string) => text.normalize('NFC').toLowerCase();

/** Trailing digits, punctuation, symbols and spaces: what people append to a weak word ("password123!"). */
const TRAILING_DECORATION = /[\p{N}\p{P}\p{S}\p{Z}]+$/u;
const TRAILING_SYMBOLS = /[\p{P}\p{S}\p{Z}]+$/u;
/** Splits names and email local parts into words: anything but letters, marks and digits separates. */
const WORD_SEPARATORS = /[^\p{L}\p{M}\p{N}]+/u;

let common: ReadonlySet<string> | undefined;
/**
 * ~49k passwords from leaks, most common first; a Set built on first use (~50 ms), then shared. The
 * package is required here, not imported at the top: it decompresses its word lists as it loads, about
 * 20 MB and 70 ms of every start (issue 13's bench), and only a new password needs them.
 */
function commonPasswords(): ReadonlySet<string> {
  if (!common) {
    const { dictionary } = createRequire(import.meta.url)('@zxcvbn-ts/language-common') as { dictionary: typeof Dictionary };
    common = new Set(dictionary['passwords-common'].map(fold));
  }
  return common;
}

/** The smallest unit `text` is a repetition of ("abcabc" → "abc"), if it is one at all. */
function repeatedUnit(text: string): string | undefined {
  for (let size = 1; size <= text.length / 2; size++) {
    const unit = text.slice(0, size);
    if (text.length % size === 0 && unit.repeat(text.length / size) === text) return unit;
  }
  return undefined;
}

/** In the list, or a list entry said again and again, or any unit of 1 to 3 code points repeated. */
function isCommonWord(folded: string): boolean {
  if (commonPasswords().has(folded)) return true;
  const unit = repeatedUnit(folded);
  return unit !== undefined && (commonPasswords().has(unit) || lengthOf(unit) <= 3);
}

/**
 * The blocklist heuristic. The list is mostly short passwords, so a long password is also refused when it
 * is a list entry with decoration appended: we try the whole password, the password without its trailing
 * digits/symbols/spaces ("password1234567890" → "password"), and without only its trailing
 * symbols/spaces ("abc123!!!!!!!!!" → "abc123"). Each is common when listed or a repetition
 * ("passwordpassword", "abcabcabcabcabc"). Three candidates and no prefixes of numbers, so a long random
 * number that happens to start with "1234" is not refused.
 */
export function isCommonPassword(password: string): boolean {
  const folded = fold(password);
  const candidates = [folded, folded.replace(TRAILING_DECORATION, ''), folded.replace(TRAILING_SYMBOLS, '')];
  return candidates.some((candidate) => candidate !== '' && isCommonWord(candidate));
}

/** Context words, case-folded, longest first so "alice.smith" goes before "alice". */
function contextWords(issuerHost: string, context: { email?: string; name?: string }): string[] {
  const words = [SERVICE_NAME, issuerHost, ...issuerHost.split('.').filter((label) => lengthOf(label) > 3)];
  const email = fold(context.email ?? '');
  const local = email.includes('@') ? email.slice(0, email.lastIndexOf('@')) : email;
  words.push(local, ...local.split(WORD_SEPARATORS), ...fold(context.name ?? '').split(WORD_SEPARATORS));
  const usable = words.filter((word) => lengthOf(word) >= MIN_CONTEXT_WORD);
  return [...new Set(usable)].sort((a, b) => b.length - a.length);
}

/**
 * The context heuristic: take every context word out of the case-folded password, then the trailing
 * digits/symbols. If a word was found and fewer than 8 code points (spaces not counted) are left, or what
 * is left is itself a common password, the password is refused. So "alice.smith2024!!!",
 * "gatehousegatehouse" and "gatehouse password" are refused, while "alice likes purple mountains" keeps
 * 20 other letters and is accepted: containing a name is fine, leaning on it is not.
 */
export function leansOnContext(password: string, words: readonly string[]): boolean {
  let rest = fold(password);
  let found = false;
  for (const word of words) {
    if (!rest.includes(word)) continue;
    found = true;
    rest = rest.split(word).join('');
  }
  if (!found) return false;
  const core = rest.replace(TRAILING_DECORATION, '').replace(/[\s\p{Z}]+/gu, '');
  return lengthOf(core) < MIN_CONTEXT_REMAINDER || isCommonPassword(rest.trim());
}

/**
 * @param options.fetch  for tests; the global fetch otherwise.
 * @param options.breachTimeoutMs  how long to wait for the breach service (default 3 s).
 */
export function createPasswordPolicy(
  config: PasswordPolicyConfig,
  options: { fetch?: typeof fetch; breachTimeoutMs?: number } = {},
): PasswordPolicy {
  const issuerHost = fold(new URL(config.issuer).hostname);
  const reject = (reason: PasswordRejection, params?: Record<string, number>): PasswordVerdict => ({
    ok: false,
    reason,
    messageKey: MESSAGE_KEYS[reason],
    ...(params && { params }),
  });

  return {
    async check(password, context) {
      const length = lengthOf(password.normalize('NFC'));
      if (length < config.minLength) return reject('too_short', { min: config.minLength });
      if (length > MAX_PASSWORD_LENGTH) return reject('too_long', { max: MAX_PASSWORD_LENGTH });
      if (isCommonPassword(password)) return reject('blocklisted');
      if (leansOnContext(password, contextWords(issuerHost, context))) return reject('context');
      if (!config.breachedApiUrl) return { ok: true };
      const status = await checkBreached(password, {
        url: config.breachedApiUrl,
        fetch: options.fetch,
        timeoutMs: options.breachTimeoutMs,
      });
      if (status === 'breached') return reject('breached');
      return status === 'unavailable' ? { ok: true, warning: 'breach_check_unavailable' } : { ok: true };
    },
  };
}
