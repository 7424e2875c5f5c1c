import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import lockfile from 'proper-lockfile';
import { StoreLockedError } from '../../errors.ts';

/** How long a lock whose holder stopped refreshing it counts as held (proper-lockfile's own rule). */
const STALE_MS = 15_000;

const isLocked = (error: unknown) => (error as NodeJS.ErrnoException).code === 'ELOCKED';

/** The stores this process holds (a second open in the same process must be refused too). */
const heldHere = new Set<string>();

/** Whether the process that wrote `pidFile` still runs; true when that cannot be told (then the lock's own staleness decides). */
function holderAlive(pidFile: string, lockfilePath: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8'));
  } catch {
    return true;
  }
  if (!Number.isInteger(pid) || pid <= 0) return true;
  // Our own pid on a lock this process does not hold: an earlier process with the same pid (PID 1 in a container).
  if (pid === process.pid) return heldHere.has(lockfilePath);
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // it exists, it is just not ours to signal
  }
}

/**
 * PGlite takes no lock on its folder, and two processes writing it lose rows (see NOTES.md), so the
 * embedded store is guarded by a lock file; a second process gets StoreLockedError instead of corruption.
 *
 * A lock left by a process that was killed (kill -9, a crash) would otherwise refuse every restart until
 * it goes stale (15 s), saying another process is using the store. So the holder's pid is kept beside
 * the lock, and a lock whose holder is gone is taken over at once (REL-F5). Taking the lock, reading the
 * pid and writing it happen under a second, short-lived lock, so two processes starting together never
 * both take over, and none reads a pid while another is between taking the lock and writing its pid.
 * @returns the release function.
 * @throws StoreLockedError when a running process holds the store.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  mkdirSync(dataDir, { recursive: true });
  const lockfilePath = resolve(dataDir, 'gatehouse.lock');
  const pidFile = resolve(dataDir, 'gatehouse.pid');
  const take = () => lockfile.lock(dataDir, { lockfilePath, stale: STALE_MS });
  let releaseGuard: () => Promise<void>;
  try {
    // proper-lockfile keys its locks by the locked path, so the guard locks a path of its own (gatehouse.guard.lock).
    releaseGuard = await lockfile.lock(resolve(dataDir, 'gatehouse.guard'), { realpath: false, stale: STALE_MS, retries: { retries: 20, minTimeout: 25, maxTimeout: 250 } });
  } catch (error) {
    if (isLocked(error)) throw new StoreLockedError(dataDir);
    throw error;
  }
  try {
    let release: () => Promise<void>;
    try {
      release = await take();
    } catch (error) {
      if (!isLocked(error) || holderAlive(pidFile, lockfilePath)) throw isLocked(error) ? new StoreLockedError(dataDir) : error;
      rmSync(lockfilePath, { recursive: true, force: true });
      release = await take();
    }
    writeFileSync(pidFile, String(process.pid));
    heldHere.add(lockfilePath);
    return async () => {
      heldHere.delete(lockfilePath);
      rmSync(pidFile, { force: true });
      await release();
    };
  } finally {
    await releaseGuard();
  }
}
