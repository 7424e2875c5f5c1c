import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../src/config/load.ts';
import { createProviderConfiguration } from '../../src/oidc/configuration.ts';
import { createKeyRing, decryptSecret, encryptSecret } from '../../src/security/encryption.ts';

const config = loadConfig({ NODE_ENV: 'test', DATA_DIR: 'memory://', ISSUER: 'https://id.example.com' });
const noop = async () => {};
const options = createProviderConfiguration(config, {
  adapter: () => ({}) as never,
  clock: Date.now,
  findAccount: async () => undefined,
  hasSecondFactor: async () => false,
  jwks: { keys: [] },
  pages: { renderError: noop, logoutSource: noop, postLogoutSuccessSource: noop },
  apis: { find: async () => undefined },
});

describe('provider configuration', () => {
  it("never enables oidc-provider's development interactions", () => {
    expect(options.features?.devInteractions?.enabled).toBe(false);
  });

  it('requires PKCE for every client and allows the code flow only', () => {
    const required = options.pkce?.required as (ctx: unknown, client: unknown) => boolean;
    expect(required({}, { tokenEndpointAuthMethod: 'client_secret_basic' })).toBe(true);
    expect(required({}, { tokenEndpointAuthMethod: 'none' })).toBe(true);
    expect(options.responseTypes).toEqual(['code']);
  });

  it('marks cookies Secure when the issuer is https, and signs them with COOKIE_SECRETS', () => {
    expect(options.cookies?.long?.secure).toBe(true);
    expect(options.cookies?.short?.secure).toBe(true);
    expect(options.cookies?.keys).toEqual(config.cookieSecrets);
  });

  it('rejects an issuer with a path', () => {
    expect(() => loadConfig({ NODE_ENV: 'test', ISSUER: 'https://id.example.com/idp' })).toThrow(/ISSUER: must not have a path/);
  });
});

describe('secret encryption at rest', () => {
  const key = createKeyRing([Buffer.alloc(32, 3)]);

  it('round-trips and binds the ciphertext to its row', () => {
    const sealed = encryptSecret(key, 'private jwk', 'kid-1');
    expect(sealed).not.toContain('private jwk');
    expect(decryptSecret(key, sealed, 'kid-1')).toBe('private jwk');
    expect(() => decryptSecret(key, sealed, 'kid-2')).toThrow();
    expect(() => decryptSecret(createKeyRing([Buffer.alloc(32, 4)]), sealed, 'kid-1')).toThrow();
  });
});
