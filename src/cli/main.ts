import { AppError, ConfigError, StoreLockedError, UsageError } from '../errors.ts';
import { apiCommands } from './api-commands.ts';
import { auditCommands } from './audit-commands.ts';
import { clientCommands } from './client-commands.ts';
import { roleCommands } from './role-commands.ts';
import { noPositionals, parseOptions, print, withDatabase, type CliIo } from './context.ts';
import { keyCommands } from './key-commands.ts';
import { sessionCommands } from './session-commands.ts';
import { USAGE } from './usage.ts';
import { userCommands } from './user-commands.ts';

export type { CliIo } from './context.ts';

type Command = (args: string[], io: CliIo) => Promise<number>;

async function migrate(args: string[], io: CliIo): Promise<number> {
  noPositionals(parseOptions(args, {}).positionals);
  const applied = await withDatabase(io, async ({ applied }) => applied, { reportMigrations: false });
  if (applied.length === 0) print(io, 'database is up to date: no pending migrations');
  for (const name of applied) print(io, `applied migration ${name}`);
  return 0;
}

const groups: Record<string, Record<string, Command>> = {
  client: clientCommands,
  api: apiCommands,
  role: roleCommands,
  user: userCommands,
  sessions: sessionCommands,
  keys: keyCommands,
  audit: auditCommands,
};

/** Finds the command named by the first one or two words; the rest are its arguments. */
function resolve(argv: string[]): { command: Command; args: string[] } {
  const [name = '', sub, ...rest] = argv;
  if (name === 'migrate') return { command: migrate, args: argv.slice(1) };
  const group = groups[name];
  if (!group) throw new UsageError(`unknown command "${name}"`);
  const command = sub === undefined ? undefined : group[sub];
  if (!command) {
    const known = Object.keys(group).join(', ');
    throw new UsageError(sub === undefined ? `${name} needs a subcommand: ${known}` : `unknown command "${name} ${sub}" (${name} has: ${known})`);
  }
  return { command, args: rest };
}

/**
 * Exit codes: 2 when the input is wrong (usage, invalid values: AppError 400), 1 when the input was fine
 * but the work could not be done (configuration, store locked, not found, already exists, database down).
 */
function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError) return 2;
  if (error instanceof AppError) return error.status === 400 ? 2 : 1;
  return 1;
}

/** Messages only: an operator needs what went wrong, not our stack (ConfigError already lists every problem). */
function messageOf(error: unknown): string {
  if (error instanceof ConfigError || error instanceof StoreLockedError || error instanceof Error) return error.message;
  return String(error);
}

/**
 * Runs one `gatehouse` command line and returns its exit code; never throws and never exits the process,
 * so tests run it in-process and bin/gatehouse.js sets process.exitCode from it.
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  if (argv.length === 0 || argv[0] === 'help' || argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(USAGE);
    return 0;
  }
  try {
    const { command, args } = resolve(argv);
    return await command(args, io);
  } catch (error) {
    const code = exitCodeOf(error);
    io.stderr.write(`gatehouse: ${messageOf(error)}\n`);
    if (error instanceof UsageError) {
      io.stderr.write(error.message.startsWith('unknown command') ? `\n${USAGE}` : 'Run `gatehouse --help` for usage.\n');
    }
    return code;
  }
}

// `node src/cli/main.ts ...` (npm run gatehouse) runs the CLI; importing this module (bin, tests) does not.
if (import.meta.main) {
  process.exitCode = await runCli(process.argv.slice(2), {
    env: process.env,
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
  });
}
