#!/usr/bin/env node
// The `gatehouse` admin CLI. The production image runs the compiled dist/ (after `npm run build`);
// a checkout without a build runs the TypeScript source directly (Node 24 strips the types).
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/src/cli/main.js', import.meta.url);
const entry = existsSync(compiled) ? compiled : new URL('../src/cli/main.ts', import.meta.url);
const { runCli } = await import(entry.href);

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
});
