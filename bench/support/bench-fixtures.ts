/**
 * The clients, APIs and user both servers get: Gatehouse through its CLI (provision.ts), the baseline as
 * static metadata (baseline/bare-provider.ts). One definition, so both issue the same tokens.
 */
/**
 * One account per concurrent browser: the sign-in limits count an attempt before its hash and give it back
 * only after, so 16 sign-ins at once into one account from one address look like guessing and get 429.
 */
export const BENCH_USERS = Array.from({ length: 16 }, (_, index) => ({ email: `bench-${index}@example.com`, password: 'a long benchmark password, not in any list' }));
// The tests' redirect URI (test/support/e2e.ts), written out: importing it would load the whole app into the baseline.
export const WEB = { id: 'web', secret: 'bench-web-secret-0123456789-abcdefghijklmn', redirectUri: 'http://127.0.0.1:8080/cb', scope: 'openid email profile offline_access' };
export const SERVICE = { id: 'service', secret: 'bench-service-secret-0123456789-abcdefghij' };
export const API_SCOPE = 'api:read';
export const APIS = {
  jwt: { identifier: 'http://127.0.0.1/bench/jwt-api', format: 'jwt' },
  opaque: { identifier: 'http://127.0.0.1/bench/opaque-api', format: 'opaque' },
} as const;

/** What the baseline needs to start: everything protocol-relevant comes from the same values as Gatehouse's. */
export interface BaselineSettings {
  issuer: string;
  port: number;
  redisUrl: string;
  redisKeyPrefix: string;
  databaseUrl: string;
  /** A 0600 file holding Gatehouse's private signing keys, so both sign with the same keys. */
  jwksFile: string;
  cookieKeys: string[];
  /** Gatehouse's token lifetimes (its config defaults). */
  ttl: { accessToken: number; idToken: number; refreshToken: number; session: number; interaction: number };
}
