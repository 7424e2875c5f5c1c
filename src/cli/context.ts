import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { createAuditLog, type AuditEvent } from '../audit/audit-log.ts';
import { loadConfig, type Config } from '../config/load.ts';
import { UsageError } from '../errors.ts';
import { createLogger } from '../logger.ts';
import { openDatabase, type Db } from '../storage/postgres/db.ts';
import { migrateToLatest } from '../storage/postgres/migrate.ts';

/** Everything the CLI touches outside itself, passed in so tests run it in-process with captured streams. */
export interface CliIo {
  env: Record<string, string | undefined>;
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Ends long-running commands (`audit tail`); without it, SIGINT or SIGTERM of this process does. */
  signal?: AbortSignal;
}

export interface DbContext {
  config: Config;
  db: Db;
  /** Migrations this run applied (every command migrates first, so a fresh store works). */
  applied: string[];
}

export function print(io: CliIo, text: string): void {
  io.stdout.write(`${text}\n`);
}

export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Left-aligned columns separated by two spaces; the first row is the header. */
export function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

/**
 * What every `list` command prints: JSON with --json, otherwise a table, or `empty` (when given) instead of
 * a table with no rows.
 */
export function printListing<T>(io: CliIo, json: boolean | undefined, items: readonly T[], table: { header: string[]; row: (item: T) => string[]; empty?: string }, asJson: unknown = items): void {
  if (json) printJson(io, asJson);
  else if (items.length === 0 && table.empty !== undefined) print(io, table.empty);
  else print(io, formatTable([table.header, ...items.map(table.row)]));
}

/**
 * node:util parseArgs in strict mode, with its errors (unknown option, missing value) turned into
 * UsageError so they exit 2 with the message.
 */
export function parseOptions<const O extends ParseArgsOptionsConfig>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    if (String((error as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS')) {
      throw new UsageError((error as Error).message);
    }
    throw error;
  }
}

/** The one positional argument a command takes (e.g. the client id of `client show ID`). */
export function onePositional(positionals: string[], what: string): string {
  if (positionals.length !== 1 || !positionals[0]) throw new UsageError(`expected exactly one ${what}`);
  return positionals[0];
}

export function noPositionals(positionals: string[]): void {
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
}

/**
 * Loads the config, opens the database, applies pending migrations, runs `work`, and always closes,
 * so the embedded store's lock is released even when the work fails. Migrations applied on the way are
 * reported on stderr (stdout stays clean for --json), except by `migrate`, which reports them itself.
 * @throws ConfigError, StoreLockedError (another process holds the embedded store), or `work`'s error.
 */
export async function withDatabase<T>(
  io: CliIo,
  work: (context: DbContext) => Promise<T>,
  options: { reportMigrations?: boolean } = {},
): Promise<T> {
  const config = loadConfig(io.env);
  const handle = await openDatabase(config.database);
  try {
    const result = await migrateToLatest(handle.db);
    const applied = (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
    if (options.reportMigrations !== false) {
      for (const name of applied) io.stderr.write(`gatehouse: applied migration ${name}\n`);
    }
    return await work({ config, db: handle.db, applied });
  } finally {
    await handle.close();
  }
}

/** Reads stdin to its end; one trailing newline (from `echo` or a file) is not part of the value. */
export async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/**
 * Runs an admin action and records its audit event in the same transaction, so an action whose event
 * cannot be written does not happen (src/audit/audit-log.ts says why a failed write fails the action).
 * The event carries `via: cli` and the operating-system user the environment names (as claimed, not
 * proven: whoever can run the CLI can set USER). The CLI's log goes to stderr at warn and above only,
 * so the audit line itself does not clutter an operator's terminal; the table holds the event.
 */
export async function withAuditedAction<T>(
  io: CliIo,
  work: (context: DbContext) => Promise<T>,
  event: (result: T) => AuditEvent,
): Promise<T> {
  const logger = createLogger({ logLevel: 'warn' }, io.stderr);
  const operator = io.env.USER ?? io.env.LOGNAME;
  return withDatabase(io, (context) =>
    context.db.transaction().execute(async (trx) => {
      const result = await work({ ...context, db: trx });
      const made = event(result);
      const audit = createAuditLog({ db: trx, logger });
      await audit.record({ ...made, details: { ...made.details, via: 'cli', os_user: operator } });
      return result;
    }),
  );
}
