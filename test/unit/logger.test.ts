import { describe, expect, it } from '@jest/globals';
import { createLogger } from '../../src/logger.ts';

function capture() {
  const lines: string[] = [];
  const logger = createLogger({ logLevel: 'info' }, { write: (line: string) => void lines.push(line) });
  return { logger, text: () => lines.join('') };
}

describe('log redaction (LOG-02)', () => {
  it('censors credentials in headers, form bodies and secret-named fields at any of the first three levels', () => {
    const secrets = {
      authorization: 'Basic c2VjcmV0LWF1dGg=',
      cookie: 'gatehouse.session=secret-cookie',
      setCookie: 'gatehouse.session=secret-set-cookie',
      password: 'secret-password-1',
      newPassword: 'secret-password-2',
      body: 'secret-body-code',
      code: 'secret-auth-code',
      token: 'secret-reset-token',
      refresh: 'secret-refresh-token',
      clientSecret: 'secret-client-secret',
    };
    const { logger, text } = capture();
    logger.info({
      req: { headers: { authorization: secrets.authorization, cookie: secrets.cookie }, body: { password: secrets.password, code: secrets.body } },
      res: { headers: { 'set-cookie': secrets.setCookie } },
      form: { newPassword: secrets.newPassword, code: secrets.code },
      token: secrets.token,
      tokens: { refresh_token: secrets.refresh },
      client: { metadata: { client_secret: secrets.clientSecret } },
      password: secrets.password,
    }, 'a careless line');
    const logged = text();
    for (const [name, value] of Object.entries(secrets)) expect([name, logged.includes(value)]).toEqual([name, false]);
    expect(logged).toContain('[redacted]');
    expect(logged).toContain('a careless line');
  });

  it('keeps our own top-level error code and ordinary fields', () => {
    const { logger, text } = capture();
    logger.info({ code: 'interaction_expired', status: 400, accountId: 'a1', path: '/interaction/x/login' }, 'request refused');
    const line = JSON.parse(text()) as Record<string, unknown>;
    expect(line).toMatchObject({ code: 'interaction_expired', status: 400, accountId: 'a1', path: '/interaction/x/login' });
  });
});
