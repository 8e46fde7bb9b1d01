// Retention of sessions and their refresh tokens (registered by src/retention-wiring.ts with the
// one retention run, modules/retention). A session's tokens go once its newest token has
// expired, never earlier: reuse detection needs them.
import { addDays, addSeconds } from '../../lib/clock.js';
import type { Counts, RetentionRule } from '../retention/retention-rules.js';
import { countExpiredRefreshFamilies, countRevokedSessions, purgeExpiredRefreshFamilies, purgeRevokedSessions, type FamilyPurge } from './sessions-purge.repo.js';

/**
 * A family goes once its newest token expired this long ago, not at the very second: another
 * instance whose clock runs a little behind this one's must not still accept a token of it.
 */
export const EXPIRY_MARGIN_SECONDS = 300;
/** Revoked sessions are kept this long after revocation. */
export const REVOKED_SESSION_DAYS = 30;

const expiredBy = (now: Date): Date => addSeconds(now, -EXPIRY_MARGIN_SECONDS);
const families = (p: FamilyPurge) => ({ removed: { refresh_tokens: p.refreshTokens, sessions: p.sessions }, more: p.more });
const asCounts = (c: { refreshTokens: number; sessions: number }): Counts => ({ refresh_tokens: c.refreshTokens, sessions: c.sessions });

export const sessionRetention: readonly RetentionRule[] = [
  {
    name: 'expired refresh-token families',
    rules: {
      refresh_tokens: `every token of a session whose newest token has expired (over ${EXPIRY_MARGIN_SECONDS / 60} minutes ago), or that was revoked over ${REVOKED_SESSION_DAYS} days ago`,
      sessions: `gone with their last token if never revoked; revoked ones over ${REVOKED_SESSION_DAYS} days ago`,
    },
    batch: async (db, now, limit) => families(await purgeExpiredRefreshFamilies(db, expiredBy(now), limit)),
    count: async (db, now) => asCounts(await countExpiredRefreshFamilies(db, expiredBy(now))),
  },
  {
    name: 'revoked sessions',
    rules: {},
    batch: async (db, now, limit) => families(await purgeRevokedSessions(db, addDays(now, -REVOKED_SESSION_DAYS), limit)),
    count: async (db, now) => asCounts(await countRevokedSessions(db, addDays(now, -REVOKED_SESSION_DAYS), expiredBy(now))),
  },
];
