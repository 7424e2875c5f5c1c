import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import { createApp, type GatehouseApp } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config/load.ts';
import type { PasswordHasher } from '../../src/security/passwords.ts';

/** Cheap argon2 for tests (production cost is the config default); everything else is real. */
export const TEST_ENV = {
  NODE_ENV: 'test',
  ARGON2_MEMORY_KIB: '1024',
  ARGON2_TIME_COST: '1',
  COOKIE_SECRETS: 'test-cookie-secret-0123456789abcdefghij',
  KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
  LOG_LEVEL: 'silent',
} as const;

export interface TestServer {
  app: GatehouseApp;
  config: Config;
  issuer: string;
  /** Where the server really listens (differs from the issuer when ISSUER is an https URL behind a pretend proxy). */
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the real app on a free loopback port with ISSUER set to that port. The server is listening
 * before the app exists (the issuer needs the port), so requests are handed over once it is built.
 */
export interface TestServerOptions {
  /** A fixed port (a restart that must keep the issuer); 0 picks a free one. */
  port?: number;
  logger?: Logger;
  /** Injected clock for tests that age sessions. */
  clock?: () => number;
  /**
   * The issuer's host name (the server still listens on 127.0.0.1). 'localhost' for WebAuthn in a
   * browser: an RP ID must be a domain, not an IP address, and http://localhost is a secure context.
   */
  issuerHost?: string;
  /** Replaces the app's argon2 hasher (tests wrap a real one to count verifications). */
  hasher?: PasswordHasher;
}

export async function startTestServer(env: Record<string, string | undefined>, options: TestServerOptions = {}): Promise<TestServer> {
  const { port = 0, logger = pino({ level: 'silent' }), clock, issuerHost = '127.0.0.1', hasher } = options;
  const slot: { handler?: RequestListener } = {};
  const server: Server = createServer((req, res) => {
    if (slot.handler) void slot.handler(req, res);
    else res.writeHead(503).end();
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  // ISSUER from env wins: tests of https behaviour run behind a pretend TLS proxy (X-Forwarded-Proto).
  const issuer = env.ISSUER ?? `http://${issuerHost}:${(server.address() as AddressInfo).port}`;
  let app: GatehouseApp;
  try {
    const config = loadConfig({ ...TEST_ENV, ...env, ISSUER: issuer, PORT: String((server.address() as AddressInfo).port) });
    app = await createApp(config, { migrate: true, logger, ...(clock ? { clock } : {}), ...(hasher ? { hasher } : {}) });
  } catch (error) {
    server.close();
    throw error;
  }
  slot.handler = app.callback();
  return {
    app,
    config: app.config,
    issuer,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.close();
    },
  };
}
