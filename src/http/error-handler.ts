import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { AppError } from '../errors.ts';
import { asStoreUnavailable } from '../storage/unavailable.ts';
import { errorMessageKey, translator, type MessageKey } from '../i18n/translate.ts';
import { localeOf } from './middleware/locale.ts';
import type { Render } from './render.ts';

interface Presentable {
  status: number;
  code: string;
  message: string;
}

/** Koa's own HTTP errors (e.g. a malformed body from the parser) carry a status and an expose flag. */
function isHttpError(error: unknown): error is { status: number; expose: boolean; message: string } {
  return typeof error === 'object' && error !== null && typeof (error as { status?: unknown }).status === 'number';
}

function toPresentable(error: unknown): Presentable {
  if (error instanceof AppError) {
    return error.expose
      ? { status: error.status, code: error.code, message: error.message }
      : { status: error.status, code: 'server_error', message: 'Something went wrong on our side. Please try again.' };
  }
  if (isHttpError(error) && error.status >= 400 && error.status < 500 && error.expose) {
    return { status: error.status, code: 'invalid_request', message: error.message };
  }
  return { status: 500, code: 'server_error', message: 'Something went wrong on our side. Please try again.' };
}

const HEADINGS: Record<number, MessageKey> = {
  400: 'error.heading.400',
  403: 'error.heading.403',
  404: 'error.heading.404',
  429: 'error.heading.429',
  503: 'error.heading.503',
};

/**
 * Writes an error as JSON or as a page of our layout, chosen by the Accept header. JSON keeps the
 * English `message` (for developers and logs); the page says `errors.<code>` from the catalogue in
 * the request's language, or a generic message for a code without an entry.
 */
export function presentError(ctx: Context, render: Render, presentable: Presentable): void {
  ctx.status = presentable.status;
  ctx.set('Cache-Control', 'no-store');
  const requestId = ctx.state.requestId as string | undefined;
  if (ctx.accepts('html', 'json') === 'json') {
    ctx.body = { error: presentable.code, error_description: presentable.message, request_id: requestId };
    return;
  }
  ctx.type = 'html';
  const locale = localeOf(ctx);
  const t = translator(locale);
  ctx.body = render('error', {
    title: 'error.title',
    locale,
    heading: t(HEADINGS[presentable.status] ?? (presentable.status >= 500 ? 'error.heading.500' : 'error.heading.400')),
    message: t(errorMessageKey(presentable.code)),
    code: presentable.code,
    requestId,
  });
}

/**
 * A request that failed on a store outage may have set cookies or a redirect for state it could not
 * save (a session cookie whose session was never stored, a Location carrying a code). The refusal
 * withdraws them: the browser keeps what it had and can simply try the same step again.
 */
export function withdrawResponseEffects(ctx: Pick<Context, 'remove'>): void {
  ctx.remove('Set-Cookie');
  ctx.remove('Location');
}

/**
 * The one presenter for our own routes: typed AppErrors show their message, everything else becomes a
 * generic 500. The stack goes to the log, never to the client.
 */
export function errorHandler(render: Render, logger: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
    } catch (caught) {
      // Redis or Postgres down or too slow, wherever it surfaced (even wrapped by a limiter or the audit
      // trail): 503 with Retry-After, and nothing the half-done request set may reach the browser.
      const unavailable = asStoreUnavailable(caught);
      if (unavailable) withdrawResponseEffects(ctx);
      const error = unavailable ?? caught;
      const presentable = toPresentable(error);
      const requestId = ctx.state.requestId as string | undefined;
      const log = requestId ? logger.child({ requestId }) : logger;
      if (presentable.status >= 500) log.error({ err: caught }, 'request failed');
      else log.info({ code: presentable.code, status: presentable.status }, 'request refused');
      // A refusal that knows when to come back says so (429 limits, 503 busy hashing or a store outage).
      const retryAfter = (error as { retryAfterSeconds?: unknown }).retryAfterSeconds;
      if (error instanceof AppError && typeof retryAfter === 'number') ctx.set('Retry-After', String(retryAfter));
      presentError(ctx, render, presentable);
    }
  };
}
