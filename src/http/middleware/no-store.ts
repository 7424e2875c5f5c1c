import type { Context, Next } from 'koa';

/** Interaction pages carry per-user, per-request state: no browser or proxy may cache them. */
export async function noStore(ctx: Context, next: Next): Promise<void> {
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Pragma', 'no-cache');
  await next();
}
