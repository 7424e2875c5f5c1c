import type { Context } from 'koa';
import { z } from 'zod';
import type { Config } from '../config/load.ts';
import { BadRequestError } from '../errors.ts';
import { browserBinding } from './browser-binding.ts';
import type { CsrfTokens } from './middleware/csrf.ts';
import { localeOf } from './middleware/locale.ts';
import type { PageModel, Render } from './render.ts';

/** A form text field: absent means empty, and length is capped before anything reads it. */
export const formText = (max: number) => z.string().max(max).default('');

/** Schema-checks a form body. @throws BadRequestError (form_invalid) with a message a person can act on. */
export function parseForm<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body ?? {});
  if (!result.success) throw new BadRequestError('The form was not filled in as expected. Please try again.', 'form_invalid');
  return result.data;
}

/** A problem with one field, as a catalogue key the page shows next to it. */
export interface FieldProblem {
  field: string;
  messageKey: string;
  params?: Record<string, string | number> | undefined;
}

export const problemsByField = (problems: readonly FieldProblem[]) => Object.fromEntries(problems.map((problem) => [problem.field, problem]));

export type PageContent = { title: PageModel['title']; [key: string]: unknown };

/**
 * Pages with forms outside a sign-in interaction (account flows and settings): each render carries the
 * page's language and a CSRF token bound to this browser; `checkCsrf` verifies a posted one (WEB-01).
 */
export function formPages(render: Render, csrf: CsrfTokens, config: Config) {
  const https = config.issuer.startsWith('https:');
  return {
    https,
    page(ctx: Context, view: string, model: PageContent, status = 200): void {
      ctx.status = status;
      ctx.body = render(view, {
        ...model,
        locale: localeOf(ctx),
        csrf: csrf.issue(browserBinding(ctx, https)),
        passwordMin: config.passwords.minLength,
      });
    },
    /** @throws CsrfTokenError */
    checkCsrf(ctx: Context, token: string): void {
      csrf.verify(browserBinding(ctx, https), token);
    },
  };
}
