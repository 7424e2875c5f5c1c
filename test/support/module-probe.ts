import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

/**
 * Preloaded with `--import` (NODE_OPTIONS) into a process a test starts: appends the URL of every module
 * the process resolves, imported or required, to the file named by MODULE_PROBE_FILE, so the test can
 * tell which packages were loaded at all.
 */
const file = process.env.MODULE_PROBE_FILE;
if (file) {
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const resolved = nextResolve(specifier, context);
      appendFileSync(file, `${resolved.url}\n`);
      return resolved;
    },
  });
}
