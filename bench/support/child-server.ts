import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** Linux reports process CPU time in clock ticks of 1/100 s (`getconf CLK_TCK`). */
const TICKS_PER_SECOND = 100;

/**
 * A server under test in its own process, so its CPU time and RSS are its own (read from /proc) and the
 * load generator's work never counts against it.
 */
export interface ChildServer {
  pid: number;
  /** Milliseconds from spawn until it answers its ready URL. */
  readyMs: number;
  /** User + system CPU time of the whole process (argon2's libuv threads included), in ms. */
  cpuMs(): number;
  /** Resident set size now, in MB. */
  rssMb(): number;
  stop(): Promise<void>;
}

/**
 * Spawns `node <script>` from the repository root with exactly `env` (plus PATH), and resolves once
 * `readyUrl` answers 200 (polled every 10 ms: the time to ready is the time until it serves, whatever its
 * log level). stdout goes to /dev/null: the server still formats and writes every log line (that CPU is
 * counted in its figures), but no process on these shared cores spends CPU reading them, which would slow
 * the load generator for the server that logs more; stderr is kept for the error when it exits early.
 */
export async function startChildServer(script: string, env: Record<string, string>, readyUrl: string, extraArgs: string[] = []): Promise<ChildServer> {
  const started = performance.now();
  const devNull = openSync('/dev/null', 'w');
  const child: ChildProcess = spawn(process.execPath, [...extraArgs, script], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', devNull, 'pipe'],
  });
  closeSync(devNull); // the child has its own copy
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) => child.once('exit', (code) => resolve(void (exitCode = code))));
  for (;;) {
    if (exitCode !== undefined) throw new Error(`${script} exited (${exitCode}) before it was ready: ${stderr}`);
    const status = await fetch(readyUrl).then((response) => response.status, () => 0);
    if (status === 200) break;
    await sleep(10);
  }
  const readyMs = performance.now() - started;
  const pid = child.pid!;
  return {
    pid,
    readyMs,
    cpuMs() {
      // Fields after the command name (which may hold spaces): utime and stime are the 14th and 15th.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
    },
    rssMb() {
      const kib = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      return Number(kib) / 1024;
    },
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
