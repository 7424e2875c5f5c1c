/**
 * Upstream OpenID providers ("Sign in with Google", a company IdP), configured by families of keys
 * `UPSTREAM_<ID>_*` whose names are not known in advance, so they are read here beside the zod schema
 * rather than in it. Every problem is listed with the rest of the configuration's (loadConfig).
 */
import { isLoopbackHost } from './loopback.ts';

export interface UpstreamConfig {
  /** Lower case letters and digits: the path segment of /upstream/{id}/callback and of the sign-in link. */
  readonly id: string;
  /** Button text: "Sign in with {name}". */
  readonly name: string;
  /** The upstream's issuer; its discovery document is {issuer}/.well-known/openid-configuration. */
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Scopes asked of the upstream; always includes openid. */
  readonly scopes: string;
  /** Create accounts on a first sign-in even when REGISTRATION is closed (the upstream vouches for its users). */
  readonly createAccounts: boolean;
}

/** Issuer and name of a provider configured by its id alone (UPSTREAM_GOOGLE_CLIENT_ID and _SECRET are enough). */
export const UPSTREAM_PRESETS: Readonly<Record<string, { issuer: string; name: string }>> = {
  google: { issuer: 'https://accounts.google.com', name: 'Google' },
};

const SETTINGS = ['ISSUER', 'CLIENT_ID', 'CLIENT_SECRET', 'NAME', 'SCOPES', 'CREATE_ACCOUNTS'] as const;
type Setting = (typeof SETTINGS)[number];
const KEY = new RegExp(`^UPSTREAM_([A-Za-z0-9]+)_(${SETTINGS.join('|')})$`);
const DEFAULT_SCOPES = 'openid email profile';

/** The path, relative to ISSUER, where an upstream sends the browser back; register `{ISSUER}` + this at the upstream. */
export const upstreamCallbackPath = (id: string): string => `/upstream/${id}/callback`;

function checkedIssuer(key: string, value: string, problems: string[]): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push(`${key}: must be a URL`);
    return undefined;
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    problems.push(`${key}: must use https (http is allowed only on loopback)`);
  }
  if (url.search || url.hash) problems.push(`${key}: must not have a query or fragment`);
  return value.replace(/\/+$/, '');
}

/**
 * Reads every UPSTREAM_* key of `input` (the environment over the config file).
 * @returns the providers in id order, and the problems (never only the first).
 */
export function readUpstreams(input: Record<string, string | undefined>): { upstreams: UpstreamConfig[]; problems: string[] } {
  const problems: string[] = [];
  const byId = new Map<string, { keyIds: Set<string>; values: Partial<Record<Setting, string>> }>();
  for (const [key, value] of Object.entries(input)) {
    if (!key.startsWith('UPSTREAM_') || value === undefined) continue;
    const match = KEY.exec(key);
    if (!match) {
      problems.push(`${key}: not a setting (UPSTREAM_<ID>_${SETTINGS.join('|')}, <ID> letters and digits only)`);
      continue;
    }
    const id = match[1]!.toLowerCase();
    const entry = byId.get(id) ?? { keyIds: new Set<string>(), values: {} };
    entry.keyIds.add(match[1]!);
    entry.values[match[2] as Setting] = value;
    byId.set(id, entry);
  }
  const upstreams: UpstreamConfig[] = [];
  for (const [id, { keyIds, values }] of [...byId].sort(([a], [b]) => a.localeCompare(b))) {
    const prefix = `UPSTREAM_${id.toUpperCase()}`;
    // One provider, one spelling: the callback path is lower case, so Google and GOOGLE would be the same one.
    if (keyIds.size > 1) problems.push(`${prefix}: spelled ${[...keyIds].join(' and ')}; use one spelling for the id`);
    // hasOwn: an id such as CONSTRUCTOR must not find Object.prototype's members.
    const preset = Object.hasOwn(UPSTREAM_PRESETS, id) ? UPSTREAM_PRESETS[id] : undefined;
    const rawIssuer = values.ISSUER ?? preset?.issuer;
    if (!rawIssuer) problems.push(`${prefix}_ISSUER: required (the provider's issuer URL)`);
    if (!values.CLIENT_ID) problems.push(`${prefix}_CLIENT_ID: required (the client id Gatehouse has at the provider)`);
    if (!values.CLIENT_SECRET) problems.push(`${prefix}_CLIENT_SECRET: required (the client secret Gatehouse has at the provider)`);
    const issuer = rawIssuer ? checkedIssuer(`${prefix}_ISSUER`, rawIssuer, problems) : undefined;
    const scopes = (values.SCOPES ?? DEFAULT_SCOPES).split(/[\s,]+/).filter(Boolean);
    if (!scopes.includes('openid')) problems.push(`${prefix}_SCOPES: must include openid`);
    const createAccounts = values.CREATE_ACCOUNTS ?? 'false';
    if (!['true', 'false', '1', '0', 'yes', 'no'].includes(createAccounts)) problems.push(`${prefix}_CREATE_ACCOUNTS: must be true or false`);
    const name = values.NAME?.trim() || preset?.name || id;
    if (name.length > 60) problems.push(`${prefix}_NAME: at most 60 characters (it is a button's text)`);
    if (issuer && values.CLIENT_ID && values.CLIENT_SECRET) {
      upstreams.push({
        id,
        name,
        issuer,
        clientId: values.CLIENT_ID,
        clientSecret: values.CLIENT_SECRET,
        scopes: [...new Set(scopes)].join(' '),
        createAccounts: ['true', '1', 'yes'].includes(createAccounts),
      });
    }
  }
  return { upstreams, problems };
}
