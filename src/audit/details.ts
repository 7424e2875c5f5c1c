/**
 * The details of an audit event are a small flat map of facts (a reason, a method, a count, a kid).
 * They go to a table operators read and to the logs, so nothing secret may ever be among them (LOG-02):
 * this sanitiser drops every key that names a secret and every value that looks like one, and bounds
 * the size. It drops rather than throws: a careless detail must not make a sign-in fail, and the names
 * of what was dropped are kept (`dropped`), so the mistake is visible and fixable.
 */

export type AuditDetailValue = string | number | boolean | null | readonly (string | number | boolean)[];
export type AuditDetails = Readonly<Record<string, AuditDetailValue | undefined>>;

export const MAX_DETAIL_KEYS = 16;
export const MAX_STRING_LENGTH = 200;
export const MAX_ARRAY_ITEMS = 10;
/** Serialized size of all details together (the table allows 4096 bytes; room for multibyte text). */
export const MAX_DETAILS_JSON = 1024;

/** Whole words (of snake_case, kebab-case or camelCase keys) that name a secret or a guessable stand-in for one. */
const SECRET_WORDS = new Set([
  'code', 'codes', 'otp', 'totp', 'pin', 'pwd', 'hash', 'jwt', 'key', 'keys', 'seed', 'signature',
  'verifier', 'csrf', 'xsrf', 'private', 'assertion', 'bearer', 'credentials',
]);
/** Fragments that name a secret wherever they appear in a key (accessToken, client_secret, set-cookie). */
const SECRET_FRAGMENTS = ['password', 'passwd', 'passphrase', 'secret', 'token', 'cookie', 'authoriz', 'apikey', 'privatekey'];

/** Values that are credentials whatever their key is called. */
const SECRET_VALUES = [
  /\beyJ[\w-]{4,}\.[\w-]{4,}\./, // a JWT (access or ID token, logout token)
  /^(bearer|basic)\s/i, // an Authorization header value
  /\$(argon2(id|i|d)|2[aby]|scrypt)\$/, // a password hash
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
  /:\/\/[^/@\s]+:[^/@\s]+@/, // credentials inside a URL (smtp://user:pass@host)
  /[?&#](code|token|access_token|id_token|refresh_token|client_secret|password)=/i, // a URL carrying one
];

// eslint-disable-next-line no-control-regex -- matching control characters is the point: they are replaced
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;

function wordsOf(key: string): string[] {
  return key
    .split(/[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])/)
    .filter(Boolean)
    .map((word) => word.toLowerCase());
}

/** True when the key names something secret (`password`, `recovery_code`, `accessToken`, `Set-Cookie`). */
export function isSecretKey(key: string): boolean {
  const flat = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  return SECRET_FRAGMENTS.some((fragment) => flat.includes(fragment)) || wordsOf(key).some((word) => SECRET_WORDS.has(word));
}

export function looksSecret(value: string): boolean {
  return SECRET_VALUES.some((pattern) => pattern.test(value));
}

/** Printable and bounded: control characters (terminal escapes, forged log lines) become `?`. */
export function cleanText(value: string, maxLength: number): string {
  return value.replace(CONTROL_CHARACTERS, '?').slice(0, maxLength);
}

type Primitive = string | number | boolean;

function cleanPrimitive(value: unknown): Primitive | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string') return looksSecret(value) ? undefined : cleanText(value, MAX_STRING_LENGTH);
  return undefined; // objects, functions, bigints: details stay flat and plain
}

function cleanValue(value: unknown): AuditDetailValue | undefined {
  if (value === null) return null;
  if (!Array.isArray(value)) return cleanPrimitive(value);
  const items = value.slice(0, MAX_ARRAY_ITEMS).map(cleanPrimitive);
  return items.every((item) => item !== undefined) ? (items as Primitive[]) : undefined;
}

export interface SanitisedDetails {
  details: Record<string, AuditDetailValue>;
  /** Names of the keys left out (never their values). */
  dropped: string[];
}

/** Keeps what is safe and small; see the module comment. Undefined values are simply absent. */
export function sanitiseDetails(input: AuditDetails = {}): SanitisedDetails {
  const details: Record<string, AuditDetailValue> = {};
  const dropped: string[] = [];
  let size = 2;
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    const name = cleanText(key, 64);
    const clean = isSecretKey(key) || Object.keys(details).length >= MAX_DETAIL_KEYS ? undefined : cleanValue(value);
    const entrySize = clean === undefined ? 0 : JSON.stringify(name).length + JSON.stringify(clean).length + 2;
    if (clean === undefined || size + entrySize > MAX_DETAILS_JSON) {
      dropped.push(name);
      continue;
    }
    details[name] = clean;
    size += entrySize;
  }
  return { details, dropped };
}
