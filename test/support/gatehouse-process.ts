import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { TEST_ENV } from './app.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** One line of the process's pino log. */
export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** performance.now() when the process was seen to exit. */
  at: number;
}

export interface GatehouseProcess {
  child: ChildProcess;
  port: number;
  url: string;
  logs: LogLine[];
  exited: Promise<Exit>;
  /** Sends `signal` and returns performance.now() just before it was sent. */
  signal(signal: NodeJS.Signals): number;
}

/** Processes started here that have not exited yet, for killLeftovers(). */
const running = new Set<ChildProcess>();

/** SIGKILLs every process a test started and did not see exit (a failed test must not leave one behind). */
export function killLeftovers(): void {
  for (const child of running) child.kill('SIGKILL');
}

/** A port that was free a moment ago (the process needs it before it starts, for its ISSUER). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Runs the real entry point (`npm start` is `node src/main.ts`) as its own process on 127.0.0.1, with
 * the test secrets and cheap argon2 unless `env` says otherwise, and resolves once it logs that it is
 * ready. Its JSON log lines are collected in `logs`; stderr is kept for the error when it fails to start.
 */
export async function startGatehouseProcess(env: Record<string, string>): Promise<GatehouseProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...TEST_ENV, LOG_LEVEL: 'info', HOST: '127.0.0.1', PORT: String(port), ISSUER: `http://127.0.0.1:${port}`, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const logs: LogLine[] = [];
  let stderr = '';
  let partial = '';
  let announceReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (announceReady = resolve));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line) as LogLine;
      logs.push(entry);
      if (entry.msg === 'Gatehouse is ready') announceReady();
    }
  });
  const exited = new Promise<Exit>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, at: performance.now() })));
  const early = await Promise.race([ready.then(() => undefined), exited]);
  if (early) throw new Error(`gatehouse exited (${early.code ?? early.signal}) before it was ready: ${stderr}`);
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    logs,
    exited,
    signal(signal) {
      const at = performance.now();
      child.kill(signal);
      return at;
    },
  };
}

/** Resolves once a new connection to `port` is refused: the listener has closed. */
export async function listenerClosed(port: number): Promise<void> {
  for (;;) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
    });
    if (refused) return;
    await sleep(10);
  }
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * An HTTP/1.1 request written over its own connection in two parts: the server has begun it (a
 * request being read is neither idle nor finished) but cannot answer until `finish()` sends the rest.
 * `response` settles when the server closes the connection, as it must on a response during a drain.
 */
export interface HeldRequest {
  socket: Socket;
  /** Settles when the server closes the connection (status NaN if it closed without answering). */
  response: Promise<RawResponse>;
  finish(rest: string): Promise<RawResponse>;
}

export function heldRequest(port: number, start: string): HeldRequest {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const response = new Promise<RawResponse>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('close', () => {
      const text = Buffer.concat(chunks).toString();
      const [head = '', body = ''] = text.split('\r\n\r\n', 2);
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body });
    });
  });
  response.catch(() => {}); // a test that never finishes the request may never look at it
  socket.write(start);
  return {
    socket,
    response,
    finish(rest) {
      socket.write(rest);
      return response;
    },
  };
}
