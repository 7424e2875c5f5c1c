import { readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';

/**
 * The Dockerfile read as text (no Docker engine on these machines): what it promises the chart, and what
 * the chart relies on. The image's CMD itself was run by hand (build, `npm ci --omit=dev`, as uid 10001);
 * see the Helm chart README.
 */

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const dockerfile = read('Dockerfile');
/** Instructions with their continuation lines joined and comments dropped. */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));
const runtimeStage = instructions.slice(instructions.findIndex((line) => /^FROM .* AS runtime$/.test(line)));
const deployment = read('helm/gatehouse/templates/deployment.yaml');
const helpers = read('helm/gatehouse/templates/_helpers.tpl');

describe('Dockerfile', () => {
  it('builds and runs on Node 24 slim', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24-[a-z]+-slim$/m);
    const froms = instructions.filter((line) => line.startsWith('FROM '));
    expect(froms).toEqual(['FROM ${NODE_IMAGE} AS build', 'FROM ${NODE_IMAGE} AS runtime']);
  });

  it('installs only production dependencies, exactly as locked, in the runtime stage', () => {
    expect(runtimeStage.some((line) => /^RUN npm ci --omit=dev\b/.test(line))).toBe(true);
    expect(runtimeStage.some((line) => /\bnpm (install|i)\b/.test(line))).toBe(false);
  });

  it('runs as the fixed non-root uid that the chart sets in runAsUser, with nothing run as root after it', () => {
    const users = runtimeStage.filter((line) => line.startsWith('USER '));
    expect(users).toEqual(['USER 10001:10001']);
    const afterUser = runtimeStage.slice(runtimeStage.indexOf('USER 10001:10001') + 1);
    expect(afterUser.filter((line) => /^(RUN|USER) /.test(line))).toEqual([]);
    expect(helpers).toMatch(/^runAsUser: 10001$/m);
    expect(helpers).toMatch(/^runAsGroup: 10001$/m);
  });

  it('keeps every write under /tmp: DATA_DIR and HOME point there (the chart mounts an emptyDir on /tmp)', () => {
    const env = runtimeStage.find((line) => line.startsWith('ENV '))!;
    expect(env).toMatch(/\bNODE_ENV=production\b/);
    expect(env).toMatch(/\bDATA_DIR=\/tmp\/\S+/);
    expect(env).toMatch(/\bHOME=\/tmp\b/);
  });

  it('has a HEALTHCHECK on /healthz (liveness only, never /readyz)', () => {
    const healthcheck = runtimeStage.find((line) => line.startsWith('HEALTHCHECK '));
    expect(healthcheck).toContain('/healthz');
    expect(healthcheck).not.toContain('/readyz');
  });

  it('carries the OCI labels', () => {
    const labels = runtimeStage.filter((line) => line.startsWith('LABEL ')).join(' ');
    for (const key of ['title', 'description', 'version', 'source', 'revision', 'created', 'licenses']) {
      expect(labels).toContain(`org.opencontainers.image.${key}=`);
    }
  });

  it('starts the compiled server with node as PID 1 (exec form), the same command the chart runs', () => {
    expect(runtimeStage.at(-1)).toBe('CMD ["node", "dist/src/main.js"]');
    expect(deployment).toContain('command: ["node", "dist/src/main.js"]');
  });

  it('puts `gatehouse` on PATH, and the chart migrates with `gatehouse migrate` in a pre-install/pre-upgrade Job', () => {
    expect(runtimeStage).toContain('RUN ln -s /app/bin/gatehouse.js /usr/local/bin/gatehouse');
    const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string> };
    expect(pkg.bin.gatehouse).toBe('bin/gatehouse.js');
    // The link runs the file itself: it needs its shebang and its execute bit (COPY keeps the mode).
    expect(read('bin/gatehouse.js').startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(statSync(new URL('bin/gatehouse.js', root)).mode & 0o111).not.toBe(0);
    const job = read('helm/gatehouse/templates/migrate-job.yaml');
    expect(job).toContain('command: ["gatehouse", "migrate"]');
    expect(job).toContain('"helm.sh/hook": pre-install,pre-upgrade');
  });

  it('.dockerignore keeps local state, secrets and build output out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((line) => line.trim());
    for (const entry of ['node_modules', 'dist', 'data', '.env', '.env.*', '*.pem', '*.key', '.git']) {
      expect(ignored).toContain(entry);
    }
  });
});
