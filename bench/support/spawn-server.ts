import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** Runs bench/support/serve.ts in a child process; resolves with its issuer and a stop function. */
export async function spawnServer(env: Record<string, string> = {}): Promise<{ issuer: string; stop: () => void }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./serve.ts', import.meta.url))], {
    env: { ...process.env, LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const issuer = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { issuer, stop: () => child.kill('SIGTERM') };
}
