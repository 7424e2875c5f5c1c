import Router from '@koa/router';

export interface ReadinessCheck {
  name: string;
  /** Resolves when the dependency is usable; rejects (or returns a reason) when it is not. */
  check(): Promise<string | undefined>;
}

/**
 * Longest wait for one dependency's answer. A store that is black-holed or paused would otherwise hold
 * /readyz as long as its own timeouts (Postgres: connect + statement), and a probe that times out says
 * less than a prompt 503 naming the dependency (REL-F1: /readyz fails within 5 s).
 */
const CHECK_TIMEOUT_MS = 2_000;

function withinTime<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/**
 * /healthz: the process is alive (no I/O, so a slow database never gets a healthy pod killed).
 * /readyz: every dependency answers and migrations are applied; 503 otherwise, so no traffic is sent.
 * Once `draining()` is true (shutdown has begun) /readyz answers 503 at once without asking anything,
 * so balancers stop sending new traffic while the requests already here finish; /healthz stays 200,
 * so a draining process is not killed early for being "unhealthy".
 */
export function healthRouter(checks: ReadinessCheck[], draining: () => boolean = () => false): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    if (draining()) {
      ctx.set('Cache-Control', 'no-store');
      ctx.status = 503;
      ctx.body = { status: 'draining' };
      return;
    }
    const results = await Promise.all(
      checks.map(async ({ name, check }) => {
        try {
          const problem = await withinTime(check(), CHECK_TIMEOUT_MS);
          return [name, problem ?? 'ok'] as const;
        } catch (error) {
          return [name, `unavailable: ${(error as Error).message}`] as const;
        }
      }),
    );
    const ready = results.every(([, state]) => state === 'ok');
    ctx.set('Cache-Control', 'no-store');
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ok' : 'unavailable', checks: Object.fromEntries(results) };
  });
  return router;
}
