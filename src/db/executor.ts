// The database types every repo takes, apart from the code that opens pools (database.ts,
// pglite-pool.ts, prepared.ts), so that none of those needs to import another for a type.
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * What runs statements: the pool, or a transaction of it. Repos take an Executor, so the same
 * function serves a lone statement and one step of a larger transaction.
 */
export type Executor = Kysely<Database>;
/** The app's pool (AppContext.db). */
export type Db = Executor;
