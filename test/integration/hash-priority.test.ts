import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { killLeftovers, startGatehouseProcess } from '../support/gatehouse-process.ts';

/** Each thread of a process: its name and nice value (/proc/<pid>/task/<tid>/stat field 19, after the parenthesised name). */
async function threadsOf(pid: number): Promise<{ name: string; nice: number }[]> {
  const tids = await readdir(`/proc/${pid}/task`);
  return Promise.all(
    tids.map(async (tid) => {
      const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return { name: (await readFile(`/proc/${pid}/task/${tid}/comm`, 'utf8')).trim(), nice: Number(fields[16]) };
    }),
  );
}

describe('the thread pool yields the CPU to the event loop (ABU-05)', () => {
  afterAll(() => killLeftovers());

  it('runs argon2\'s pool threads at nice 10 and the event loop at 0 in the real server process', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'gh-priority-'));
    const gatehouse = await startGatehouseProcess({ DATA_DIR: dataDir });
    try {
      const threads = await threadsOf(gatehouse.child.pid!);
      const pool = threads.filter((thread) => thread.name === 'libuv-worker');
      expect(pool.length).toBeGreaterThanOrEqual(4);
      expect(pool.map((thread) => thread.nice)).toEqual(pool.map(() => 10));
      // Only the pool: the event loop and V8's threads keep the default priority.
      expect(threads.filter((thread) => thread.name !== 'libuv-worker').map((thread) => thread.nice)).toEqual(threads.filter((thread) => thread.name !== 'libuv-worker').map(() => 0));
    } finally {
      gatehouse.signal('SIGTERM');
      await gatehouse.exited;
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
