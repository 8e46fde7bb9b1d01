// Applies migrations/NNNN_name.sql in order. Kysely's migrator records what ran and takes
// a database lock, so several instances starting at once apply each migration once.
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Migrator, sql, type Migration, type MigrationProvider } from 'kysely';
import type { Db } from './database.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

class SqlFileMigrationProvider implements MigrationProvider {
  constructor(private readonly dir: string) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const files = (await readdir(this.dir)).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f)).sort();
    const migrations: Record<string, Migration> = {};
    for (const file of files) {
      const text = await readFile(new URL(file, `file://${this.dir}`), 'utf8');
      migrations[file.replace(/\.sql$/, '')] = {
        up: async (db) => {
          await sql.raw(text).execute(db);
        },
      };
    }
    return migrations;
  }
}

async function allApplied(db: Db, names: string[]): Promise<boolean> {
  try {
    const { rows } = await sql<{ name: string }>`SELECT name FROM kysely_migration`.execute(db);
    const done = new Set(rows.map((row) => row.name));
    return names.every((name) => done.has(name));
  } catch {
    return false; // first run: the bookkeeping table does not exist yet
  }
}

export interface MigrationReport {
  applied: string[];
}

export async function migrateToLatest(db: Db, dir = MIGRATIONS_DIR): Promise<MigrationReport> {
  const provider = new SqlFileMigrationProvider(dir);
  // The usual case is "nothing to do": answer it with one query instead of the migrator's
  // lock-and-compare round (about a second on the embedded database).
  if (await allApplied(db, Object.keys(await provider.getMigrations()))) return { applied: [] };
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}
