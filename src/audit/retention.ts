import type { Logger } from 'pino';
import type { Db } from '../storage/postgres/db.ts';
import { deleteAuditEventsBefore } from '../storage/postgres/audit-events.queries.ts';

const DAY_MS = 24 * 3600 * 1000;
/** Rows per DELETE: short statements, so the job never holds a large table's locks for long. */
export const RETENTION_BATCH_SIZE = 5000;
/** How often a running server looks for events past retention. */
export const RETENTION_INTERVAL_MS = 3600 * 1000;

export interface AuditRetentionOptions {
  db: Db;
  logger: Logger;
  /** AUDIT_RETENTION_DAYS: events older than this many days are deleted. */
  retentionDays: number;
  /** Milliseconds since the epoch; injected by tests that age events. */
  clock?: () => number;
  /** Rows per DELETE (default RETENTION_BATCH_SIZE). */
  batchSize?: number;
}

export interface AuditRetention {
  /** One pass: deletes every event older than the retention period at the clock's now; resolves to how many. */
  purgeExpired(): Promise<number>;
  /** Runs a pass now and every `intervalMs` (unref'd timer). */
  start(intervalMs?: number): void;
  /** Stops the timer and waits for a running pass. Call before closing the database. */
  close(): Promise<void>;
}

/** The audit trail's cleanup job: keeps AUDIT_RETENTION_DAYS of events, started and stopped with the app. */
export function createAuditRetention(options: AuditRetentionOptions): AuditRetention {
  const { db, logger, retentionDays } = options;
  const clock = options.clock ?? Date.now;
  const batchSize = options.batchSize ?? RETENTION_BATCH_SIZE;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let closed = false;

  async function purgeExpired(): Promise<number> {
    const cutoff = new Date(clock() - retentionDays * DAY_MS);
    let total = 0;
    for (;;) {
      const deleted = await deleteAuditEventsBefore(db, cutoff, batchSize);
      total += deleted;
      if (deleted < batchSize || closed) break;
    }
    if (total > 0) logger.info({ deleted: total, before: cutoff.toISOString() }, 'audit events past retention deleted');
    return total;
  }

  /** One pass at a time; a tick during a pass is skipped (the next one catches up). */
  function tick(): void {
    if (closed || running) return;
    running = purgeExpired()
      .catch((error: unknown) => logger.error({ err: error as Error }, 'audit retention pass failed'))
      .finally(() => (running = undefined));
  }

  return {
    purgeExpired,
    start(intervalMs = RETENTION_INTERVAL_MS) {
      clearInterval(timer);
      timer = setInterval(tick, intervalMs);
      timer.unref();
      tick();
    },
    async close() {
      closed = true;
      clearInterval(timer);
      timer = undefined;
      while (running) await running;
    },
  };
}
