import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { AppError } from '../errors.ts';
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

const HEADINGS: Record<number, string> = { 400: 'That did not work', 403: 'Not allowed', 404: 'Page not found', 429: 'Too many attempts' };

/** Writes an error as JSON or as a page of our layout, chosen by the Accept header. */
export function presentError(ctx: Context, render: Render, presentable: Presentable): void {
  ctx.status = presentable.status;
  ctx.set('Cache-Control', 'no-store');
  const requestId = ctx.state.requestId as string | undefined;
  if (ctx.accepts('html', 'json') === 'json') {
    ctx.body = { error: presentable.code, error_description: presentable.message, request_id: requestId };
    return;
  }
  ctx.type = 'html';
  ctx.body = render('error', {
    title: 'Error',
    heading: HEADINGS[presentable.status] ?? (presentable.status >= 500 ? 'Something went wrong' : 'That did not work'),
    message: presentable.message,
    code: presentable.code,
    requestId,
  });
}

/**
 * The one presenter for our own routes: typed AppErrors show their message, everything else becomes a
 * generic 500. The stack goes to the log, never to the client.
 */
export function errorHandler(render: Render, logger: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
    } catch (error) {
      const presentable = toPresentable(error);
      const log = (ctx.state.log as Logger | undefined) ?? logger;
      if (presentable.status >= 500) log.error({ err: error }, 'request failed');
      else log.info({ code: presentable.code, status: presentable.status }, 'request refused');
      presentError(ctx, render, presentable);
    }
  };
}
