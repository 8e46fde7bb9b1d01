// The database a CLI command opens: the server's settings, two connections (one command at a time).
import type { Config } from '../config.js';
import { openDatabase, type DatabaseHandle } from '../db/database.js';

export function openCliDatabase(config: Readonly<Config>): Promise<DatabaseHandle> {
  // DATABASE_PREPARED_STATEMENTS=false (PgBouncer in transaction mode) holds for the CLI too: its
  // commands run the statements db/prepared.ts names (an event's insert, the key set's version)
  // as the server does, and a pooled server connection outlives the command.
  return openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 2, preparedStatements: config.databasePreparedStatements });
}
