// Making a platform admin: BOOTSTRAP_ADMIN_* at start, or the `create-admin` command.
import { randomUUID } from 'node:crypto';
import type { AppContext } from '../../context.js';
import type { UserRow } from '../../db/schema.js';
import { normalizeEmail } from '../../lib/email-address.js';
import { createPersonalAccount } from '../accounts/personal-account.js';
import { recordAudit } from '../audit/audit.repo.js';
import { findUserByEmail, insertUser, updateUser } from '../users/users.repo.js';

export interface AdminInput {
  email: string;
  password: string;
  name?: string;
}

export type AdminOutcome = { user: UserRow; created: boolean };

/** Creates the admin, or promotes an existing user of that email; never resets a password. */
export async function ensureAdmin(ctx: Pick<AppContext, 'db' | 'clock' | 'passwords' | 'config'>, input: AdminInput): Promise<AdminOutcome> {
  const email = normalizeEmail(input.email);
  const existing = await findUserByEmail(ctx.db, email);
  const now = ctx.clock.now();
  if (existing) {
    if (existing.role === 'admin') return { user: existing, created: false };
    const user = await ctx.db.transaction().execute(async (trx) => {
      const promoted = await updateUser(trx, existing.id, { role: 'admin' }, now);
      await recordAudit(trx, null, { action: 'admin.user_promoted', userId: existing.id, resourceType: 'user', resourceId: existing.id });
      return promoted;
    });
    return { user, created: false };
  }
  const passwordHash = await ctx.passwords.hash(input.password);
  const name = input.name?.trim() || 'Administrator';
  const user = await ctx.db.transaction().execute(async (trx) => {
    const userId = randomUUID();
    const accountId = await createPersonalAccount(trx, { ownerId: userId, ownerName: name, inviteCode: null, trialDays: ctx.config.trialDays, now });
    const created = await insertUser(trx, {
      id: userId,
      email,
      password_hash: passwordHash,
      name,
      role: 'admin',
      account_id: accountId,
      account_role: 'owner',
      email_verified_at: now,
      created_at: now,
      updated_at: now,
    });
    await recordAudit(trx, null, { action: 'admin.created', userId, resourceType: 'user', resourceId: userId });
    return created;
  });
  return { user, created: true };
}
