import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import pug from 'pug';

/** views/ sits at the project root (copied next to src/ under dist/ by `npm run build`). */
export const viewsDir = fileURLToPath(new URL('../../views/', import.meta.url));

/** Values every page may use; views receive plain view models, never database rows. */
export interface PageModel {
  title: string;
  [key: string]: unknown;
}

export type Render = (view: string, model: PageModel) => string;

/**
 * Compiles pug templates from views/ (cached unless `cache` is false, so development picks up edits).
 * pug escapes every `#{}` and `=` interpolation: user input never reaches the page unescaped.
 */
export function createRenderer(options: { cache: boolean }): Render {
  const compiled = new Map<string, pug.compileTemplate>();
  return (view, model) => {
    let template = options.cache ? compiled.get(view) : undefined;
    if (!template) {
      template = pug.compileFile(join(viewsDir, `${view}.pug`), { basedir: viewsDir });
      if (options.cache) compiled.set(view, template);
    }
    return template(model);
  };
}
