import { readdir, readFile } from 'node:fs/promises';
import { setPriority } from 'node:os';

/** The pool threads' nice value: the event loop (0) gets about nine tenths of a contended core; never 19, which all but stops them. */
export const WORKER_NICE = 10;

export type PriorityOutcome = { threads: number; reason?: string };

/**
 * Lowers the scheduling priority of libuv's thread pool, where argon2 hashes (and file and DNS work)
 * run, below the event loop's (ABU-05). On a busy machine the kernel gives the CPU to the thread that
 * answers /token, discovery and JWKS first, and hashes take what is left; on an idle one they run at
 * full speed. Linux addresses a thread by its id under /proc/self/task (libuv names its pool threads
 * "libuv-worker"); elsewhere nothing changes and the reason is returned. Lowering a priority needs no
 * privilege. Idempotent: every app in one process shares the one pool.
 */
export async function lowerWorkerPriority(nice = WORKER_NICE): Promise<PriorityOutcome> {
  let tasks: string[];
  try {
    // Any request to the pool starts all of its threads, so once this one answers they all exist.
    tasks = await readdir('/proc/self/task');
  } catch {
    return { threads: 0, reason: 'no /proc/self/task (not Linux)' };
  }
  let threads = 0;
  for (const tid of tasks) {
    const name = await readFile(`/proc/self/task/${tid}/comm`, 'utf8').catch(() => '');
    if (name.trim() !== 'libuv-worker') continue;
    try {
      setPriority(Number(tid), nice);
      threads += 1;
    } catch (error) {
      return { threads, reason: (error as Error).message };
    }
  }
  return threads > 0 ? { threads } : { threads, reason: 'no libuv-worker thread found' };
}
