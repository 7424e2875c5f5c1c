import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPasswordPolicy } from '../../src/security/password-policy.ts';

/**
 * PW-04, the optional breach check, against a real HTTP server speaking the HIBP range API. No network
 * beyond 127.0.0.1: CI never reaches the real service.
 */
const sha1 = (text: string) => createHash('sha1').update(text, 'utf8').digest('hex').toUpperCase();

const BREACHED = 'orange tractor velvet 1987';
const CLEAN = 'quiet lantern over the marsh';

interface Seen {
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/range`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('breached-password check (HIBP range API)', () => {
  const seen: Seen[] = [];
  let rangeApi: Server;
  let slowApi: Server;
  let rangeUrl: string;
  let slowUrl: string;

  beforeAll(async () => {
    rangeApi = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        seen.push({ url: request.url ?? '', headers: request.headers, body });
        const prefix = (request.url ?? '').split('/').pop() ?? '';
        const lines = [`${'0'.repeat(35)}:3`];
        // The breached password is known; the clean one appears only as padding (count 0), as HIBP pads.
        if (sha1(BREACHED).startsWith(prefix)) lines.push(`${sha1(BREACHED).slice(5)}:42`);
        if (sha1(CLEAN).startsWith(prefix)) lines.push(`${sha1(CLEAN).slice(5)}:0`);
        response.writeHead(200, { 'content-type': 'text/plain' }).end(lines.join('\r\n'));
      });
    });
    // Accepts the request and never answers.
    slowApi = createServer(() => {});
    rangeUrl = await listen(rangeApi);
    slowUrl = await listen(slowApi);
  });

  afterAll(async () => {
    await Promise.all([close(rangeApi), close(slowApi)]);
  });

  const policyFor = (breachedApiUrl: string, breachTimeoutMs = 3000) =>
    createPasswordPolicy({ minLength: 15, issuer: 'https://id.example.com', breachedApiUrl }, { breachTimeoutMs });

  it('refuses a breached password, and the server only ever sees the 5-character prefix', async () => {
    seen.length = 0;
    await expect(policyFor(rangeUrl).check(BREACHED, {})).resolves.toEqual({
      ok: false,
      reason: 'breached',
      messageKey: 'password.breached',
    });
    const hash = sha1(BREACHED);
    expect(seen.map((request) => request.url)).toEqual([`/range/${hash.slice(0, 5)}`]);
    expect(seen[0]!.headers['add-padding']).toBe('true');
    const everything = JSON.stringify(seen).toUpperCase();
    expect(everything).not.toContain(hash);
    expect(everything).not.toContain(hash.slice(5));
    expect(everything).not.toContain(BREACHED.toUpperCase());
  });

  it('accepts a password that is absent, or present only as padding with count 0', async () => {
    await expect(policyFor(rangeUrl).check(CLEAN, {})).resolves.toEqual({ ok: true });
    await expect(policyFor(`${rangeUrl}/`).check('misty harbour seven kites', {})).resolves.toEqual({ ok: true });
  });

  it('does not ask the service about passwords the local rules already refuse', async () => {
    seen.length = 0;
    await expect(policyFor(rangeUrl).check('passwordpassword', {})).resolves.toMatchObject({ reason: 'blocklisted' });
    expect(seen).toEqual([]);
  });

  it('lets the user through with a warning when the service is down', async () => {
    const down = createServer();
    const downUrl = await listen(down);
    await close(down);
    await expect(policyFor(downUrl).check(BREACHED, {})).resolves.toEqual({ ok: true, warning: 'breach_check_unavailable' });
  });

  it('lets the user through with a warning when the service is slower than the timeout', async () => {
    const started = Date.now();
    await expect(policyFor(slowUrl, 200).check(BREACHED, {})).resolves.toEqual({ ok: true, warning: 'breach_check_unavailable' });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('lets the user through with a warning when the service answers with an error', async () => {
    const failing = createServer((_request, response) => response.writeHead(503).end());
    const failingUrl = await listen(failing);
    try {
      await expect(policyFor(failingUrl).check(BREACHED, {})).resolves.toEqual({ ok: true, warning: 'breach_check_unavailable' });
    } finally {
      await close(failing);
    }
  });
});
