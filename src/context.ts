// What domain functions depend on. Routes pass it in; tests build it with a fake clock.
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from './config.js';
import type { Db } from './db/database.js';
import type { Clock } from './lib/clock.js';
import type { PasswordHasher } from './lib/passwords.js';
import type { SecretBox } from './lib/secret-box.js';
import type { TokenService } from './lib/tokens.js';
import type { JobQueue } from './modules/jobs/job-queue.js';
import type { Metrics } from './modules/metrics/metrics.js';
import type { RetentionRegistry } from './modules/retention/retention-rules.js';

export interface AppContext {
  config: Readonly<Config>;
  db: Db;
  clock: Clock;
  tokens: TokenService;
  passwords: PasswordHasher;
  log: FastifyBaseLogger;
  /** The durable job queue: enqueue with jobs.repo.ts's enqueue(trx, …) in the transaction of
   *  the change, run through inUnitOfWork (db/unit-of-work.ts), which wakes the worker after
   *  the commit. */
  jobs: JobQueue;
  /** Prometheus counters (METRICS_ENABLED); a no-op when disabled, so callers never check. */
  metrics: Metrics;
  /** Seals and opens secrets kept in the database (private keys, TOTP and webhook secrets). */
  secrets: SecretBox;
  /** What the periodic retention run purges: each feature's rules (src/retention-wiring.ts). */
  retention: RetentionRegistry;
}

/** Who made a request: recorded in the audit log. */
export interface RequestMeta {
  ip: string | null;
  userAgent: string | null;
  /** Where the change was made, when not the API: the console sets 'console', and every audit
   *  row written with this meta carries it as `details.via` (audit.repo.ts). */
  via?: 'console';
}
