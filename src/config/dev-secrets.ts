import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DevSecrets {
  cookieSecrets: string[];
  /** base64 of 32 bytes */
  keyEncryptionKey: string;
}

function generate(): DevSecrets {
  return {
    cookieSecrets: [randomBytes(32).toString('base64url')],
    keyEncryptionKey: randomBytes(32).toString('base64'),
  };
}

/**
 * Development and test convenience only (load.ts refuses generated secrets in production): secrets are
 * made once and kept in DATA_DIR/secrets.json so that a restart, or the CLI beside the server, keeps
 * sessions and can still decrypt signing keys. With DATA_DIR=memory:// they live only in memory.
 */
export function loadOrCreateDevSecrets(dataDir: string | undefined): DevSecrets {
  if (!dataDir || dataDir.startsWith('memory://')) return generate();
  const file = join(dataDir, 'secrets.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as DevSecrets;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const secrets = generate();
  mkdirSync(dataDir, { recursive: true });
  // wx: never overwrite secrets another process wrote a moment ago; mode 600: they are secrets.
  writeFileSync(file, JSON.stringify(secrets, null, 2), { flag: 'wx', mode: 0o600 });
  return secrets;
}
