// SCIM Groups: kept as the directory sends them (displayName, externalId, members), members
// being SCIM users of the account. A change of membership, a rename or a deletion re-derives
// the roles of the users concerned (scim-roles.ts).
import { randomUUID } from 'node:crypto';
import type { Expression, SqlBool } from 'kysely';
import type { Executor } from '../../db/database.js';
import { Errors } from '../../lib/errors.js';
import { hasControlOrBidiCharacters } from '../../lib/plain-text.js';
import { recordAudit } from '../audit/audit.repo.js';
import { actorOf, metaOf, type ScimCaller, type ScimDeps, type ScimResourceChange } from './scim-context.js';
import { applyPatch } from './scim-patch.js';
import { changerOf, deriveRoles } from './scim-roles.js';
import { GROUP_SCHEMA } from './scim-schemas.js';
import { inTransaction, isUuid } from './scim-users.service.js';
import {
  addGroupMembers,
  deleteScimGroup,
  existingScimUserIds,
  findGroupIdByName,
  findScimGroup,
  insertScimGroup,
  listGroupMemberIds,
  listMembersOfGroups,
  listScimGroups,
  lockScimGroup,
  removeGroupMembers,
  updateScimGroup,
  type Page,
  type ScimGroupRecord,
} from './scim.repo.js';

interface GroupIntent {
  displayName: string;
  externalId: string | null;
  memberIds: string[];
}

const MAX_MEMBERS_PER_REQUEST = 10_000;

function readGroup(body: unknown): GroupIntent {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw Errors.scimInvalidSyntax('The body must be a JSON object');
  const input = new Map(Object.entries(body).map(([key, value]) => [key.toLowerCase(), value]));
  const schemas = input.get('schemas');
  if (schemas !== undefined && (!Array.isArray(schemas) || !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === GROUP_SCHEMA.toLowerCase()))) {
    throw Errors.scimInvalidSyntax(`schemas must include ${GROUP_SCHEMA}`);
  }
  const displayName = input.get('displayname');
  if (typeof displayName !== 'string' || displayName.trim() === '' || displayName.length > 256 || hasControlOrBidiCharacters(displayName)) {
    throw Errors.scimInvalidValue('displayName is required: a string of at most 256 characters');
  }
  const externalId = input.get('externalid');
  if (externalId !== undefined && externalId !== null && (typeof externalId !== 'string' || externalId.length > 256)) {
    throw Errors.scimInvalidValue('externalId must be a string');
  }
  const members = input.get('members') ?? [];
  if (!Array.isArray(members) || members.length > MAX_MEMBERS_PER_REQUEST) throw Errors.scimInvalidValue('members must be an array');
  const memberIds = members.map((member: unknown) => {
    const value = (member as { value?: unknown } | null)?.value;
    if (typeof value !== 'string' || !isUuid(value)) throw Errors.scimInvalidValue('Each member needs the value (id) of a User');
    return value.toLowerCase();
  });
  return { displayName, externalId: (externalId as string | null | undefined) || null, memberIds: [...new Set(memberIds)] };
}

function toScimGroup(record: ScimGroupRecord, members: Array<{ user_id: string; user_name: string }> | null, baseUrl: string) {
  return {
    schemas: [GROUP_SCHEMA],
    id: record.id,
    ...(record.external_id !== null ? { externalId: record.external_id } : {}),
    displayName: record.display_name,
    // No `display`: scim2-tester (and RFC 7644's PATCH semantics) compare members as sent.
    ...(members && members.length > 0 ? { members: members.map((m) => ({ value: m.user_id, $ref: `${baseUrl}/Users/${m.user_id}`, type: 'User' })) } : {}),
    meta: {
      resourceType: 'Group',
      created: record.created_at.toISOString(),
      lastModified: record.updated_at.toISOString(),
      location: `${baseUrl}/Groups/${record.id}`,
    },
  };
}

async function represent(db: Executor, { caller, records, withMembers }: { caller: ScimCaller; records: ScimGroupRecord[]; withMembers: boolean }) {
  const members = withMembers ? await listMembersOfGroups(db, caller.accountId, records.map((r) => r.id)) : null;
  return records.map((record) => toScimGroup(record, members ? members.filter((m) => m.group_id === record.id) : null, caller.baseUrl));
}

/** One group of the caller's account, by id; `withMembers` (default true) lists its members. */
export interface ScimGroupLookup {
  caller: ScimCaller;
  id: string;
  withMembers?: boolean;
}

export async function getScimGroup(deps: ScimDeps, { caller, id, withMembers = true }: ScimGroupLookup): Promise<Record<string, unknown>> {
  const record = isUuid(id) ? await findScimGroup(deps.db, caller.accountId, id) : undefined;
  if (!record) throw Errors.scimResourceNotFound();
  return (await represent(deps.db, { caller, records: [record], withMembers }))[0]!;
}

export async function listGroups(
  deps: ScimDeps,
  caller: ScimCaller,
  query: { filter: Expression<SqlBool> | null; page: Page; withMembers: boolean },
): Promise<{ total: number; resources: Array<Record<string, unknown>> }> {
  const { filter, page, withMembers } = query;
  const { total, rows } = await listScimGroups(deps.db, { accountId: caller.accountId, filter, page });
  return { total, resources: await represent(deps.db, { caller, records: rows, withMembers }) };
}

async function checkMembers(trx: Executor, caller: ScimCaller, memberIds: string[]): Promise<void> {
  const known = await existingScimUserIds(trx, caller.accountId, memberIds);
  if (known.size !== memberIds.length) throw Errors.scimInvalidValue('A member is not a User of this account');
}

export async function createScimGroup(deps: ScimDeps, caller: ScimCaller, body: unknown): Promise<Record<string, unknown>> {
  const intent = readGroup(body);
  const id = randomUUID();
  await inTransaction(deps, async (trx) => {
    if (await findGroupIdByName(trx, caller.accountId, intent.displayName)) throw Errors.scimGroupNameTaken();
    await checkMembers(trx, caller, intent.memberIds);
    await insertScimGroup(trx, {
      accountId: caller.accountId,
      id,
      fields: { display_name: intent.displayName, external_id: intent.externalId },
      now: deps.clock.now(),
    });
    await addGroupMembers(trx, id, intent.memberIds);
    await deriveRoles(deps, trx, { caller: changerOf(caller), userIds: intent.memberIds });
    await audit(trx, caller, { action: 'scim.group_created', groupId: id, details: { display_name: intent.displayName, members_added: intent.memberIds.length } });
  });
  return getScimGroup(deps, { caller, id });
}

export async function replaceScimGroup(deps: ScimDeps, { caller, id, body }: ScimResourceChange): Promise<Record<string, unknown>> {
  return saveGroup(deps, { caller, id, intentOf: () => readGroup(body) });
}

export async function patchScimGroup(deps: ScimDeps, { caller, id, body }: ScimResourceChange): Promise<Record<string, unknown>> {
  return saveGroup(deps, {
    caller,
    id,
    intentOf: (current) => {
      const { id: _id, meta: _meta, ...rest } = applyPatch(current, body);
      return readGroup(rest);
    },
  });
}

async function saveGroup(
  deps: ScimDeps,
  { caller, id, intentOf }: { caller: ScimCaller; id: string; intentOf: (current: Record<string, unknown>) => GroupIntent },
): Promise<Record<string, unknown>> {
  if (!isUuid(id)) throw Errors.scimResourceNotFound();
  await inTransaction(deps, async (trx) => {
    const record = await lockScimGroup(trx, caller.accountId, id);
    if (!record) throw Errors.scimResourceNotFound();
    const [current] = await represent(trx, { caller, records: [record], withMembers: true });
    const intent = intentOf(current!);
    const holder = await findGroupIdByName(trx, caller.accountId, intent.displayName);
    if (holder && holder !== id) throw Errors.scimGroupNameTaken();
    const before = new Set(await listGroupMemberIds(trx, caller.accountId, id));
    const after = new Set(intent.memberIds);
    const added = intent.memberIds.filter((m) => !before.has(m));
    const removed = [...before].filter((m) => !after.has(m));
    await checkMembers(trx, caller, added);
    await updateScimGroup(trx, {
      accountId: caller.accountId,
      id,
      fields: { display_name: intent.displayName, external_id: intent.externalId },
      now: deps.clock.now(),
    });
    await addGroupMembers(trx, id, added);
    await removeGroupMembers(trx, id, removed);
    const renamed = intent.displayName !== record.display_name;
    await deriveRoles(deps, trx, { caller: changerOf(caller), userIds: renamed ? [...before, ...added] : [...added, ...removed] });
    await audit(trx, caller, {
      action: 'scim.group_updated',
      groupId: id,
      details: { display_name: intent.displayName, renamed, members_added: added.length, members_removed: removed.length },
    });
  });
  return getScimGroup(deps, { caller, id });
}

export async function deleteScimGroupById(deps: ScimDeps, caller: ScimCaller, id: string): Promise<void> {
  if (!isUuid(id)) throw Errors.scimResourceNotFound();
  await inTransaction(deps, async (trx) => {
    const record = await lockScimGroup(trx, caller.accountId, id);
    if (!record) throw Errors.scimResourceNotFound();
    const members = await listGroupMemberIds(trx, caller.accountId, id);
    await deleteScimGroup(trx, caller.accountId, id);
    await deriveRoles(deps, trx, { caller: changerOf(caller), userIds: members });
    await audit(trx, caller, { action: 'scim.group_deleted', groupId: id, details: { display_name: record.display_name } });
  });
}

async function audit(
  trx: Executor,
  caller: ScimCaller,
  entry: { action: 'scim.group_created' | 'scim.group_updated' | 'scim.group_deleted'; groupId: string; details: Record<string, unknown> },
): Promise<void> {
  const { action, groupId, details } = entry;
  await recordAudit(trx, metaOf(caller), {
    action,
    userId: null,
    resourceType: 'scim_group',
    resourceId: groupId,
    details: { account_id: caller.accountId, ...details, actor: actorOf(caller) },
  });
}
