import { describe, expect, it } from '@jest/globals';
import type { Client } from 'oidc-provider';
import { API_CACHE_SECONDS, createApiDirectory, mayIntrospect } from '../../src/oidc/resource-servers.ts';
import type { ApiRow } from '../../src/storage/postgres/database.ts';

const row: ApiRow = {
  identifier: 'https://api.example.test',
  name: 'Posts API',
  scopes: [{ name: 'posts:read', description: 'Read your posts' }],
  token_format: 'jwt',
  token_ttl_seconds: 600,
  rbac: true,
  created_at: new Date(),
  updated_at: new Date(),
};

describe('API directory cache', () => {
  it(`reads an API (or its absence) once per ${API_CACHE_SECONDS} s, then again`, async () => {
    let now = 0;
    const reads: string[] = [];
    let stored: ApiRow | undefined = row;
    const directory = createApiDirectory(async (identifier) => {
      reads.push(identifier);
      return identifier === row.identifier ? stored : undefined;
    }, { now: () => now });
    expect(await directory.find(row.identifier)).toEqual({ identifier: row.identifier, scopes: ['posts:read'], tokenFormat: 'jwt', tokenTtlSeconds: 600, rbac: true });
    expect(await directory.find('https://unknown.example.test')).toBeUndefined();
    stored = undefined;
    now += API_CACHE_SECONDS * 1000 - 1;
    expect(await directory.find(row.identifier)).toBeDefined();
    expect(await directory.find('https://unknown.example.test')).toBeUndefined();
    expect(reads).toHaveLength(2);
    now += 1;
    expect(await directory.find(row.identifier)).toBeUndefined();
    expect(reads).toHaveLength(3);
  });
});

describe('who may introspect a token (AS-11)', () => {
  const client = (clientId: string, served?: string[]) => ({ clientId, ...(served ? { resource_server_for: served } : {}) }) as unknown as Client;
  const A = 'https://a.example.test';
  const B = 'https://b.example.test';

  it('lets the owner and the resource servers of every audience the token has, and nobody else', () => {
    expect(mayIntrospect(client('app'), { clientId: 'app', aud: A })).toBe(true);
    expect(mayIntrospect(client('app'), { clientId: 'app' })).toBe(true);
    expect(mayIntrospect(client('rs-a', [A]), { clientId: 'app', aud: A })).toBe(true);
    expect(mayIntrospect(client('rs-a', [A]), { clientId: 'app', aud: B })).toBe(false);
    expect(mayIntrospect(client('rs-a', [A]), { clientId: 'app', aud: [A, B] })).toBe(false);
    expect(mayIntrospect(client('rs-ab', [A, B]), { clientId: 'app', aud: [A, B] })).toBe(true);
    expect(mayIntrospect(client('rs-a', [A]), { clientId: 'app' })).toBe(false);
    expect(mayIntrospect(client('other'), { clientId: 'app', aud: A })).toBe(false);
  });
});
