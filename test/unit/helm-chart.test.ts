import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { Ajv, type ErrorObject } from 'ajv';
import { parse } from 'yaml';

/**
 * The Helm chart, checked without Helm (no helm binary on these machines, and Debian has none): the
 * values files against values.schema.json with a real JSON Schema validator (draft-07, as Helm uses), and
 * the templates as text for the OPS-04 fields. What this cannot see is rendering itself (Go template
 * syntax, indentation of included blocks); the chart README says so.
 */

const chart = new URL('../../helm/gatehouse/', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, chart), 'utf8');
type Values = Record<string, unknown>;

const schema = JSON.parse(read('values.schema.json')) as Record<string, unknown>;
// strict: unknown or misplaced keywords in the schema are errors, so a typo there cannot turn a check off
// (union types such as ["string", "number"] are plain draft-07 and allowed).
const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(schema);
const defaults = parse(read('values.yaml')) as Values;
const exampleFiles = readdirSync(new URL('examples/', chart)).filter((name) => name.endsWith('.yaml'));

const isMap = (value: unknown): value is Values => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Helm's merge of a user's values over the chart's: maps merge key by key, anything else replaces, null deletes. */
function coalesce(base: Values, override: Values): Values {
  const merged = new Map(Object.entries(base));
  for (const [key, value] of Object.entries(override)) {
    const current = merged.get(key);
    if (value === null) merged.delete(key);
    else if (isMap(value) && isMap(current)) merged.set(key, coalesce(current, value));
    else merged.set(key, value);
  }
  return Object.fromEntries(merged);
}

const withDefaults = (override: Values) => coalesce(defaults, override);
const example = (name: string) => withDefaults(parse(read(`examples/${name}`)) as Values);

function errorsOf(values: Values): ErrorObject[] {
  return validate(values) ? [] : [...(validate.errors ?? [])];
}

/** Where the first error points and what it says, the way an operator would read it. */
const described = (errors: ErrorObject[]) => errors.map((error) => `${error.instancePath} ${error.message}`);

describe('values.schema.json', () => {
  it('accepts the chart defaults', () => {
    expect(described(errorsOf(defaults))).toEqual([]);
  });

  it('ships examples, and accepts each one merged over the defaults', () => {
    expect(exampleFiles.length).toBeGreaterThanOrEqual(2);
    for (const name of exampleFiles) {
      expect({ name, errors: described(errorsOf(example(name))) }).toEqual({ name, errors: [] });
    }
  });

  it('refuses an unknown key anywhere, naming it (a typo must not be ignored silently)', () => {
    const top = errorsOf(withDefaults({ replicas: 3 }));
    expect(top).toContainEqual(expect.objectContaining({ keyword: 'additionalProperties', params: { additionalProperty: 'replicas' } }));
    const nested = errorsOf(withDefaults({ ingress: { tlsSecret: 'x' } }));
    expect(nested).toContainEqual(
      expect.objectContaining({ instancePath: '/ingress', params: { additionalProperty: 'tlsSecret' } }),
    );
  });

  it('refuses fewer than two replicas and an autoscaler that may go below two (OPS-04)', () => {
    expect(described(errorsOf(withDefaults({ replicaCount: 1 })))).toEqual(['/replicaCount must be >= 2']);
    expect(described(errorsOf(withDefaults({ autoscaling: { minReplicas: 1 } })))).toEqual([
      '/autoscaling/minReplicas must be >= 2',
    ]);
  });

  it('refuses secrets in the ConfigMap: they come from Secret objects only (OPS-04)', () => {
    for (const key of ['DATABASE_URL', 'REDIS_URL', 'COOKIE_SECRETS', 'KEY_ENCRYPTION_KEY', 'SMTP_URL', 'REDIS_SENTINEL_PASSWORD']) {
      const errors = errorsOf(withDefaults({ config: { [key]: 'x' } }));
      expect(errors).toContainEqual(expect.objectContaining({ instancePath: '/config', keyword: 'propertyNames', params: { propertyName: key } }));
    }
  });

  it('takes Redis Sentinel as plain settings, with the sentinels\' password in the Secret only when given (REL-F3)', () => {
    const sentinel = { config: { REDIS_SENTINELS: 'sentinel-0:26379,sentinel-1:26379', REDIS_SENTINEL_NAME: 'mymaster' } };
    expect(described(errorsOf(withDefaults({ ...sentinel, secrets: { redisSentinelPassword: 'sentinel-secret' } })))).toEqual([]);
    expect(read('templates/secret.yaml')).toContain(
      '  {{- with .Values.secrets.redisSentinelPassword }}\n  REDIS_SENTINEL_PASSWORD: {{ . | b64enc | quote }}\n  {{- end }}\n',
    );
  });

  it('takes upstream sign-in providers: client ids in config, client secrets only in the Secret (issue 12)', () => {
    const google = { config: { UPSTREAM_GOOGLE_CLIENT_ID: 'gh.apps.googleusercontent.com' } };
    expect(described(errorsOf(withDefaults({ ...google, secrets: { upstreamClientSecrets: { google: 'GOCSPX-secret' } } })))).toEqual([]);
    expect(errorsOf(withDefaults({ config: { UPSTREAM_GOOGLE_CLIENT_SECRET: 'GOCSPX-secret' } }))).toContainEqual(
      expect.objectContaining({ instancePath: '/config', keyword: 'propertyNames', params: { propertyName: 'UPSTREAM_GOOGLE_CLIENT_SECRET' } }),
    );
    expect(errorsOf(withDefaults({ secrets: { upstreamClientSecrets: { 'my-idp': 'x' } } }))).toContainEqual(expect.objectContaining({ keyword: 'propertyNames' }));
    expect(read('templates/secret.yaml')).toContain(
      '  {{- range $id, $secret := .Values.secrets.upstreamClientSecrets }}\n  UPSTREAM_{{ upper $id }}_CLIENT_SECRET: {{ $secret | b64enc | quote }}\n  {{- end }}\n',
    );
  });

  it('refuses the settings the chart owns, so values cannot contradict the probes or the drain arithmetic', () => {
    for (const key of ['PORT', 'SHUTDOWN_TIMEOUT_SECONDS', 'SHUTDOWN_DELAY_SECONDS', 'METRICS_PORT', 'NODE_ENV']) {
      expect(errorsOf(withDefaults({ config: { [key]: '1' } }))).toContainEqual(
        expect.objectContaining({ keyword: 'propertyNames', params: { propertyName: key } }),
      );
    }
  });

  it('checks the shape of each secret value', () => {
    const errors = errorsOf(
      withDefaults({
        issuer: 'http://id.example.com/',
        secrets: { databaseUrl: 'mysql://db', redisUrl: 'http://redis', keyEncryptionKey: 'short', cookieSecrets: 'too-short' },
      }),
    );
    expect(errors.map((error) => error.instancePath).sort()).toEqual([
      '/issuer',
      '/secrets/cookieSecrets',
      '/secrets/databaseUrl',
      '/secrets/keyEncryptionKey',
      '/secrets/redisUrl',
    ]);
  });

  it('takes a comma list of key-encryption keys while one is rotated (REL-F7), and refuses a short one in it', () => {
    const key = (byte: number) => Buffer.alloc(32, byte).toString('base64');
    const secrets = { databaseUrl: 'postgres://db/gh', redisUrl: 'rediss://redis', cookieSecrets: 'c'.repeat(32), smtpUrl: 'smtp://mail' };
    expect(described(errorsOf(withDefaults({ issuer: 'https://id.example.com', secrets: { ...secrets, keyEncryptionKey: `${key(2)},${key(1)}` } })))).toEqual([]);
    expect(errorsOf(withDefaults({ issuer: 'https://id.example.com', secrets: { ...secrets, keyEncryptionKey: `${key(2)},short` } })).map((error) => error.instancePath)).toEqual([
      '/secrets/keyEncryptionKey',
    ]);
  });

  it('refuses a privileged container port (the container has no capabilities to bind it)', () => {
    expect(described(errorsOf(withDefaults({ containerPort: 80 })))).toEqual(['/containerPort must be >= 1024']);
    expect(errorsOf(withDefaults({ metrics: { port: 443 } }))).not.toEqual([]);
  });

  it('reports every problem of a bad values file at once, each with its path', () => {
    const bad = parse(
      [
        'replicaCount: 1',
        'image: {repository: "", pullPolicy: Sometimes}',
        'podDisruptionBudget: {maxUnavailable: 0}',
        'serviceMonitor: {interval: soon}',
        'networkPolicy: {ingressFrom: [{namespace: ingress-nginx}]}',
      ].join('\n'),
    ) as Values;
    const paths = new Set(errorsOf(withDefaults(bad)).map((error) => error.instancePath));
    expect([...paths]).toEqual(
      expect.arrayContaining([
        '/replicaCount',
        '/image/repository',
        '/image/pullPolicy',
        '/podDisruptionBudget/maxUnavailable',
        '/serviceMonitor/interval',
        '/networkPolicy/ingressFrom/0',
      ]),
    );
  });
});

describe('values: what the schema cannot compare', () => {
  const files: [string, Values][] = [['values.yaml', defaults], ...exampleFiles.map((name): [string, Values] => [name, example(name)])];

  it.each(files)('%s: terminationGracePeriodSeconds exceeds the preStop sleep plus the drain timeout (OPS-04)', (_name, values) => {
    const grace = values.terminationGracePeriodSeconds as number;
    const drain = (values.shutdownDelaySeconds as number) + (values.shutdownTimeoutSeconds as number);
    expect(grace).toBeGreaterThan(drain);
    // preStop sleep ≈ 5–10 s: long enough for endpoint removal to reach every proxy.
    expect(values.shutdownDelaySeconds).toBeGreaterThanOrEqual(5);
    expect(values.shutdownDelaySeconds).toBeLessThanOrEqual(10);
  });

  it('has a PodDisruptionBudget on by default and at least two replicas (OPS-04)', () => {
    expect(defaults.podDisruptionBudget).toEqual({ enabled: true, maxUnavailable: 1 });
    expect(defaults.replicaCount).toBeGreaterThanOrEqual(2);
  });

  it('every .Values reference in the templates exists in values.yaml (a renamed value cannot go unnoticed)', () => {
    const templates = readdirSync(new URL('templates/', chart));
    const missing: string[] = [];
    for (const name of templates) {
      for (const [, path] of read(`templates/${name}`).matchAll(/\.Values\.([A-Za-z0-9_.]+)/g)) {
        let node: unknown = defaults;
        for (const key of path!.split('.')) node = isMap(node) && key in node ? node[key] : undefined;
        if (node === undefined) missing.push(`${name}: .Values.${path}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('the chart README documents every top-level value', () => {
    const readme = read('README.md');
    const undocumented = Object.keys(defaults).filter((key) => !readme.includes(`\`${key}`));
    expect(undocumented).toEqual([]);
  });
});

/** The indented block under `key:` in a template (the lines indented deeper than the key). */
function blockUnder(text: string, key: string): string {
  const lines = text.split('\n');
  const start = lines.findIndex((line) => line.trimStart().startsWith(`${key}:`));
  if (start < 0) throw new Error(`no ${key}: in the template`);
  const indent = lines[start]!.length - lines[start]!.trimStart().length;
  const block: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() !== '' && line.length - line.trimStart().length <= indent) break;
    block.push(line);
  }
  return block.join('\n');
}

const probePath = (text: string, probe: string) => /path: (\S+)/.exec(blockUnder(text, probe))?.[1];

describe('templates (read as text: OPS-04 fields)', () => {
  const deployment = read('templates/deployment.yaml');
  const helpers = read('templates/_helpers.tpl');
  const job = read('templates/migrate-job.yaml');

  it('probes: startup and liveness on /healthz, readiness on /readyz, and liveness never on /readyz', () => {
    expect(probePath(deployment, 'startupProbe')).toBe('/healthz');
    expect(probePath(deployment, 'livenessProbe')).toBe('/healthz');
    expect(probePath(deployment, 'readinessProbe')).toBe('/readyz');
    // A liveness probe that asks Postgres or Redis would restart every pod during a dependency outage.
    expect(blockUnder(deployment, 'livenessProbe')).not.toContain('readyz');
    expect(blockUnder(deployment, 'startupProbe')).not.toContain('readyz');
  });

  it('rolling updates never lower the Ready count, and replicas come from values (or the autoscaler)', () => {
    expect(blockUnder(deployment, 'rollingUpdate')).toMatch(/^\s+maxUnavailable: 0$/m);
    expect(deployment).toContain('replicas: {{ .Values.replicaCount }}');
  });

  it('preStop sleeps shutdownDelaySeconds, the grace period comes from values and is checked against the drain', () => {
    expect(blockUnder(deployment, 'preStop')).toContain('command: ["sleep", "{{ .Values.shutdownDelaySeconds }}"]');
    expect(deployment).toContain('terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}');
    expect(deployment.startsWith('{{- include "gatehouse.validate" . }}')).toBe(true);
    const validation = blockUnderDefine(helpers, 'gatehouse.validate');
    expect(validation).toContain('add .Values.shutdownDelaySeconds .Values.shutdownTimeoutSeconds');
    expect(validation).toMatch(/if le \(int \.Values\.terminationGracePeriodSeconds\) \(int \$drain\)\s*}}\s*{{- fail/);
    expect(read('templates/configmap.yaml')).toContain(
      'SHUTDOWN_TIMEOUT_SECONDS: {{ .Values.shutdownTimeoutSeconds | int64 | toString | quote }}',
    );
  });

  it('pod and container security contexts: non-root uid, read-only root, no escalation, no capabilities, RuntimeDefault seccomp', () => {
    const pod = blockUnderDefine(helpers, 'gatehouse.podSecurityContext');
    const container = blockUnderDefine(helpers, 'gatehouse.containerSecurityContext');
    for (const context of [pod, container]) {
      expect(context).toMatch(/^runAsNonRoot: true$/m);
      expect(context).toMatch(/^runAsUser: 10001$/m);
      expect(context).toMatch(/^seccompProfile:\n {2}type: RuntimeDefault$/m);
    }
    expect(container).toMatch(/^readOnlyRootFilesystem: true$/m);
    expect(container).toMatch(/^allowPrivilegeEscalation: false$/m);
    expect(container).toMatch(/^capabilities:\n {2}drop:\n {4}- ALL$/m);
    for (const workload of [deployment, job]) {
      expect(workload).toContain('{{- include "gatehouse.podSecurityContext" . | nindent 8 }}');
      expect(workload).toContain('{{- include "gatehouse.containerSecurityContext" . | nindent 12 }}');
      // The read-only root needs a writable /tmp (DATA_DIR lives under it).
      expect(workload).toMatch(/- name: tmp\n\s+mountPath: \/tmp/);
      expect(workload).toMatch(/- name: tmp\n\s+emptyDir:/);
    }
  });

  it('secrets reach the pods from a Secret object only; the ConfigMap never holds one', () => {
    expect(blockUnderDefine(helpers, 'gatehouse.envFrom')).toMatch(/- secretRef:\n\s+name: {{ include "gatehouse.secretName" \. }}/);
    const secret = read('templates/secret.yaml');
    const configMap = read('templates/configmap.yaml');
    for (const key of ['DATABASE_URL', 'REDIS_URL', 'COOKIE_SECRETS', 'KEY_ENCRYPTION_KEY', 'SMTP_URL']) {
      expect(secret).toMatch(new RegExp(`^  ${key}: `, 'm'));
      expect(configMap).not.toContain(key);
    }
    expect(secret).toContain('{{- if not .Values.existingSecret }}');
  });

  it('a PodDisruptionBudget selects the server pods; HPA, NetworkPolicy, ServiceMonitor and Ingress exist', () => {
    const pdb = read('templates/pdb.yaml');
    expect(pdb).toContain('kind: PodDisruptionBudget');
    expect(pdb).toContain('maxUnavailable: {{ .Values.podDisruptionBudget.maxUnavailable }}');
    expect(pdb).toContain('{{- include "gatehouse.serverSelectorLabels" . | nindent 6 }}');
    expect(read('templates/hpa.yaml')).toContain('apiVersion: autoscaling/v2');
    expect(read('templates/networkpolicy.yaml')).toContain('kind: NetworkPolicy');
    expect(read('templates/servicemonitor.yaml')).toContain('path: /metrics');
    expect(read('templates/ingress.yaml')).toContain('secretName: {{ .Values.ingress.tls.secretName }}');
  });
});

/** The body of `{{- define "name" -}} ... {{- end }}` in _helpers.tpl (each define ends at a blank line). */
function blockUnderDefine(helpers: string, name: string): string {
  const start = helpers.indexOf(`{{- define "${name}" -}}\n`);
  if (start < 0) throw new Error(`no define ${name}`);
  const body = helpers.slice(start).split('\n').slice(1);
  const end = body.findIndex((line) => line.trim() === '');
  return body.slice(0, end < 0 ? undefined : end - 1).join('\n');
}
