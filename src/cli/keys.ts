// `keyhold keys list | rotate | revoke KID`: the signing keys (modules/keys). Running servers
// see a rotation or a revocation at their next poll of the key set (a few seconds).
import type { Command } from 'commander';
import type { AppContext, RequestMeta } from '../context.js';
import { listSigningKeys, revokeSigningKey, rotateSigningKeys, type KeysDeps } from '../modules/keys/keys.service.js';

type CliContext = Pick<AppContext, 'config' | 'db' | 'clock' | 'secrets'>;

export interface CliTools {
  withDatabase<T>(fn: (ctx: CliContext) => Promise<T>): Promise<T>;
  print(data: unknown, human: () => string): void;
  table(rows: Array<Record<string, unknown>>, columns: string[]): string;
  meta: RequestMeta;
}

/** Signing keys exist only in the asymmetric modes. */
async function keysDeps(ctx: CliContext): Promise<KeysDeps> {
  if (ctx.config.jwtAlgorithm === 'HS256') throw new Error('JWT_ALGORITHM is HS256 (or JWT_SECRET is set without JWT_ALGORITHM): there are no signing keys to manage');
  return ctx;
}

export function registerKeysCommands(program: Command, tools: CliTools): void {
  const keys = program.command('keys').description('token signing keys (JWT_ALGORITHM ES256, EdDSA or RS256)');
  keys
    .command('list')
    .description('list the signing keys, newest first: next (published), current (signs), previous (verifies), revoked')
    .action(() =>
      tools.withDatabase(async (ctx) => {
        const rows = (await listSigningKeys(ctx)).map((k) => ({
          kid: k.kid,
          alg: k.alg,
          state: k.state,
          created_at: k.created_at,
          activated_at: k.activated_at,
          retired_at: k.retired_at,
          revoked_at: k.revoked_at,
        }));
        tools.print(rows, () => tools.table(rows, ['kid', 'alg', 'state', 'created_at', 'activated_at', 'retired_at', 'revoked_at']));
      }),
    );
  keys
    .command('rotate')
    .description('rotate now: next becomes current, current becomes previous (it verifies until its tokens expire), a new next is made')
    .action(() =>
      tools.withDatabase(async (ctx) => {
        const result = await rotateSigningKeys(await keysDeps(ctx), tools.meta);
        tools.print(result, () => `Rotated: current ${result.current}, previous ${result.previous ?? '-'}, next ${result.next}`);
      }),
    );
  keys
    .command('revoke')
    .argument('<kid>', 'the key id (from keys list)')
    .description('revoke a key: it leaves the JWKS and its tokens are refused at once (sessions it signed must sign in again)')
    // A kid is an RFC 7638 thumbprint in base64url: one in 64 starts with "-", which would
    // otherwise be read as an unknown option.
    .allowUnknownOption()
    .action((kid: string) =>
      tools.withDatabase(async (ctx) => {
        const result = await revokeSigningKey(await keysDeps(ctx), { kid, meta: tools.meta });
        tools.print(result, () => `Revoked ${result.kid} (was ${result.was})`);
      }),
    );
}
