import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { DrainResult } from './http/drain.ts';

export interface Shutdown {
  logger: Logger;
  /** Keep serving this long after the signal, readiness already 503, so balancers stop sending first. */
  delaySeconds: number;
  /** Longest wait for the requests in flight once the listener has closed. */
  timeoutSeconds: number;
  /** Turns /readyz to 503. */
  markDraining(): void;
  /** Drains the HTTP server, then stops timers and closes Redis and the database. */
  stop(timeoutMs: number): Promise<DrainResult>;
}

/**
 * SIGTERM (Kubernetes, docker stop) or SIGINT (Ctrl-C) starts a graceful shutdown (REL-F8): /readyz
 * answers 503 at once; after `delaySeconds` of serving as usual the listener closes, the requests in
 * flight finish (at most `timeoutSeconds`), then Redis and the database close and the process exits 0.
 * A second signal means the operator will not wait: exit 1 at once.
 */
export function shutDownOnSignals(shutdown: Shutdown): void {
  const { logger, delaySeconds, timeoutSeconds } = shutdown;
  let startedAt: number | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (startedAt !== undefined) {
      logger.warn({ signal, ms: Date.now() - startedAt }, 'second signal: exiting without waiting for requests in flight');
      process.exit(1);
    }
    startedAt = Date.now();
    logger.info({ signal, delaySeconds, timeoutSeconds }, 'shutting down: not ready, draining requests in flight');
    shutdown.markDraining();
    sleep(delaySeconds * 1000)
      .then(() => shutdown.stop(timeoutSeconds * 1000))
      .then(
        ({ cut }) => {
          if (cut > 0) logger.warn({ connections: cut, timeoutSeconds }, 'drain timed out: closed connections with requests still in flight');
          logger.info({ ms: Date.now() - startedAt! }, 'shut down');
          process.exit(0);
        },
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
