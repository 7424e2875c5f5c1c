import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type * as Pug from 'pug';
import { directionOf, type Locale } from '../i18n/locales.ts';
import { translator, type MessageKey } from '../i18n/translate.ts';

/** views/ sits at the project root (copied next to src/ under dist/ by `npm run build`). */
export const viewsDir = fileURLToPath(new URL('../../views/', import.meta.url));

/** Values every page may use; views receive plain view models, never database rows. */
export interface PageModel {
  /** Catalogue key of the window title (the layout translates it). */
  title: MessageKey;
  /** The page's language; the renderer derives `t`, `lang` and `dir` from it. */
  locale: Locale;
  [key: string]: unknown;
}

export type Render = (view: string, model: PageModel) => string;

let pug: typeof Pug | undefined;
/**
 * Required at the first page, not imported at start-up: the compiler with its Babel parser is about 20 MB
 * and 0.1 s of every start (issue 13's bench), and a replica serving only tokens never renders a page.
 */
const loadPug = () => (pug ??= createRequire(import.meta.url)('pug') as typeof Pug);

/**
 * Compiles pug templates from views/ (cached unless `cache` is false, so development picks up edits).
 * pug escapes every `#{}` and `=` interpolation: user input never reaches the page unescaped, and
 * neither does a translated message with a user-supplied value in it.
 * Every template also gets `t` (the catalogue in the page's language), `lang` and `dir` for <html>.
 */
export function createRenderer(options: { cache: boolean }): Render {
  const compiled = new Map<string, Pug.compileTemplate>();
  return (view, model) => {
    let template = options.cache ? compiled.get(view) : undefined;
    if (!template) {
      template = loadPug().compileFile(join(viewsDir, `${view}.pug`), { basedir: viewsDir });
      if (options.cache) compiled.set(view, template);
    }
    return template({ ...model, t: translator(model.locale), lang: model.locale, dir: directionOf(model.locale) });
  };
}
