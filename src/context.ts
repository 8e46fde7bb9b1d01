// What domain functions depend on. Routes pass it in; tests build it with a fake clock.
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from './config.js';
import type { Db } from './db/database.js';
import type { Clock } from './lib/clock.js';
import type { PasswordHasher } from './lib/passwords.js';
import type { TokenService } from './lib/tokens.js';

export interface AppContext {
  config: Readonly<Config>;
  db: Db;
  clock: Clock;
  tokens: TokenService;
  passwords: PasswordHasher;
  log: FastifyBaseLogger;
  /** Wakes the email delivery worker after a transaction that queued mail has committed. */
  outbox: { notify(): void };
}

/** Who made a request: recorded in the audit log. */
export interface RequestMeta {
  ip: string | null;
  userAgent: string | null;
}
