import type { Metrics } from './metrics.ts';
import type { AuditEvent, AuditLog } from '../audit/audit-log.ts';

/** The factors the sign-in's second step reports; anything else is counted as "other". */
const FACTORS = new Set(['totp', 'recovery_code', 'passkey', 'totp_enrolment']);

function factorOf(event: AuditEvent): string {
  const factor = event.details?.['factor'];
  if (typeof factor === 'string' && FACTORS.has(factor)) return factor;
  return event.type === 'recovery_code_used' ? 'recovery_code' : 'other';
}

/** Counts one recorded event. Types and reasons are fixed lists (src/audit/events.ts): bounded labels. */
function count(metrics: Metrics, event: AuditEvent): void {
  const outcome = event.outcome === 'failure' ? event.reason : 'success';
  metrics.auditEvents.inc({ type: event.type, outcome: event.outcome ?? 'success' });
  if (event.type === 'sign_in') metrics.signIns.inc({ outcome });
  if (event.type === 'mfa_verify' || event.type === 'recovery_code_used') metrics.mfa.inc({ factor: factorOf(event), outcome });
}

/**
 * The audit trail already sees every sign-in, second-factor check, lock and account change (LOG-01), so
 * the counters are taken from it rather than from each flow: an event is counted once its row is
 * written, and a flow that audits is measured without a line of its own. Only the type, the outcome,
 * the reason and the factor are read: never the account, client, IP or other details. An event written
 * inside a transaction that later rolls back stays counted (a counter cannot be taken back); such a
 * rollback fails the action, and the trail's own row is the record that matters.
 */
export function countAuditEvents(audit: AuditLog, metrics: Metrics): AuditLog {
  return {
    ...audit,
    async record(event, request, db) {
      await audit.record(event, request, db);
      count(metrics, event);
    },
  };
}
