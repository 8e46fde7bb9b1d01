// Making a platform admin: BOOTSTRAP_ADMIN_* at start, or the `create-admin` command.
import type { AppContext, RequestMeta } from '../../context.js';
import type { UserRow } from '../../db/schema.js';
import { isUniqueViolation } from '../../db/errors.js';
import { isValidEmail, normalizeEmail } from '../../lib/email-address.js';
import { Errors, isCatalogued, validationError } from '../../lib/errors.js';
import { hasControlOrBidiCharacters } from '../../lib/plain-text.js';
import { PLAIN_TEXT_MESSAGE } from '../../http/schema-types.js';
import { recordAudit } from '../audit/audit.repo.js';
import { createUser } from '../accounts/create-user.js';
import { findUserByEmail, updateUser } from '../users/users.repo.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

export interface AdminInput {
  email: string;
  password: string;
  name?: string;
}

/** `created`: a new user; `promoted`: an existing user became admin; neither: already an admin. */
export type AdminOutcome = { user: UserRow; created: boolean; promoted: boolean };

type Deps = Pick<AppContext, 'db' | 'clock' | 'passwords' | 'config'> & { jobs: AppContext['jobs'] | undefined };

/** The rules registration applies to an email, a new password and a name (the command line checks before opening a database). */
export function checkAdminInput(input: AdminInput): void {
  if (!isValidEmail(input.email)) throw validationError(['body', 'email'], 'value is not a valid email', 'value_error');
  const passwordLength = [...input.password].length;
  if (passwordLength < 8 || passwordLength > 128) {
    throw validationError(['body', 'password'], 'Password must be 8 to 128 characters', 'string_length');
  }
  // The display name is free text others read, as registration's `name` (FreeText) is.
  if (input.name !== undefined && hasControlOrBidiCharacters(input.name)) {
    throw validationError(['body', 'name'], PLAIN_TEXT_MESSAGE, 'string_control_characters');
  }
}

/** Creates the admin, or promotes an existing user of that email; never resets a password. */
export async function ensureAdmin(ctx: Deps, input: AdminInput, meta: RequestMeta | null = null): Promise<AdminOutcome> {
  checkAdminInput(input);
  const email = normalizeEmail(input.email);
  const existing = await findUserByEmail(ctx.db, email);
  if (existing) return promote(ctx, existing, meta);
  const passwordHash = await ctx.passwords.hash(input.password);
  const name = input.name?.trim() || 'Administrator';
  const now = ctx.clock.now();
  try {
    const user = await inUnitOfWork(ctx, (trx) =>
      // An operator vouches for the address: no verification email.
      createUser(ctx, trx, { input: { email, name, passwordHash, role: 'admin', emailVerifiedAt: now, audit: { action: 'admin.created' } }, meta }),
    );
    return { user, created: true, promoted: false };
  } catch (err) {
    // Two instances bootstrapping the same admin at once: the other one made it (seen by the
    // insert, or by createUser's own look-up after the other's commit).
    if (!isUniqueViolation(err, 'users_email_key') && !isCatalogued(err, Errors.emailAlreadyRegistered)) throw err;
    const winner = await findUserByEmail(ctx.db, email);
    if (!winner) throw err;
    return promote(ctx, winner, meta);
  }
}

async function promote(ctx: Deps, existing: UserRow, meta: RequestMeta | null): Promise<AdminOutcome> {
  if (existing.role === 'admin') return { user: existing, created: false, promoted: false };
  const user = await inUnitOfWork(ctx, async (trx) => {
    const promoted = await updateUser(trx, { id: existing.id, changes: { role: 'admin' }, now: ctx.clock.now() });
    await recordAudit(trx, meta, { action: 'admin.user_promoted', userId: existing.id, resourceType: 'user', resourceId: existing.id });
    return promoted;
  });
  return { user, created: false, promoted: true };
}
