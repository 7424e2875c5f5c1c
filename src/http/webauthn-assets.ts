import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import Router from '@koa/router';
import { viewsDir } from './render.ts';

/**
 * The passkey scripts, read once at start-up: @simplewebauthn/browser's own UMD bundle straight from
 * node_modules (it defines the global SimpleWebAuthnBrowser; no build step, no copy to keep in sync) and
 * our views/assets/passkeys.js, which uses it. Pages load both with their CSP nonce (script-src allows
 * nothing else), and passkeys.js calls back to our own origin only (default-src 'self' covers fetch).
 */
export function webauthnAssets(): Router {
  // The package's exports name only its entry point (script/index.js); the bundle sits beside it in dist/.
  const entry = createRequire(import.meta.url).resolve('@simplewebauthn/browser');
  const files = {
    '/assets/webauthn.js': readFileSync(join(dirname(entry), '..', 'dist', 'bundle', 'index.umd.min.js'), 'utf8'),
    '/assets/passkeys.js': readFileSync(join(viewsDir, 'assets', 'passkeys.js'), 'utf8'),
  };
  const router = new Router();
  for (const [path, body] of Object.entries(files)) {
    router.get(path, (ctx) => {
      ctx.type = 'text/javascript';
      ctx.set('Cache-Control', 'public, max-age=3600');
      ctx.body = body;
    });
  }
  return router;
}
