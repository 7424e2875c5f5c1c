import { readdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { Migrator, type Migration, type MigrationProvider, type MigrationResultSet } from 'kysely';
import type { Db } from './db.ts';

/** migrations/ sits at the project root next to src/ (and next to src/ under dist/ after a build). */
const migrationsDir = fileURLToPath(new URL('../../../migrations/', import.meta.url));

/** Timestamped files in migrations/, in name order; the same files serve pg and PGlite. */
class FolderMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    const files = (await readdir(migrationsDir))
      .filter((file) => /\.(ts|js)$/.test(file) && !file.endsWith('.d.ts'))
      .sort();
    const migrations: Record<string, Migration> = {};
    for (const file of files) {
      const module = (await import(pathToFileURL(join(migrationsDir, file)).href)) as Migration;
      migrations[file.replace(/\.(ts|js)$/, '')] = module;
    }
    return migrations;
  }
}

function createMigrator(db: Db): Migrator {
  return new Migrator({ db, provider: new FolderMigrationProvider() });
}

/** Applies every pending migration. @throws the migration's error (the failed one is rolled back). */
export async function migrateToLatest(db: Db): Promise<MigrationResultSet> {
  const result = await createMigrator(db).migrateToLatest();
  if (result.error) throw result.error;
  return result;
}

/** Names of migrations that exist on disk but are not applied yet (readiness fails while any remain). */
export async function pendingMigrations(db: Db): Promise<string[]> {
  const migrations = await createMigrator(db).getMigrations();
  return migrations.filter((migration) => !migration.executedAt).map((migration) => migration.name);
}
