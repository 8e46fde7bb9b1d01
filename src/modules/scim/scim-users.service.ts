// SCIM Users: what each operation does to a Keyhold user. POST creates the user through the
// one create-user function (or links a member already in the account, or adopts someone alone
// in a personal account whose address is on one of the account's verified domains); PUT and
// PATCH change the profile, `active` (deactivation ends every session, the admin path's own
// function) and the SCIM attributes; DELETE deletes the user by the account-deletion rules.
// The account's owner is linked like anyone but never changed: not deactivated, not deleted,
// not re-roled, and their Keyhold profile stays theirs (only the SCIM attributes change).
import { randomUUID } from 'node:crypto';
import { isUniqueViolation } from '../../db/errors.js';
import type { Executor } from '../../db/database.js';
import type { UserRow } from '../../db/schema.js';
import { Errors } from '../../lib/errors.js';
import { endDeactivatedUserSessions } from '../admin/admin-users.service.js';
import { removeUser } from '../account-lifecycle/account-deletion.js';
import { countOtherMembers, deleteAccount } from '../accounts/accounts.repo.js';
import { recordAudit } from '../audit/audit.repo.js';
import { emitEvent } from '../events/emit-event.js';
import { emitSessionsRevoked } from '../events/session-events.js';
import { passwordSetupWrites } from '../passwords/password-reset.service.js';
import { revokeAllSessions } from '../sessions/sessions.repo.js';
import { createUsers } from '../accounts/create-user.js';
import { toUserResponse } from '../users/user.schemas.js';
import { findUserByEmail, lockUser, updateUser } from '../users/users.repo.js';
import { factsOf, isOnDomains } from './identity-facts.js';
import { applyPatch } from './scim-patch.js';
import { actorOf, metaOf, type ScimCaller, type ScimDeps, type ScimResourceChange } from './scim-context.js';
import { readUser, toScimUser, type UserIntent } from './scim-user-mapping.js';
import {
  findProvisioningFacts,
  findScimUser,
  findUserIdByUserName,
  hasScimUser,
  insertScimUser,
  listGroupsOfUsers,
  scimUserWrite,
  listScimUsers,
  lockScimUser,
  updateScimUser,
  type Page,
  type ScimUserFields,
  type ScimUserRecord,
} from './scim.repo.js';
import type { Expression, SqlBool } from 'kysely';
import { inUnitOfWork } from '../../db/unit-of-work.js';

const scimFields = (intent: UserIntent): ScimUserFields => ({
  user_name: intent.userName,
  external_id: intent.externalId,
  display_name: intent.displayName,
  attributes: intent.attributes,
});

export async function getScimUser(deps: ScimDeps, caller: ScimCaller, id: string): Promise<Record<string, unknown>> {
  const record = isUuid(id) ? await findScimUser(deps.db, caller.accountId, id) : undefined;
  if (!record) throw Errors.scimResourceNotFound();
  return represent(deps.db, caller, [record]).then((r) => r[0]!);
}

export async function listUsers(
  deps: ScimDeps,
  { caller, filter, page }: { caller: ScimCaller; filter: Expression<SqlBool> | null; page: Page },
): Promise<{ total: number; resources: Array<Record<string, unknown>> }> {
  const { total, rows } = await listScimUsers(deps.db, { accountId: caller.accountId, filter, page });
  return { total, resources: await represent(deps.db, caller, rows) };
}

async function represent(db: Executor, caller: ScimCaller, records: ScimUserRecord[]): Promise<Array<Record<string, unknown>>> {
  const groups = await listGroupsOfUsers(db, caller.accountId, records.map((r) => r.user_id));
  return records.map((record) => toScimUser(record, groups.filter((g) => g.user_id === record.user_id), caller.baseUrl));
}

/** POST /Users. */
export async function createScimUser(deps: ScimDeps, caller: ScimCaller, body: unknown): Promise<Record<string, unknown>> {
  const intent = readUser(body);
  const facts = await factsOf(deps.facts, caller.accountId);
  const onVerifiedDomain = isOnDomains(intent.email, facts.verifiedDomains);
  const sendSetupLink = !facts.hasSsoConnection;
  // One instant for the rows and the reply (which is built without reading them back).
  const now = deps.clock.now();
  const record = await inTransaction(deps, async (trx) => {
    const found = await findProvisioningFacts(trx, { accountId: caller.accountId, userName: intent.userName, email: intent.email });
    if (found.userNameHolder) throw Errors.scimUserNameTaken();
    if (!found.emailHolder) return createProvisionedUser(deps, trx, { caller, intent, onVerifiedDomain, sendSetupLink, now, accountName: found.accountName });
    const holder = await lockUser(trx, found.emailHolder);
    if (!holder) throw Errors.scimEmailTaken();
    if (holder.account_id === caller.accountId) {
      // A member already here (invited, or signed up before the directory was connected).
      if (await hasScimUser(trx, caller.accountId, holder.id)) throw Errors.scimEmailTaken();
      await insertScimUser(trx, { accountId: caller.accountId, userId: holder.id, fields: scimFields(intent), now });
      return applyProfile(deps, trx, { caller, user: holder, intent, action: 'scim.user_linked' });
    }
    if (holder.account_role === 'owner' && onVerifiedDomain && (await countOtherMembers(trx, holder.account_id, holder.id)) === 0) {
      await adopt(deps, trx, { caller, user: holder });
      await insertScimUser(trx, { accountId: caller.accountId, userId: holder.id, fields: scimFields(intent), now });
      const moved = (await lockUser(trx, holder.id))!;
      return applyProfile(deps, trx, { caller, user: moved, intent, action: 'scim.user_updated' });
    }
    throw Errors.scimEmailTaken();
  });
  // Built from what was just written (a new SCIM user is in no group yet): no second read.
  return toScimUser({ ...scimFields(intent), user_id: record.id, account_id: caller.accountId, created_at: now, updated_at: now, is_active: record.is_active, account_role: record.account_role, email: record.email }, [], caller.baseUrl);
}

async function createProvisionedUser(
  deps: ScimDeps,
  trx: Executor,
  options: { caller: ScimCaller; intent: UserIntent; onVerifiedDomain: boolean; sendSetupLink: boolean; now: Date; accountName: string },
): Promise<UserRow> {
  const { caller, intent } = options;
  const { now } = options;
  // The address was checked just now (findProvisioningFacts): createUsers, not createUser, which
  // would check it again. The user's SCIM row, and the setup link's token and email, are written
  // in the statement that writes the audit row and events (db/together.ts): with the user's
  // row, a creation is two statements.
  const id = randomUUID();
  const also = [scimUserWrite(trx, { accountId: caller.accountId, userId: id, fields: scimFields(intent), now })];
  if (options.sendSetupLink && intent.active) also.push(...(await passwordSetupWrites(deps, trx, { user: { id, email: intent.email }, accountName: options.accountName })));
  const [user] = await createUsers(deps, trx, {
    inputs: [{
      id,
      email: intent.email,
      name: intent.name,
      passwordHash: null,
      // The directory speaks for the account's own (verified) domains only.
      emailVerifiedAt: options.onVerifiedDomain ? now : null,
      membership: { accountId: caller.accountId, role: 'member' },
      isActive: intent.active,
      profile: { phone: intent.phone, jobTitle: intent.jobTitle, timezone: intent.timezone },
      audit: { action: 'scim.user_created', details: { actor: actorOf(caller), user_name: intent.userName } },
    }],
    meta: metaOf(caller),
    announce: true,
    also,
  });
  return user!;
}

/** Someone alone in a personal account joins this one as a member; the personal account closes. */
async function adopt(deps: ScimDeps, trx: Executor, { caller, user }: { caller: ScimCaller; user: UserRow }): Promise<void> {
  const now = deps.clock.now();
  const personalAccountId = user.account_id;
  await updateUser(trx, { id: user.id, changes: { account_id: caller.accountId, account_role: 'member' }, now });
  await deleteAccount(trx, personalAccountId);
  // Their tokens were minted for the personal account: end them.
  await emitSessionsRevoked(deps, trx, { sessions: await revokeAllSessions(trx, user.id, now), reason: 'member_removed' });
  await emitEvent(deps, trx, { type: 'account.member_added', data: { account_id: caller.accountId, user_id: user.id, role: 'member' } });
  await recordAudit(trx, metaOf(caller), {
    action: 'scim.user_adopted',
    userId: null,
    resourceType: 'user',
    resourceId: user.id,
    details: { account_id: caller.accountId, previous_account_id: personalAccountId, actor: actorOf(caller) },
  });
}

/** PUT /Users/{id}. */
export async function replaceScimUser(deps: ScimDeps, { caller, id, body }: ScimResourceChange): Promise<Record<string, unknown>> {
  return saveUser(deps, { caller, id, intentOf: () => readUser(body) });
}

/** PATCH /Users/{id}: the operations on the resource as GET shows it, then saved as a PUT. */
export async function patchScimUser(deps: ScimDeps, { caller, id, body }: ScimResourceChange): Promise<Record<string, unknown>> {
  return saveUser(deps, { caller, id, intentOf: (current) => readUser(stripReadOnly(applyPatch(current, body))) });
}

const stripReadOnly = (resource: Record<string, unknown>): Record<string, unknown> => {
  const { id: _id, meta: _meta, groups: _groups, ...rest } = resource;
  return rest;
};

async function saveUser(
  deps: ScimDeps,
  { caller, id, intentOf }: { caller: ScimCaller; id: string; intentOf: (current: Record<string, unknown>) => UserIntent },
): Promise<Record<string, unknown>> {
  if (!isUuid(id)) throw Errors.scimResourceNotFound();
  const domains = await deps.facts.verifiedDomains(caller.accountId);
  await inTransaction(deps, async (trx) => {
    const record = await lockScimUser(trx, caller.accountId, id);
    if (!record) throw Errors.scimResourceNotFound();
    const [current] = await represent(trx, caller, [record]);
    const intent = intentOf(current!);
    const nameHolder = await findUserIdByUserName(trx, caller.accountId, intent.userName);
    if (nameHolder && nameHolder !== id) throw Errors.scimUserNameTaken();
    const user = (await lockUser(trx, id))!;
    if (user.account_role === 'owner' && !intent.active) throw Errors.scimOwnerUnchangeable();
    if (intent.email !== user.email && user.account_role !== 'owner') {
      const holder = await findUserByEmail(trx, intent.email);
      if (holder && holder.id !== id) throw Errors.scimEmailTaken();
    }
    await updateScimUser(trx, { accountId: caller.accountId, userId: id, fields: scimFields(intent), now: deps.clock.now() });
    await applyProfile(deps, trx, { caller, user, intent, action: 'scim.user_updated', verifiedDomains: domains });
  });
  return getScimUser(deps, caller, id);
}

interface ProfileChange {
  caller: ScimCaller;
  user: UserRow;
  intent: UserIntent;
  action: 'scim.user_updated' | 'scim.user_linked';
  /** The account's verified domains: an address on one of them counts as verified. */
  verifiedDomains?: string[];
}

/**
 * Brings the Keyhold user in line with the directory: profile (email, name, phone, title,
 * timezone) and `active`. Deactivation ends every session through the admin path's function.
 * The owner's Keyhold profile is left as it is.
 */
async function applyProfile(deps: ScimDeps, trx: Executor, change: ProfileChange): Promise<UserRow> {
  const { caller, user, intent, action, verifiedDomains = [] } = change;
  const now = deps.clock.now();
  const changes: Partial<Pick<UserRow, 'email' | 'name' | 'phone' | 'job_title' | 'timezone' | 'is_active' | 'email_verified_at'>> = {};
  if (user.account_role !== 'owner') {
    if (intent.email !== user.email) {
      changes.email = intent.email;
      changes.email_verified_at = isOnDomains(intent.email, verifiedDomains) ? now : null;
    }
    if (intent.name !== user.name) changes.name = intent.name;
    if (intent.phone !== user.phone) changes.phone = intent.phone;
    if (intent.jobTitle !== user.job_title) changes.job_title = intent.jobTitle;
    if (intent.timezone !== user.timezone) changes.timezone = intent.timezone;
    if (intent.active !== user.is_active) changes.is_active = intent.active;
  }
  const changed = Object.keys(changes);
  const updated = changed.length > 0 ? await updateUser(trx, { id: user.id, changes, now }) : user;
  if (changes.is_active === false) await endDeactivatedUserSessions(deps, trx, { userId: user.id, now });
  if (changed.some((key) => key !== 'is_active')) await emitEvent(deps, trx, { type: 'user.updated', data: toUserResponse(updated) });
  if (changes.is_active !== undefined) await emitEvent(deps, trx, { type: changes.is_active ? 'user.reactivated' : 'user.deactivated', data: toUserResponse(updated) });
  await recordAudit(trx, metaOf(caller), {
    action,
    userId: null,
    resourceType: 'user',
    resourceId: user.id,
    details: { account_id: caller.accountId, changed, actor: actorOf(caller) },
  });
  return updated;
}

/** DELETE /Users/{id}: the account-deletion rules; the owner is not deleted by SCIM. */
export async function deleteScimUser(deps: ScimDeps, caller: ScimCaller, id: string): Promise<void> {
  if (!isUuid(id)) throw Errors.scimResourceNotFound();
  await inTransaction(deps, async (trx) => {
    const record = await lockScimUser(trx, caller.accountId, id);
    if (!record) throw Errors.scimResourceNotFound();
    const user = (await lockUser(trx, id))!;
    if (user.account_role === 'owner') throw Errors.scimOwnerUnchangeable();
    await removeUser(deps, trx, { user, audit: { action: 'scim.user_deleted', actorId: null, details: { actor: actorOf(caller) } }, meta: metaOf(caller) });
  });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: string): boolean => UUID.test(value);

/** One transaction; a unique index that a racing request won answers 409 like the checks above. */
export async function inTransaction<T>(deps: Pick<ScimDeps, 'db' | 'jobs'>, work: (trx: Executor) => Promise<T>): Promise<T> {
  try {
    const result = await inUnitOfWork(deps, work);
    return result;
  } catch (err) {
    if (isUniqueViolation(err, 'scim_users_user_name_key')) throw Errors.scimUserNameTaken();
    if (isUniqueViolation(err, 'users_email_key')) throw Errors.scimEmailTaken();
    if (isUniqueViolation(err, 'scim_groups_display_name_key')) throw Errors.scimGroupNameTaken();
    throw err;
  }
}
