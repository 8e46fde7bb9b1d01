// How long each kind of token lives: one table, read by the key set's token service, the key
// rotation (a retired key verifies for the longest of them) and the OpenID Provider's TTLs.
import type { Config } from '../../config.js';
import type { TokenType } from '../../lib/tokens.js';

type LifetimeConfig = Pick<Config, 'accessTokenExpireMinutes' | 'refreshTokenExpireDays'>;

export function tokenLifetimesSeconds(config: LifetimeConfig): Record<TokenType, number> {
  return {
    access: config.accessTokenExpireMinutes * 60,
    refresh: config.refreshTokenExpireDays * 86_400,
    password_reset: 3600,
    email_verification: 86_400,
  };
}

/** The longest any token lives (refresh tokens, unless configured shorter than a day). */
export function longestTokenLifetimeSeconds(config: LifetimeConfig): number {
  return Math.max(...Object.values(tokenLifetimesSeconds(config)));
}
